# Install-SwarmEngine on the managers of a running swarm: three fresh Debian 12 nodes (swarmlab-fm1..3, .86-.88) get
# the engine, form a swarm of their own with three managers, and then get a daemon.json change that restarts every
# engine. Without -Force nothing happens (QuorumGuard); with -Force the managers restart one at a time, each back as a
# reachable manager before the next (checked from the engines' own stop/start times), so the swarm keeps its quorum;
# a change the engine does not start with stops the rollout at the first manager. Runs in the side lane: these nodes
# join nothing else.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:FQ = ',SwarmAdmin.Commands.InstallSwarmEngineCommand'
    $script:Nodes = [ordered]@{ 'swarmlab-fm1' = '10.213.57.86'; 'swarmlab-fm2' = '10.213.57.87'; 'swarmlab-fm3' = '10.213.57.88' }
    foreach ($n in $Nodes.Keys) { Invoke-Lab add-fresh-node $n --address $Nodes[$n] --no-apt-proxy --state $LabStatePath | Out-Null }
    $script:Lab = Get-Content $LabStatePath -Raw | ConvertFrom-Json
    $script:Targets = @($Nodes.Values | ForEach-Object { "root@$_" })
    $script:Common = @{ KeyFile = $Lab.KeyPath; KnownHostsPath = $Lab.KnownHostsPath; AptProxy = $Lab.AptProxy }
    $script:Daemon = @{ 'cgroup-parent' = '/swarmlab-fresh' }
    function script:Invoke-Node([string]$Name, [string]$Command) { (Invoke-Lab exec $Name -- sh -c $Command) -join "`n" }
    function script:Get-EnginePids { foreach ($n in $Nodes.Keys) { Invoke-Node $n 'systemctl show -p MainPID --value docker.service' } }
    function script:Get-ManagerView([string]$Name) { Invoke-Node $Name "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | sort" }

    $installed = @($Targets | Install-SwarmEngine @Common -DaemonConfig $Daemon)
    $installed.Count | Should -Be 3
    $first = @($Nodes.Keys)[0]
    Invoke-Node $first "docker swarm init --advertise-addr $($Nodes[$first]) >/dev/null" | Out-Null
    $token = Invoke-Node $first 'docker swarm join-token -q manager'
    foreach ($n in @($Nodes.Keys)[1..2]) { Invoke-Node $n "docker swarm join --token $token --advertise-addr $($Nodes[$n]) $($Nodes[$first]):2377 >/dev/null" | Out-Null }
    (Get-ManagerView $first) -split "`n" | ForEach-Object { $_ | Should -Match '^swarmlab-fm\d Ready (Leader|Reachable)$' }
}

AfterAll {
    foreach ($n in $Nodes.Keys) { try { Invoke-Lab remove-node $n | Out-Null } catch { Write-Warning $_ } }
}

Describe 'Install-SwarmEngine on the three managers of a running swarm' -Tag FreshNode {
    It 'without -Force refuses every manager with QuorumGuard and restarts nothing' {
        $pids = Get-EnginePids
        $changed = $Daemon + @{ 'log-opts' = @{ 'max-size' = '20m' } }
        $out = @($Targets | Install-SwarmEngine @Common -DaemonConfig $changed -ErrorVariable e -ErrorAction SilentlyContinue)
        $out.Count | Should -Be 0
        $e.Count | Should -Be 3
        $e | ForEach-Object { $_.FullyQualifiedErrorId | Should -Be "QuorumGuard$FQ" }
        Get-EnginePids | Should -Be $pids
        foreach ($n in $Nodes.Keys) { (Invoke-Node $n 'cat /etc/docker/daemon.json' | ConvertFrom-Json).'log-opts'.'max-size' | Should -Be '10m' }
    }

    It 'with -Force restarts the managers one at a time, each back as a reachable manager before the next' {
        $pids = Get-EnginePids
        $changed = $Daemon + @{ 'log-opts' = @{ 'max-size' = '20m' } }
        $r = @($Targets | Install-SwarmEngine @Common -DaemonConfig $changed -Force)
        $r.Count | Should -Be 3
        foreach ($x in $r) {
            $x.Restarted | Should -BeTrue
            $x.Steps.Name | Should -Contain 'ManagerWait'
        }
        $now = Get-EnginePids
        for ($i = 0; $i -lt 3; $i++) { $now[$i] | Should -Not -Be $pids[$i] }
        # the engines' down windows, from systemd (all lab nodes share the host kernel's monotonic clock): each engine
        # stopped only after the one before it was running again
        $windows = foreach ($n in $Nodes.Keys) {
            $t = Invoke-Node $n 'systemctl show -p InactiveEnterTimestampMonotonic -p ActiveEnterTimestampMonotonic docker.service'
            [pscustomobject]@{
                Node  = $n
                Stop  = [long]([regex]::Match($t, 'InactiveEnterTimestampMonotonic=(\d+)').Groups[1].Value)
                Start = [long]([regex]::Match($t, 'ActiveEnterTimestampMonotonic=(\d+)').Groups[1].Value)
            }
        }
        $windows = @($windows | Sort-Object Stop)
        $windows | ForEach-Object { $_.Stop | Should -BeGreaterThan 0; $_.Start | Should -BeGreaterThan $_.Stop }
        for ($i = 1; $i -lt 3; $i++) {
            $windows[$i].Stop | Should -BeGreaterThan $windows[$i - 1].Start -Because "$($windows[$i].Node) stopped after $($windows[$i - 1].Node) was back"
        }
        (Get-ManagerView 'swarmlab-fm1') -split "`n" | ForEach-Object { $_ | Should -Match '^swarmlab-fm\d Ready (Leader|Reachable)$' }
    }

    It 'a daemon.json the engine does not start with stops the rollout at the first manager: rolled back, the others untouched' {
        $pids = Get-EnginePids
        $sums = foreach ($n in $Nodes.Keys) { Invoke-Node $n 'md5sum /etc/docker/daemon.json' }
        $bad = $Daemon + @{ 'log-opts' = @{ 'max-size' = '20m' }; 'swarmadmin-no-such-option' = 1 }
        $out = @($Targets | Install-SwarmEngine @Common -DaemonConfig $bad -Force -ErrorVariable e -ErrorAction SilentlyContinue)
        $out.Count | Should -Be 0
        $e.Count | Should -Be 3
        $e[0].FullyQualifiedErrorId | Should -Be "SwarmEngineInstallFailed$FQ"
        $e[0].Exception.Data['Step'] | Should -Be 'Service'
        $e[0].TargetObject.ToString() | Should -Be $Targets[0]
        foreach ($x in $e[1..2]) {
            $x.FullyQualifiedErrorId | Should -Be "QuorumGuard$FQ"
            $x.Exception.Message | Should -Match 'manager before it'
        }
        # the first engine runs again with its old file; the other two never stopped
        $now = Get-EnginePids
        $now[1] | Should -Be $pids[1]
        $now[2] | Should -Be $pids[2]
        for ($i = 0; $i -lt 3; $i++) { Invoke-Node @($Nodes.Keys)[$i] 'md5sum /etc/docker/daemon.json' | Should -Be $sums[$i] }
        (Get-ManagerView 'swarmlab-fm2') -split "`n" | ForEach-Object { $_ | Should -Match '^swarmlab-fm\d Ready (Leader|Reachable)$' }
    }
}
