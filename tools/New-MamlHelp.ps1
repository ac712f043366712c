<#
.SYNOPSIS
    Turns platyPS-format markdown (docs/*.md) into MAML help XML (en-US/SwarmAdmin.dll-Help.xml) and about_*.help.txt.
.DESCRIPTION
    platyPS is not obtainable here, so this is our own converter for the platyPS 2.0 markdown schema.
    It imports the built module to take each cmdlet's syntax from the cmdlet itself, and fails the build when a
    document has placeholder text, misses a section, or documents parameters the cmdlet does not have (or the reverse).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)][string]$ModulePath,
    [Parameter(Mandatory)][string]$DocsPath,
    [Parameter(Mandatory)][string]$OutputPath
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$common = @([System.Management.Automation.Cmdlet]::CommonParameters) + 'ProgressAction' + 'UseTransaction'

function ConvertFrom-PlatyMarkdown([string]$Path) {
    $lines = (Get-Content -LiteralPath $Path -Raw) -replace "`r`n", "`n" -split "`n"
    $doc = [ordered]@{ Name = $null; Synopsis = ''; Description = ''; Examples = @(); Parameters = [ordered]@{}; Inputs = @(); Outputs = @(); Notes = ''; Links = @() }
    $i = 0
    if ($lines[0] -eq '---') { $i = 1; while ($lines[$i] -ne '---') { $i++ }; $i++ }
    $section = $null; $sub = $null; $buffer = [System.Collections.Generic.List[string]]::new()
    $inFence = $false; $fenceLang = ''; $fence = [System.Collections.Generic.List[string]]::new()
    $current = $null

    $flush = {
        $text = ($buffer -join "`n").Trim()
        $buffer.Clear()
        switch ($section) {
            'SYNOPSIS' { $doc.Synopsis = $text }
            'DESCRIPTION' { $doc.Description = $text }
            'NOTES' { $doc.Notes = $text }
            'EXAMPLES' { if ($current) { $current.Remarks = $text } }
            'PARAMETERS' { if ($current -and -not $current.Contains('DescriptionDone')) { $current.Description = $text; $current.DescriptionDone = $true } }
            'INPUTS' { if ($current) { $current.Description = $text } }
            'OUTPUTS' { if ($current) { $current.Description = $text } }
            'RELATED LINKS' {
                foreach ($m in [regex]::Matches($text, '\[([^\]]+)\]\(([^)]*)\)')) { $doc.Links += [ordered]@{ Text = $m.Groups[1].Value; Uri = $m.Groups[2].Value } }
            }
        }
    }

    for (; $i -lt $lines.Count; $i++) {
        $line = $lines[$i]
        if ($inFence) {
            if ($line -match '^```\s*$') {
                $inFence = $false
                if ($section -eq 'EXAMPLES' -and $current) { $current.Code = ($fence -join "`n") }
                elseif ($section -eq 'PARAMETERS' -and $current -and $fenceLang -eq 'yaml') {
                    & $flush
                    foreach ($y in $fence) { if ($y -match '^([^:]+):\s*(.*)$') { $current.Meta[$matches[1].Trim()] = $matches[2].Trim() } }
                }
                $fence.Clear()
            }
            else { $fence.Add($line) }
            continue
        }
        if ($line -match '^```(\w*)') { $inFence = $true; $fenceLang = $matches[1]; continue }
        if ($line -match '^# (.+)$') { $doc.Name = $matches[1].Trim(); continue }
        if ($line -match '^## (.+)$') {
            & $flush; $section = $matches[1].Trim().ToUpperInvariant(); $current = $null; continue
        }
        if ($line -match '^### (.+)$') {
            & $flush
            $title = $matches[1].Trim()
            switch ($section) {
                'EXAMPLES' { $current = [ordered]@{ Title = $title; Code = ''; Remarks = '' }; $doc.Examples += $current }
                'PARAMETERS' {
                    if ($title -eq 'CommonParameters') { $current = $null }
                    else { $current = [ordered]@{ Name = $title.TrimStart('-'); Description = ''; Meta = @{} }; $doc.Parameters[$current.Name] = $current }
                }
                'INPUTS' { $current = [ordered]@{ Type = $title; Description = '' }; $doc.Inputs += $current }
                'OUTPUTS' { $current = [ordered]@{ Type = $title; Description = '' }; $doc.Outputs += $current }
                default { $current = $null }
            }
            continue
        }
        $buffer.Add($line)
    }
    & $flush
    [pscustomobject]$doc
}

function Test-Doc($doc, $cmd, [string]$file) {
    $problems = @()
    $raw = Get-Content -LiteralPath $file -Raw
    if ($raw -match '\{\{.*\}\}') { $problems += 'contains {{ placeholder }} text' }
    if (-not $doc.Synopsis) { $problems += 'has no SYNOPSIS' }
    if (-not $doc.Description) { $problems += 'has no DESCRIPTION' }
    if (@($doc.Examples).Count -lt 2) { $problems += 'has fewer than two EXAMPLES' }
    foreach ($e in $doc.Examples) { if (-not $e.Code) { $problems += "example '$($e.Title)' has no code" } }
    $actual = @($cmd.Parameters.get_Keys() | Where-Object { $_ -notin $common })
    $documented = @($doc.Parameters.get_Keys())
    foreach ($p in $actual) { if ($p -notin $documented) { $problems += "does not document parameter -$p" } }
    foreach ($p in $documented) { if ($p -notin $actual) { $problems += "documents -$p, which the cmdlet does not have" } }
    foreach ($p in $doc.Parameters.get_Values()) { if (-not $p.Description) { $problems += "parameter -$($p.Name) has no description" } }
    $problems | ForEach-Object { "${file}: $_" }
}

function Add-Para([System.Xml.XmlWriter]$w, [string]$text) {
    $paras = @(($text -split "\n\s*\n") | ForEach-Object { ($_ -replace '\s*\n\s*', ' ').Trim() } | Where-Object { $_ })
    if (-not $paras) { $paras = @('') }
    foreach ($p in $paras) { $w.WriteElementString('maml', 'para', 'http://schemas.microsoft.com/maml/2004/10', $p) }
}

function Write-Parameter([System.Xml.XmlWriter]$w, $cmdParam, $docParam, $setParam) {
    $M = 'http://schemas.microsoft.com/maml/2004/10'; $C = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; $D = 'http://schemas.microsoft.com/maml/dev/2004/10'
    $attrs = @($cmdParam.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
    $required = if ($setParam) { $setParam.IsMandatory } else { [bool]($attrs | Where-Object Mandatory) }
    $position = if ($setParam -and $setParam.Position -ge 0) { "$($setParam.Position)" } elseif ($docParam.Meta['Position']) { $docParam.Meta['Position'] } else { 'named' }
    $pipe = @()
    if ($attrs | Where-Object ValueFromPipeline) { $pipe += 'ByValue' }
    if ($attrs | Where-Object ValueFromPipelineByPropertyName) { $pipe += 'ByPropertyName' }
    $pipeText = if ($pipe) { "True ($($pipe -join ', '))" } else { 'False' }
    $globbing = [bool]($cmdParam.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
    $typeName = $cmdParam.ParameterType.Name
    $w.WriteStartElement('command', 'parameter', $C)
    $w.WriteAttributeString('required', "$required".ToLowerInvariant())
    $w.WriteAttributeString('variableLength', "$($cmdParam.ParameterType.IsArray)".ToLowerInvariant())
    $w.WriteAttributeString('globbing', "$globbing".ToLowerInvariant())
    $w.WriteAttributeString('pipelineInput', $pipeText)
    $w.WriteAttributeString('position', $position.ToLowerInvariant())
    $w.WriteAttributeString('aliases', $(if ($cmdParam.Aliases.Count) { $cmdParam.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $M, $cmdParam.Name)
    $w.WriteStartElement('maml', 'description', $M); Add-Para $w $docParam.Description; $w.WriteEndElement()
    if ($cmdParam.ParameterType -ne [System.Management.Automation.SwitchParameter]) {
        $w.WriteStartElement('command', 'parameterValue', $C)
        $w.WriteAttributeString('required', 'true'); $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString($typeName); $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $D); $w.WriteElementString('maml', 'name', $M, $cmdParam.ParameterType.FullName); $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $D, $(if ($docParam.Meta['Default value']) { $docParam.Meta['Default value'] } else { 'None' }))
    $w.WriteEndElement()
}

# ---- about_ topics -------------------------------------------------------------------------------------------------
# platyPS about-topic markdown: "# about_Name", then "## SHORT DESCRIPTION", "## LONG DESCRIPTION" (with "###"
# subsections), "## EXAMPLES", "## NOTE", "## TROUBLESHOOTING NOTE", "## SEE ALSO", "## KEYWORDS". The text file keeps
# the layout of PowerShell's own about topics: headings upper-cased, prose wrapped at 80 columns and indented, code
# indented further, tables as aligned columns, and no markdown syntax left.

function ConvertFrom-AboutInline([string]$Text) {
    $t = [regex]::Replace($Text, '\[([^\]]+)\]\(([^)]*)\)', { param($m) if ($m.Groups[2].Value -match '^https?://') { "$($m.Groups[1].Value) ($($m.Groups[2].Value))" } else { $m.Groups[1].Value } })
    $t = [regex]::Replace($t, '\*\*(.+?)\*\*', '$1')
    $t = [regex]::Replace($t, '(?<![\w*\\])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])', '$1')
    $t = [regex]::Replace($t, '`([^`]+)`', '$1')
    $t -replace '\\([\\`*_\[\]#|])', '$1'
}

function Format-AboutWrapped([string]$Text, [int]$Indent, [int]$Hanging = $Indent, [int]$Width = 80) {
    $words = @($Text -split '\s+' | Where-Object { $_ })
    $lines = [System.Collections.Generic.List[string]]::new()
    $line = ' ' * $Indent
    $empty = $true
    foreach ($w in $words) {
        if (-not $empty -and ($line.Length + 1 + $w.Length) -gt $Width) {
            $lines.Add($line.TrimEnd()); $line = (' ' * $Hanging) + $w
        }
        elseif ($empty) { $line += $w }
        else { $line += ' ' + $w }
        $empty = $false
    }
    if (-not $empty) { $lines.Add($line.TrimEnd()) }
    $lines
}

function ConvertFrom-AboutMarkdown([string]$Path) {
    $lines = (Get-Content -LiteralPath $Path -Raw) -replace "`r`n", "`n" -split "`n"
    $name = [System.IO.Path]::GetFileNameWithoutExtension($Path)
    $problems = [System.Collections.Generic.List[string]]::new()
    $out = [System.Collections.Generic.List[string]]::new()
    $sections = [ordered]@{}
    $section = $null
    $raw = $lines -join "`n"
    if ($raw -match '\{\{.*?\}\}') { $problems.Add('contains {{ placeholder }} text') }
    $first = @($lines | Where-Object { $_.Trim() }) | Select-Object -First 1
    if ($first -ne "# $name") { $problems.Add("must start with the line '# $name' (found '$first')") }

    $blank = { if ($out.Count -and $out[$out.Count - 1] -ne '') { $out.Add('') } }
    $i = 0
    while ($i -lt $lines.Count) {
        $line = $lines[$i]
        if ($line -match '^```') {
            # code block, verbatim, indented 8
            $i++
            & $blank
            while ($i -lt $lines.Count -and $lines[$i] -notmatch '^```\s*$') { $out.Add(((' ' * 8) + $lines[$i]).TrimEnd()); $i++ }
            if ($i -ge $lines.Count) { $problems.Add('has a code block that is not closed') }
            $i++
            $out.Add('')
            if ($section) { $sections[$section] += 1 }
            continue
        }
        if ($line -match '^# (.+)$') {
            $out.Add('TOPIC'); $out.Add('    ' + $matches[1].Trim()); $out.Add(''); $i++; continue
        }
        if ($line -match '^## (.+)$') {
            & $blank
            $section = $matches[1].Trim().ToUpperInvariant()
            if (-not $sections.Contains($section)) { $sections[$section] = 0 }
            $out.Add($section); $i++; continue
        }
        if ($line -match '^#{3,6} (.+)$') {
            & $blank
            $out.Add('    ' + (ConvertFrom-AboutInline $matches[1].Trim()).ToUpperInvariant()); $out.Add(''); $i++; continue
        }
        if ($line -match '^\s*\|') {
            # table: aligned columns, the |---| row becomes a dashed line under the header
            $rows = [System.Collections.Generic.List[object]]::new()
            while ($i -lt $lines.Count -and $lines[$i] -match '^\s*\|') {
                $cells = @($lines[$i].Trim().Trim('|') -split '(?<!\\)\|' | ForEach-Object { ConvertFrom-AboutInline $_.Trim() })
                if (-not ($lines[$i] -match '^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$')) { $rows.Add($cells) }
                $i++
            }
            $count = ($rows | ForEach-Object { $_.Count } | Measure-Object -Maximum).Maximum
            $widths = foreach ($c in 0..($count - 1)) { ($rows | ForEach-Object { if ($c -lt $_.Count) { $_[$c].Length } else { 0 } } | Measure-Object -Maximum).Maximum }
            & $blank
            $r = 0
            foreach ($row in $rows) {
                $out.Add(('    ' + ((0..($count - 1) | ForEach-Object { $cell = if ($_ -lt $row.Count) { $row[$_] } else { '' }; $cell.PadRight($widths[$_]) }) -join '  ')).TrimEnd())
                if ($r -eq 0) { $out.Add(('    ' + (($widths | ForEach-Object { '-' * $_ }) -join '  ')).TrimEnd()) }
                $r++
            }
            $out.Add('')
            if ($section) { $sections[$section] += 1 }
            continue
        }
        if (-not $line.Trim()) { $i++; continue }

        # a paragraph or a list item, with its lazy continuation lines
        $item = $line -match '^\s*([-*+]|\d+\.)\s+'
        $marker = if ($item) { $matches[1] } else { $null }
        $text = if ($item) { $line -replace '^\s*([-*+]|\d+\.)\s+', '' } else { $line.Trim() }
        $i++
        while ($i -lt $lines.Count -and $lines[$i].Trim() -and $lines[$i] -notmatch '^(```|#{1,6} |\s*\||\s*([-*+]|\d+\.)\s+)') {
            $text += ' ' + $lines[$i].Trim(); $i++
        }
        $text = ConvertFrom-AboutInline ($text -replace '^>\s*', '')
        if ($item) {
            $bullet = if ($marker -match '^\d') { $marker } else { '-' }
            Format-AboutWrapped "$bullet $text" 4 (5 + $bullet.Length) | ForEach-Object { $out.Add($_) }
            if ($i -ge $lines.Count -or -not $lines[$i].Trim()) { $out.Add('') }
        }
        else {
            Format-AboutWrapped $text 4 | ForEach-Object { $out.Add($_) }
            $out.Add('')
        }
        if ($section) { $sections[$section] += 1 }
    }
    foreach ($required in 'SHORT DESCRIPTION', 'LONG DESCRIPTION') {
        if (-not $sections.Contains($required)) { $problems.Add("has no '## $required' section") }
        elseif ($sections[$required] -eq 0) { $problems.Add("has an empty '## $required' section") }
    }
    while ($out.Count -and $out[$out.Count - 1] -eq '') { $out.RemoveAt($out.Count - 1) }
    $text = ($out -join "`n") + "`n"
    # nothing of the markdown syntax may survive
    $prose = ($out | Where-Object { $_ -notmatch '^ {8}' }) -join "`n"
    if ($text -match '```') { $problems.Add('the text still contains a ``` fence') }
    if ($prose -match '\*\*[^*\s][^*]*\*\*|\]\(|(?m)^#') { $problems.Add('the text still contains markdown (**bold**, [link](...) or a # heading)') }
    $cmdletRefs = @([regex]::Matches($raw, '\b[A-Z][a-z]+-Swarm[A-Za-z]*\b') | ForEach-Object Value | Sort-Object -Unique)
    [pscustomobject]@{ Text = $text; Problems = @($problems); CmdletNames = $cmdletRefs; Sections = @($sections.Keys) }
}

Import-Module $ModulePath -Force
$module = Get-Module SwarmAdmin
$commands = Get-Command -Module SwarmAdmin -CommandType Cmdlet
$problems = @()
$docs = @{}
foreach ($cmd in $commands) {
    $file = Join-Path $DocsPath "$($cmd.Name).md"
    if (-not (Test-Path $file)) { $problems += "docs/$($cmd.Name).md is missing"; continue }
    $doc = ConvertFrom-PlatyMarkdown $file
    $problems += Test-Doc $doc $cmd $file
    $docs[$cmd.Name] = $doc
}
if ($problems) { throw "Help is incomplete:`n  $($problems -join "`n  ")" }

$M = 'http://schemas.microsoft.com/maml/2004/10'; $C = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; $D = 'http://schemas.microsoft.com/maml/dev/2004/10'
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; Encoding = [System.Text.UTF8Encoding]::new($false) }
$null = New-Item -ItemType Directory -Force $OutputPath
$target = Join-Path $OutputPath 'SwarmAdmin.dll-Help.xml'
$w = [System.Xml.XmlWriter]::Create($target, $settings)
$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh'); $w.WriteAttributeString('schema', 'maml')
foreach ($cmd in $commands | Sort-Object Name) {
    $doc = $docs[$cmd.Name]
    $w.WriteStartElement('command', 'command', $C)
    $w.WriteAttributeString('xmlns', 'maml', $null, $M); $w.WriteAttributeString('xmlns', 'dev', $null, $D)
    $w.WriteStartElement('command', 'details', $C)
    $w.WriteElementString('command', 'name', $C, $cmd.Name)
    $w.WriteElementString('command', 'verb', $C, $cmd.Verb)
    $w.WriteElementString('command', 'noun', $C, $cmd.Noun)
    $w.WriteStartElement('maml', 'description', $M); Add-Para $w $doc.Synopsis; $w.WriteEndElement()
    $w.WriteEndElement()
    $w.WriteStartElement('maml', 'description', $M); Add-Para $w $doc.Description; $w.WriteEndElement()

    $w.WriteStartElement('command', 'syntax', $C)
    foreach ($set in $cmd.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $C)
        $w.WriteElementString('maml', 'name', $M, $cmd.Name)
        foreach ($sp in $set.Parameters | Where-Object { $_.Name -notin $common }) {
            Write-Parameter $w $cmd.Parameters[$sp.Name] $doc.Parameters[$sp.Name] $sp
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $C)
    foreach ($name in $cmd.Parameters.get_Keys() | Where-Object { $_ -notin $common }) {
        Write-Parameter $w $cmd.Parameters[$name] $doc.Parameters[$name] $null
    }
    $w.WriteEndElement()

    foreach ($kind in @(@('inputTypes', 'inputType', $doc.Inputs), @('returnValues', 'returnValue', $doc.Outputs))) {
        $w.WriteStartElement('command', $kind[0], $C)
        foreach ($t in $kind[2]) {
            $w.WriteStartElement('command', $kind[1], $C)
            $w.WriteStartElement('dev', 'type', $D); $w.WriteElementString('maml', 'name', $M, $t.Type); $w.WriteEndElement()
            $w.WriteStartElement('maml', 'description', $M); Add-Para $w $t.Description; $w.WriteEndElement()
            $w.WriteEndElement()
        }
        $w.WriteEndElement()
    }
    if ($doc.Notes) {
        $w.WriteStartElement('maml', 'alertSet', $M); $w.WriteStartElement('maml', 'alert', $M); Add-Para $w $doc.Notes; $w.WriteEndElement(); $w.WriteEndElement()
    }
    $w.WriteStartElement('command', 'examples', $C)
    foreach ($e in $doc.Examples) {
        $w.WriteStartElement('command', 'example', $C)
        $w.WriteElementString('maml', 'title', $M, "-------------------------- $($e.Title) --------------------------")
        $w.WriteElementString('dev', 'code', $D, $e.Code)
        $w.WriteStartElement('dev', 'remarks', $D); Add-Para $w $e.Remarks; $w.WriteEndElement()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteStartElement('command', 'relatedLinks', $C)
    foreach ($l in $doc.Links) {
        $w.WriteStartElement('maml', 'navigationLink', $M)
        $w.WriteElementString('maml', 'linkText', $M, $l.Text); $w.WriteElementString('maml', 'uri', $M, $l.Uri)
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Close()

# about_ topics: platyPS about markdown to plain-text help files (en-US/about_*.help.txt), which Get-Help finds once
# the module is imported or on $env:PSModulePath. Checked before anything is written: the build fails on a problem.
$aboutProblems = @()
$aboutTexts = [ordered]@{}
$cmdletNames = @($commands | ForEach-Object Name)
foreach ($about in Get-ChildItem $DocsPath -Filter 'about_*.md' | Sort-Object Name) {
    $converted = ConvertFrom-AboutMarkdown -Path $about.FullName
    $problems = @($converted.Problems)
    foreach ($name in $converted.CmdletNames) {
        if ($name -notin $cmdletNames) { $problems += "names $name, which is not a cmdlet of the module" }
    }
    $aboutProblems += $problems | ForEach-Object { "$($about.FullName): $_" }
    $aboutTexts[$about.BaseName] = $converted.Text
}
if ($aboutProblems) { throw "About topics are incomplete:`n  $($aboutProblems -join "`n  ")" }
foreach ($name in $aboutTexts.Keys) {
    [System.IO.File]::WriteAllText((Join-Path $OutputPath "$name.help.txt"), $aboutTexts[$name], [System.Text.UTF8Encoding]::new($false))
}
Write-Host "Help: $target ($(@($commands).Count) cmdlets), $($aboutTexts.Count) about topic(s)"
