# Secrets and configs against the lab: creation (SecureString, file, string), listing with UsedBy, guarded removal,
# -WhatIf, bad input, and rotation (Update-SwarmSecret / Update-SwarmConfig) checked with the docker CLI inside a node
# as the oracle, down to the content a running task reads, with the secret text in no output stream.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    $script:P = "sec$PID"
    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-secrets-$PID"
    New-Item -ItemType Directory -Path $Dir -Force | Out-Null

    function script:Secure([string]$Text) { ConvertTo-SecureString $Text -AsPlainText -Force }

    function script:Get-CliNames([string]$Kind) {
        @(Invoke-LabDocker $M1 @($Kind, 'ls', '--format', '{{.Name}}') | Where-Object { $_ -like "$P*" })
    }

    function script:Get-CliLabels([string]$Kind, [string]$Name) {
        Invoke-LabDocker $M1 @($Kind, 'inspect', '--format', '{{json .Spec.Labels}}', $Name) | ConvertFrom-Json -AsHashtable
    }

    # a service of lab/busybox:1 (sleep 3600), waited for by the CLI
    function script:New-CliService([string]$Name, [int]$Replicas, [string[]]$Mounts) {
        $a = @('service', 'create', '--detach=false', '--quiet', '--no-resolve-image', '--name', $Name, '--replicas', "$Replicas",
            '--endpoint-mode', 'dnsrr', '--stop-grace-period', '1s', '--update-delay', '0s') + $Mounts + @('lab/busybox:1', 'sleep', '3600')
        Invoke-LabDocker $M1 $a | Out-Null
    }

    function script:Get-CliRefs([string]$Service, [string]$Kind) {
        $field = if ($Kind -eq 'secret') { 'Secrets' } else { 'Configs' }
        Invoke-LabDocker $M1 @('service', 'inspect', '--format', "{{json .Spec.TaskTemplate.ContainerSpec.$field}}", $Service) | ConvertFrom-Json
    }

    # what each running task of the service reads at $File, through docker exec on the task's own node
    function script:Get-TaskFileContent([string]$Service, [string]$File) {
        $ids = @(Invoke-LabDocker $M1 @('service', 'ps', '-q', '--filter', 'desired-state=running', $Service) | Where-Object { $_ })
        foreach ($t in $ids) {
            $info = (Invoke-LabDocker $M1 @('inspect', '--type', 'task', '--format', '{{.NodeID}} {{.Status.ContainerStatus.ContainerID}} {{.Status.State}}', $t)) -split ' '
            $node = Invoke-LabDocker $M1 @('node', 'inspect', '--format', '{{.Description.Hostname}}', $info[0])
            [pscustomobject]@{ Node = $node; State = $info[2]; Content = (Invoke-LabDocker $node @('exec', $info[1], 'cat', $File)) -join "`n" }
        }
    }
}

