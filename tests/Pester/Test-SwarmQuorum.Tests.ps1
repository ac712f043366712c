BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab -TimeoutSec 5
    $script:M1 = $Managers[0].Name
    # Polls Test-SwarmQuorum until the condition holds (the swarm needs some seconds to notice a stopped manager).
    function Wait-Quorum([scriptblock]$Until, [int]$TimeoutSec = 90) {
        $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
        do {
            $r = Test-SwarmQuorum -Context $Ctx
            $r.Duration.TotalSeconds | Should -BeLessOrEqual 20 -Because 'every check ends within -TimeoutSec (15 s) plus scheduling slack'
            if (& $Until $r) { return $r }
            Start-Sleep -Seconds 1
        } while ([DateTime]::UtcNow -lt $deadline)
        $r
    }
}

AfterAll {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Test-SwarmQuorum on a healthy swarm' {
    It 'reports 3 reachable managers, a leader, and the quorum arithmetic' {
        $r = Test-SwarmQuorum
        $r | Should -BeOfType SwarmAdmin.SwarmQuorumReport
        $r.Status | Should -Be 'Healthy'
        $r.HasQuorum | Should -BeTrue
        $r.Managers | Should -Be 3
        $r.Reachable | Should -Be 3
        $r.Unreachable | Should -Be 0
        $r.QuorumSize | Should -Be 2
        $r.FaultTolerance | Should -Be 1
        $r.RemainingTolerance | Should -Be 1
        $leader = (Invoke-LabDocker $M1 @('node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}} {{.ManagerStatus}}') | Where-Object { $_ -match 'Leader' }) -replace ' Leader', ''
        $r.Leader | Should -Be $leader
        ($r.ManagerNames | Sort-Object) | Should -Be ($Managers.Name | Sort-Object)
        @($r.Findings | Where-Object Severity -ge 'Warning').Count | Should -Be 0
        $r.Source | Should -Be 'manager API'
        Test-SwarmQuorum -Quiet | Should -BeTrue
    }

    It 'shows a summary and then the findings by default' {
        $text = Test-SwarmQuorum | Out-String -Width 200
        $text | Should -Match 'STATUS\s+QUORUM\s+MANAGERS\s+REACHABLE\s+NEEDED\s+TOLERANCE\s+REMAINING\s+LEADER'
        $text | Should -Match 'Healthy\s+yes\s+3\s+3\s+2\s+1\s+1'
        $text | Should -Match 'FAILURE-DOMAIN-UNKNOWN'
    }

    It 'finds two managers in one failure domain' {
        Set-SwarmNodeLabel -Name $Managers[0].Name, $Managers[1].Name -Add @{ 'proxmox.host' = 'pve-a' } | Out-Null
        Set-SwarmNodeLabel -Name $Managers[2].Name -Add @{ 'proxmox.host' = 'pve-b' } | Out-Null
        try {
            $r = Test-SwarmQuorum
            $f = $r.Findings | Where-Object Id -eq 'FAILURE-DOMAIN'
            $f | Should -HaveCount 1
            $f.Target | Should -Be 'pve-a'
            $f.Severity | Should -Be 'Error'
            $f.Message | Should -Match $Managers[0].Name
            $f.Message | Should -Match $Managers[1].Name
            $r.Status | Should -Be 'Degraded'
            Test-SwarmQuorum -Quiet | Should -BeFalse
            # a custom label name, and spreading them out clears it
            (Test-SwarmQuorum -FailureDomainLabel other.label).Findings.Id | Should -Not -Contain 'FAILURE-DOMAIN'
            Set-SwarmNodeLabel -Name $Managers[1].Name -Add @{ 'proxmox.host' = 'pve-c' } | Out-Null
            (Test-SwarmQuorum).Status | Should -Be 'Healthy'
        }
        finally {
            $Managers.Name | Set-SwarmNodeLabel -Remove 'proxmox.host' | Out-Null
        }
    }

    It 'finds the even manager count of a 4-manager swarm' {
        $w = $Workers[0].Name
        Invoke-LabDocker $M1 @('node', 'promote', $w) | Out-Null
        try {
            $r = Wait-Quorum { param($r) $r.Managers -eq 4 -and $r.Reachable -eq 4 }
            $r.Managers | Should -Be 4
            $r.QuorumSize | Should -Be 3
            $r.FaultTolerance | Should -Be 1
            $r.Findings.Id | Should -Contain 'EVEN-MANAGER-COUNT'
            $r.Status | Should -Be 'Degraded'
        }
        finally {
            Invoke-LabDocker $M1 @('node', 'demote', $w) | Out-Null
            Wait-Quorum { param($r) $r.Managers -eq 3 -and $r.Status -eq 'Healthy' } | Out-Null
        }
    }

    It 'finds engine version skew when a 20.10 node joins' {
        $prefix = ($Managers[0].Address -split '\.')[0..2] -join '.'
        Invoke-Lab add-node swarmlab-x2 --address "$prefix.42" --engine 20 | Out-Null
        try {
            $token = (Invoke-LabDocker $M1 @('swarm', 'join-token', '-q', 'worker')).Trim()
            Invoke-LabDocker swarmlab-x2 @('swarm', 'join', '--token', $token, "$($Managers[0].Address):2377") | Out-Null
            $r = Wait-Quorum { param($r) $r.Findings.Id -contains 'ENGINE-VERSION-SKEW' } 60
            $f = $r.Findings | Where-Object Id -eq 'ENGINE-VERSION-SKEW'
            $f.Message | Should -Match 'swarmlab-x2'
            $f.Message | Should -Match '20\.10\.'
            $r.EngineVersions.Count | Should -Be 2
        }
        finally {
            Invoke-Lab remove-node swarmlab-x2 | Out-Null
            $stale = Invoke-LabDocker $M1 @('node', 'ls', '--filter', 'name=swarmlab-x2', '-q')
            foreach ($id in $stale) { if ($id) { Invoke-LabDocker $M1 @('node', 'rm', '--force', $id) | Out-Null } }
        }
    }
}

