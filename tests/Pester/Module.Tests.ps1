BeforeDiscovery {
    $modulePath = if ($env:SWARMADMIN_MODULE) { $env:SWARMADMIN_MODULE } else { Join-Path $PSScriptRoot '../../out/SwarmAdmin' }
    Import-Module $modulePath -Force
    $script:CmdletCases = @(Get-Command -Module SwarmAdmin -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
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
