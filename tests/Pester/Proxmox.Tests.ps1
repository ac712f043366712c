# Connect-SwarmProxmox and Get-SwarmVm against the Proxmox VE simulator (tests/ProxmoxSimulator): token and ticket
# auth, certificate pinning (never switched off), 401 texts, secrets in no stream.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Sim = Start-ProxmoxSim
    $script:Plain = [Net.NetworkCredential]::new('', $Sim.TokenSecret).Password
}

AfterAll {
    Stop-ProxmoxSim $Sim
}

Describe 'Connect-SwarmProxmox' {
    It 'connects with an API token and a pinned certificate fingerprint' {
        $c = Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $Sim.Fingerprint
        $c.Nodes | Should -Be @('pve01', 'pve02', 'pve03')
        $c.Version | Should -Not -BeNullOrEmpty
        $c.AuthId | Should -Be $Sim.TokenId
        $c.IsConnected | Should -BeTrue
        ($c | Format-List * | Out-String) + ($c | Out-String) | Should -Not -Match ([regex]::Escape($Plain))
    }

    It 'accepts the fingerprint in any case and without colons' {
        $fp = ($Sim.Fingerprint -replace ':', '').ToLowerInvariant()
        $c = Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $fp -NoDefault
        $c.CertificateFingerprint | Should -Be @($Sim.Fingerprint.ToUpperInvariant())
    }

    It 'refuses the self-signed certificate without a pin and says which fingerprint to pin' {
        Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -NoDefault -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxCertificateUntrusted,*'
        $e[0].CategoryInfo.Category | Should -Be 'SecurityError'
        $e[0].ErrorDetails.RecommendedAction | Should -Match ([regex]::Escape($Sim.Fingerprint.ToUpperInvariant()))
        ($e | Out-String) | Should -Not -Match ([regex]::Escape($Plain))
    }

    It 'refuses a certificate that does not match the pin' {
        $wrong = (1..32 | ForEach-Object { 'AB' }) -join ':'
        Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $wrong -NoDefault -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxCertificateUntrusted,*'
    }

    It 'reports a refused token as an authentication error, without the secret' {
        $bad = ConvertTo-SecureString 'not-the-secret-0000' -AsPlainText -Force
        Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $bad -CertificateFingerprint $Sim.Fingerprint -NoDefault -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxAuthenticationFailed,*'
        ($e | Out-String) | Should -Not -Match 'not-the-secret'
    }

    It 'logs in with a user and password (ticket)' {
        $cred = [pscredential]::new('root@pam', (ConvertTo-SecureString 'simpass' -AsPlainText -Force))
        $c = Connect-SwarmProxmox -Endpoint $Sim.Url -Credential $cred -CertificateFingerprint $Sim.Fingerprint -NoDefault
        $c.AuthId | Should -Be 'root@pam'
        Get-SwarmVm -Connection $c -IncludeTemplate | Should -Not -BeNullOrEmpty
    }

    It 'rejects an endpoint that is not one' {
        Connect-SwarmProxmox -Endpoint 'http://pve01:8006' -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -NoDefault -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'InvalidSwarmEndpoint,*'
    }
}

