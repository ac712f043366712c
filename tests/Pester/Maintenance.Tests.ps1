BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    $script:W1 = $Workers[0].Name
    $script:W2 = $Workers[1].Name
    $script:Prefix = 'mnt' + (Get-Random -Minimum 10000 -Maximum 99999)

    function New-TestService([string]$Name, [int]$Replicas = 4, [string[]]$Extra = @()) {
        if ($Replicas -gt 0) { $Extra = @('--replicas', "$Replicas") + $Extra }
        Invoke-LabDocker $M1 (@('service', 'create', '--detach', '--no-resolve-image', '--name', $Name, '--stop-grace-period', '1s',
                '--endpoint-mode', 'dnsrr', '--constraint', 'node.role==worker') + $Extra + @('lab/busybox:1', 'sleep', '3600')) | Out-Null
    }
    # running tasks of a service as objects (Id, Node), from the docker CLI
    function Get-Running([string]$Service) {
        @(Invoke-LabDocker $M1 @('service', 'ps', $Service, '--filter', 'desired-state=running', '--format', '{{.ID}} {{.Node}} {{.CurrentState}}') |
            Where-Object { $_ -match '^\S+ \S+ Running' } |
            ForEach-Object { $f = $_ -split ' '; [pscustomobject]@{ Id = $f[0]; Node = $f[1] } })
    }
    function Wait-Running([string]$Service, [int]$Count, [int]$TimeoutSec = 120) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        do { $r = Get-Running $Service; if ($r.Count -eq $Count) { return $r }; Start-Sleep 1 } while ([DateTime]::UtcNow -lt $deadline)
        throw "$Service did not run $Count tasks within $TimeoutSec s (running: $($r.Count))"
    }
    function Get-Spread([string]$Service) {
        $r = Get-Running $Service
        "$W1=$(@($r | Where-Object Node -eq $W1).Count) $W2=$(@($r | Where-Object Node -eq $W2).Count)"
    }
    function Get-TaskIds([string]$Service) { @(Get-Running $Service | ForEach-Object Id | Sort-Object) -join ',' }
    function Get-CliAvailability([string]$Node) { (Invoke-LabDocker $M1 @('node', 'inspect', $Node, '--format', '{{.Spec.Availability}}')).Trim() }
    # what a user or a cmdlet can change on a node (its version index also moves when the swarm updates its status,
    # e.g. when it becomes the leader because another manager stopped)
    function Get-CliNodeSpec([string]$Node) { (Invoke-LabDocker $M1 @('node', 'inspect', $Node, '--format', '{{json .Spec}}')) -join '' }
    function Get-CliServiceVersion([string]$Service) { [int64](Invoke-LabDocker $M1 @('service', 'inspect', $Service, '--format', '{{.Version.Index}}')) }
    function Get-CliSpec([string]$Service) { Invoke-LabDocker $M1 @('service', 'inspect', $Service, '--format', '{{json .Spec}}') | ConvertFrom-Json }
    function Set-CliAvailability([string]$Node, [string]$Availability) { Invoke-LabDocker $M1 @('node', 'update', '--availability', $Availability, $Node) | Out-Null }
}

