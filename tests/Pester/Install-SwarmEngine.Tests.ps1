# Install-SwarmEngine against the shared lab, without installing anything: the lab nodes are not Debian with APT
# (debs unpacked into a minimal image, dockerd started by /etc/init.d/docker). Real installs on fresh Debian 12 nodes
# are in EngineInstall.Tests.ps1. Changes to a node (a fake os-release) only on the spare swarmlab-s1, always undone.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Spare = $Spares | Select-Object -First 1
    $script:SpareTarget = "root@$($Spare.Address)"
    $script:Ssh = @{ KeyFile = $Lab.KeyPath; KnownHostsPath = $Lab.KnownHostsPath }
    $script:FQ = ',SwarmAdmin.Commands.InstallSwarmEngineCommand'
    $script:Tmp = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-install-$PID"
    New-Item -ItemType Directory -Force $Tmp | Out-Null

    # everything Install-SwarmEngine could touch on a node, to prove it did not
    function script:Get-EngineState([string]$Name) {
        (Invoke-Lab exec $Name -- sh -c @'
ls -la /etc/apt/apt.conf.d /etc/apt/sources.list.d /etc/apt/keyrings 2>&1
md5sum /etc/docker/daemon.json /etc/os-release 2>&1
ls -la /etc/docker 2>&1
cat /var/run/docker.pid 2>&1
ls /tmp | grep swarmadmin
docker info --format '{{.ServerVersion}} {{.Swarm.LocalNodeState}}' 2>&1
true
'@) -join "`n"
    }
}

AfterAll {
    Remove-Item -Recurse -Force $Tmp -ErrorAction SilentlyContinue
}

Describe 'Install-SwarmEngine parameter checks' {
    # 10.213.57.254 answers nobody: an error id other than InvalidArgument would mean a node was contacted
    It 'refuses <Case> before contacting any node' -ForEach @(
        @{ Case = 'a proxy that is not http'; Params = @{ AptProxy = 'ftp://cache:21' } }
        @{ Case = 'a proxy URL with a quote'; Params = @{ AptProxy = 'http://cache:3142/"; Acquire::x "1' } }
        @{ Case = 'DockerRepository without URI and key'; Params = @{ Source = 'DockerRepository' } }
        @{ Case = 'a repository URI with credentials'; Params = @{ Source = 'DockerRepository'; RepositoryUri = 'https://u:p@mirror/debian'; RepositoryKey = $PSCommandPath } }
        @{ Case = 'a repository key for the distribution source'; Params = @{ RepositoryKey = $PSCommandPath } }
        @{ Case = 'a daemon.json value without a JSON form'; Params = @{ DaemonConfig = @{ 'log-opts' = @{ when = [datetime]::Now } } } }
        @{ Case = 'a metrics address without a port'; Params = @{ MetricsAddress = '10.0.0.1' } }
    ) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        { Install-SwarmEngine -Node 'root@10.213.57.254' @Ssh @Params -ErrorAction Stop } | Should -Throw -ErrorId "InvalidArgument$FQ"
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 2
    }

    It 'says which key file is missing' {
        $missing = Join-Path $Tmp 'no-such-key.asc'
        $err = { Install-SwarmEngine -Node 'root@10.213.57.254' @Ssh -Source DockerRepository -RepositoryUri https://download.docker.com/linux/debian -RepositoryKey $missing -ErrorAction Stop } |
            Should -Throw -ErrorId "InvalidArgument$FQ" -PassThru
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -Match ([regex]::Escape($missing))
    }

    It 'never shows proxy credentials in an error' {
        $err = { Install-SwarmEngine -Node 'root@10.213.57.254' @Ssh -AptProxy 'ftp://user:hunter2@cache:21' -ErrorAction Stop } | Should -Throw -PassThru
        ($err | Out-String) + $err.Exception.Message | Should -Not -Match 'hunter2'
    }

    It 'validates -Version as a Debian version string' {
        { Install-SwarmEngine -Node 'root@10.213.57.254' @Ssh -Version '1.0; rm -rf /' -ErrorAction Stop } | Should -Throw -ErrorId "ParameterArgumentValidationError$FQ"
    }
}

