# Disaster recovery against real lab nodes: a swarm of its own (3 managers + 1 worker, added beside the main lab
# swarm at .71-.75 with lab.sh add-node) that loses managers for good (their containers and state are removed).
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')

    $script:DrNodes = [ordered]@{ 'swarmlab-dr1' = '10.213.57.71'; 'swarmlab-dr2' = '10.213.57.72'; 'swarmlab-dr3' = '10.213.57.73'; 'swarmlab-dr4' = '10.213.57.74'; 'swarmlab-dr5' = '10.213.57.75' }
    function Remove-DrNode([string]$Name) {
        try { Invoke-Lab stop-node $Name --kill | Out-Null } catch { }
        try { Invoke-Lab remove-node $Name | Out-Null } catch { }
    }
    function Add-DrNode([string]$Name) { Invoke-Lab add-node $Name --address $script:DrNodes[$Name] | Out-Null }
    function Invoke-Dr([string]$Node, [string[]]$Arguments) { Invoke-LabDocker $Node $Arguments }

    # Everything the swarm holds that a recovery must keep, read with the docker CLI (independent of SwarmAdmin).
    function Get-DrSnapshot([string]$Node) {
        $services = [ordered]@{}
        foreach ($name in @(Invoke-Dr $Node @('service', 'ls', '--format', '{{.Name}}') | Sort-Object)) {
            $services[$name] = (Invoke-Dr $Node @('service', 'inspect', '--format', '{{json .Spec}}', $name)) -join ''
        }
        $labelsByHost = [ordered]@{}
        $labelsById = [ordered]@{}
        foreach ($id in @(Invoke-Dr $Node @('node', 'ls', '-q'))) {
            $line = (Invoke-Dr $Node @('node', 'inspect', '--format', '{{.Description.Hostname}}|{{json .Spec.Labels}}', $id)) -join ''
            $host_, $labels = $line -split '\|', 2
            $labelsByHost[$host_] = $labels
            $labelsById[$id] = $labels
        }
        [pscustomobject]@{
            Services     = $services
            Secrets      = @(Invoke-Dr $Node @('secret', 'ls', '--format', '{{.Name}}') | Sort-Object)
            Configs      = @(Invoke-Dr $Node @('config', 'ls', '--format', '{{.Name}}') | Sort-Object)
            LabelsByHost = $labelsByHost
            LabelsById   = $labelsById
        }
    }
    function Assert-SameServices($Before, $After) {
        @($After.Services.Keys) | Should -Be @($Before.Services.Keys)
        foreach ($name in $Before.Services.Keys) {
            # the spec exactly as the swarm stored it (image, env, secrets, configs, labels, placement...)
            $After.Services[$name] | Should -Be $Before.Services[$name] -Because "service $name keeps its spec"
        }
        $After.Secrets | Should -Be $Before.Secrets
        $After.Configs | Should -Be $Before.Configs
    }
    function Test-DrHasLeader([string]$Node) {
        $env:DOCKER_HOST = $script:Lab.DockerHost
        try { & docker exec $Node timeout 8 docker node ls *> $null; $LASTEXITCODE -eq 0 } finally { Remove-Item Env:DOCKER_HOST -ErrorAction SilentlyContinue }
    }

    foreach ($n in $script:DrNodes.Keys) { Remove-DrNode $n }
    foreach ($n in @('swarmlab-dr1', 'swarmlab-dr2', 'swarmlab-dr3', 'swarmlab-dr4')) { Add-DrNode $n }

    # The cluster file of this little swarm: three managers on three "Proxmox hosts", one labelled worker.
    $script:ClusterFile = Join-Path $TestDrive 'dr-cluster.yml'
    @"
name: dr-lab
proxmox:
  hosts:
    - { name: lab-pve1, apiUrl: 'https://lab-pve1:8006', storages: [local-lvm] }
    - { name: lab-pve2, apiUrl: 'https://lab-pve2:8006', storages: [local-lvm] }
    - { name: lab-pve3, apiUrl: 'https://lab-pve3:8006', storages: [local-lvm] }
networks:
  - { name: lab, subnet: 10.213.57.0/24 }
ssh:
  user: root
  keyFile: $($script:Lab.KeyPath)
  knownHostsPath: $($script:Lab.KnownHostsPath)
