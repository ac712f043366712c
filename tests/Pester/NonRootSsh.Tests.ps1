# A machine reached as an SSH user other than root, as many sites allow (root login disabled, an admin user with
# passwordless sudo): Install-SwarmEngine runs its steps through sudo -n and puts the user in the docker group,
# Test-SwarmNodeReadiness checks that the user itself reaches the engine over docker system dial-stdio (the way every
# SwarmAdmin cmdlet does), Initialize-Swarm / Connect-SwarmCluster work as that user, and Backup-SwarmManager /
# Restore-SwarmManager stop the engine, stream the swarm state and start it again through sudo. One fresh node of its
# own (swarmlab-fu, .79) with a single-node swarm of its own: this file runs in the side lane.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:FQ = ',SwarmAdmin.Commands.InstallSwarmEngineCommand'
    $script:NodeName = 'swarmlab-fu'
    $script:Address = '10.213.57.79'
    # (with the lab's APT proxy: sudo is installed from Debian here)
    Invoke-Lab add-fresh-node $NodeName --address $Address --state $LabStatePath | Out-Null
    $script:Lab = Get-Content $LabStatePath -Raw | ConvertFrom-Json
    function script:Invoke-Node([string]$Command) { (Invoke-Lab exec $NodeName -- sh -c $Command) -join "`n" }
    # ops: passwordless sudo; nosudo: may log in, no sudo rights. Both with the lab key.
    Invoke-Node @'
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends sudo >/dev/null
for u in ops nosudo; do
  useradd -m -s /bin/bash "$u"
  install -d -m 700 -o "$u" -g "$u" "/home/$u/.ssh"
  install -m 600 -o "$u" -g "$u" /root/.ssh/authorized_keys "/home/$u/.ssh/authorized_keys"
done
printf 'ops ALL=(ALL) NOPASSWD:ALL\n' > /etc/sudoers.d/ops
chmod 440 /etc/sudoers.d/ops
'@ | Out-Null
    $script:Ssh = @{ KeyFile = $Lab.KeyPath; KnownHostsPath = $Lab.KnownHostsPath }
    $script:Daemon = @{ 'cgroup-parent' = '/swarmlab-fresh' }
}

AfterAll {
    if ($script:Ctx) { Disconnect-SwarmCluster -Context $Ctx -ErrorAction SilentlyContinue }
    try { Invoke-Lab remove-node $NodeName | Out-Null } catch { Write-Warning $_ }
}

Describe 'SwarmAdmin as an SSH user other than root' -Tag FreshNode {
    It 'a user without passwordless sudo is refused with what to do, and nothing is installed' {
        $r = Install-SwarmEngine -Node "nosudo@$Address" @Ssh -AptProxy $Lab.AptProxy -DaemonConfig $Daemon -ErrorVariable e -ErrorAction SilentlyContinue
        $r | Should -BeNullOrEmpty
        $e.Count | Should -Be 1
        "$($e[0].Exception.Message) $($e[0].Exception.RecommendedAction)" | Should -Match 'passwordless sudo'
        $e[0].Exception.Message | Should -Match 'nosudo'
        Invoke-Node 'command -v dockerd || echo none' | Should -Be 'none'
    }

    It 'Install-SwarmEngine through sudo -n installs the engine and puts the user in the docker group' {
        $r = Install-SwarmEngine -Node "ops@$Address" @Ssh -AptProxy $Lab.AptProxy -DaemonConfig $Daemon
        $r.Changed | Should -BeTrue
        $r.EngineVersion | Should -Not -BeNullOrEmpty
        $access = $r.Steps | Where-Object Name -eq 'Access'
        $access.Changed | Should -BeTrue
        $access.Detail | Should -Match 'ops added to the docker group'
        (Invoke-Node 'id -nG ops') -split ' ' | Should -Contain 'docker'
        # a second run finds the user in the group
        $again = Install-SwarmEngine -Node "ops@$Address" @Ssh -AptProxy $Lab.AptProxy -DaemonConfig $Daemon
        $again.Changed | Should -BeFalse
        ($again.Steps | Where-Object Name -eq 'Access').Detail | Should -Match 'ops is in the docker group'
    }

    It 'Test-SwarmNodeReadiness says whether the user itself reaches the engine over dial-stdio' {
        $ok = Test-SwarmNodeReadiness -Node "ops@$Address" @Ssh
        $engine = @($ok.Findings | Where-Object Check -eq 'Engine')
        $engine.Severity | Should -Not -Contain 'Error'
        ($engine.Message -join "`n") | Should -Match "'ops' reaches the engine over docker system dial-stdio"

        Invoke-Node 'gpasswd -d ops docker >/dev/null' | Out-Null
        try {
            $bad = Test-SwarmNodeReadiness -Node "ops@$Address" @Ssh
            $err = @($bad.Findings | Where-Object { $_.Check -eq 'Engine' -and $_.Severity -eq 'Error' })
            $err.Count | Should -Be 1
            $err[0].Message | Should -Match "the engine answers root, but not 'ops' over docker system dial-stdio"
            $err[0].Message | Should -Match 'docker group'
            $bad.Status | Should -Be 'NotReady'
        }
        finally { Invoke-Node 'gpasswd -a ops docker >/dev/null' | Out-Null }
    }

    It 'Initialize-Swarm and Connect-SwarmCluster work as that user' {
        $init = Initialize-Swarm -Node "ops@$Address" -AdvertiseAddress $Address @Ssh -Confirm:$false
        $init | Should -Not -BeNullOrEmpty
        $script:Ctx = Connect-SwarmCluster -Endpoint "ssh://ops@$Address" @Ssh -NoDefault
        $n = @(Get-SwarmNode -Context $Ctx)
        $n.Count | Should -Be 1
        $n[0].Hostname | Should -Be $NodeName
        $n[0].ManagerStatus | Should -Be 'Leader'
        # the engine saw it as the docker CLI does
        (Invoke-Node "docker node ls --format '{{.Hostname}} {{.ManagerStatus}}'") | Should -Be "$NodeName Leader"
    }

    It 'Backup-SwarmManager and Restore-SwarmManager stop the engine, stream the state and start it again through sudo -n' {
        Invoke-Node 'echo kept | docker config create nonroot-cfg - >/dev/null' | Out-Null
        # a single manager: its backup costs the swarm its quorum for a moment, so -Force
        $password = ConvertTo-SecureString 'nonroot backup pass' -AsPlainText -Force
        $b = Backup-SwarmManager -Context $Ctx -Name $NodeName -Destination "$TestDrive/" -Password $password -Force -Confirm:$false
        $b.NodeHostname | Should -Be $NodeName
        $b.Configs | Should -Be 1
        (Get-Item $b.Path).Length | Should -BeGreaterThan 1kb
        (Invoke-Node "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'") | Should -Be "$NodeName Ready Leader"

        # the config goes; the backup brings it back (restored on the same machine, a swarm member: -Force)
        Invoke-Node 'docker config rm nonroot-cfg >/dev/null' | Out-Null
        $r = Restore-SwarmManager -Backup $b.Path -Node "ops@$Address" @Ssh -Password $password -Force -Confirm:$false
        $r | Should -Not -BeNullOrEmpty
        (Invoke-Node "docker config ls --format '{{.Name}}'") | Should -Be 'nonroot-cfg'
        (Invoke-Node "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'") | Should -Be "$NodeName Ready Leader"
        # the state it replaced is kept beside it, as root made it
        Invoke-Node 'ls -d /var/lib/docker/swarm.before-restore-* | wc -l' | Should -Be '1'
    }
}
