# Import-SwarmClusterConfig and Get-SwarmCapacity. The cluster file tests need no lab (the module is imported
# directly); only the live Get-SwarmCapacity tests use it (Common.ps1), and are skipped when it is not running.
BeforeDiscovery {
    $statePath = if ($env:SWARMADMIN_LAB_STATE) { $env:SWARMADMIN_LAB_STATE } else { Join-Path $PSScriptRoot '../../out/lab/state.json' }
    $script:LabUp = $false
    try { $script:LabUp = @((Get-Content -LiteralPath $statePath -Raw -ErrorAction Stop | ConvertFrom-Json).Nodes | Where-Object { $_ }).Count -gt 0 } catch { }
}

BeforeAll {
    $ErrorActionPreference = 'Stop'
    $modulePath = if ($env:SWARMADMIN_MODULE) { $env:SWARMADMIN_MODULE } else { Join-Path $PSScriptRoot '../../out/SwarmAdmin' }
    Import-Module $modulePath -Force
    $script:Repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $script:Reference = Join-Path $Repo 'examples/cluster.yml'
    $script:LabFile = Join-Path $Repo 'examples/lab/cluster.yml'
    $script:FQ = ',SwarmAdmin.Commands.ImportSwarmClusterConfigCommand'

    # A cluster file in TestDrive; the header is 16 lines, nodes start on line 17.
    $script:Header = @'
proxmox:
  hosts:
    - name: pve1
      storages: [local-lvm, tank]
    - name: pve2
      storages: [local-lvm]
networks:
  - name: lan
    vlan: 4
    subnet: 10.0.4.0/24
defaults:
  cores: 2
  memory: 4GB
  bootDisk: 20GB
  network: lan
nodes:
'@
    function New-ClusterFile([string]$Body, [string]$Name = "c$(Get-Random).yml") {
        $path = Join-Path $TestDrive $Name
        [IO.File]::WriteAllText($path, ($Header + "`n" + $Body).Replace("`r`n", "`n"))
        $path
    }
    function New-Node([string]$Name, [string]$Ip, [string]$HostName = 'pve1', [string]$Role = 'worker', [string[]]$More = @()) {
        (@("  - name: $Name", "    ip: $Ip", "    proxmoxHost: $HostName", "    role: $Role") + $More) -join "`n"
    }
}