Describe 'Install-SwarmEngine on systems it does not support' {
    BeforeAll {
        # a spare node that says it is Alpine; the original os-release is kept beside it and restored in AfterAll
        Invoke-Lab exec $Spare.Name -- sh -c 'cp -p /etc/os-release /etc/os-release.swarmadmin-test && printf "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n" > /etc/os-release' | Out-Null
        $script:Before = Get-EngineState $Spare.Name
    }
    AfterAll {
        Invoke-Lab exec $Spare.Name -- sh -c 'if [ -f /etc/os-release.swarmadmin-test ]; then mv -f /etc/os-release.swarmadmin-test /etc/os-release; fi' | Out-Null
    }

    It 'gives SwarmEngineOsUnsupported for the node, naming the system, and changes nothing' {
        $out = Install-SwarmEngine -Node $SpareTarget @Ssh -AptProxy 'http://10.213.57.1:3142' -DaemonConfig @{ debug = $true } -ErrorVariable e -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -Be "SwarmEngineOsUnsupported$FQ"
        $e[0].CategoryInfo.Category | Should -Be 'NotImplemented'
        $e[0].TargetObject | Should -BeOfType SwarmAdmin.SwarmNodeTarget
        $e[0].TargetObject.Text | Should -Be $SpareTarget
        $e[0].Exception.Message | Should -Match 'Alpine Linux v3.20'
        $e[0].Exception.Message | Should -Match 'ID=alpine'
        $e[0].Exception.Message | Should -Match 'Nothing was changed'
        Get-EngineState $Spare.Name | Should -Be $Before
    }

    It 'refuses a Debian node without APT (a lab node as it is), each node with its own error, in input order' {
        Invoke-Lab exec $Spare.Name -- cp -p /etc/os-release.swarmadmin-test /etc/os-release | Out-Null
        $w1 = $Workers[0]
        $before = Get-EngineState $w1.Name
        $out = Install-SwarmEngine -Node "root@$($w1.Address)", $SpareTarget @Ssh -ErrorVariable e -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $e.Count | Should -Be 2
        $e.FullyQualifiedErrorId | Should -Be @("SwarmEngineOsUnsupported$FQ", "SwarmEngineOsUnsupported$FQ")
        $e[0].TargetObject.Text | Should -Be "root@$($w1.Address)"
        $e[1].TargetObject.Text | Should -Be $SpareTarget
        $e[0].Exception.Message | Should -Match 'has no APT'
        Get-EngineState $w1.Name | Should -Be $before
    }

    It 'names the node from the cluster file in the error' {
        $file = Join-Path $Tmp 'spare.yml'
        Set-Content -LiteralPath $file -Value @('name: t', 'proxmox:', '  hosts:', '    - name: lab-pve1', '      storages: [local-lvm]', 'ssh:', '  user: root', "  keyFile: $($Lab.KeyPath)", "  knownHostsPath: $($Lab.KnownHostsPath)",
            'defaults:', '  cores: 1', '  memory: 1GB', '  bootDisk: 10GB', 'nodes:', "  - name: $($Spare.Name)", "    ip: $($Spare.Address)", '    proxmoxHost: lab-pve1', '    role: manager')
        Import-SwarmClusterConfig $file | Install-SwarmEngine -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].TargetObject.Name | Should -Be $Spare.Name
        $e[0].Exception.Message | Should -Match "on $($Spare.Name):"
    }
}

Describe 'Install-SwarmEngine -WhatIf' {
    It 'changes nothing on a lab node' {
        $before = Get-EngineState $Spare.Name
        Install-SwarmEngine -Node $SpareTarget @Ssh -AptProxy 'http://10.213.57.1:3142' -WhatIf -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-EngineState $Spare.Name | Should -Be $before
    }
}

Describe 'Install-SwarmEngine results feed Join-SwarmNode' {
    BeforeAll { $script:Ctx = Connect-Lab -NoDefault }
    AfterAll { Disconnect-SwarmCluster -Context $Ctx -ErrorAction SilentlyContinue }

    It 'converts to the node it was made from, with role, labels and SSH settings' {
        $file = Join-Path $Tmp 'labels.yml'
        Set-Content -LiteralPath $file -Value @('name: t', 'proxmox:', '  hosts:', '    - name: lab-pve1', '      storages: [local-lvm]', 'ssh:', '  user: root', "  keyFile: $($Lab.KeyPath)", "  knownHostsPath: $($Lab.KnownHostsPath)",
            'defaults:', '  cores: 1', '  memory: 1GB', '  bootDisk: 10GB', 'nodes:', '  - name: n1', '    ip: 10.213.57.250', '    proxmoxHost: lab-pve1', '    role: manager', '    labels: { zone: a, tier: db }')
        $node = (Import-SwarmClusterConfig $file).Nodes[0]
        $result = [SwarmAdmin.SwarmEngineInstallation]@{ Node = 'n1'; Target = [SwarmAdmin.SwarmNodeTarget]$node }
        $t = [SwarmAdmin.SwarmNodeTarget]$result
        $t.Name | Should -Be 'n1'
        $t.Role | Should -Be 'Manager'
        $t.Labels['zone'] | Should -Be 'a'
        $t.Labels['tier'] | Should -Be 'db'
        $t.KeyFile | Should -Be $Lab.KeyPath
        $t.AdvertiseAddress | Should -Be '10.213.57.250'
        $t.Text | Should -Be 'ssh://root@10.213.57.250'
    }

    It 'binds from the pipeline: a result for a member that already has that role joins as a no-op' {
        $w = $Workers[0]
        # a cluster node without labels (a file would add proxmox.host, and Join-SwarmNode would set it on the shared swarm)
        $node = [SwarmAdmin.SwarmClusterNode]@{ Name = $w.Name; Address = $w.Address; Role = 'Worker'; KeyFile = $Lab.KeyPath; KnownHostsPath = $Lab.KnownHostsPath }
        $result = [SwarmAdmin.SwarmEngineInstallation]@{ Node = $w.Name; Target = [SwarmAdmin.SwarmNodeTarget]$node }
        $before = Get-SwarmNode -Context $Ctx -Name $w.Name
        $joined = $result | Join-SwarmNode -Context $Ctx
        $joined.Hostname | Should -Be $w.Name
        $joined.Role | Should -Be 'Worker'
        $joined.Id | Should -Be $before.Id -Because 'a member that already has the declared role is not joined again'
    }
}