Describe 'Test-SwarmQuorum under real manager failures' {
    It 'goes Degraded with one manager down, Critical with two, and Healthy when they return' {
        $leader = (Test-SwarmQuorum).Leader
        $victims = @($Managers.Name | Where-Object { $_ -ne $leader })
        $first, $second = $victims[0], $victims[1]
        try {
            Invoke-Lab stop-node $first | Out-Null
            $r = Wait-Quorum { param($r) $r.Unreachable -ge 1 }
            $r.Status | Should -Be 'Degraded'
            $r.HasQuorum | Should -BeTrue
            $r.Reachable | Should -Be 2
            $r.RemainingTolerance | Should -Be 0
            $f = $r.Findings | Where-Object Id -eq 'MANAGER-UNREACHABLE'
            $f.Target | Should -Be $first
            $f.Message | Should -Match $first
            $r.Findings.Id | Should -Contain 'ONE-FAILURE-FROM-QUORUM-LOSS'
            Test-SwarmQuorum -Quiet | Should -BeFalse

            Invoke-Lab stop-node $second | Out-Null
            $r = Wait-Quorum { param($r) -not $r.HasQuorum }
            $r.Status | Should -Be 'Critical'
            $r.HasQuorum | Should -BeFalse
            $r.Reachable | Should -Be 1
            $r.RemainingTolerance | Should -Be -1
            $r.Findings.Id | Should -Contain 'QUORUM-LOST'
            ($r.Findings | Where-Object Id -eq 'MANAGER-UNREACHABLE').Target | Sort-Object | Should -Be (@($first, $second) | Sort-Object)
            # once the leader has stepped down, no manager answers /nodes: the report comes from node probes, still in time
            $r = Wait-Quorum { param($r) $r.Source -like 'node probes*' } 60
            $r.Source | Should -BeLike 'node probes*'
            $r.Status | Should -Be 'Critical'
            $r.Leader | Should -BeNullOrEmpty
            $r.Findings.Id | Should -Contain 'NO-LEADER'
            $r.Reachable | Should -Be 1
            ($r.Findings | Where-Object Id -eq 'MANAGER-UNREACHABLE').Target | Sort-Object | Should -Be (@($first, $second) | Sort-Object)
            Test-SwarmQuorum -Quiet | Should -BeFalse
        }
        finally {
            Invoke-Lab start-node $first | Out-Null
            Invoke-Lab start-node $second | Out-Null
        }
        $r = Wait-Quorum { param($r) $r.Status -eq 'Healthy' } 120
        $r.Status | Should -Be 'Healthy'
        $r.Reachable | Should -Be 3
        Wait-LabHealthy
    }
}