Describe 'Import-SwarmClusterConfig' {
    It 'returns a typed SwarmClusterConfig with typed nodes, hosts and networks' {
        (Get-Command Import-SwarmClusterConfig).OutputType.Type | Should -Be ([SwarmAdmin.SwarmClusterConfig])
        $cfg = Import-SwarmClusterConfig -Path $Reference
        $cfg | Should -BeOfType SwarmAdmin.SwarmClusterConfig
        $cfg.Name | Should -Be 'docker-swarm'
        $cfg.Path | Should -Be $Reference
        $cfg.Nodes | Should -HaveCount 7
        $cfg.Nodes | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmClusterNode }
        $cfg.Hosts.Name | Should -Be @('pve01', 'pve02', 'pve03')
        $cfg.Hosts[0].Role | Should -Be ([SwarmAdmin.SwarmProxmoxHostRole]::Primary)
        $cfg.Networks | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmClusterNetwork }
        $cfg.Networks.VlanTag | Should -Be @(4, 12)
        $cfg.Networks[0].Dns | Should -Be @('192.168.2.4', '192.168.4.5', '192.168.4.6')
        $cfg.Findings | Should -HaveCount 0
    }

    It 'has the document''s values for every node' {
        $cfg = Import-SwarmClusterConfig $Reference
        $rows = $cfg.Nodes | ForEach-Object { '{0} {1} {2} {3} {4} {5} {6} {7} {8}' -f $_.Name, $_.Address, $_.ProxmoxHost, $_.Role, $_.Cores, $_.MemoryGB, $_.BootDiskGB, $_.DataDiskGB, $_.DataStorage }
        $rows | Should -Be @(
            'docker-app-1 192.168.4.30 pve01 Manager 4 8 50 0 '
            'docker-app-2 192.168.4.31 pve02 Manager 4 8 50 0 '
            'docker-app-3 192.168.4.32 pve03 Manager 4 8 50 0 '
            'docker-infra-1 192.168.4.40 pve01 Worker 4 8 30 50 tank'
            'docker-infra-2 192.168.4.41 pve02 Worker 4 8 30 100 local-lvm'
            'docker-infra-3 192.168.4.42 pve03 Worker 4 8 30 200 tank'
            'swarmpit-mgmt 192.168.4.50 pve01 Worker 4 6 30 0 '
        )
    }

    It 'gives nodes that pipe and filter: roles, labels, endpoints' {
        $cfg = Import-SwarmClusterConfig $Reference
        ($cfg.Nodes | Where-Object Role -eq Manager).Name | Should -Be @('docker-app-1', 'docker-app-2', 'docker-app-3')
        ($cfg.Nodes | Where-Object Role -eq 'Worker').Count | Should -Be 4
        $cfg.Managers.Name | Should -Be ($cfg.Nodes | Where-Object Role -eq Manager).Name
        ($cfg.Nodes | Where-Object { $_.Labels['portainer.data'] -eq 'true' }).Name | Should -Be 'swarmpit-mgmt'
        $cfg.Nodes | ForEach-Object { $_.Labels['proxmox.host'] | Should -Be $_.ProxmoxHost }
        ($cfg.Nodes | Where-Object ProxmoxHost -eq pve01).Name | Should -Be @('docker-app-1', 'docker-infra-1', 'swarmpit-mgmt')
        ($cfg.Nodes | Where-Object DataStorage -eq tank | Measure-Object DataDiskGB -Sum).Sum | Should -Be 250
        ($cfg.Nodes | Select-Object -First 1).Endpoint | Should -Be 'ssh://root@192.168.4.30'
        "$($cfg.Nodes[0])" | Should -Be 'docker-app-1'
    }

    It 'takes paths from the pipeline (FullName, PSPath), with wildcards and relative to the current location' {
        (Get-Item $Reference | Import-SwarmClusterConfig).Name | Should -Be 'docker-swarm'
        $both = Get-ChildItem (Join-Path $Repo 'examples') -Filter cluster.yml -Recurse | Import-SwarmClusterConfig
        ($both.Name | Sort-Object) | Should -Be @('docker-swarm', 'swarmadmin-lab')
        [pscustomobject]@{ FullName = $LabFile } | Import-SwarmClusterConfig | ForEach-Object Name | Should -Be 'swarmadmin-lab'
        (Import-SwarmClusterConfig (Join-Path $Repo 'examples/*/cluster.y*l')).Name | Should -Be 'swarmadmin-lab'
        Push-Location $Repo
        try { (Import-SwarmClusterConfig ./examples/lab/cluster.yml).Path | Should -Be $LabFile }
        finally { Pop-Location }
    }

    It 'resolves the lab file''s ssh paths against its folder' {
        $lab = Import-SwarmClusterConfig $LabFile
        $lab.Ssh.KeyFile | Should -Be (Join-Path $Repo 'out/lab/id_ed25519')
        $lab.Ssh.KnownHostsPath | Should -Be (Join-Path $Repo 'out/lab/known_hosts')
        $lab.Nodes | ForEach-Object { $_.KeyFile | Should -Be $lab.Ssh.KeyFile; $_.SshUser | Should -Be 'root' }
        $lab.Nodes | Should -HaveCount 7
        ($lab.Nodes | Where-Object Role -eq Manager) | Should -HaveCount 3
        # (not $lab.Nodes.Address: arrays have an Address() method that wins over member enumeration)
        $lab.Nodes | ForEach-Object { $_.Address | Should -Match '^10\.213\.57\.\d+$' }
    }

    It 'reports a missing file as ObjectNotFound and still reads the others' {
        $missing = Join-Path $TestDrive 'nope.yml'
        $cfg = Import-SwarmClusterConfig $missing, $Reference -ErrorVariable errs -ErrorAction SilentlyContinue
        $cfg.Name | Should -Be 'docker-swarm'
        $errs | Should -HaveCount 1
        $errs[0].FullyQualifiedErrorId | Should -Be "ClusterConfigNotFound$FQ"
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be $missing
    }

    It 'reports bad YAML as one ParserError with file:line:column' {
        $path = New-ClusterFile ((New-Node w1 10.0.4.21) + "`n   labels: x")
        $out = Import-SwarmClusterConfig $path -ErrorVariable errs -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $errs | Should -HaveCount 1
        $errs[0].FullyQualifiedErrorId | Should -Be "ClusterConfigSyntax$FQ"
        $errs[0].CategoryInfo.Category | Should -Be 'ParserError'
        $errs[0].ErrorDetails.Message | Should -BeLike "${path}:21:4: *"
        $errs[0].Exception | Should -BeOfType SwarmAdmin.SwarmClusterConfigException
        $errs[0].Exception.Line | Should -Be 21
        $errs[0].Exception.Column | Should -Be 4
    }

    It 'reports every problem of a bad file, each with its position and node, and returns nothing' {
        $path = New-ClusterFile (@(
                (New-Node m1 10.0.4.11 -Role manager)                                  # 17-20
                (New-Node m1 10.0.4.12 -Role manager)                                  # 21-24 duplicate name (21)
                (New-Node w1 10.0.4.11)                                                # 25-28 duplicate ip (26)
                (New-Node w2 10.0.5.21 -HostName pve9)                                 # 29-32 outside subnet (30), unknown host (31)
                (New-Node w3 10.0.4.23 -HostName pve2 -More '    dataDisk: { size: 10, storage: tank }', '    cores: "four"')   # 33-38: storage (37), type (38)
                (New-Node w4 10.0.4.24 -More '    network: wan', '    cpus: 2')      # 39-44: network (43), unknown key (44)
            ) -join "`n")
        $out = Import-SwarmClusterConfig $path -ErrorVariable errs -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $errs | Should -HaveCount 8
        $errs | ForEach-Object {
            $_.FullyQualifiedErrorId | Should -Be "ClusterConfigInvalid$FQ"
            $_.CategoryInfo.Category | Should -Be 'InvalidData'
            $_.ErrorDetails.Message | Should -Match ('^' + [regex]::Escape($path) + ':\d+:\d+: ')
        }
        $errs.Exception.Line | Should -Be @(21, 26, 30, 31, 37, 38, 43, 44)
        $errs.TargetObject | Should -Be @('m1', 'w1', 'w2', 'w2', 'w3', 'w3', 'w4', 'cpus')
        $errs[0].ErrorDetails.Message | Should -Match 'used twice'
        $errs[1].ErrorDetails.Message | Should -Match 'already the address of node m1'
        $errs[2].ErrorDetails.Message | Should -Match 'outside the subnet 10\.0\.4\.0/24'
        $errs[3].ErrorDetails.Message | Should -Match "Proxmox host 'pve9' is not declared"
        $errs[4].ErrorDetails.Message | Should -Match "storage 'tank' is not on Proxmox host pve2"
        $errs[5].ErrorDetails.Message | Should -Match "expected a whole number of cores, found 'four'"
        $errs[6].ErrorDetails.Message | Should -Match "network 'wan' is not declared"
        $errs[7].ErrorDetails.Message | Should -BeLike "${path}:44:5: Unknown key 'cpus' in a node. Did you mean 'cores'? Allowed keys: name, ip, *"
        $errs[7].ErrorDetails.RecommendedAction | Should -Be "Rename 'cpus' to 'cores'."
    }

    It 'stops at the first error with -ErrorAction Stop' {
        $path = New-ClusterFile (New-Node w1 10.0.4.21 -More '    memroy: 2GB')
        { Import-SwarmClusterConfig $path -ErrorAction Stop } | Should -Throw -ErrorId "ClusterConfigInvalid$FQ"
    }

    It 'writes findings as warnings and returns them on the object' {
        $path = New-ClusterFile (@(
                (New-Node m1 10.0.4.11 -Role manager)
                (New-Node m2 10.0.4.12 -Role manager)          # line 22: the second manager on pve1
            ) -join "`n")
        $cfg = Import-SwarmClusterConfig $path -WarningVariable warns -WarningAction SilentlyContinue
        $cfg | Should -BeOfType SwarmAdmin.SwarmClusterConfig
        $cfg.Findings.Id | Should -Be @('MANAGERS-EVEN', 'MANAGERS-SHARE-HOST')
        $cfg.Findings | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmConfigFinding; $_.Severity | Should -Be 'Warning' }
        $cfg.Findings[1].Target | Should -Be 'pve1'
        $cfg.Findings[1].Line | Should -Be 23
        $warns | Should -HaveCount 2
        "$($warns[0])" | Should -BeLike "${path}:16:1: The file declares 2 managers*(MANAGERS-EVEN)*"
        "$($warns[1])" | Should -Match 'Managers m1, m2 run on the same Proxmox host pve1'
    }
}

