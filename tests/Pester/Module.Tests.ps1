BeforeDiscovery {
    $modulePath = if ($env:SWARMADMIN_MODULE) { $env:SWARMADMIN_MODULE } else { Join-Path $PSScriptRoot '../../out/SwarmAdmin' }
    Import-Module $modulePath -Force
    $script:CmdletCases = @(Get-Command -Module SwarmAdmin -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })

    # The about topics: the three the module ships, plus any other docs/about_*.md.
    $aboutNames = @('about_SwarmAdmin', 'about_SwarmAdmin_Trust', 'about_SwarmAdmin_Quorum') +
        @(Get-ChildItem (Join-Path $PSScriptRoot '../../docs') -Filter 'about_*.md' | ForEach-Object BaseName)
    $script:AboutCases = @($aboutNames | Sort-Object -Unique | ForEach-Object { @{ Topic = $_ } })

    # Every type a user sees as output: the [OutputType] of each exported cmdlet, the module's types reachable from
    # them through public properties (Findings, Steps, Hosts...), and every public class of the model namespace
    # (SwarmAdmin) except exceptions and the types that are only parameter types.
    $asm = (Get-Command Get-SwarmNode).ImplementingType.Assembly
    $inputOnly = @('SwarmAdmin.SwarmNodeTarget')   # -Node of Initialize-Swarm/Join-SwarmNode: converted from input, never written
    $isModel = { param($t) $t -and $t.Assembly -eq $asm -and $t.IsClass -and -not $t.IsAbstract -and -not [Exception].IsAssignableFrom($t) -and $t.FullName -notin $inputOnly }
    $found = [ordered]@{}
    $queue = [System.Collections.Generic.Queue[type]]::new()
    foreach ($t in Get-Command -Module SwarmAdmin -CommandType Cmdlet | ForEach-Object { $_.OutputType.Type }) {
        if ($t -and $t -notin [void], [bool], [securestring]) { $queue.Enqueue($t) }
    }
    foreach ($t in $asm.GetExportedTypes()) { if ($t.Namespace -eq 'SwarmAdmin' -and (& $isModel $t)) { $queue.Enqueue($t) } }
    while ($queue.Count) {
        $t = $queue.Dequeue()
        if ($found.Contains($t.FullName)) { continue }
        $found[$t.FullName] = $t
        foreach ($p in $t.GetProperties([System.Reflection.BindingFlags]'Public, Instance')) {
            $pt = $p.PropertyType
            $candidates = @(if ($pt.IsArray) { $pt.GetElementType() } else { $pt }) + @($pt.GetGenericArguments())
            foreach ($c in $candidates) { if (& $isModel $c) { $queue.Enqueue($c) } }
        }
    }
    $script:OutputTypeCases = @($found.Keys | ForEach-Object { @{ TypeName = $_ } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'SwarmAdmin.psd1')
    $script:Common = @([System.Management.Automation.Cmdlet]::CommonParameters) + 'ProgressAction'
}

Describe 'Module surface' {
    It 'exports exactly the cmdlets the manifest lists, with approved verbs' {
        $exported = (Get-Command -Module SwarmAdmin).Name | Sort-Object
        $exported | Should -Be ($Manifest.CmdletsToExport | Sort-Object)
        $approved = (Get-Verb).Verb
        foreach ($c in Get-Command -Module SwarmAdmin) {
            $c.Verb | Should -BeIn $approved
            $c.Noun | Should -Match '^Swarm'
        }
        $Manifest.CompatiblePSEditions | Should -Be @('Core', 'Desktop')
        $Manifest.FunctionsToExport.Count | Should -Be 0
    }

    It '<Name> declares its output type as a SwarmAdmin type' -ForEach $CmdletCases {
        $c = Get-Command $Name
        $c.OutputType.Count | Should -BeGreaterThan 0
        foreach ($t in $c.OutputType.Type) {
            if ($t -notin [void], [bool], [securestring]) { $t.Namespace | Should -Match '^SwarmAdmin' }   # bool: Test-* -Quiet; SecureString: tokens
        }
    }

    It '<Name> has complete help: synopsis, description, every parameter, two examples, no placeholders' -ForEach $CmdletCases {
        $help = Get-Help $Name -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match ([regex]::Escape($Name) + '\s*\[')   # not the auto-generated syntax stub
        ($help.Description.Text -join ' ') | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        ($help | Out-String) | Should -Not -Match '\{\{'
        $documented = @($help.Parameters.Parameter.Name) | Where-Object { $_ } | Sort-Object
        $actual = (Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $Common } | Sort-Object
        $documented | Should -Be $actual
        foreach ($p in $help.Parameters.Parameter) {
            ($p.Description.Text -join ' ') | Should -Not -BeNullOrEmpty -Because "-$($p.Name) needs a description"
        }
    }

    It 'Get-Help -Examples works for Get-SwarmNode' {
        (Get-Help Get-SwarmNode -Examples | Out-String) | Should -Match 'Get-SwarmNode -Role Worker -Label'
    }
}

