# The gallery package: tools/New-SwarmPackage.ps1 (what build.ps1 -Task Package runs) packs the built module, then
# PSResourceGet (shipped with pwsh 7.6) publishes it to a local file repository, installs it into a clean CurrentUser
# module folder, and a new pwsh that knows only that folder imports it by name and reads the lab.
# Every PSResourceGet call runs in a child pwsh whose HOME/XDG folders are a throw-away sandbox
# (tools/PSResourceSandbox.ps1): nothing is registered or installed in the real user's configuration.

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    . (Join-Path $RepoRoot 'tools/PSResourceSandbox.ps1')
    Add-Type -AssemblyName System.IO.Compression.FileSystem
    # The real user's PSResourceGet repository store, before anything here runs PSResourceGet: whether it exists and
    # its hash. Every sandboxed run must leave it exactly so (still absent when it was absent).
    function Get-UserStoreSnapshot {
        $dataHome = if ($IsWindows) { [Environment]::GetFolderPath('LocalApplicationData') }
        elseif ($env:XDG_DATA_HOME) { $env:XDG_DATA_HOME }
        else { Join-Path $HOME '.local/share' }
        $path = Join-Path $dataHome 'PSResourceGet/PSResourceRepository.xml'
        [pscustomobject]@{
            Path = $path
            Exists = Test-Path -LiteralPath $path
            Hash = if (Test-Path -LiteralPath $path) { (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash } else { $null }
        }
    }
    $script:UserStoreBefore = Get-UserStoreSnapshot
    # TestDrive is wiped between Describe blocks: one folder of our own for the whole file
    $script:Work = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-pkgtest-$PID-$([guid]::NewGuid().ToString('N').Substring(0, 6))"
    $null = New-Item -ItemType Directory -Force $Work
    $script:Manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'SwarmAdmin.psd1')
    $script:Version = $Manifest.ModuleVersion
    $script:PackageScript = Join-Path $RepoRoot 'tools/New-SwarmPackage.ps1'
    $script:Nupkg = & $PackageScript -ModulePath $ModulePath -OutputPath (Join-Path $Work 'package') -WarningVariable packWarnings
    $script:PackWarnings = @($packWarnings)

    function Get-ZipEntries([string]$Path) {
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Path)
        try { @($zip.Entries | ForEach-Object FullName) } finally { $zip.Dispose() }
    }
    function Get-ZipText([string]$Path, [string]$Entry) {
        $zip = [System.IO.Compression.ZipFile]::OpenRead($Path)
        try {
            $reader = [IO.StreamReader]::new($zip.GetEntry($Entry).Open())
            try { $reader.ReadToEnd() } finally { $reader.Dispose() }
        }
        finally { $zip.Dispose() }
    }
}

