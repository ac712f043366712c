BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:Joined = @($script:Managers) + @($script:Workers)
}

AfterAll {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Get-SwarmNode' {
    It 'returns one typed object per node, like docker node ls' {
        $nodes = Get-SwarmNode
        $nodes.Count | Should -Be $Joined.Count
        $nodes | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmNode }
        ($nodes.Hostname | Sort-Object) | Should -Be ($Joined.Name | Sort-Object)
        $cli = Invoke-LabDocker $Managers[0].Name @('node', 'ls', '--format', '{{.ID}} {{.Hostname}} {{.ManagerStatus}}')
        foreach ($line in $cli) {
            $id, $hostname, $status = $line -split ' ', 3
            $n = $nodes | Where-Object Id -eq $id
            $n.Hostname | Should -Be $hostname
            "$($n.ManagerStatus)" | Should -Be "$status".Trim()
        }
        @($nodes | Where-Object IsLeader).Count | Should -Be 1
        $nodes | ForEach-Object {
            $_.State | Should -Be 'ready'
            $_.Availability | Should -Be 'Active'
            $_.CPUs | Should -BeGreaterThan 0
            $_.MemoryBytes | Should -BeGreaterThan 0
            $_.Version | Should -BeGreaterThan 0
            $_.EngineVersion | Should -Be (($Lab.Nodes | Where-Object Name -eq $_.Hostname).EngineVersion)
            $_.Address | Should -Be (($Lab.Nodes | Where-Object Name -eq $_.Hostname).Address)
        }
        ($nodes | Where-Object IsSelf).Hostname | Should -Be $Ctx.NodeHostname
    }

    It 'filters by role' {
        (Get-SwarmNode -Role Manager).Hostname | Sort-Object | Should -Be ($Managers.Name | Sort-Object)
        (Get-SwarmNode -Role Worker).Hostname | Sort-Object | Should -Be ($Workers.Name | Sort-Object)
        (Get-SwarmNode -Role Manager) | ForEach-Object { $_.ManagerStatus | Should -BeIn 'Leader', 'Reachable' }
        (Get-SwarmNode -Role Worker) | ForEach-Object { $_.ManagerStatus | Should -BeNullOrEmpty }
    }

    It 'filters by name, with wildcards' {
        (Get-SwarmNode -Name $Workers[0].Name).Id | Should -HaveCount 1
        (Get-SwarmNode -Name 'SWARMLAB-M*').Hostname | Sort-Object | Should -Be ($Managers.Name | Sort-Object)
        @(Get-SwarmNode -Name 'nothing-like-this-*').Count | Should -Be 0
    }

    It 'reports an unknown name as ObjectNotFound and still returns the others' {
        $nodes = Get-SwarmNode -Name $Workers[0].Name, 'no-such-node', $Managers[0].Name -ErrorVariable errs -ErrorAction SilentlyContinue
        $nodes.Hostname | Should -Be @($Workers[0].Name, $Managers[0].Name)
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'SwarmNodeNotFound,SwarmAdmin.Commands.GetSwarmNodeCommand'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 'no-such-node'
    }

    It 'takes names from the pipeline' {
        ($Workers.Name | Get-SwarmNode).Hostname | Should -Be $Workers.Name
    }

    It 'finds nodes by ID and unique ID prefix, and binds Id from piped nodes' {
        $w = Get-SwarmNode -Name $Workers[0].Name
        (Get-SwarmNode -Id $w.Id).Hostname | Should -Be $w.Hostname
        (Get-SwarmNode -Id $w.Id.Substring(0, 12)).Hostname | Should -Be $w.Hostname
        (Get-SwarmNode -Role Worker | Get-SwarmNode).Hostname | Sort-Object | Should -Be ($Workers.Name | Sort-Object)
        Get-SwarmNode -Id 'zzzzzzzz' -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'SwarmNodeNotFound,SwarmAdmin.Commands.GetSwarmNodeCommand'
    }

    It 'filters by label key and by key=value' {
        $target = $Workers[0].Name
        Invoke-LabDocker $Managers[0].Name @('node', 'update', '--label-add', 'lab.test=infra', '--label-add', 'lab.empty=', $target) | Out-Null
        try {
            (Get-SwarmNode -Label lab.test).Hostname | Should -Be $target
            (Get-SwarmNode -Label 'lab.test=infra').Hostname | Should -Be $target
            @(Get-SwarmNode -Label 'lab.test=other').Count | Should -Be 0
            (Get-SwarmNode -Label 'lab.test=infra', 'lab.empty=').Hostname | Should -Be $target
            (Get-SwarmNode -Name $target).Labels['lab.test'] | Should -Be 'infra'
            @(Get-SwarmNode -Role Manager -Label lab.test).Count | Should -Be 0
        }
        finally {
            Invoke-LabDocker $Managers[0].Name @('node', 'update', '--label-rm', 'lab.test', '--label-rm', 'lab.empty', $target) | Out-Null
        }
    }

    It 'has a default table that reads like docker node ls' {
        $text = Get-SwarmNode | Format-Table | Out-String -Width 200
        $text | Should -Match 'ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION'
        $text | Should -Match ([regex]::Escape($Ctx.NodeId) + ' \*')
        $text | Should -Match 'Leader'
    }

    It 'uses -Context over the default and tells with -Verbose which manager answered' {
        $other = Connect-Lab -Endpoint (Get-LabEndpoint $Managers[1].Name) -NoDefault
        $verbose = Get-SwarmNode -Context $other -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -join ' ') | Should -Match ([regex]::Escape($Managers[1].Address))
        $other | Disconnect-SwarmCluster
    }

    It 'says how to connect when no swarm is connected' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript({ param($m) Import-Module $m; try { Get-SwarmNode -ErrorAction Stop } catch { $_.FullyQualifiedErrorId; $_.Exception.Message } }).AddArgument($ModulePath)
        $out = $ps.Invoke()
        $ps.Dispose()
        $out[0] | Should -Be 'SwarmNotConnected,SwarmAdmin.Commands.GetSwarmNodeCommand'
        $out[1] | Should -Match 'Connect-SwarmCluster'
    }
}