Describe 'Get-SwarmCapacity -Config' {
    It 'sums the reference cluster per role and in total' {
        (Get-Command Get-SwarmCapacity).OutputType.Type | Should -Be ([SwarmAdmin.SwarmCapacityRow])
        $rows = Import-SwarmClusterConfig $Reference | Get-SwarmCapacity
        $rows | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmCapacityRow }
        $rows.Role | Should -Be @('Manager', 'Worker', 'Total')
        $rows.Nodes | Should -Be @(3, 4, 7)
        $rows.Cores | Should -Be @(12, 16, 28)
        $rows.MemoryGB | Should -Be @(24, 30, 54)
        $rows.DataDiskGB | Should -Be @(0, 350, 350)
        # The document's totals table says boot storage 240 GB = 150 + 90, but its node tables give the workers
        # 3 x 30 GB (docker-infra-1..3) + 30 GB (swarmpit-mgmt) = 120 GB: the 240/90 figures omit swarmpit-mgmt's
        # boot disk. The cmdlet computes the true sums from the nodes.
        $rows.BootDiskGB | Should -Be @(150, 120, 270)
        $rows | ForEach-Object { $_.Source | Should -Be 'Config'; $_.ReservedCores | Should -BeNullOrEmpty }
    }

    It 'takes -Config by name and by position, and one table per piped configuration' {
        $cfg = Import-SwarmClusterConfig $Reference
        (Get-SwarmCapacity -Config $cfg | Where-Object Role -eq Total).Cores | Should -Be 28
        (Get-SwarmCapacity $cfg | Where-Object Role -eq Total).MemoryGB | Should -Be 54
        $two = Import-SwarmClusterConfig $Reference, $LabFile | Get-SwarmCapacity
        $two | Should -HaveCount 6
        ($two | Where-Object Role -eq Total).Cluster | Should -Be @('docker-swarm', 'swarmadmin-lab')
    }
}