defaults: { network: lab, cores: 2, memory: 2GB, bootDisk: 10GB, bootStorage: local-lvm }
nodes:
  - { name: swarmlab-dr1, ip: 10.213.57.71, proxmoxHost: lab-pve1, role: manager }
  - { name: swarmlab-dr2, ip: 10.213.57.72, proxmoxHost: lab-pve2, role: manager }
  - { name: swarmlab-dr3, ip: 10.213.57.73, proxmoxHost: lab-pve3, role: manager }
  - { name: swarmlab-dr4, ip: 10.213.57.74, proxmoxHost: lab-pve1, role: worker, labels: { tier: infra } }
"@ | Set-Content -Path $script:ClusterFile
    $script:Nodes = @((Import-SwarmClusterConfig $script:ClusterFile).Nodes)

    Initialize-Swarm -Node $script:Nodes[0] -Confirm:$false | Out-Null
    $script:DrCtx = Connect-SwarmCluster -Endpoint 'ssh://root@10.213.57.71' -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -NoDefault
    $script:Nodes[1..3] | Join-SwarmNode -Context $script:DrCtx -Confirm:$false | Out-Null
    $script:DrCtx = Connect-SwarmCluster -Endpoint 'ssh://root@10.213.57.71', 'ssh://root@10.213.57.72', 'ssh://root@10.213.57.73' -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -NoDefault

    # What the swarm holds: a stack with a secret and a config, a secret and a config made by hand, labels by hand.
    $script:SecretText = 'dr-secret-' + [guid]::NewGuid().ToString('N')
    $secretFile = Join-Path $TestDrive 'db-password.txt'
    Set-Content -Path $secretFile -Value $script:SecretText -NoNewline
    $stackFile = Join-Path $TestDrive 'dr-stack.yml'
    @"
version: '3.8'
services:
  app:
    image: lab/busybox:1
    command: ['sleep', '3600']
    deploy:
      replicas: 2
      placement: { constraints: ['node.labels.tier == infra'] }
    secrets: [db_password]
    configs: [{ source: app_conf, target: /etc/app.conf }]
  tools:
    image: lab/busybox:1
    command: ['sleep', '3600']
    environment: { MODE: recovery-test }
    deploy: { replicas: 1, placement: { constraints: ['node.role == manager'] } }
secrets:
  db_password: { file: ./db-password.txt }
configs:
  app_conf: { file: ./dr-stack.yml }
"@ | Set-Content -Path $stackFile
    Deploy-SwarmStack -Context $script:DrCtx -Name drstack -Path $stackFile -Confirm:$false | Out-Null
    New-SwarmSecret -Context $script:DrCtx -Name dr-standalone -SecureString (ConvertTo-SecureString $script:SecretText -AsPlainText -Force) -Confirm:$false | Out-Null
    New-SwarmConfig -Context $script:DrCtx -Name dr-standalone-conf -Content 'key=value' -Confirm:$false | Out-Null
    Set-SwarmNodeLabel -Context $script:DrCtx -Name swarmlab-dr2 -Add @{ 'by.hand' = 'manager-two' } -Confirm:$false | Out-Null
    Set-SwarmNodeLabel -Context $script:DrCtx -Name swarmlab-dr4 -Add @{ 'by.hand' = 'worker' } -Confirm:$false | Out-Null

    $script:Password = ConvertTo-SecureString 'Tr0ub4dor&3 correct horse' -AsPlainText -Force
    # not in $TestDrive: Pester empties that between Describe blocks
    $script:BackupDir = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-dr-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory -Path $script:BackupDir | Out-Null
}

AfterAll {
    foreach ($n in $script:DrNodes.Keys) { Remove-DrNode $n }
    if ($script:BackupDir) { Remove-Item -Recurse -Force $script:BackupDir -ErrorAction SilentlyContinue }
}