AfterAll {
    if ($script:Work) { Remove-Item -LiteralPath $script:Work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'build.ps1 -Task Package (tools/New-SwarmPackage.ps1)' {
    It 'build.ps1 offers the Package task and runs this packaging script' {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile((Join-Path $RepoRoot 'build.ps1'), [ref]$null, [ref]$null)
        $taskParam = $ast.ParamBlock.Parameters | Where-Object { $_.Name.VariablePath.UserPath -eq 'Task' }
        $validateSet = $taskParam.Attributes | Where-Object { $_.TypeName.Name -eq 'ValidateSet' }
        $validateSet.PositionalArguments.Value | Should -Contain 'Package'
        $ast.Extent.Text | Should -Match "'Package' \{[^}]*tools/New-SwarmPackage\.ps1"
    }

    It 'writes SwarmAdmin.<version>.nupkg without a PSResourceGet warning' {
        $Nupkg | Should -BeOfType System.IO.FileInfo
        $Nupkg.Name | Should -Be "SwarmAdmin.$Version.nupkg"
        # the version of the source manifest (the built folder's manifest is what $Version was read from)
        $Version | Should -Be (Import-PowerShellDataFile (Join-Path $RepoRoot 'SwarmAdmin.psd1')).ModuleVersion
        @($PackWarnings).Count | Should -Be 0 -Because "PSResourceGet warned: $($PackWarnings -join '; ')"
    }

    It 'packs exactly the module folder: bin/*.dll, psd1, psm1, every format file, en-US help and LICENSE' {
        $entries = Get-ZipEntries $Nupkg.FullName
        $nugetPlumbing = '^(SwarmAdmin\.nuspec|_rels/\.rels|\[Content_Types\]\.xml|package/services/metadata/core-properties/[0-9a-f]+\.psmdcp)$'
        $content = @($entries | Where-Object { $_ -notmatch $nugetPlumbing }) | Sort-Object
        $folder = @(Get-ChildItem $ModulePath -Recurse -File | ForEach-Object { [IO.Path]::GetRelativePath($ModulePath, $_.FullName).Replace('\', '/') }) | Sort-Object
        $content | Should -Be $folder
        $entries | Should -Contain 'SwarmAdmin.nuspec'
        foreach ($f in @('SwarmAdmin.psd1', 'SwarmAdmin.psm1', 'bin/SwarmAdmin.dll', 'bin/SwarmAdmin.Loader.dll', 'en-US/SwarmAdmin.dll-Help.xml', 'LICENSE') + @($Manifest.FormatsToProcess)) {
            $entries | Should -Contain $f
        }
        @($entries -like 'bin/*.dll').Count | Should -BeGreaterThan 10
        $entries | Should -Not -Contain 'bin/System.Management.Automation.dll'
        (Get-ZipText $Nupkg.FullName 'LICENSE') | Should -Match '^MIT License[\s\S]*Copyright \(c\) \d{4} SwarmAdmin contributors'
        (Get-ZipText $Nupkg.FullName 'SwarmAdmin.psd1') | Should -BeExactly (Get-Content -Raw (Join-Path $ModulePath 'SwarmAdmin.psd1'))
    }

    It 'carries the manifest metadata in the nuspec: id, version, authors, description, tags, license and project URLs, release notes' {
        [xml]$nuspec = Get-ZipText $Nupkg.FullName 'SwarmAdmin.nuspec'
        $m = $nuspec.package.metadata
        $psData = $Manifest.PrivateData.PSData
        $m.id | Should -BeExactly 'SwarmAdmin'
        $m.version | Should -Be $Version
        $m.authors | Should -Be $Manifest.Author
        $m.description | Should -Be $Manifest.Description
        $m.projectUrl | Should -Be $psData.ProjectUri
        $m.licenseUrl | Should -Be $psData.LicenseUri
        $m.releaseNotes.Replace("`r`n", "`n").Trim() | Should -Be $psData.ReleaseNotes.Replace("`r`n", "`n").Trim()
        $tags = $m.tags -split ' '
        foreach ($t in @($psData.Tags) + 'PSModule') { $tags | Should -Contain $t }
        foreach ($t in 'DockerSwarm', 'Homelab', 'Raft', 'PSEdition_Core', 'PSEdition_Desktop') { $tags | Should -Contain $t }
    }

    It 'the manifest is gallery-ready: GUID, editions, explicit cmdlets, URLs in one place, release notes per area' {
        $psData = $Manifest.PrivateData.PSData
        $Manifest.GUID | Should -Be '6f1d3c2a-8b4e-4f57-9a0c-2d5e7b1c9f43'
        $Manifest.CompatiblePSEditions | Should -Be @('Core', 'Desktop')
        $Manifest.CmdletsToExport | Should -Not -Contain '*'
        $Manifest.CmdletsToExport.Count | Should -Be @(Get-Command -Module SwarmAdmin -CommandType Cmdlet).Count
        $Manifest.Keys | Should -Not -Contain 'HelpInfoURI' -Because 'there is no updatable help'
        $psData.ProjectUri | Should -Match '^https://'
        $psData.LicenseUri | Should -BeLike "$($psData.ProjectUri)/*" -Because 'the project URL is written once and the license lives in the project'
        foreach ($area in 'Foundation', 'Node operations', 'Bootstrap', 'Stacks', 'Proxmox', 'Disaster recovery', 'Shipping') {
            $psData.ReleaseNotes | Should -Match "(?m)^- $area"
        }
    }

    It 'refuses a module folder without help, naming what is missing' {
        $copy = Join-Path $Work 'nohelp/SwarmAdmin'
        $null = New-Item -ItemType Directory -Force $copy
        Copy-Item (Join-Path $ModulePath '*') $copy -Recurse
        Remove-Item (Join-Path $copy 'en-US') -Recurse -Force
        { & $PackageScript -ModulePath $copy -OutputPath (Join-Path $Work 'nohelp/package') } | Should -Throw '*en-US/SwarmAdmin.dll-Help.xml is missing*'
        Test-Path (Join-Path $Work 'nohelp/package') | Should -BeFalse
    }
}

Describe 'tools/PSResourceSandbox.ps1: Invoke-SandboxPwsh' {
    BeforeAll { $script:Box = New-PSResourceSandbox (Join-Path $Work 'sandboxtest') }

    It 'gives the variables to the child only: the caller''s environment never changes, not even while the child runs' {
        $homeBefore = [Environment]::GetEnvironmentVariable('HOME')
        $pathBefore = [Environment]::GetEnvironmentVariable('PSModulePath')
        # the child runs on another thread of this process while this thread watches the process environment
        $job = Start-ThreadJob -ArgumentList (Join-Path $RepoRoot 'tools/PSResourceSandbox.ps1'), $Box -ScriptBlock {
            param($SandboxScript, $Box)
            . $SandboxScript
            Invoke-SandboxPwsh -Sandbox $Box -Script { Start-Sleep -Seconds 3; [pscustomobject]@{ Home = $env:HOME; Data = $env:XDG_DATA_HOME; Tmp = [IO.Path]::GetTempPath(); Cwd = (Get-Location).Path } }.ToString()
        }
        $seen = [Collections.Generic.HashSet[string]]::new()
        while ($job.State -in 'NotStarted', 'Running') {
            [void]$seen.Add("$([Environment]::GetEnvironmentVariable('HOME'))|$([Environment]::GetEnvironmentVariable('PSModulePath'))")
            Start-Sleep -Milliseconds 20
        }
        $child = Receive-Job $job -Wait -AutoRemoveJob -ErrorAction Stop
        @($seen) | Should -Be @("$homeBefore|$pathBefore") -Because 'HOME and PSModulePath of this process stay as they were'
        $child.Home | Should -Be $Box.Home
        $child.Data | Should -Be $Box.DataHome
        $child.Tmp.TrimEnd('/', '\') | Should -Be $Box.Temp.TrimEnd('/', '\')
        $child.Cwd | Should -Be $Box.Root
    }

    It 'reads stdout and stderr together (a child that writes a lot to stderr does not hang) and reports a failure with its output' {
        $r = Invoke-SandboxPwsh -Sandbox $Box -Script { [Console]::Error.Write('e' * 300000); [Console]::Out.Write('o' * 300000); 42 }.ToString()
        $r | Should -Be 42
        $err = $null
        try { Invoke-SandboxPwsh -Sandbox $Box -Script { [Console]::Out.WriteLine('to stdout'); [Console]::Error.WriteLine('to stderr'); exit 7 }.ToString() }
        catch { $err = "$_" }
        $err | Should -Match 'exit code 7'
        $err | Should -Match 'to stdout'
        $err | Should -Match 'to stderr'
    }
}

Describe 'Publish-PSResource and Install-PSResource through a local file repository (sandboxed)' {
    BeforeAll {
        $script:Publisher = New-PSResourceSandbox (Join-Path $Work 'publisher')
        $script:RepoDir = New-Item -ItemType Directory -Force (Join-Path $Work 'repo')
        $script:RepoName = "SwarmAdminTest$PID"
        $script:Published = Invoke-SandboxPwsh -Sandbox $Publisher -ArgumentList $Nupkg.FullName, $RepoDir.FullName, $RepoName, $Version -Script {
            param([string]$Nupkg, [string]$RepoDir, [string]$RepoName, [string]$Version)
            $warnings = @()
            Register-PSResourceRepository -Name $RepoName -Uri $RepoDir -Trusted
            Publish-PSResource -NupkgPath $Nupkg -Repository $RepoName -WarningVariable +warnings
            $repoFile = Get-Item (Join-Path $RepoDir "SwarmAdmin.$Version.nupkg")
            $before = [pscustomobject]@{ Ticks = $repoFile.LastWriteTimeUtc.Ticks; Hash = (Get-FileHash $repoFile.FullName).Hash }
            $found = @(Find-PSResource -Name SwarmAdmin -Repository $RepoName | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Version = "$($_.Version)"; Repository = $_.Repository } })
            Install-PSResource -Name SwarmAdmin -Version $Version -Repository $RepoName -TrustRepository -Scope CurrentUser -WarningVariable +warnings
            $installed = @(Get-InstalledPSResource -Name SwarmAdmin -Scope CurrentUser | ForEach-Object { [pscustomobject]@{ Version = "$($_.Version)"; InstalledLocation = $_.InstalledLocation } })

            [pscustomobject]@{
                Repositories = @(Get-PSResourceRepository | ForEach-Object { [pscustomobject]@{ Name = $_.Name; Uri = "$($_.Uri)" } })
                Found = $found; Installed = $installed
                Before = $before
                RepoFiles = @(Get-ChildItem $RepoDir -Name)
                Warnings = @($warnings | ForEach-Object { "$_" })
            }
        }.ToString()

        # The same version once more, from a changed module folder (what a forgotten version bump looks like), in a
        # second session of the same sandbox: in the first one Install-PSResource still holds the repository's nupkg
        # open (PSResourceGet 1.2 on Linux: "being used by another process").
        $script:Republished = Invoke-SandboxPwsh -Sandbox $Publisher -ArgumentList $Nupkg.FullName, $RepoDir.FullName, $RepoName, $Version -Script {
            param([string]$Nupkg, [string]$RepoDir, [string]$RepoName, [string]$Version)
            $warnings = @()
            $changed = Join-Path ([IO.Path]::GetTempPath()) 'republish/SwarmAdmin'
            $null = New-Item -ItemType Directory -Force $changed
            [System.IO.Compression.ZipFile]::ExtractToDirectory($Nupkg, $changed)
            Remove-Item -LiteralPath (Join-Path $changed 'SwarmAdmin.nuspec'), (Join-Path $changed '_rels'), (Join-Path $changed 'package'), (Join-Path $changed '[Content_Types].xml') -Recurse -Force
            Add-Content -LiteralPath (Join-Path $changed 'SwarmAdmin.psm1') -Value '# changed'
            $republishErrors = @()
            try { Publish-PSResource -Path $changed -Repository $RepoName -ErrorAction SilentlyContinue -ErrorVariable +republishErrors -WarningVariable +warnings }
            catch { $republishErrors += $_ }   # a refusal may come as a terminating error too
            $repoFile = Get-Item (Join-Path $RepoDir "SwarmAdmin.$Version.nupkg")
            # installable after that? (Save-PSResource: into a folder of its own, the install of the first session stays)
            $saveTo = Join-Path ([IO.Path]::GetTempPath()) 'saved'
            $null = New-Item -ItemType Directory -Force $saveTo
            Save-PSResource -Name SwarmAdmin -Version $Version -Repository $RepoName -TrustRepository -Path $saveTo
            $savedManifest = Join-Path $saveTo "SwarmAdmin/$Version/SwarmAdmin.psd1"
            [pscustomobject]@{
                After = [pscustomobject]@{ Ticks = $repoFile.LastWriteTimeUtc.Ticks; Hash = (Get-FileHash $repoFile.FullName).Hash }
                Errors = @($republishErrors | ForEach-Object { "$($_.FullyQualifiedErrorId): $_" })
                RepoFiles = @(Get-ChildItem $RepoDir -Name)
                Found = @(Find-PSResource -Name SwarmAdmin -Repository $RepoName | ForEach-Object { "$($_.Version)" })
                Warnings = @($warnings | ForEach-Object { "$_" })
                SavedVersion = if (Test-Path -LiteralPath $savedManifest) { "$((Test-ModuleManifest -Path $savedManifest).Version)" } else { $null }
            }
        }.ToString()
    }

    It 'registers the file repository in the sandbox store only, never in the user configuration' {
        @($Published.Repositories | Where-Object Name -eq $RepoName).Count | Should -Be 1
        Test-Path $Publisher.RepositoryStore | Should -BeTrue
        (Get-Content -Raw $Publisher.RepositoryStore) | Should -Match $RepoName
        $now = Get-UserStoreSnapshot
        $now.Path | Should -Be $UserStoreBefore.Path
        $now.Path | Should -Not -BeLike "$Work*" -Because 'the snapshot is of the real user store, not a sandbox'
        $now.Exists | Should -Be $UserStoreBefore.Exists -Because "$($now.Path) must not be created (or removed) by the sandboxed runs"
        $now.Hash | Should -Be $UserStoreBefore.Hash -Because "$($now.Path) must stay unchanged"
        @($Published.Warnings).Count | Should -Be 0 -Because "PSResourceGet warned: $($Published.Warnings -join '; ')"
    }

    It 'publishes the package: Find-PSResource sees SwarmAdmin <version> in the repository' {
        $Published.RepoFiles | Should -Contain "SwarmAdmin.$Version.nupkg"
        @($Published.Found).Count | Should -Be 1
        $Published.Found[0].Name | Should -Be 'SwarmAdmin'
        $Published.Found[0].Version | Should -Be $Version
        $Published.Found[0].Repository | Should -Be $RepoName
    }

    It 'Install-PSResource puts it into the sandbox CurrentUser module folder' {
        @($Published.Installed).Count | Should -Be 1
        $Published.Installed[0].Version | Should -Be $Version
        $Published.Installed[0].InstalledLocation | Should -BeLike "$($Publisher.UserModules)*"
        $installDir = Join-Path $Publisher.UserModules "SwarmAdmin/$Version"
        foreach ($f in 'SwarmAdmin.psd1', 'SwarmAdmin.psm1', 'bin/SwarmAdmin.dll', 'en-US/SwarmAdmin.dll-Help.xml', 'LICENSE') {
            Test-Path (Join-Path $installDir $f) | Should -BeTrue -Because "$f belongs to the installed module"
        }
    }

    It 'republishing the same version to a file repository is refused or replaces the package; either way one package of that version stays, installable' {
        # Documents current behaviour: the PSResourceGet shipped with pwsh 7.6.9 (pinned) replaces the file silently (no
        # error, no warning), while gallery feeds refuse an existing version. Only a version bump protects a release, so
        # build.ps1 -Task Package output must not be published twice under one ModuleVersion. A PSResourceGet that
        # refuses is accepted too (the test must not fail when PSResourceGet is fixed).
        $refused = @($Republished.Errors).Count -gt 0 -and $Republished.After.Hash -eq $Published.Before.Hash
        $replaced = @($Republished.Errors).Count -eq 0 -and $Republished.After.Hash -ne $Published.Before.Hash
        ($refused -or $replaced) | Should -BeTrue -Because "errors: $($Republished.Errors -join '; '); hash before $($Published.Before.Hash), after $($Republished.After.Hash)"
        Write-Host "Republishing ${Version}: $(if ($refused) { 'refused with an error' } else { 'replaced the package silently' })"
        @($Republished.RepoFiles -like "SwarmAdmin.$Version*.nupkg") | Should -Be @("SwarmAdmin.$Version.nupkg")
        @($Republished.Found | Where-Object { $_ -eq $Version }).Count | Should -Be 1
        $Republished.SavedVersion | Should -Be $Version -Because 'the package that stays can be installed'
    }
}

# pwsh itself adds its own folders (the sandbox user folder, /usr/local/share/powershell/Modules, $PSHOME/Modules) in
# front of the given PSModulePath; none of them holds SwarmAdmin, and the repository build output is not on it.
Describe 'The installed module in a new pwsh given only the install folder as PSModulePath' {
    BeforeAll {
        $script:Consumer = New-PSResourceSandbox (Join-Path $Work 'consumer')
        $installFolder = $Publisher.UserModules
        $endpoints = @($Managers | ForEach-Object { Get-LabEndpoint $_.Name }) -join ','
        $script:Imported = Invoke-SandboxPwsh -Sandbox $Consumer -ModulePath $installFolder -ArgumentList $endpoints, $Lab.KeyPath, $Lab.KnownHostsPath -Script {
            param([string]$Endpoints, [string]$KeyFile, [string]$KnownHosts)
            $available = @(Get-Module -ListAvailable -Name SwarmAdmin | ForEach-Object ModuleBase)
            Import-Module SwarmAdmin
            $module = Get-Module SwarmAdmin
            $help = Get-Help Get-SwarmNode
            $ctx = Connect-SwarmCluster -Endpoint ($Endpoints -split ',') -KeyFile $KeyFile -KnownHostsPath $KnownHosts -TimeoutSec 15
            $nodes = @(Get-SwarmNode)
            Disconnect-SwarmCluster
            [pscustomobject]@{
                PSModulePath = $env:PSModulePath
                Available = $available
                ModuleBase = $module.ModuleBase
                Version = "$($module.Version)"
                Cmdlets = @($module.ExportedCmdlets.Keys)
                AssemblyLocation = (Get-Command Get-SwarmNode).ImplementingType.Assembly.Location
                Synopsis = "$($help.Synopsis)".Trim()
                Connected = $ctx.NodeHostname
                NodeTypes = @($nodes | ForEach-Object { $_.GetType().FullName } | Select-Object -Unique)
                Hostnames = @($nodes | ForEach-Object Hostname)
            }
        }.ToString()
    }

    It 'imports SwarmAdmin by name from the install folder (the repository build output is nowhere on the path)' {
        $installDir = Join-Path $Publisher.UserModules "SwarmAdmin/$Version"
        $Imported.PSModulePath -split [IO.Path]::PathSeparator | Should -Contain $Publisher.UserModules
        $Imported.PSModulePath | Should -Not -Match ([regex]::Escape((Split-Path $ModulePath)))
        $Imported.Available | Should -Be @($installDir)
        $Imported.ModuleBase | Should -Be $installDir
        $Imported.AssemblyLocation | Should -BeLike "$installDir*"
        $Imported.Version | Should -Be $Version
        ($Imported.Cmdlets | Sort-Object) | Should -Be ($Manifest.CmdletsToExport | Sort-Object)
    }

    It 'has the packaged help: Get-Help Get-SwarmNode shows the synopsis' {
        $Imported.Synopsis | Should -Not -BeNullOrEmpty
        $Imported.Synopsis | Should -Not -Match '^Get-SwarmNode\s*\['
        $Imported.Synopsis | Should -Be "$((Get-Help Get-SwarmNode).Synopsis)".Trim()
    }

    It 'left the real user''s PSResourceGet store as it was, after every sandboxed run' {
        $now = Get-UserStoreSnapshot
        $now.Exists | Should -Be $UserStoreBefore.Exists
        $now.Hash | Should -Be $UserStoreBefore.Hash
    }

    It 'Connect-SwarmCluster and Get-SwarmNode read the lab: the hostnames docker node ls shows' {
        $Imported.NodeTypes | Should -Be @('SwarmAdmin.SwarmNode')
        $Imported.Connected | Should -BeIn $Managers.Name
        $oracle = @(Invoke-LabDocker $Managers[0].Name @('node', 'ls', '--format', '{{.Hostname}}'))
        ($Imported.Hostnames | Sort-Object) | Should -Be ($oracle | Sort-Object)
    }
}