Describe 'Cluster file views (SwarmAdmin.Config.Format.ps1xml)' {
    BeforeAll {
        if (-not (Get-FormatData -TypeName SwarmAdmin.SwarmClusterNode)) {
            Update-FormatData -PrependPath (Join-Path $Repo 'SwarmAdmin.Config.Format.ps1xml')
        }
    }

    It 'shows nodes, configurations and capacity rows as tables' {
        $cfg = Import-SwarmClusterConfig $Reference
        $nodes = ($cfg.Nodes | Out-String -Width 200) -split "`n"
        $nodes[1] | Should -Match '^NAME\s+ADDRESS\s+ROLE\s+HOST\s+CPU\s+MEMORY\s+BOOT\s+DATA\s+LABELS'
        ($nodes | Where-Object { $_ -match '^docker-infra-2 ' }) | Should -Match '192\.168\.4\.41\s+Worker\s+pve02\s+4\s+8G\s+30G\s+100G local-lvm\s+proxmox\.host=pve02'
        (($cfg | Out-String -Width 200) -split "`n")[1] | Should -Match '^NAME\s+NODES\s+MANAGERS\s+WORKERS'
        $capacity = ($cfg | Get-SwarmCapacity | Out-String -Width 200) -split "`n"
        $capacity[1] | Should -Match '^ROLE\s+NODE\s+NODES\s+CPU\s+RAM GB\s+BOOT GB\s+DATA GB\s+CPU RESERVED\s+RAM RESERVED\s+TASKS'
        ($capacity | Where-Object { $_ -match '^Total ' }) | Should -Match 'Total\s+7\s+28\s+54\s+270\s+350'
    }
}