AfterAll {
    foreach ($s in @(Invoke-LabDocker $M1 @('service', 'ls', '--format', '{{.Name}}') | Where-Object { $_ -like "$P*" })) {
        try { Invoke-LabDocker $M1 @('service', 'rm', $s) | Out-Null } catch { }
    }
    foreach ($kind in 'secret', 'config') {
        foreach ($n in Get-CliNames $kind) { try { Invoke-LabDocker $M1 @($kind, 'rm', $n) | Out-Null } catch { } }
    }
    Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'New-SwarmSecret and New-SwarmConfig' {
    It 'creates a secret from a SecureString with its labels' {
        $s = New-SwarmSecret -Name "$P-ss" -SecureString (Secure "ss-$P") -Label @{ team = 'ops'; tier = 'db' }
        $s | Should -BeOfType SwarmAdmin.SwarmSecret
        $s.Name | Should -Be "$P-ss"
        $s.Version | Should -Be 0
        $s.BaseName | Should -Be "$P-ss"
        $s.UsedBy.Count | Should -Be 0
        $s.Id | Should -Not -BeNullOrEmpty
        $labels = Get-CliLabels secret "$P-ss"
        $labels['team'] | Should -Be 'ops'
        $labels['tier'] | Should -Be 'db'
        (Invoke-LabDocker $M1 @('secret', 'inspect', '--format', '{{.ID}}', "$P-ss")) | Should -Be $s.Id
    }

    It 'creates a secret from a file and a config from a string' {
        Set-Content -Path (Join-Path $Dir 'cert.pem') -Value 'not-a-real-cert' -NoNewline
        Push-Location $Dir
        try { $f = New-SwarmSecret -Name "$P-file" -Path ./cert.pem } finally { Pop-Location }
        $f.Name | Should -Be "$P-file"
        Get-CliNames secret | Should -Contain "$P-file"
        $c = New-SwarmConfig -Name "$P-conf" -Content 'listen 8080;' -Label @{ app = 'web' }
        $c | Should -BeOfType SwarmAdmin.SwarmConfig
        (Get-CliLabels config "$P-conf")['app'] | Should -Be 'web'
        # a config's content can be read back: it is exactly the string
        $data = Invoke-LabDocker $M1 @('config', 'inspect', '--format', '{{json .Spec.Data}}', "$P-conf") | ConvertFrom-Json
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($data)) | Should -Be 'listen 8080;'
    }

    It 'has no plain-string parameter for a secret' {
        $params = (Get-Command New-SwarmSecret).Parameters.Values + (Get-Command Update-SwarmSecret).Parameters.Values
        @($params | Where-Object { $_.ParameterType -eq [string] -and $_.Name -notin 'Name', 'Path' -and $_.Name -notin [System.Management.Automation.Cmdlet]::CommonParameters -and $_.Name -notin [System.Management.Automation.Cmdlet]::OptionalCommonParameters }).Name | Should -BeNullOrEmpty
    }

    It 'refuses an existing name with SwarmSecretExists and says what to do' {
        New-SwarmSecret -Name "$P-ss" -SecureString (Secure 'again') -ErrorAction SilentlyContinue -ErrorVariable e | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmSecretExists*'
        $e[0].ErrorDetails.RecommendedAction | Should -Match 'Update-SwarmSecret'
        New-SwarmConfig -Name "$P-conf" -Content 'x' -ErrorAction SilentlyContinue -ErrorVariable e2
        $e2[0].FullyQualifiedErrorId | Should -BeLike 'SwarmConfigExists*'
    }

    It 'reports a missing file and creates nothing' {
        New-SwarmSecret -Name "$P-nofile" -Path (Join-Path $Dir 'missing.txt') -ErrorAction SilentlyContinue -ErrorVariable e
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmSecretFileUnreadable*'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        Get-CliNames secret | Should -Not -Contain "$P-nofile"
    }

    It '-WhatIf creates nothing' {
        New-SwarmSecret -Name "$P-whatif" -SecureString (Secure 'w') -WhatIf | Should -BeNullOrEmpty
        New-SwarmConfig -Name "$P-whatifc" -Content 'w' -WhatIf | Should -BeNullOrEmpty
        Get-CliNames secret | Should -Not -Contain "$P-whatif"
        Get-CliNames config | Should -Not -Contain "$P-whatifc"
    }
}

Describe 'Get-SwarmSecret and Remove-SwarmSecret' {
    BeforeAll {
        New-SwarmSecret -Name "$P-used" -SecureString (Secure "used-$P") | Out-Null
        New-SwarmSecret -Name "$P-unused" -SecureString (Secure "unused-$P") | Out-Null
        New-CliService -Name "$P-svc" -Replicas 1 -Mounts @('--secret', "source=$P-used,target=used")
    }

    It 'lists with wildcards and computes UsedBy from the services' {
        $all = @(Get-SwarmSecret -Name "$P-u*")
        $all.Name | Should -Be @("$P-unused", "$P-used")
        ($all | Where-Object Name -eq "$P-used").UsedBy | Should -Be @("$P-svc")
        ($all | Where-Object Name -eq "$P-unused").UsedBy.Count | Should -Be 0
        (Get-SwarmSecret -Name (Get-SwarmSecret "$P-used").Id).Name | Should -Be "$P-used"
        ($all | Format-Table | Out-String -Width 200) | Should -Match 'ID\s+NAME\s+VERSION\s+USED BY\s+CREATED\s+UPDATED'
        @(Get-SwarmSecret -Name "$P-u*" -Stack 'no-such-stack').Count | Should -Be 0
    }

    It 'writes a non-terminating SwarmSecretNotFound for an unknown name and goes on' {
        $r = @(Get-SwarmSecret -Name "$P-nope", "$P-used" -ErrorAction SilentlyContinue -ErrorVariable e)
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmSecretNotFound*'
        $r.Name | Should -Be @("$P-used")
        Get-SwarmConfig -Name "$P-nope" -ErrorAction SilentlyContinue -ErrorVariable e2
        $e2[0].FullyQualifiedErrorId | Should -BeLike 'SwarmConfigNotFound*'
    }

    It 'refuses to remove a secret in use, naming the service' {
        Get-SwarmSecret "$P-used" | Remove-SwarmSecret -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable e
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmSecretInUse*'
        $e[0].Exception.Message | Should -Match "$P-svc"
        Get-CliNames secret | Should -Contain "$P-used"
    }

    It '-WhatIf removes and rotates nothing' {
        Remove-SwarmSecret -Name "$P-unused" -WhatIf
        Get-CliNames secret | Should -Contain "$P-unused"
        Update-SwarmSecret -Name "$P-used" -SecureString (Secure 'never') -WhatIf | Should -BeNullOrEmpty
        Get-CliNames secret | Should -Not -Contain "$P-used.v1"
        (Get-CliRefs "$P-svc" secret).SecretName | Should -Be "$P-used"
    }

    It 'rejects an unknown name for a rotation' {
        Update-SwarmSecret -Name "$P-nothing" -SecureString (Secure 'x') -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable e
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmSecretNotFound*'
        $e[0].Exception.Message | Should -Match 'New-SwarmSecret'
    }

    It 'removes an unused secret (piped) and one by name' {
        Get-SwarmSecret "$P-unused" | Remove-SwarmSecret -Confirm:$false
        Remove-SwarmSecret -Name "$P-file" -Confirm:$false
        Remove-SwarmConfig -Name "$P-conf" -Confirm:$false
        Get-CliNames secret | Should -Not -Contain "$P-unused"
        Get-CliNames secret | Should -Not -Contain "$P-file"
        Get-CliNames config | Should -Not -Contain "$P-conf"
    }
}