Describe 'About topics' {
    BeforeAll {
        $script:Exported = @((Get-Command -Module SwarmAdmin -CommandType Cmdlet).Name)
        # what a cmdlet name in the text may be followed by: its own parameters (or aliases, or a unique prefix) and the common ones
        $script:CommonAndRisk = @([System.Management.Automation.Cmdlet]::CommonParameters) + @([System.Management.Automation.Cmdlet]::OptionalCommonParameters) + 'ProgressAction'
        function script:Get-AboutMarkdown([string]$Topic) { Get-Content (Join-Path $RepoRoot "docs/$Topic.md") -Raw }
        function script:Get-ShortDescription([string]$Markdown) {
            $m = [regex]::Match($Markdown, '(?ms)^## SHORT DESCRIPTION\s*\n(.*?)(?=^## )')
            ($m.Groups[1].Value -replace '`', '' -replace '\s+', ' ').Trim()
        }
    }

    It 'ships the three topics of the module' {
        foreach ($t in 'about_SwarmAdmin', 'about_SwarmAdmin_Trust', 'about_SwarmAdmin_Quorum') {
            Join-Path $RepoRoot "docs/$t.md" | Should -Exist
            Join-Path $ModulePath "en-US/$t.help.txt" | Should -Exist
        }
    }

    It 'Get-Help <Topic> shows the topic, with its short description and no markdown or placeholders' -ForEach $AboutCases {
        $help = Get-Help $Topic | Out-String
        $help | Should -Not -BeNullOrEmpty
        $short = Get-ShortDescription (Get-AboutMarkdown $Topic)
        $short | Should -Not -BeNullOrEmpty
        ($help -replace '\s+', ' ') | Should -Match ('SHORT DESCRIPTION ' + [regex]::Escape($short))
        $help | Should -Match 'LONG DESCRIPTION'
        $help | Should -Not -Match '\{\{'
        $help | Should -Not -Match '```'
        $help | Should -Not -Match '\*\*[^*\s][^*]*\*\*'        # bold
        $help | Should -Not -Match '\]\([^)]*\)'                 # [link](target)
        $help | Should -Not -Match '(?m)^#'                      # headings
    }

    It 'every error id <Topic> names is one the module raises' -ForEach $AboutCases {
        $ids = @((Get-Command Get-SwarmNode).ImplementingType.Assembly.GetType('SwarmAdmin.Infrastructure.SwarmErrorId').GetFields('Public,Static') |
            Where-Object IsLiteral | ForEach-Object { $_.GetValue($null) })
        $ids.Count | Should -BeGreaterThan 20
        $text = Get-AboutMarkdown $Topic
        # what reads like an error id (...NotFound, ...Timeout, ...), the ids of "Frequent ones:" lists, and 'Id,*' patterns
        $named = @([regex]::Matches($text, '\b[A-Z][a-z]+(?:[A-Z][a-z]+)+(?:NotFound|Unreachable|Timeout|Failed|Changed|Unknown|Guard|Conflict|Error|Refused|Unsupported|Invalid|Denied|Exists|Busy|Wrong|Unreadable|InUse)\b') | ForEach-Object Value)
        foreach ($m in [regex]::Matches($text, '(?s)Frequent ones:(.*?)\.(?:\s|$)')) { $named += @($m.Groups[1].Value -split '[,\s]+' | Where-Object { $_ }) }
        $named += @([regex]::Matches($text, "'([A-Za-z]+),\*'") | ForEach-Object { $_.Groups[1].Value })
        foreach ($n in ($named | Sort-Object -Unique)) { $n | Should -BeIn $ids -Because "$Topic names the error id $n" }
    }

    It 'every Verb-Swarm* name in <Topic> is an exported cmdlet, and every -Parameter written after it is one of its parameters' -ForEach $AboutCases {
        $text = Get-AboutMarkdown $Topic
        $names = @([regex]::Matches($text, '\b[A-Z][a-z]+-Swarm[A-Za-z]*\b') | ForEach-Object Value | Sort-Object -Unique)
        $names.Count | Should -BeGreaterThan 0
        foreach ($n in $names) { $n | Should -BeIn $Exported -Because "$Topic names $n" }
        foreach ($line in $text -split "`n") {
            foreach ($m in [regex]::Matches($line, '\b([A-Z][a-z]+-Swarm[A-Za-z]*)\b')) {
                # the command's own arguments: up to a pipe, a separator, a bracket, the end of a sentence or the next cmdlet
                $rest = $line.Substring($m.Index + $m.Length)
                $rest = [regex]::Split($rest, '[|;(){},]|\.\s|\.$|\b[A-Z][a-z]+-Swarm')[0]
                $cmd = Get-Command $m.Groups[1].Value
                $known = @($cmd.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases }) + $CommonAndRisk
                foreach ($p in [regex]::Matches($rest, '(?:^|\s)-([A-Za-z]+)\b')) {
                    $name = $p.Groups[1].Value
                    $hits = @($known | Where-Object { $_ -like "$name*" })
                    ($hits.Count -ge 1) | Should -BeTrue -Because "$Topic writes '$($cmd.Name) ... -$name', and $($cmd.Name) has no such parameter"
                }
            }
        }
    }

    It 'Get-Help finds the topics through $env:PSModulePath, without Import-Module' {
        $script = {
            param($modulesDir)
            $env:PSModulePath = $modulesDir + [System.IO.Path]::PathSeparator + $env:PSModulePath
            foreach ($t in 'about_SwarmAdmin', 'about_SwarmAdmin_Trust', 'about_SwarmAdmin_Quorum') {
                $h = Get-Help $t -ErrorAction SilentlyContinue | Out-String
                "$t=$(($h -match 'SHORT DESCRIPTION') -and -not (Get-Module SwarmAdmin))"
            }
        }
        $file = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-about-$PID.ps1"
        Set-Content -LiteralPath $file -Value $script.ToString()
        try { $out = & dotnet pwsh -NoProfile -NonInteractive -File $file (Split-Path (Resolve-Path $ModulePath).Path) 2>&1 }
        finally { Remove-Item $file -ErrorAction SilentlyContinue }
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $out | Should -Contain 'about_SwarmAdmin=True'
        $out | Should -Contain 'about_SwarmAdmin_Trust=True'
        $out | Should -Contain 'about_SwarmAdmin_Quorum=True'
    }
}