AfterAll {
    # never leave a manager stopped or a worker drained
    try {
        $m3 = Invoke-LabDocker $M1 @('node', 'inspect', 'swarmlab-m3', '--format', '{{.Status.State}}')
        if ($m3 -notmatch 'ready') { Invoke-Lab start-node swarmlab-m3 | Out-Null; Wait-LabHealthy 120 }
    }
    catch { Invoke-Lab start-node swarmlab-m3 | Out-Null; Wait-LabHealthy 120 }
    foreach ($n in $W1, $W2) { try { if ((Get-CliAvailability $n) -ne 'active') { Set-CliAvailability $n active } } catch { } }
    $mine = @(Invoke-LabDocker $M1 @('service', 'ls', '--filter', "name=$Prefix", '--format', '{{.Name}}') | Where-Object { $_ })
    if ($mine) { Invoke-LabDocker $M1 (@('service', 'rm') + $mine) | Out-Null }
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Invoke-SwarmNodeMaintenance' {
    It 'Maintenance of a manager when tolerance is 0 is refused' {
        $target = 'swarmlab-m2'
        $beforeSpec = Get-CliNodeSpec $target
        $ran = @{ Value = $false }
        try {
            Invoke-Lab stop-node swarmlab-m3 | Out-Null
            $deadline = [DateTime]::UtcNow.AddSeconds(90)
            do { Start-Sleep 1; $reach = try { (Invoke-LabDocker $M1 @('node', 'inspect', 'swarmlab-m3', '--format', '{{.ManagerStatus.Reachability}}')).Trim() } catch { '' } }
            until ($reach -eq 'unreachable' -or [DateTime]::UtcNow -gt $deadline)
            $reach | Should -Be 'unreachable'

            $out = Invoke-SwarmNodeMaintenance -Node $target -ScriptBlock { $ran.Value = $true } -ErrorVariable errs -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $errs.Count | Should -Be 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'QuorumGuard,SwarmAdmin.Commands.InvokeSwarmNodeMaintenanceCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
            $errs[0].Exception.Message | Should -Match 'Nothing was drained'
            $errs[0].ErrorDetails.RecommendedAction | Should -Match 'Test-SwarmQuorum'
            $ran.Value | Should -BeFalse -Because 'the script block must not run'
            Get-CliAvailability $target | Should -Be 'active'
            Get-CliNodeSpec $target | Should -Be $beforeSpec -Because 'nothing was changed on the node'
        }
        finally {
            Invoke-Lab start-node swarmlab-m3 | Out-Null
            Wait-LabHealthy 120
        }
    }

    It 'of a worker, its tasks move and come back (-Rebalance)' {
        $svc = "$Prefix-mw"
        New-TestService $svc 4
        $running = Wait-Running $svc 4
        @($running | Where-Object Node -eq $W1).Count | Should -BeGreaterThan 0 -Because 'the spread puts tasks on both workers'
        $rec = @{}
        $r = Invoke-SwarmNodeMaintenance -Node $W1 -Rebalance -TimeoutSec 180 -ScriptBlock {
            param($n)
            $rec.Arg = $n.Hostname
            $rec.DollarUnder = $_.Hostname
            $now = Get-Running $svc
            $rec.OnW1 = @($now | Where-Object Node -eq $W1).Count
            $rec.OnW2 = @($now | Where-Object Node -eq $W2).Count
            $rec.Availability = Get-CliAvailability $W1
            "maintained $($n.Hostname)"
        }
        $rec.Arg | Should -Be $W1
        $rec.DollarUnder | Should -Be $W1
        $rec.Availability | Should -Be 'drain'
        $rec.OnW1 | Should -Be 0 -Because 'no task of the service runs on the node under maintenance'
        $rec.OnW2 | Should -Be 4 -Because 'they all run on the other worker'

        $r.Node | Should -Be $W1
        $r.Role | Should -Be 'Worker'
        $r.ScriptSucceeded | Should -BeTrue
        $r.Output | Should -Be "maintained $W1"
        $r.TasksMoved | Should -BeGreaterThan 0
        $r.Services | Should -Contain $svc
        $r.Availability | Should -Be 'Active'
        $r.Rebalanced | Should -Contain $svc
        ($r.RebalanceResults | Where-Object Service -eq $svc).After | Should -Be "$W1=2 $W2=2"
        Get-CliAvailability $W1 | Should -Be 'active'
        Get-Spread $svc | Should -Be "$W1=2 $W2=2"
        ($r | Format-Table | Out-String) | Should -Match 'MOVED'
        Invoke-LabDocker $M1 @('service', 'rm', $svc) | Out-Null
    }

    It 'puts the node back and reports an error when the script block throws' {
        $r = Invoke-SwarmNodeMaintenance -Node $W2 -TimeoutSec 180 -ScriptBlock { throw 'disk on fire' } -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should -Not -BeNullOrEmpty -Because "the result is written before the script's error (errors: $($errs | Out-String))"
        $r.ScriptSucceeded | Should -BeFalse
        $r.Availability | Should -Be 'Active'
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -Be 'SwarmMaintenanceScriptFailed,SwarmAdmin.Commands.InvokeSwarmNodeMaintenanceCommand'
        $errs[0].Exception.Message | Should -Match 'disk on fire'
        $errs[0].Exception.Message | Should -Match 'set active again'
        Get-CliAvailability $W2 | Should -Be 'active'
    }

    It '-WhatIf drains nothing and runs nothing (node piped from Get-SwarmNode)' {
        $before = Get-CliNodeSpec $W1
        $ran = @{ Value = $false }
        $out = Get-SwarmNode -Name $W1 | Invoke-SwarmNodeMaintenance -ScriptBlock { $ran.Value = $true } -WhatIf
        $out | Should -BeNullOrEmpty
        $ran.Value | Should -BeFalse
        Get-CliAvailability $W1 | Should -Be 'active'
        Get-CliNodeSpec $W1 | Should -Be $before
    }

    It 'reports an unknown node and runs nothing for it' {
        $ran = @{ Value = $false }
        $out = Invoke-SwarmNodeMaintenance -Node 'no-such-node' -ScriptBlock { $ran.Value = $true } -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $ran.Value | Should -BeFalse
        $errs[0].FullyQualifiedErrorId | Should -Be 'SwarmNodeNotFound,SwarmAdmin.Commands.InvokeSwarmNodeMaintenanceCommand'
    }
}