Describe 'Backup-SwarmManager' {
    It 'backs up a manager while the swarm keeps quorum, and the manager is Reachable again' {
        $before = Get-DrSnapshot 'swarmlab-dr1'
        $b = Backup-SwarmManager -Context $script:DrCtx -Name swarmlab-dr1 -Destination "$($script:BackupDir)/" -Password $script:Password -Confirm:$false
        $b | Should -BeOfType ([SwarmAdmin.SwarmManagerBackup])
        Test-Path $b.Path | Should -BeTrue
        $b.NodeHostname | Should -Be 'swarmlab-dr1'
        $b.ClusterId | Should -Be $script:DrCtx.ClusterId
        $b.RaftIndex | Should -BeGreaterThan 0
        $b.Services | Should -Be 2
        $b.Secrets | Should -Be 2
        $b.Managers.Count | Should -Be 3
        # encrypted: no gzip stream, no tar header, no certificate in clear anywhere in the file (the node's swarm
        # state holds PEM certificates and keys in clear), and only its owner may read it
        $bytes = [IO.File]::ReadAllBytes($b.Path)
        $text = [Text.Encoding]::ASCII.GetString($bytes)
        $text.Contains('ustar') | Should -BeFalse
        $text.Contains('BEGIN CERTIFICATE') | Should -BeFalse
        $text.Contains('swarm/raft') | Should -BeFalse
        $text.Contains($script:SecretText) | Should -BeFalse
        $gzip = 0; for ($i = 0; $i -lt $bytes.Length - 2; $i++) { if ($bytes[$i] -eq 0x1f -and $bytes[$i + 1] -eq 0x8b -and $bytes[$i + 2] -eq 0x08) { $gzip++ } }
        $gzip | Should -BeLessOrEqual 1 -Because 'random ciphertext may hold these 3 bytes by chance, a gzip stream in clear starts with them'
        $text.StartsWith("SWARMADMIN-BACKUP1`n") | Should -BeTrue
        (& stat -c '%a' $b.Path) | Should -Be '600'
        # the manager came back
        $line = Invoke-Dr 'swarmlab-dr2' @('node', 'inspect', '--format', '{{.Status.State}} {{.ManagerStatus.Reachability}}', 'swarmlab-dr1')
        $line | Should -Be 'ready reachable'
        Assert-SameServices $before (Get-DrSnapshot 'swarmlab-dr1')
        $script:FirstBackup = $b
    }

    It 'refuses when stopping the manager would lose quorum, and stops nothing' {
        Invoke-Lab stop-node swarmlab-dr3 | Out-Null
        try {
            # the managers must have noticed: until then dr3 still counts as reachable and a backup would be allowed
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            do { Start-Sleep 1; $st = Invoke-Dr 'swarmlab-dr1' @('node', 'inspect', '--format', '{{.ManagerStatus.Reachability}}', 'swarmlab-dr3') } until ($st -eq 'unreachable' -or [DateTime]::UtcNow -gt $deadline)
            $st | Should -Be 'unreachable'

            $pid1 = Invoke-Lab exec swarmlab-dr1 -- cat /var/run/docker.pid
            $err = $null
            Backup-SwarmManager -Context $script:DrCtx -Name swarmlab-dr1 -Destination "$($script:BackupDir)/" -Password $script:Password -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -BeLike 'QuorumGuard*'
            $err[0].ErrorDetails.RecommendedAction | Should -Match 'Test-SwarmQuorum'
            (Invoke-Lab exec swarmlab-dr1 -- cat /var/run/docker.pid) | Should -Be $pid1
            @(Get-ChildItem $script:BackupDir).Count | Should -Be 1
        }
        finally {
            Invoke-Lab start-node swarmlab-dr3 | Out-Null
        }
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        do { Start-Sleep 1; $st = Invoke-Dr 'swarmlab-dr1' @('node', 'inspect', '--format', '{{.ManagerStatus.Reachability}}', 'swarmlab-dr3') } until ($st -eq 'reachable' -or [DateTime]::UtcNow -gt $deadline)
        $st | Should -Be 'reachable'
    }

    It '-WhatIf writes no file and leaves the engine running' {
        $pid1 = Invoke-Lab exec swarmlab-dr2 -- cat /var/run/docker.pid
        Backup-SwarmManager -Context $script:DrCtx -Name swarmlab-dr2 -Destination "$($script:BackupDir)/" -Password $script:Password -WhatIf | Should -BeNullOrEmpty
        (Invoke-Lab exec swarmlab-dr2 -- cat /var/run/docker.pid) | Should -Be $pid1
        @(Get-ChildItem $script:BackupDir).Count | Should -Be 1
    }

    It 'refuses a worker and an existing file, with what to do' {
        $err = $null
        Backup-SwarmManager -Context $script:DrCtx -Name swarmlab-dr4 -Destination "$($script:BackupDir)/" -Password $script:Password -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'NotASwarmManager*'
        $err = $null
        Backup-SwarmManager -Context $script:DrCtx -Name swarmlab-dr1 -Destination $script:FirstBackup.Path -Password $script:Password -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'SwarmBackupExists*'
    }
}

