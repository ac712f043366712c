# Builds a second swarm from bare lab nodes described by examples/lab/cluster.yml, beside the main lab swarm.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:ConfigPath = Join-Path $RepoRoot 'examples/lab/cluster.yml'
    $script:Config = Import-SwarmClusterConfig -Path $ConfigPath
    $script:Nodes = @($Config.Nodes)
    # bare nodes: engine running, in no swarm
    foreach ($n in $Nodes) { Invoke-Lab add-node $n.Name --address $n.Address | Out-Null }
    $script:Bootstrap = Join-Path $RepoRoot 'examples/bootstrap-cluster.ps1'
    function Get-NodeVersions { Get-SwarmNode | Sort-Object Hostname | ForEach-Object { "$($_.Hostname)=$($_.Version)" } }
}

AfterAll {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
    foreach ($n in $Nodes) { try { Invoke-Lab remove-node $n.Name | Out-Null } catch { Write-Warning $_ } }
}

Describe 'Bootstrap from a cluster file' {
    It 'builds the declared managers and workers with their labels from bare nodes' {
        $report = & $Bootstrap -ConfigPath $ConfigPath -ModulePath $ModulePath 6>$null
        $report.HasQuorum | Should -BeTrue
        $swarmNodes = Get-SwarmNode   # (PowerShell names are case-insensitive: not $nodes, which is $Nodes)
        ($swarmNodes.Hostname | Sort-Object) | Should -Be ($Nodes.Name | Sort-Object)
        foreach ($declared in $Nodes) {
            $live = $swarmNodes | Where-Object Hostname -eq $declared.Name
            $live.State | Should -Be 'ready'
            $live.Role | Should -Be $declared.Role
            $live.Address | Should -Be $declared.Address
            foreach ($k in $declared.Labels.Keys) { $live.Labels[$k] | Should -Be $declared.Labels[$k] -Because "$($declared.Name) declares $k" }
            if ($declared.Role -eq 'Manager') { $live.ManagerStatus | Should -BeIn 'Leader', 'Reachable' }
        }
        $report.Managers | Should -Be @($Nodes | Where-Object Role -eq 'Manager').Count
        @($swarmNodes | Where-Object { $_.Labels['portainer.data'] -eq 'true' }).Count | Should -Be 1
    }

    It 'changes nothing when run again (no node version index moves)' {
        $before = Get-NodeVersions
        & $Bootstrap -ConfigPath $ConfigPath -ModulePath $ModulePath 6>$null | Out-Null
        Get-NodeVersions | Should -Be $before
    }

    It 'never shows the join token: not in any stream, not in any process list' {
        $token = [System.Net.NetworkCredential]::new('', (Get-SwarmJoinToken -Role Worker)).Password
        $token | Should -Match '^SWMTKN-'
        $worker = $Nodes | Where-Object Role -eq 'Worker' | Select-Object -Last 1
        # leave, so that joining again really uses the token
        Invoke-LabDocker $worker.Name @('swarm', 'leave', '--force') | Out-Null
        $stale = Get-SwarmNode -Name $worker.Name
        $watch = Start-ThreadJob -ScriptBlock {
            param($dockerHost, $names, $stopFile)
            $env:DOCKER_HOST = $dockerHost
            $seen = [System.Collections.Generic.List[string]]::new()
            while (-not (Test-Path $stopFile)) {
                foreach ($n in $names) { $seen.AddRange([string[]](& docker exec $n sh -c 'for p in /proc/[0-9]*; do tr "\0" " " < $p/cmdline 2>/dev/null; echo; done' 2>$null)) }
                $seen.AddRange([string[]](& ps -eo args))
                Start-Sleep -Milliseconds 100
            }
            $seen -join "`n"
        } -ArgumentList $Lab.DockerHost, @($Nodes.Name), ($stop = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-stop-$PID")
        Start-Sleep -Milliseconds 500
        try {
            $streams = $Config.Nodes | Where-Object Name -eq $worker.Name | Join-SwarmNode -Verbose -Debug -InformationAction Continue *>&1 | Out-String -Width 400
        }
        finally { New-Item -ItemType File $stop -Force | Out-Null }
        $processes = $watch | Wait-Job -Timeout 60 | Receive-Job
        Remove-Item $stop -ErrorAction SilentlyContinue
        $streams | Should -Match $worker.Name       # the join happened and was reported...
        $streams | Should -Not -Match ([regex]::Escape($token))   # ...without the token
        $streams | Should -Not -Match 'SWMTKN-'
        $processes.Length | Should -BeGreaterThan 1000 -Because 'the process lists were captured during the join'
        $processes | Should -Not -Match 'SWMTKN-'
        # it rejoined with a new ID, and kept its declared labels
        $now = @(Get-SwarmNode -Name $worker.Name | Where-Object Id -ne $stale.Id)
        $now.Count | Should -Be 1 -Because 'the node rejoined under a new ID'
        $now = $now[0]
        $now.State | Should -Be 'ready'
        foreach ($k in $worker.Labels.Keys) { $now.Labels[$k] | Should -Be $worker.Labels[$k] }
    }

    It 'removes the Down node a rejoin left behind with -Stale' {
        # the swarm marks the old incarnation down once its heartbeats stop
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        do { Start-Sleep 1; $before = @(Get-SwarmNode | Where-Object State -ne 'ready') } until ($before.Count -gt 0 -or [DateTime]::UtcNow -gt $deadline)
        $before.Count | Should -BeGreaterThan 0
        Remove-SwarmNode -Stale -Confirm:$false
        @(Get-SwarmNode | Where-Object State -ne 'ready').Count | Should -Be 0
        (Get-SwarmNode).Count | Should -Be $Nodes.Count
    }

    It 'refuses to join a node that is in another swarm, unless -Force' {
        $main = Connect-Lab -NoDefault
        $mover = $Nodes | Where-Object Role -eq 'Worker' | Select-Object -First 1
        $err = $null
        try { Join-SwarmNode -Node $mover.Endpoint -Context $main -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'NodeInOtherSwarm,SwarmAdmin.Commands.JoinSwarmNodeCommand'
        (Get-SwarmNode -Name $mover.Name).State | Should -Be 'ready' -Because 'nothing was changed'
        $joined = Join-SwarmNode -Node $mover.Endpoint -Context $main -Force -WarningAction SilentlyContinue
        $joined.Hostname | Should -Be $mover.Name
        (Get-SwarmNode -Context $main -Name $mover.Name).State | Should -Be 'ready'
        # and back out of the main lab swarm: demote-free removal of a worker (drain, leave, remove)
        Remove-SwarmNode -Context $main -Name $mover.Name -Confirm:$false
        Get-SwarmNode -Context $main -Name $mover.Name -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $main | Disconnect-SwarmCluster
    }

    It 'demotes managers until the quorum guard refuses, and -Force goes past it' {
        $managers = @(Get-SwarmNode -Role Manager | Where-Object { -not $_.IsSelf })
        $managers.Count | Should -Be 2
        # 3 managers -> 2: allowed
        (Set-SwarmNodeRole -Name $managers[0].Hostname -Role Worker -Confirm:$false).Role | Should -Be 'Worker'
        # 2 managers -> 1: the engine's rule (reachable - 2 <= unreachable) says no
        $err = $null
        try { Set-SwarmNodeRole -Name $managers[1].Hostname -Role Worker -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'QuorumGuard,SwarmAdmin.Commands.SetSwarmNodeRoleCommand'
        $err.Exception.Message | Should -Match 'reachable - 2 <= unreachable'
        (Get-SwarmNode -Name $managers[1].Hostname).Role | Should -Be 'Manager' -Because 'the guard changed nothing'
        $err = $null
        try { Remove-SwarmNode -Name $managers[1].Hostname -Confirm:$false -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'QuorumGuard,SwarmAdmin.Commands.RemoveSwarmNodeCommand'
        # on purpose past the guard
        $n = Set-SwarmNodeRole -Name $managers[1].Hostname -Role Worker -Force -Confirm:$false -WarningVariable w -WarningAction SilentlyContinue
        $n.Role | Should -Be 'Worker'
        ($w -join ' ') | Should -Match 'Force'
        (Test-SwarmQuorum).Managers | Should -Be 1
        # and back to three managers
        (Set-SwarmNodeRole -Name $managers.Hostname -Role Manager -Confirm:$false).ManagerStatus | Should -Be @('Reachable', 'Reachable')
        (Test-SwarmQuorum).Managers | Should -Be 3
    }

    It '-WhatIf of Join, role change and removal changes nothing' {
        $before = Get-NodeVersions
        $Config.Nodes | Join-SwarmNode -WhatIf
        Get-SwarmNode -Role Worker | Set-SwarmNodeRole -Role Manager -WhatIf
        Get-SwarmNode -Role Worker | Remove-SwarmNode -WhatIf
        Invoke-SwarmTokenRotation -Role Worker -WhatIf
        Get-NodeVersions | Should -Be $before
    }

    It 'rotates a join token: the old one stops working' {
        $old = [System.Net.NetworkCredential]::new('', (Get-SwarmJoinToken Worker)).Password
        $new = Invoke-SwarmTokenRotation -Role Worker -PassThru -Confirm:$false
        $new | Should -BeOfType [securestring]
        $newText = [System.Net.NetworkCredential]::new('', $new).Password
        $newText | Should -Match '^SWMTKN-'
        $newText | Should -Not -Be $old
        [System.Net.NetworkCredential]::new('', (Get-SwarmJoinToken Worker)).Password | Should -Be $newText
        [System.Net.NetworkCredential]::new('', (Get-SwarmJoinToken Manager)).Password | Should -Not -Be $newText
    }
}

Describe 'Initialize-Swarm and Join-SwarmNode bad input' {
    It 'refuses to advertise 0.0.0.0 or loopback' {
        { Initialize-Swarm -Node ($Nodes[0].Endpoint) -AdvertiseAddress 0.0.0.0 -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,SwarmAdmin.Commands.InitializeSwarmCommand'
        { Initialize-Swarm -Node ($Nodes[0].Endpoint) -AdvertiseAddress 127.0.0.1 -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,SwarmAdmin.Commands.InitializeSwarmCommand'
    }

    It 'returns the existing swarm when the node already manages one' {
        $first = $Nodes | Where-Object Role -eq 'Manager' | Select-Object -First 1
        $ctx = Initialize-Swarm -Node $first -NoDefault
        $ctx.IsConnected | Should -BeTrue
        $ctx.NodeHostname | Should -Be $first.Name
        $ctx | Disconnect-SwarmCluster
    }

    It 'refuses to initialise a swarm on a worker of another swarm' {
        $w = $Workers[0]
        { Initialize-Swarm -Node "root@$($w.Address)" -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'NodeInOtherSwarm,SwarmAdmin.Commands.InitializeSwarmCommand'
    }
}