Describe 'Formatting' {
    It '<TypeName> has a table view' -ForEach $OutputTypeCases {
        $views = @(Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion | ForEach-Object FormatViewDefinition)
        @($views | Where-Object { $_.Control -is [System.Management.Automation.TableControl] }).Count | Should -BeGreaterThan 0 -Because "$TypeName is output, so Format-Table needs a view (a SwarmAdmin*.Format.ps1xml)"
    }

    It 'no table view of <TypeName> shows a credential, and the type has no property that holds one' -ForEach $OutputTypeCases {
        $secretName = '(?i)password|passphrase|token(?!id)|unlockkey|privatekey|securestring|credential|\bsecret\b|\.data\b|\bcontent\b'
        foreach ($v in Get-FormatData -TypeName $TypeName -PowerShellVersion $PSVersionTable.PSVersion | ForEach-Object FormatViewDefinition) {
            if ($v.Control -isnot [System.Management.Automation.TableControl]) { continue }
            foreach ($col in $v.Control.Rows.Columns) {
                $col.DisplayEntry.Value | Should -Not -Match $secretName -Because "view $($v.Name) must not show credentials"
            }
        }
        $type = (Get-Command Get-SwarmNode).ImplementingType.Assembly.GetType($TypeName)
        foreach ($p in $type.GetProperties()) {
            $p.PropertyType | Should -Not -Be ([securestring]) -Because "$TypeName.$($p.Name)"
            $p.PropertyType | Should -Not -Be ([pscredential]) -Because "$TypeName.$($p.Name)"
            $p.Name | Should -Not -Match '(?i)password|passphrase|token|unlockkey|privatekey' -Because "$TypeName.$($p.Name) looks like a credential"
        }
    }
}