Describe 'Invoke-SwarmRebalance' {
    BeforeAll {
        $script:Skewed = "$Prefix-skew"
        $script:Balanced = "$Prefix-bal"
        $script:Global = "$Prefix-glob"
        try {
            Set-CliAvailability $W1 drain
            New-TestService $Skewed 4
            Wait-Running $Skewed 4 | Out-Null
        }
        finally { Set-CliAvailability $W1 active }
        New-TestService $Balanced 2
        New-TestService $Global 0 @('--mode', 'global')
        Wait-Running $Balanced 2 | Out-Null
        Wait-Running $Global 2 | Out-Null
    }

    It 'creates the skew it needs' {
        Get-Spread $Skewed | Should -Be "$W1=0 $W2=4"
        Get-Spread $Balanced | Should -Be "$W1=1 $W2=1"
    }

    It '-WhatIf lists the skewed service and changes nothing' {
        $ids = Get-TaskIds $Skewed
        $version = Get-CliServiceVersion $Skewed
        $r = Invoke-SwarmRebalance -Service $Skewed, $Balanced, "$Global*" -WhatIf
        @($r.Service) | Should -Be @($Balanced, $Skewed) -Because 'one result per replicated service, in name order; the global one is not examined'
        $s = $r | Where-Object Service -eq $Skewed
        $s.Action | Should -Be 'WouldRebalance'
        $s.Before | Should -Be "$W1=0 $W2=4"
        $s.Skew | Should -Be 4
        $s.Replicas | Should -Be 4
        ($r | Where-Object Service -eq $Balanced).Action | Should -Be 'Balanced'
        Get-TaskIds $Skewed | Should -Be $ids
        Get-CliServiceVersion $Skewed | Should -Be $version
        ($r | Format-Table | Out-String) | Should -Match 'WouldRebalance'
    }

    It 'balances the skewed service, leaves the balanced and the global one alone, and changes nothing else in the spec' {
        $balancedIds = Get-TaskIds $Balanced
        $globalIds = Get-TaskIds $Global
        $globalVersion = Get-CliServiceVersion $Global
        $specBefore = Get-CliSpec $Skewed
        $r = Invoke-SwarmRebalance -Service $Skewed, $Balanced, "$Global*" -Wait -TimeoutSec 180
        $s = $r | Where-Object Service -eq $Skewed
        $s.Action | Should -Be 'Rebalanced'
        $s.After | Should -Be "$W1=2 $W2=2"
        $s.SkewAfter | Should -Be 0
        Get-Spread $Skewed | Should -Be "$W1=2 $W2=2"
        $specAfter = Get-CliSpec $Skewed
        $specAfter.TaskTemplate.ForceUpdate | Should -Be (([int]$specBefore.TaskTemplate.ForceUpdate) + 1)
        $specAfter.TaskTemplate.ForceUpdate = $specBefore.TaskTemplate.ForceUpdate
        ($specAfter | ConvertTo-Json -Depth 30 -Compress) | Should -Be ($specBefore | ConvertTo-Json -Depth 30 -Compress)

        ($r | Where-Object Service -eq $Balanced).Action | Should -Be 'Balanced'
        Get-TaskIds $Balanced | Should -Be $balancedIds
        $r.Service | Should -Not -Contain $Global
        Get-TaskIds $Global | Should -Be $globalIds
        Get-CliServiceVersion $Global | Should -Be $globalVersion
    }

    It 'takes services from Get-SwarmService, warns about a named global service and reports unknown names' {
        $r = Get-SwarmService -Name $Balanced | Invoke-SwarmRebalance
        $r.Action | Should -Be 'Balanced'
        $r = Invoke-SwarmRebalance -Service $Global -WarningVariable warns -WarningAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        "$warns" | Should -Match 'only replicated services are rebalanced'
        $r = Invoke-SwarmRebalance -Service "$Prefix-nope" -ErrorVariable errs -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $errs[0].FullyQualifiedErrorId | Should -Be 'SwarmServiceNotFound,SwarmAdmin.Commands.InvokeSwarmRebalanceCommand'
    }
}