Describe 'Restore-SwarmQuorum' {
    BeforeAll {
        $script:BeforeLoss = Get-DrSnapshot 'swarmlab-dr1'
        # two of three managers are lost for good: their machines and state are gone; the VMs are recreated bare
        # under the same names and addresses (what New-SwarmVm / Sync-SwarmCluster would do on Proxmox)
        Remove-DrNode 'swarmlab-dr2'
        Remove-DrNode 'swarmlab-dr3'
        Add-DrNode 'swarmlab-dr2'
        Add-DrNode 'swarmlab-dr3'
    }

    It 'the swarm has really lost its quorum' {
        # the leader steps down once it notices it lost its majority (a few seconds)
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ((Test-DrHasLeader 'swarmlab-dr1') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep 2 }
        Test-DrHasLeader 'swarmlab-dr1' | Should -BeFalse
    }

    It '-WhatIf lists the steps and changes nothing' {
        $r = $script:Nodes | Restore-SwarmQuorum -Password $script:Password -BackupDirectory $script:BackupDir -WhatIf
        $r.Source | Should -Be 'Survivor'
        $r.Survivor | Should -Be 'swarmlab-dr1'
        $actions = @($r.Steps | ForEach-Object { "$($_.Action) $($_.Target)" })
        $actions | Should -Contain 'Backup swarmlab-dr1'
        $actions | Should -Contain 'ForceNewCluster swarmlab-dr1'
        $actions | Should -Contain 'Join swarmlab-dr2'
        $actions | Should -Contain 'Join swarmlab-dr3'
        @($r.Steps | Where-Object Status -ne 'Planned').Count | Should -Be 0
        Test-DrHasLeader 'swarmlab-dr1' | Should -BeFalse
        (Invoke-Lab exec swarmlab-dr2 -- docker info --format '{{.Swarm.LocalNodeState}}') | Should -Be 'inactive'
        @(Get-ChildItem $script:BackupDir).Count | Should -Be 1
    }

    It 'brings back a healthy 3-manager swarm with every service, secret, config and label' {
        $DebugPreference = 'Continue'
        $all = $script:Nodes | Restore-SwarmQuorum -Password $script:Password -BackupDirectory $script:BackupDir -Confirm:$false -Verbose *>&1
        $DebugPreference = 'SilentlyContinue'
        @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -BeGreaterThan 5
        $r = $all | Where-Object { $_ -is [SwarmAdmin.SwarmQuorumRecovery] }
        @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        @($r.Steps | Where-Object Status -ne 'Done') | Should -BeNullOrEmpty
        $r.Quorum.Status | Should -Be 'Healthy'
        $r.Managers | Should -Be 3
        Test-Path $r.BackupPath | Should -BeTrue -Because 'the survivor is backed up before anything changes'
        # the secret text never shows in any stream
        ($all | Out-String) | Should -Not -Match $script:SecretText
        ($all | ForEach-Object { "$_" }) -join "`n" | Should -Not -Match 'correct horse' -Because 'the backup password never shows'


        $after = Get-DrSnapshot 'swarmlab-dr1'
        Assert-SameServices $script:BeforeLoss $after
        foreach ($h in $script:BeforeLoss.LabelsByHost.Keys) {
            $after.LabelsByHost[$h] | Should -Be $script:BeforeLoss.LabelsByHost[$h] -Because "node $h keeps its labels"
        }
        $managers = @(Invoke-Dr 'swarmlab-dr1' @('node', 'ls', '--filter', 'role=manager', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}') | Sort-Object)
        $managers.Count | Should -Be 3
        $managers | ForEach-Object { $_ | Should -Match ' Ready (Leader|Reachable)$' }
        # the services run again (the stack's app on the labelled worker)
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        do { Start-Sleep 1; $rep = Invoke-Dr 'swarmlab-dr1' @('service', 'ls', '--filter', 'name=drstack_app', '--format', '{{.Replicas}}') } until ($rep -eq '2/2' -or [DateTime]::UtcNow -gt $deadline)
        $rep | Should -Be '2/2'
    }

    It 'a second run finds the quorum intact and changes nothing' {
        $r = $script:Nodes | Restore-SwarmQuorum -Password $script:Password -BackupDirectory $script:BackupDir -Confirm:$false
        $r.Source | Should -Be 'Intact'
        @($r.Steps | Where-Object { $_.Action -in 'Backup', 'ForceNewCluster', 'Join', 'Promote', 'RemoveManager' }) | Should -BeNullOrEmpty
        $r.Quorum.Status | Should -Be 'Healthy'
    }
}

Describe 'Restore-SwarmManager' {
    BeforeAll {
        $script:DrCtx = Connect-SwarmCluster -Endpoint 'ssh://root@10.213.57.71', 'ssh://root@10.213.57.72', 'ssh://root@10.213.57.73' -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -NoDefault
        $script:Backup = Backup-SwarmManager -Context $script:DrCtx -Name swarmlab-dr2 -Destination "$($script:BackupDir)/" -Password $script:Password -Confirm:$false
        $script:BeforeAllLost = Get-DrSnapshot 'swarmlab-dr1'
        # every manager is lost; a new machine gets the backup. It takes the backed-up manager's address, as a VM
        # recreated from the cluster file does: the engine keeps a manager's raft address across a forced new cluster
        # (docker/for-linux#523), so nodes could not find a restored manager at another address
        foreach ($n in 'swarmlab-dr1', 'swarmlab-dr2', 'swarmlab-dr3') { Remove-DrNode $n }
        Invoke-Lab add-node swarmlab-dr5 --address 10.213.57.72 | Out-Null
    }

    It 'a wrong password changes nothing on the machine' {
        $bad = ConvertTo-SecureString 'not the password' -AsPlainText -Force
        $err = $null
        Restore-SwarmManager -Backup $script:Backup.Path -Node 'root@10.213.57.72' -Password $bad -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'SwarmBackupPasswordWrong*'
        (Invoke-Lab exec swarmlab-dr5 -- docker info --format '{{.Swarm.LocalNodeState}}') | Should -Be 'inactive'
    }

    It '-WhatIf changes nothing on the machine' {
        $pid1 = Invoke-Lab exec swarmlab-dr5 -- cat /var/run/docker.pid
        $script:Backup | Restore-SwarmManager -Node 'root@10.213.57.72' -Password $script:Password -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -WhatIf | Should -BeNullOrEmpty
        (Invoke-Lab exec swarmlab-dr5 -- cat /var/run/docker.pid) | Should -Be $pid1
        (Invoke-Lab exec swarmlab-dr5 -- docker info --format '{{.Swarm.LocalNodeState}}') | Should -Be 'inactive'
    }

    It 'restores the backup on a new node: the same services, secrets, configs and labels' {
        $r = $script:Backup | Restore-SwarmManager -Node 'root@10.213.57.72' -Password $script:Password -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -Confirm:$false -WarningAction SilentlyContinue
        $r | Should -BeOfType ([SwarmAdmin.SwarmManagerRestore])
        $r.Node | Should -Be 'swarmlab-dr5'
        $r.ClusterId | Should -Be $script:Backup.ClusterId
        $r.NodeId | Should -Be $script:Backup.NodeId -Because 'the restored manager keeps the backed-up node identity'
        @($r.RemovedManagers | Sort-Object) | Should -Be @('swarmlab-dr1', 'swarmlab-dr3')
        Test-DrHasLeader 'swarmlab-dr5' | Should -BeTrue
        (Invoke-Dr 'swarmlab-dr5' @('node', 'inspect', '--format', '{{.ManagerStatus.Addr}}', 'self')) | Should -Be '10.213.57.72:2377'

        $after = Get-DrSnapshot 'swarmlab-dr5'
        Assert-SameServices $script:BeforeAllLost $after
        foreach ($id in $after.LabelsById.Keys) {
            $after.LabelsById[$id] | Should -Be $script:BeforeAllLost.LabelsById[$id] -Because "node $id keeps its labels"
        }
        $after.LabelsById.Keys | Should -Contain $script:Backup.NodeId
    }

    It 'Restore-SwarmQuorum rejoins a worker that lost its swarm state, with its labels' {
        # a worker reinstalled meanwhile (its engine left the swarm): it stays Down in the swarm until it joins again
        Invoke-Lab exec swarmlab-dr4 -- docker swarm leave --force | Out-Null
        $r = Restore-SwarmQuorum -Node 'root@10.213.57.72', 'root@10.213.57.74' -ManagerCount 1 -Password $script:Password -BackupDirectory $script:BackupDir -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -Confirm:$false
        $r.Source | Should -Be 'Intact'
        $rejoin = $r.Steps | Where-Object Action -eq 'Rejoin'
        $rejoin.Status | Should -Be 'Done'
        $rejoin.Target | Should -Be 'swarmlab-dr4'
        # one manager by choice: the quorum holds, without tolerance (Test-SwarmQuorum says Degraded for that)
        $r.Quorum.HasQuorum | Should -BeTrue
        $r.Quorum.Managers | Should -Be 1
        $lines = @(Invoke-Dr 'swarmlab-dr5' @('node', 'ls', '--format', '{{.Hostname}} {{.Status}}') | Where-Object { $_ -like 'swarmlab-dr4 *' })
        $lines | Should -Be @('swarmlab-dr4 Ready') -Because 'the worker is back and its old entry is gone'
        (Invoke-Dr 'swarmlab-dr5' @('node', 'inspect', '--format', '{{json .Spec.Labels}}', 'swarmlab-dr4')) | Should -Be $script:BeforeAllLost.LabelsByHost['swarmlab-dr4']
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        do { Start-Sleep 1; $rep = Invoke-Dr 'swarmlab-dr5' @('service', 'ls', '--filter', 'name=drstack_app', '--format', '{{.Replicas}}') } until ($rep -eq '2/2' -or [DateTime]::UtcNow -gt $deadline)
        $rep | Should -Be '2/2' -Because 'the stack service placed on the labelled worker runs again'
    }

    It 'Restore-SwarmQuorum restores from a backup when no manager survives' {
        # the only manager is lost too; its VM is recreated bare at the same address
        Remove-DrNode 'swarmlab-dr5'
        Add-DrNode 'swarmlab-dr2'
        $r = Restore-SwarmQuorum -Node 'root@10.213.57.72', 'root@10.213.57.74' -Backup $script:Backup.Path -ManagerCount 1 -Password $script:Password -BackupDirectory $script:BackupDir -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -Confirm:$false
        $r.Source | Should -Be 'Backup'
        $r.Survivor | Should -Be 'swarmlab-dr2'
        @($r.Steps | Where-Object Status -ne 'Done') | Should -BeNullOrEmpty
        $r.Quorum.HasQuorum | Should -BeTrue
        $r.Quorum.Managers | Should -Be 1
        # the backup predates the worker's rejoin: it is rejoined again (its newer identity is unknown to the backup)
        ($r.Steps | Where-Object Action -eq 'Rejoin').Target | Should -Be 'swarmlab-dr4'
        $after = Get-DrSnapshot 'swarmlab-dr2'
        Assert-SameServices $script:BeforeAllLost $after
        @(Invoke-Dr 'swarmlab-dr2' @('node', 'ls', '--format', '{{.Hostname}} {{.Status}}') | Sort-Object) | Should -Be @('swarmlab-dr2 Ready', 'swarmlab-dr4 Ready')
        (Invoke-Dr 'swarmlab-dr2' @('node', 'inspect', '--format', '{{json .Spec.Labels}}', 'swarmlab-dr4')) | Should -Be $script:BeforeAllLost.LabelsByHost['swarmlab-dr4']
    }

    It 'refuses a machine that is already a swarm member without -Force' {
        $err = $null
        Restore-SwarmManager -Backup $script:Backup.Path -Node 'root@10.213.57.72' -Password $script:Password -KeyFile $script:Lab.KeyPath -KnownHostsPath $script:Lab.KnownHostsPath -Confirm:$false -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'SwarmRestoreTargetInUse*'
        Test-DrHasLeader 'swarmlab-dr2' | Should -BeTrue
    }
}