Describe 'Dependency isolation (private AssemblyLoadContext)' {
    It 'works in a session that already loaded another YamlDotNet version' {
        $old = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/yamldotnet/11.2.1/lib/netstandard2.1/YamlDotNet.dll'
        if ($env:NUGET_PACKAGES) { $old = Join-Path $env:NUGET_PACKAGES 'yamldotnet/11.2.1/lib/netstandard2.1/YamlDotNet.dll' }
        Test-Path $old | Should -BeTrue -Because 'the build restores YamlDotNet 11.2.1 (tools/ToolRestore.csproj)'
        $script = {
            param($old, $module, $endpoint, $key, $kh)
            $ErrorActionPreference = 'Stop'
            Add-Type -Path $old
            $sessionYaml = [YamlDotNet.Serialization.Deserializer].Assembly.GetName().Version.ToString()
            # the session's own YamlDotNet keeps working
            $sessionResult = (New-Object YamlDotNet.Serialization.Deserializer).Deserialize[object]('a: 1')['a']
            Import-Module $module
            $asm = (Get-Command Get-SwarmNode).ImplementingType.Assembly
            $alc = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($asm)
            $parsed = $asm.GetType('SwarmAdmin.Yaml.YamlText')::Parse("nodes:`n  - name: m1`n    labels: {portainer.data: 'true'}")
            $moduleYaml = ($alc.Assemblies | Where-Object { $_.GetName().Name -eq 'YamlDotNet' }).GetName().Version.ToString()
            Connect-SwarmCluster -Endpoint $endpoint -KeyFile $key -KnownHostsPath $kh | Out-Null
            $count = @(Get-SwarmNode).Count
            [pscustomobject]@{
                SessionYaml = $sessionYaml; SessionResult = $sessionResult; ModuleYaml = $moduleYaml; Alc = $alc.Name
                Parsed = $parsed['nodes'][0]['labels']['portainer.data']; Nodes = $count
                DefaultYaml = @([System.Runtime.Loader.AssemblyLoadContext]::Default.Assemblies | Where-Object { $_.GetName().Name -eq 'YamlDotNet' }).Count
            } | ConvertTo-Json -Compress
        }
        $file = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-alc-$PID.ps1"
        Set-Content -LiteralPath $file -Value $script.ToString()
        $json = & dotnet pwsh -NoProfile -NonInteractive -File $file $old $ModulePath (Get-LabEndpoint $Managers[0].Name) $Lab.KeyPath $Lab.KnownHostsPath 2>&1
        Remove-Item $file
        $LASTEXITCODE | Should -Be 0 -Because ($json -join "`n")
        $r = ($json | Select-Object -Last 1) | ConvertFrom-Json
        $r.SessionYaml | Should -Match '^11\.'  # YamlDotNet 11.2.1 has assembly version 11.0.0.0
        $r.SessionResult | Should -Be '1'
        $r.ModuleYaml | Should -Match '^18\.'
        $r.Alc | Should -Be 'SwarmAdmin'
        $r.Parsed | Should -Be 'true'
        $r.Nodes | Should -Be ($Managers.Count + $Workers.Count)
        $r.DefaultYaml | Should -Be 1
    }
}