Describe 'Get-SwarmVm' {
    BeforeAll {
        Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $Sim.Fingerprint | Out-Null
    }

    It 'leaves templates out unless asked' {
        Get-SwarmVm | Where-Object IsTemplate | Should -BeNullOrEmpty
        $t = Get-SwarmVm -IncludeTemplate | Where-Object IsTemplate
        $t.VmId | Should -Be @(9000, 9001, 9002)
        ($t | Sort-Object VmId).Node | Should -Be @('pve01', 'pve02', 'pve03')
    }

    It 'finds by name, ID and node, and reports a missing one without stopping' {
        (Get-SwarmVm -Name debian-12-cloudinit).Count | Should -Be 3
        (Get-SwarmVm -VmId 9001).Node | Should -Be 'pve02'
        (Get-SwarmVm -IncludeTemplate -Node pve03).VmId | Should -Be 9002
        $found = Get-SwarmVm -VmId 9000, 4242 -ErrorVariable e -ErrorAction SilentlyContinue
        $found.VmId | Should -Be 9000
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmNotFound,*'
        $e[0].TargetObject | Should -Be 4242
    }

    It 'says how to connect when nothing is connected' {
        $ps = [PowerShell]::Create()
        $null = $ps.AddScript("Import-Module '$ModulePath'; Get-SwarmVm")
        $null = $ps.Invoke()
        $ps.Streams.Error[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxNotConnected,*'
        $ps.Streams.Error[0].Exception.Message | Should -Match 'Connect-SwarmProxmox'
        $ps.Dispose()
    }
}

Describe 'New-SwarmVm' {
    BeforeAll {
        Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $Sim.Fingerprint | Out-Null
        $script:Key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm9rFCtk2mJ4xYqgF0mHq5o3R7wq2a1x7L1R8m3tPzA admin@swarm lab'
        $script:VmDir = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-vm-$PID"
        New-Item -ItemType Directory $VmDir -Force | Out-Null
        function script:Get-SimVm([int]$Id) { (Invoke-ProxmoxSim $Sim GET 'state').vms | Where-Object { [int]$_.vmid -eq $Id } }
    }
    AfterAll { Remove-Item -Recurse -Force $VmDir -ErrorAction SilentlyContinue }

    It 'clones, configures (CPU, memory, disks, NIC, cloud-init), starts and waits for the guest agent''s address' {
        $vm = New-SwarmVm -Name swarm-mgr-01 -Template debian-12-cloudinit -ProxmoxHost pve02 -Cores 2 -MemoryMB 2048 -BootDiskGB 20 `
            -DataDiskGB 10 -DataStorage local-lvm -IPAddress 10.99.0.11/24 -Gateway 10.99.0.1 -DnsServer 10.99.0.1 -VlanTag 4 -Mtu 1450 `
            -CiUser admin -SshPublicKey $Key -Tag swarm, manager -WaitFor Agent -TimeoutSec 120
        $vm.Name | Should -Be 'swarm-mgr-01'
        $vm.Node | Should -Be 'pve02'
        $vm.Status | Should -Be 'running'
        $vm.IPv4 | Should -Contain '10.99.0.11'
        $vm.Labels['proxmox.host'] | Should -Be 'pve02'
        $c = (Invoke-RestMethod -Uri "$($Sim.Url)/api2/json/nodes/pve02/qemu/$($vm.VmId)/config" -SkipCertificateCheck -SkipHeaderValidation -Headers @{ Authorization = "PVEAPIToken=$($Sim.TokenId)=$Plain" }).data
        $c.cores | Should -Be 2
        $c.memory | Should -Be '2048'
        $c.net0 | Should -Match 'bridge=vmbr0'
        $c.net0 | Should -Match 'tag=4'
        $c.net0 | Should -Match 'mtu=1450'
        $c.ipconfig0 | Should -Be 'ip=10.99.0.11/24,gw=10.99.0.1'
        $c.ciuser | Should -Be 'admin'
        [uri]::UnescapeDataString($c.sshkeys).Trim() | Should -Be $Key
        $c.scsi0 | Should -Match 'size=20G'
        $c.scsi1 | Should -Match 'local-lvm:.*size=10G'
        $c.tags | Should -Be 'manager;swarm'   # PVE stores tags sorted
        $c.agent | Should -Match '^1'
        # the key went over the wire encoded twice (form + sshkeys' own encoding), never in clear
        $log = Invoke-ProxmoxSim $Sim GET 'requests'
        ($log | ConvertTo-Json -Depth 6) | Should -Not -Match 'ssh-ed25519 AAAA'
        (Get-SwarmVm -Name swarm-mgr-01).VmId | Should -Be $vm.VmId
    }

    It 'builds the piped nodes of a cluster file in parallel, each on its host, with unique VMIDs even when nextid races' {
        @"
name: simlab
proxmox:
  hosts:
    - { name: pve01, apiUrl: https://pve01:8006, role: primary, storages: [local-lvm] }
    - { name: pve02, apiUrl: https://pve02:8006, role: secondary, storages: [local-lvm] }
    - { name: pve03, apiUrl: https://pve03:8006, role: secondary, storages: [local-lvm] }
networks:
  - { name: lan, subnet: 10.98.0.0/24, gateway: 10.98.0.1, vlan: 4, dns: [10.98.0.1] }
ssh: { user: root }
defaults: { network: lan, cores: 2, memory: 2GB, bootDisk: 10GB, bootStorage: local-lvm }
nodes:
  - { name: sim-m1, ip: 10.98.0.11, proxmoxHost: pve01, role: manager }
  - { name: sim-m2, ip: 10.98.0.12, proxmoxHost: pve02, role: manager }
  - { name: sim-m3, ip: 10.98.0.13, proxmoxHost: pve03, role: manager }
  - { name: sim-w1, ip: 10.98.0.21, proxmoxHost: pve01, role: worker, labels: { portainer.data: "true" } }
"@ | Set-Content (Join-Path $VmDir 'cluster.yml')
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'nextid-race'; count = 2 } | Out-Null
        $vms = Import-SwarmClusterConfig (Join-Path $VmDir 'cluster.yml') | ForEach-Object Nodes |
            New-SwarmVm -Template debian-12-cloudinit -SshPublicKey $Key -WaitFor Agent -TimeoutSec 120 -ThrottleLimit 4
        $vms | Should -HaveCount 4
        ($vms.VmId | Sort-Object -Unique) | Should -HaveCount 4
        ($vms | Where-Object Name -eq 'sim-m2').Node | Should -Be 'pve02'
        ($vms | Where-Object Name -eq 'sim-w1').Labels['portainer.data'] | Should -Be 'true'
        ($vms | Where-Object Name -eq 'sim-w1').Role | Should -Be 'Worker'
        ($vms | Where-Object Name -eq 'sim-m3').IPv4 | Should -Contain '10.98.0.13'
        # they convert to Join-SwarmNode targets with address, role and labels
        $t = [SwarmAdmin.SwarmNodeTarget]($vms | Where-Object Name -eq 'sim-w1')
        $t.Text | Should -Be 'ssh://root@10.98.0.21'
        $t.Role | Should -Be 'Worker'
        $t.Labels['proxmox.host'] | Should -Be 'pve01'
    }

    It 'warns when two managers would share a Proxmox host' {
        $n1 = [SwarmAdmin.SwarmClusterNode]@{ Name = 'dm1'; Address = '10.97.0.1'; Role = 'Manager'; ProxmoxHost = 'pve01' }
        $n2 = [SwarmAdmin.SwarmClusterNode]@{ Name = 'dm2'; Address = '10.97.0.2'; Role = 'Manager'; ProxmoxHost = 'pve01' }
        $n1, $n2 | New-SwarmVm -Template debian-12-cloudinit -WhatIf -WarningVariable w -WarningAction SilentlyContinue
        ($w -join "`n") | Should -Match 'dm1, dm2 would share Proxmox host pve01'
    }

    It '-WhatIf clones nothing' {
        $before = @((Invoke-ProxmoxSim $Sim GET 'state').vms).Count
        New-SwarmVm -Name whatif-vm -Template debian-12-cloudinit -WhatIf | Should -BeNullOrEmpty
        @((Invoke-ProxmoxSim $Sim GET 'state').vms).Count | Should -Be $before
    }

    It 'refuses a name that exists, and a template that does not' {
        New-SwarmVm -Name swarm-mgr-01 -Template debian-12-cloudinit -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmExists,*'
        New-SwarmVm -Name nt-vm -Template no-such-template -WaitFor None -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmNotFound,*'
    }

    It 'retries a VM lock and succeeds when it goes away' {
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'flock'; vmid = 4701; seconds = 1 } | Out-Null
        $vm = New-SwarmVm -Name lock-vm -VmId 4701 -Template debian-12-cloudinit -Cores 2 -NoStart -Verbose 4>&1 | Where-Object { $_ -is [SwarmAdmin.SwarmVm] }
        $vm.VmId | Should -Be 4701
    }

    It 'gives up on a lock that stays taken with a clear ProxmoxLocked error' {
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'flock'; vmid = 4702; seconds = 5000 } | Out-Null
        New-SwarmVm -Name locked-vm -VmId 4702 -Template debian-12-cloudinit -NoStart -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxLocked,*'
        $e[0].Exception.Message | Should -Match 'got timeout'
        $e[0].ErrorDetails.RecommendedAction | Should -Match 'lock'
        Get-SwarmVm -Name locked-vm -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'waits for a guest agent that comes up late' {
        Invoke-ProxmoxSim $Sim POST 'config' @{ durations = @{ agentDelay = 80; netDelay = 20 } } | Out-Null
        try { $vm = New-SwarmVm -Name late-agent -VmId 4703 -Template debian-12-cloudinit -IPAddress 10.99.0.43/24 -WaitFor Agent -TimeoutSec 120 }
        finally { Invoke-ProxmoxSim $Sim POST 'config' @{ durations = @{ agentDelay = 20; netDelay = 5 } } | Out-Null }
        $vm.IPv4 | Should -Contain '10.99.0.43'
        # while it booted, the agent answered "not running" at least once
        $log = Invoke-ProxmoxSim $Sim GET 'requests'
        @($log | Where-Object { $_.path -like '*/4703/agent/network-get-interfaces' -and $_.status -ne 200 }).Count | Should -BeGreaterThan 0
    }

    It 'reports a failed clone task with its exit status, and cleans up nothing by hand' {
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'task-fail'; taskType = 'qmclone'; count = 1; exitStatus = 'clone failed: storage local-lvm is full' } | Out-Null
        New-SwarmVm -Name fail-vm -Template debian-12-cloudinit -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxTaskFailed,*'
        $e[0].Exception.Message | Should -Match 'storage local-lvm is full'
        Get-SwarmVm -Name fail-vm -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }

    It 'names the missing privilege on 403' {
        $roId, $roSecret = $Sim.ReadonlyToken -split '=', 2
        $c = Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $roId -TokenSecret (ConvertTo-SecureString $roSecret -AsPlainText -Force) -CertificateFingerprint $Sim.Fingerprint -NoDefault
        New-SwarmVm -Connection $c -Name ro-vm -Template debian-12-cloudinit -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxPermissionDenied,*'
        $e[0].Exception.Message | Should -Match 'VM\.(Clone|Allocate)'
    }
}