Describe 'Get-SwarmCapacity (live)' -Skip:(-not $LabUp) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $script:Ctx = Connect-Lab
        $script:M1 = $Managers[0].Name
        function Remove-ProbeService { try { Invoke-LabDocker $M1 @('service', 'rm', 'capacity-test') | Out-Null } catch { } }
        Remove-ProbeService
        $script:LiveConnected = $true
    }

    AfterAll {
        if (-not $script:LiveConnected) { return }   # skipped (no lab): Pester still runs AfterAll
        Remove-ProbeService
        Disconnect-SwarmCluster -ErrorAction SilentlyContinue
    }

    It 'has one row per node with what the engines report, then per role and in total' {
        $rows = Get-SwarmCapacity
        $nodes = Get-SwarmNode
        $perNode = @($rows | Where-Object Node)
        ($perNode.Node | Sort-Object) | Should -Be ($nodes.Hostname | Sort-Object)
        foreach ($n in $nodes) {
            $r = $perNode | Where-Object Node -eq $n.Hostname
            "$($r.Role)" | Should -Be "$($n.Role)"
            $r.Cores | Should -Be $n.CPUs
            $r.MemoryGB | Should -Be ($n.MemoryBytes / 1GB)
            $r.Source | Should -Be 'Live'
            $r.BootDiskGB | Should -BeNullOrEmpty
        }
        $total = $rows | Where-Object { -not $_.Node -and $_.Role -eq 'Total' }
        $total.Nodes | Should -Be $nodes.Count
        $total.Cores | Should -Be (($nodes | Measure-Object CPUs -Sum).Sum)
        ($rows | Where-Object { -not $_.Node -and $_.Role -eq 'Manager' }).Nodes | Should -Be @($nodes | Where-Object Role -eq Manager).Count
        $total.Cluster | Should -Be $Ctx.ClusterId
    }

    It 'adds the reservations of running tasks to the nodes they run on' {
        $before = Get-SwarmCapacity
        Invoke-LabDocker $M1 @('service', 'create', '--detach', '--no-resolve-image', '--name', 'capacity-test', '--replicas', '2',
            '--reserve-cpu', '0.25', '--reserve-memory', '64M', '--constraint', 'node.role==manager', '--stop-grace-period', '1s',
            'lab/busybox:1', 'busybox', 'sleep', '3600') | Out-Null
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        do {
            Start-Sleep 1
            $running = @(Invoke-LabDocker $M1 @('service', 'ps', 'capacity-test', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}') | Where-Object { $_ -match ' Running' })
        } until ($running.Count -eq 2 -or [DateTime]::UtcNow -gt $deadline)
        $running.Count | Should -Be 2
        $after = Get-SwarmCapacity

        $delta = { param($role, $prop) (($after | Where-Object { -not $_.Node -and $_.Role -eq $role }).$prop) - (($before | Where-Object { -not $_.Node -and $_.Role -eq $role }).$prop) }
        [math]::Round((& $delta Total ReservedCores), 6) | Should -Be 0.5
        [math]::Round((& $delta Total ReservedMemoryGB) * 1024, 6) | Should -Be 128
        [math]::Round((& $delta Manager ReservedCores), 6) | Should -Be 0.5
        [math]::Round((& $delta Worker ReservedCores), 6) | Should -Be 0
        foreach ($host_ in ($running | ForEach-Object { ($_ -split ' ')[0] } | Group-Object)) {
            $b = $before | Where-Object Node -eq $host_.Name
            $a = $after | Where-Object Node -eq $host_.Name
            [math]::Round($a.ReservedCores - $b.ReservedCores, 6) | Should -Be (0.25 * $host_.Count)
            $a.FreeCores | Should -Be ($a.Cores - $a.ReservedCores)
        }
    }
}
