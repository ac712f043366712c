# The reference topology built from examples/lab/cluster.yml through Proxmox: the simulator clones 7 VMs on its 3
# hosts, each started VM is a lab node (tests/lab/sim-hook.sh), New-SwarmVm waits for the guest agent and SSH, and the
# VMs pipe into Initialize-Swarm / Join-SwarmNode with their roles, labels and the proxmox.host they really run on.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Sim = Start-ProxmoxLabSim
    Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $Sim.Fingerprint | Out-Null
    $script:Config = Import-SwarmClusterConfig (Join-Path $RepoRoot 'examples/lab/cluster.yml')
}

AfterAll {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
    Stop-ProxmoxSim $Sim
    foreach ($n in $Config.Nodes) { try { Invoke-Lab remove-node $n.Name | Out-Null } catch { } }
}

Describe 'A cluster file through Proxmox to a swarm' {
    It 'New-SwarmVm builds the 7 VMs in parallel, each on its declared host, reachable over SSH' {
        $script:Vms = Import-SwarmClusterConfig (Join-Path $RepoRoot 'examples/lab/cluster.yml') | New-SwarmVm -Template debian-12-cloudinit -TimeoutSec 300 -ThrottleLimit 4
        $Vms | Should -HaveCount 7
        foreach ($n in $Config.Nodes) {
            $vm = $Vms | Where-Object Name -eq $n.Name
            $vm.Node | Should -Be $n.ProxmoxHost
            $vm.IPv4 | Should -Contain $n.Address
            $vm.Labels['proxmox.host'] | Should -Be $n.ProxmoxHost
        }
        (Get-SwarmVm -Tag swarm).Count | Should -Be 7
        # the VM's memory is the lab node's limit (swarmlab-mgmt: 6 GB in the cluster file)
        $env:DOCKER_HOST = $Lab.DockerHost
        try { & docker inspect swarmlab-mgmt --format '{{.HostConfig.Memory}}' | Should -Be (6GB).ToString() }
        finally { Remove-Item Env:DOCKER_HOST }
        (Get-SwarmVm -Name swarmlab-infra3).Status | Should -Be 'running'
    }

    It 'the VMs pipe into Initialize-Swarm and Join-SwarmNode, and the quorum sees three failure domains' {
        $first = $Vms | Where-Object Role -eq 'Manager' | Sort-Object Name | Select-Object -First 1
        Initialize-Swarm -Node $first | Out-Null
        $Vms | Where-Object Name -ne $first.Name | Join-SwarmNode -ThrottleLimit 4 | Out-Null
        $nodes = Get-SwarmNode
        $nodes | Should -HaveCount 7
        foreach ($vm in $Vms) {
            $n = $nodes | Where-Object Hostname -eq $vm.Name
            $n.Role | Should -Be $vm.Role
            $n.Labels['proxmox.host'] | Should -Be $vm.Node
        }
        ($nodes | Where-Object Hostname -eq 'swarmlab-mgmt').Labels['portainer.data'] | Should -Be 'true'
        $q = Test-SwarmQuorum
        $q.HasQuorum | Should -BeTrue
        $q.Managers | Should -Be 3
        $q.Findings | Where-Object Id -like 'FAILURE-DOMAIN*' | Should -BeNullOrEmpty
        $q.FailureDomains.Keys | Sort-Object | Should -Be @('lab-pve1', 'lab-pve2', 'lab-pve3')
    }

    It 'Sync-SwarmCluster then plans nothing' {
        Sync-SwarmCluster -Config $Config -Template debian-12-cloudinit | Should -BeNullOrEmpty
        Sync-SwarmCluster -Path (Join-Path $RepoRoot 'examples/lab/cluster.yml') -Template debian-12-cloudinit -WhatIf | Should -BeNullOrEmpty
    }

    It 'Sync-SwarmCluster in a new session finds the existing swarm instead of planning a new one' {
        $ps = [PowerShell]::Create()
        $null = $ps.AddScript({
            param($ModulePath, $Url, $TokenId, $TokenSecret, $Fingerprint, $File)
            Import-Module $ModulePath
            Connect-SwarmProxmox -Endpoint $Url -TokenId $TokenId -TokenSecret $TokenSecret -CertificateFingerprint $Fingerprint | Out-Null
            Sync-SwarmCluster -Path $File -Template debian-12-cloudinit -WhatIf
        }).AddArgument($ModulePath).AddArgument($Sim.Url).AddArgument($Sim.TokenId).AddArgument($Sim.TokenSecret).AddArgument($Sim.Fingerprint).AddArgument((Join-Path $RepoRoot 'examples/lab/cluster.yml'))
        $out = $ps.Invoke()
        $errors = @($ps.Streams.Error)
        $ps.Dispose()
        $errors | Should -BeNullOrEmpty
        $out | Should -BeNullOrEmpty
    }

    It 'a deleted VM makes Sync-SwarmCluster plan exactly that VM, and applying the plan restores it' {
        # still a swarm member: refused without -Force
        Get-SwarmVm -Name swarmlab-infra3 | Remove-SwarmVm -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmIsSwarmMember,*'
        (Get-SwarmVm -Name swarmlab-infra3).Status | Should -Be 'running'
        Get-SwarmVm -Name swarmlab-infra3 | Remove-SwarmVm -Force -Confirm:$false -WarningAction SilentlyContinue
        Get-SwarmVm -Name swarmlab-infra3 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $plan = Sync-SwarmCluster -Config $Config -Template debian-12-cloudinit -WhatIf
        $plan | Should -Not -BeNullOrEmpty
        $plan.Node | Sort-Object -Unique | Should -Be 'swarmlab-infra3'
        $plan.Action | Should -Be @('CreateVm', 'Join')
        $plan | ForEach-Object { $_.Status | Should -Be 'Planned' }
        Get-SwarmVm -Name swarmlab-infra3 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty

        $done = Sync-SwarmCluster -Config $Config -Template debian-12-cloudinit
        $done | ForEach-Object { $_.Status | Should -Be 'Done' -Because "$($_.Action) $($_.Detail) $($_.Error)" }
        (Get-SwarmVm -Name swarmlab-infra3).Status | Should -Be 'running'
        # the new node (the swarm marks the deleted one Down only after its heartbeat timeout)
        $n = Get-SwarmNode | Where-Object Hostname -eq 'swarmlab-infra3' | Sort-Object CreatedAt | Select-Object -Last 1
        $n.State | Should -Be 'ready' 
        $n.Labels['proxmox.host'] | Should -Be 'lab-pve3'
        Sync-SwarmCluster -Config $Config -Template debian-12-cloudinit | Should -BeNullOrEmpty
        Remove-SwarmNode -Stale -Confirm:$false -ErrorAction SilentlyContinue | Out-Null
    }
}
