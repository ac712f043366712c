BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    # What the docker CLI on a manager says, independently of SwarmAdmin.
    function Get-CliLabels([string]$Node) {
        $json = Invoke-LabDocker $M1 @('node', 'inspect', $Node, '--format', '{{json .Spec.Labels}}')
        $h = @{}
        if ($json -and $json -ne 'null') { ($json | ConvertFrom-Json).psobject.Properties | ForEach-Object { $h[$_.Name] = $_.Value } }
        $h
    }
    function Get-CliVersion([string]$Node) { [int64](Invoke-LabDocker $M1 @('node', 'inspect', $Node, '--format', '{{.Version.Index}}')) }
    function Reset-Labels { foreach ($n in $Workers.Name + $Managers.Name) { Set-SwarmNodeLabel -Name $n -Replace @{} | Out-Null } }
}

AfterAll {
    Reset-Labels
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Set-SwarmNodeLabel' {
    BeforeEach { Reset-Labels }

    It 'adds labels to nodes piped from Get-SwarmNode and emits the updated nodes' {
        $out = Get-SwarmNode -Role Worker | Set-SwarmNodeLabel -Add @{ storage = 'ssd'; 'proxmox.host' = 'pve02' }
        $out.Count | Should -Be $Workers.Count
        $out | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmNode; $_.Labels['storage'] | Should -Be 'ssd' }
        foreach ($w in $Workers.Name) {
            $cli = Get-CliLabels $w
            $cli['storage'] | Should -Be 'ssd'
            $cli['proxmox.host'] | Should -Be 'pve02'
        }
        (Get-CliLabels $M1).Count | Should -Be 0
    }

    It 'allows empty values' {
        Set-SwarmNodeLabel -Name $Workers[0].Name -Add @{ empty = ''; nothing = $null } | Out-Null
        $cli = Get-CliLabels $Workers[0].Name
        $cli.ContainsKey('empty') | Should -BeTrue
        $cli['empty'] | Should -Be ''
        $cli['nothing'] | Should -Be ''
        (Get-SwarmNode -Label 'empty=').Hostname | Should -Be $Workers[0].Name
    }

    It 'removes labels and ignores keys the node does not have' {
        $w = $Workers[0].Name
        Set-SwarmNodeLabel -Name $w -Add @{ a = '1'; b = '2'; c = '3' } | Out-Null
        $n = Set-SwarmNodeLabel -Name $w -Remove a, c, not-there
        ($n.Labels.Keys | Sort-Object) | Should -Be @('b')
        (Get-CliLabels $w).Keys | Should -Be @('b')
    }

    It 'replaces the whole label set' {
        $w = $Workers[0].Name
        Set-SwarmNodeLabel -Name $w -Add @{ a = '1'; b = '2' } | Out-Null
        Set-SwarmNodeLabel -Name $w -Replace @{ role = 'infra'; 'proxmox.host' = 'pve01' } | Out-Null
        $cli = Get-CliLabels $w
        ($cli.Keys | Sort-Object) | Should -Be @('proxmox.host', 'role')
        $cli['role'] | Should -Be 'infra'
    }

    It 'sends nothing when nothing would change: the version index stays' {
        $w = $Workers[1].Name
        Set-SwarmNodeLabel -Name $w -Add @{ storage = 'ssd' } | Out-Null
        $before = Get-CliVersion $w
        $n = Set-SwarmNodeLabel -Name $w -Add @{ storage = 'ssd' } -Remove not-there -Verbose 4>&1
        $verbose = $n | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join ' ') | Should -Match 'nothing sent'
        Get-CliVersion $w | Should -Be $before
        ($n | Where-Object { $_ -is [SwarmAdmin.SwarmNode] }).Version | Should -Be $before
    }

    It '-WhatIf shows the change and leaves the node untouched' {
        $w = $Workers[0].Name
        Set-SwarmNodeLabel -Name $w -Add @{ keep = 'me' } | Out-Null
        $before = Get-CliVersion $w
        $out = Set-SwarmNodeLabel -Name $w -Replace @{ other = 'x' } -WhatIf
        $out | Should -BeNullOrEmpty
        Get-CliVersion $w | Should -Be $before
        (Get-CliLabels $w)['keep'] | Should -Be 'me'
        (Get-CliLabels $w).ContainsKey('other') | Should -BeFalse
    }

    It 'refuses an invalid key before sending anything to any node: <Key>' -ForEach @(
        @{ Key = 'bad key' }, @{ Key = 'com.docker.private' }, @{ Key = '-leading' }, @{ Key = 'trailing.' }, @{ Key = 'a..b' }, @{ Key = '' }
    ) {
        $versions = $Workers.Name | ForEach-Object { Get-CliVersion $_ }
        $err = $null
        try { Get-SwarmNode -Role Worker | Set-SwarmNodeLabel -Add @{ good = '1'; $Key = 'v' } -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'InvalidNodeLabel,SwarmAdmin.Commands.SetSwarmNodeLabelCommand'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        ($Workers.Name | ForEach-Object { Get-CliVersion $_ }) | Should -Be $versions
        $Workers.Name | ForEach-Object { (Get-CliLabels $_).ContainsKey('good') | Should -BeFalse }
    }

    It 'refuses -Replace together with -Add, and a call without a change' {
        { Set-SwarmNodeLabel -Name $Workers[0].Name -Replace @{ a = '1' } -Add @{ b = '2' } -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,SwarmAdmin.Commands.SetSwarmNodeLabelCommand'
        { Set-SwarmNodeLabel -Name $Workers[0].Name -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,SwarmAdmin.Commands.SetSwarmNodeLabelCommand'
    }

    It 'finds nodes by -Id and by wildcard -Name, and reports unknown names without stopping' {
        $w = Get-SwarmNode -Name $Workers[0].Name
        (Set-SwarmNodeLabel -Id $w.Id -Add @{ byid = 'yes' }).Labels['byid'] | Should -Be 'yes'
        $out = Set-SwarmNodeLabel -Name 'swarmlab-w*', 'no-such-node' -Add @{ wild = 'yes' } -ErrorVariable errs -ErrorAction SilentlyContinue
        ($out.Hostname | Sort-Object) | Should -Be ($Workers.Name | Sort-Object)
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'SwarmNodeNotFound,SwarmAdmin.Commands.SetSwarmNodeLabelCommand'
        $errs[0].TargetObject | Should -Be 'no-such-node'
    }

    It 'applies to the node as it is now, not as the piped (older) object was' {
        $w = $Workers[0].Name
        $stale = Get-SwarmNode -Name $w
        Invoke-LabDocker $M1 @('node', 'update', '--label-add', 'fromcli=1', $w) | Out-Null
        $n = $stale | Set-SwarmNodeLabel -Add @{ fromps = '1' }
        $n.Version | Should -BeGreaterThan $stale.Version
        $cli = Get-CliLabels $w
        $cli['fromcli'] | Should -Be '1'
        $cli['fromps'] | Should -Be '1'
    }
}

Describe 'Set-SwarmNodeLabel pipeline input' {
    It 'takes hostnames from the pipeline' {
        $out = $Workers.Name | Set-SwarmNodeLabel -Add @{ piped = 'name' }
        ($out.Hostname | Sort-Object) | Should -Be ($Workers.Name | Sort-Object)
        $Workers.Name | Set-SwarmNodeLabel -Remove piped | Out-Null
    }
}