Describe 'Rotation' {
    It 'Secret rotation: the service ends on the new version, the old one is removed, the secret text never appears in any output stream' {
        $old = "old-$([guid]::NewGuid().ToString('N'))"
        $new = "new-$([guid]::NewGuid().ToString('N'))"
        New-SwarmSecret -Name "$P-rot" -SecureString (Secure $old) | Out-Null
        New-CliService -Name "$P-rsvc" -Replicas 2 -Mounts @('--secret', "source=$P-rot,target=app-token,uid=1000,gid=1001,mode=0400")
        (Get-TaskFileContent "$P-rsvc" '/run/secrets/app-token').Content | Sort-Object -Unique | Should -Be $old

        $Error.Clear()
        $captured = @(Update-SwarmSecret -Name "$P-rot" -SecureString (Secure $new) -Confirm:$false -TimeoutSec 180 -Verbose -Debug *>&1)
        $errors = @($Error)
        $result = @($captured | Where-Object { $_ -is [SwarmAdmin.SwarmSecret] })
        @($captured | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        $result.Count | Should -Be 1
        $result[0].Name | Should -Be "$P-rot.v1"
        $result[0].Version | Should -Be 1
        $result[0].BaseName | Should -Be "$P-rot"
        $result[0].UsedBy | Should -Be @("$P-rsvc")

        # the oracle: the spec references the new version with the same target, the old one is gone
        $refs = @(Get-CliRefs "$P-rsvc" secret)
        $refs.Count | Should -Be 1
        $refs[0].SecretName | Should -Be "$P-rot.v1"
        $refs[0].File.Name | Should -Be 'app-token'
        $refs[0].File.UID | Should -Be '1000'
        $refs[0].File.GID | Should -Be '1001'
        $refs[0].File.Mode | Should -Be 256
        $names = Get-CliNames secret
        $names | Should -Contain "$P-rot.v1"
        $names | Should -Not -Contain "$P-rot"
        $labels = Get-CliLabels secret "$P-rot.v1"
        $labels['com.swarmadmin.secret.base'] | Should -Be "$P-rot"
        $labels['com.swarmadmin.secret.version'] | Should -Be '1'

        # the running tasks read the new content
        $seen = @(Get-TaskFileContent "$P-rsvc" '/run/secrets/app-token')
        $seen.Count | Should -Be 2
        $seen.Content | Sort-Object -Unique | Should -Be $new

        # neither text in any stream (output, errors, warnings, verbose, debug, information) nor in $Error
        $text = ($captured | ForEach-Object { $_ | Out-String; if ($_ -is [System.Management.Automation.ErrorRecord]) { $_.Exception.ToString() } }) -join "`n"
        $text += ($captured | Where-Object { $_ -is [SwarmAdmin.SwarmSecret] } | ConvertTo-Json -Depth 4)
        $text += ($errors | ForEach-Object { $_ | Out-String; $_.Exception.ToString() }) -join "`n"
        @($captured | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -BeGreaterThan 2
        $text | Should -Not -Match $old
        $text | Should -Not -Match $new

        # a second rotation goes to v2 and removes v1
        Update-SwarmSecret -Name "$P-rot" -SecureString (Secure "$new-2") -Confirm:$false -TimeoutSec 180 | Out-Null
        (Get-CliRefs "$P-rsvc" secret)[0].SecretName | Should -Be "$P-rot.v2"
        Get-CliNames secret | Should -Not -Contain "$P-rot.v1"
    }

    It 'Config rotation: the service ends on the new version with the same target, the old one is removed, tasks read the new content' {
        $old = "listen 8080; # $([guid]::NewGuid().ToString('N'))"
        $new = "listen 9090; # $([guid]::NewGuid().ToString('N'))"
        New-SwarmConfig -Name "$P-cfg" -Content $old | Out-Null
        New-CliService -Name "$P-csvc" -Replicas 2 -Mounts @('--config', "source=$P-cfg,target=/etc/app.conf,mode=0440")

        $Error.Clear()
        $captured = @(Update-SwarmConfig -Name "$P-cfg" -Content $new -Confirm:$false -TimeoutSec 180 -Verbose -Debug *>&1)
        @($captured | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) | Should -BeNullOrEmpty
        $r = @($captured | Where-Object { $_ -is [SwarmAdmin.SwarmConfig] })
        $r[0].Name | Should -Be "$P-cfg.v1"
        $r[0].UsedBy | Should -Be @("$P-csvc")

        $refs = @(Get-CliRefs "$P-csvc" config)
        $refs.Count | Should -Be 1
        $refs[0].ConfigName | Should -Be "$P-cfg.v1"
        $refs[0].File.Name | Should -Be '/etc/app.conf'
        $refs[0].File.Mode | Should -Be 288
        Get-CliNames config | Should -Not -Contain "$P-cfg"
        (Get-CliLabels config "$P-cfg.v1")['com.swarmadmin.config.version'] | Should -Be '1'

        $seen = @(Get-TaskFileContent "$P-csvc" '/etc/app.conf')
        $seen.Count | Should -Be 2
        $seen.Content | Sort-Object -Unique | Should -Be $new
        $text = (($captured + @($Error)) | ForEach-Object { $_ | Out-String }) -join "`n"
        $text | Should -Not -Match ([regex]::Escape($new))
    }

    It 'a service that does not converge in time gives SwarmSecretRotationFailed and the old version is kept' {
        New-SwarmSecret -Name "$P-slow" -SecureString (Secure "slow-$P") | Out-Null
        New-CliService -Name "$P-slowsvc" -Replicas 2 -Mounts @('--secret', "source=$P-slow,target=slow")
        # 60 s between the two replicas' updates: not converged within 3 s
        Invoke-LabDocker $M1 @('service', 'update', '--detach', '--quiet', '--update-delay', '60s', "$P-slowsvc") | Out-Null
        Start-Sleep -Seconds 2
        $r = Update-SwarmSecret -Name "$P-slow" -SecureString (Secure "slow2-$P") -TimeoutSec 3 -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable e -WarningAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmSecretRotationFailed*'
        $e[0].Exception.Message | Should -Match "$P-slowsvc"
        $e[0].ErrorDetails.RecommendedAction | Should -Match "Update-SwarmSecret -Name $P-slow"
        $r.Name | Should -Be "$P-slow.v1"
        $names = Get-CliNames secret
        $names | Should -Contain "$P-slow"
        $names | Should -Contain "$P-slow.v1"
        (Get-CliRefs "$P-slowsvc" secret).SecretName | Should -Be "$P-slow.v1"
    }

    It '-KeepPrevious keeps the old version; a later rotation finds the highest version by label' {
        New-SwarmConfig -Name "$P-keep" -Content 'one' | Out-Null
        # a hand-made name that only looks like a version: no labels, no special meaning
        New-SwarmConfig -Name "$P-keep.v1" -Content 'decoy' | Out-Null
        $v = Update-SwarmConfig -Name "$P-keep" -Content 'two' -KeepPrevious -Confirm:$false
        $v.Name | Should -Be "$P-keep.v2"
        $v.Version | Should -Be 2
        $names = Get-CliNames config
        $names | Should -Contain "$P-keep"
        $names | Should -Contain "$P-keep.v1"
        # rotating by any version's name finds the base
        $v3 = Update-SwarmConfig -Name "$P-keep.v2" -Content 'three' -Confirm:$false
        $v3.Name | Should -Be "$P-keep.v3"
        $names = Get-CliNames config
        $names | Should -Not -Contain "$P-keep"
        $names | Should -Not -Contain "$P-keep.v2"
        $names | Should -Contain "$P-keep.v1"   # not a version of the base: untouched
        $names | Should -Contain "$P-keep.v3"
    }
}
