# Deploy-SwarmStack against the lab: lifecycle (create, unchanged redeploy, one-service change, versioned secrets,
# prune, -WhatIf), the placement pre-check, -Wait failure and -RollbackOnFailure, removal, bad input, and the
# parity oracle: the same files deployed with `docker stack deploy` inside a node give the same specs.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-deploy-$PID"
    New-Item -ItemType Directory -Path $Dir -Force | Out-Null

    # a small app: two services, a secret, a config, the default network
    function script:Write-App([string]$Env = 'one', [string]$Secret = 'token-1', [switch]$WithoutWorker, [string]$WebCommand = 'busybox httpd -f -p 8080') {
        Set-Content -Path (Join-Path $Dir 'token.txt') -Value $Secret -NoNewline
        Set-Content -Path (Join-Path $Dir 'app.conf') -Value 'listen 8080;' -NoNewline
        $worker = if ($WithoutWorker) { '' } else { @"
  worker:
    image: lab/busybox:1
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      endpoint_mode: dnsrr
"@ }
        @"
version: "3.8"
services:
  web:
    image: lab/busybox:1
    command: $WebCommand
    stop_grace_period: 1s
    environment:
      STAGE: $Env
    secrets: [token]
    configs:
      - source: conf
        target: /etc/app.conf
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      restart_policy: { condition: any, delay: 1s }
$worker
secrets:
  token:
    file: ./token.txt
configs:
  conf:
    file: ./app.conf
"@ | Set-Content -Path (Join-Path $Dir 'app.yml')
    }

    function script:Get-StackObjects([string]$Stack) {
        $label = "label=com.docker.stack.namespace=$Stack"
        [pscustomobject]@{
            Services = @(Invoke-LabDocker $M1 @('service', 'ls', '-q', '--filter', $label) | Where-Object { $_ })
            Networks = @(Invoke-LabDocker $M1 @('network', 'ls', '-q', '--filter', $label) | Where-Object { $_ })
            Secrets  = @(Invoke-LabDocker $M1 @('secret', 'ls', '--format', '{{.Name}}', '--filter', $label) | Where-Object { $_ })
            Configs  = @(Invoke-LabDocker $M1 @('config', 'ls', '--format', '{{.Name}}', '--filter', $label) | Where-Object { $_ })
        }
    }

    function script:Get-Versions([string]$Stack) {
        $h = @{}
        Get-SwarmService -Stack $Stack | ForEach-Object { $h[$_.Name] = $_.Version }
        $h
    }
}

AfterAll {
    Get-SwarmStack -Name 'dep*', 'pcli', 'pour', 'pex*' -ErrorAction SilentlyContinue | Remove-SwarmStack -Wait -Confirm:$false -ErrorAction SilentlyContinue
    foreach ($s in 'depbad', 'depplace', 'depfail') { Remove-SwarmStack -Name $s -Wait -Confirm:$false -ErrorAction SilentlyContinue 2>$null }
    Remove-Item -Recurse -Force $Dir -ErrorAction SilentlyContinue
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Deploy-SwarmStack lifecycle' {
    It 'creates the stack with docker''s names and labels, and waits until it runs' {
        Write-App
        $r = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 120
        $r.Stack | Should -Be 'depapp'
        $r.Created | Should -Be 2
        $r.Converged | Should -BeTrue
        ($r.Services | Where-Object Name -eq 'depapp_web').Running | Should -Be 2
        $r.NetworksCreated | Should -Be @('depapp_default')
        $r.SecretsCreated | Should -Match '^depapp_token-[0-9a-f]{10}$'
        $r.ConfigsCreated | Should -Match '^depapp_conf-[0-9a-f]{10}$'
        # the docker CLI sees it as a stack
        Invoke-LabDocker $M1 @('stack', 'ls', '--format', '{{.Name}} {{.Services}}') | Should -Contain 'depapp 2'
        $inspect = Invoke-LabDocker $M1 @('service', 'inspect', 'depapp_web') | ConvertFrom-Json
        $inspect.Spec.Labels.'com.docker.stack.image' | Should -Be 'lab/busybox:1'
        $inspect.Spec.TaskTemplate.ContainerSpec.Secrets[0].File.Name | Should -Be 'token'
        $inspect.Spec.TaskTemplate.Networks[0].Aliases | Should -Be @('web')
        # the secret reaches the container under its key
        $task = Get-SwarmTask -Service depapp_web -DesiredState running | Select-Object -First 1
        $task | Should -Not -BeNullOrEmpty
    }

    It 'sends nothing when nothing changed: every version index stays' {
        $before = Get-Versions depapp
        $r = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never
        $r.Unchanged | Should -Be 2
        $r.Updated + $r.Created | Should -Be 0
        $after = Get-Versions depapp
        foreach ($k in $before.Keys) { $after[$k] | Should -Be $before[$k] -Because "$k was not changed" }
    }

    It 'also leaves services alone with -ResolveImage Always when the registry cannot be reached' {
        $before = Get-Versions depapp
        $r = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -WarningVariable w -WarningAction SilentlyContinue
        $r.Unchanged | Should -Be 2
        ($w -join "`n") | Should -Match 'could not be accessed on a registry'
        (Get-Versions depapp)['depapp_web'] | Should -Be $before['depapp_web']
    }

    It 'updates only the service that changed, and says what changed' {
        $before = Get-Versions depapp
        Write-App -Env two
        $r = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never
        $web = $r.Services | Where-Object Name -eq 'depapp_web'
        $web.Action | Should -Be 'Updated'
        $web.Changes | Should -HaveCount 1
        $web.Changes[0] | Should -BeLike '*ContainerSpec.Env: `[STAGE=one`] -> `[STAGE=two`]'
        ($r.Services | Where-Object Name -eq 'depapp_worker').Action | Should -Be 'Unchanged'
        $after = Get-Versions depapp
        $after['depapp_worker'] | Should -Be $before['depapp_worker']
        $after['depapp_web'] | Should -BeGreaterThan $before['depapp_web']
    }

    It 'deploys a changed secret under a new versioned name and keeps -KeepVersions versions' {
        $first = (Get-StackObjects depapp).Secrets
        Write-App -Env two -Secret 'token-2'
        $r = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 120
        $r.SecretsCreated | Should -HaveCount 1
        $r.SecretsCreated[0] | Should -Not -BeIn $first
        ($r.Services | Where-Object Name -eq 'depapp_web').Action | Should -Be 'Updated'
        $r.Converged | Should -BeTrue
        (Get-StackObjects depapp).Secrets | Should -HaveCount 2
        $spec = Invoke-LabDocker $M1 @('service', 'inspect', 'depapp_web') | ConvertFrom-Json
        $spec.Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretName | Should -Be $r.SecretsCreated[0]
        # a third version: the oldest goes, two stay
        Write-App -Env two -Secret 'token-3'
        $r3 = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 120
        $r3.SecretsRemoved | Should -Be $first
        (Get-StackObjects depapp).Secrets | Should -HaveCount 2
    }

    It '-WhatIf shows a per-service diff and changes nothing' {
        $before = Get-Versions depapp
        $objects = Get-StackObjects depapp
        Write-App -Env three -Secret 'token-4'
        # "What if:" lines go to the host, not to a stream: a transcript records them
        $log = Join-Path $Dir 'whatif.log'
        Start-Transcript -Path $log -Force | Out-Null
        try { Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -WhatIf | Should -BeNullOrEmpty }
        finally { Stop-Transcript | Out-Null }
        $text = Get-Content $log -Raw
        $text | Should -Match '(?s)What if: .*service depapp_web'
        $text | Should -Match 'STAGE=two\] -> \[STAGE=three\]'
        $text | Should -Match 'Create.*secret depapp_token-[0-9a-f]{10}'
        $text | Should -Not -Match 'SecretID'
        $text | Should -Not -Match 'depapp_worker'
        # a stack that does not exist yet: the plan, and nothing created
        Deploy-SwarmStack -Name depwhatif -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -WhatIf | Should -BeNullOrEmpty
        $o = Get-StackObjects depwhatif
        $o.Services + $o.Networks + $o.Secrets + $o.Configs | Should -BeNullOrEmpty
        (Get-Versions depapp)['depapp_web'] | Should -Be $before['depapp_web']
        (Get-StackObjects depapp).Secrets | Should -Be $objects.Secrets
    }

    It 'masks secret-looking environment values in the diff and warns about them' {
        $f = Join-Path $Dir 'envsecret.yml'
        "services:`n  s:`n    image: lab/busybox:1`n    environment:`n      DB_PASSWORD: hunter2`n" | Set-Content $f
        $r = Deploy-SwarmStack -Name depenv -Path $f -ResolveImage Never -WarningVariable w -WarningAction SilentlyContinue
        ($w -join "`n") | Should -Match 'DB_PASSWORD has a literal value'
        ($w -join "`n") | Should -Not -Match 'hunter2'
        "services:`n  s:`n    image: lab/busybox:1`n    environment:`n      DB_PASSWORD: hunter3`n" | Set-Content $f
        $r = Deploy-SwarmStack -Name depenv -Path $f -ResolveImage Never -WarningAction SilentlyContinue -Verbose 4>&1
        $all = ($r | Out-String) + ($r | Where-Object { $_ -is [SwarmAdmin.SwarmStackDeployment] } | ForEach-Object { $_.Services.Changes }) -join "`n"
        $all | Should -Match 'DB_PASSWORD=\*\*\*'
        $all | Should -Not -Match 'hunter'
    }

    It '-Prune removes a service dropped from the file (after the others are deployed)' {
        Write-App -Env two -Secret 'token-3' -WithoutWorker
        $r = Deploy-SwarmStack -Name depapp -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Prune -Confirm:$false
        ($r.Services | Where-Object Name -eq 'depapp_worker').Action | Should -Be 'Removed'
        Get-SwarmService -Stack depapp | ForEach-Object Name | Should -Be @('depapp_web')
    }

    It 'reads .env beside the first file, and -EnvFile names another' {
        $d = Join-Path $Dir 'dotenv'; New-Item -ItemType Directory $d -Force | Out-Null
        "services:`n  s:`n    image: lab/busybox:1`n    command: [`"sleep`", `"`${NAP}`"]`n" | Set-Content (Join-Path $d 'c.yml')
        'NAP=100' | Set-Content (Join-Path $d '.env')
        'NAP=200' | Set-Content (Join-Path $d 'other.env')
        Deploy-SwarmStack -Name depdotenv -Path (Join-Path $d 'c.yml') -ResolveImage Never -WarningAction SilentlyContinue | Out-Null
        (Invoke-LabDocker $M1 @('service', 'inspect', 'depdotenv_s', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}')) | Should -Be '["sleep","100"]'
        Deploy-SwarmStack -Name depdotenv -Path (Join-Path $d 'c.yml') -EnvFile (Join-Path $d 'other.env') -ResolveImage Never | Out-Null
        (Invoke-LabDocker $M1 @('service', 'inspect', 'depdotenv_s', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}')) | Should -Be '["sleep","200"]'
    }

    It 'Remove-SwarmStack leaves no service, network, secret or config with the stack''s label' {
        Get-SwarmStack -Name depapp, depenv, depdotenv | Remove-SwarmStack -Wait -Confirm:$false
        foreach ($s in 'depapp', 'depenv', 'depdotenv') {
            $o = Get-StackObjects $s
            $o.Services + $o.Networks + $o.Secrets + $o.Configs | Should -BeNullOrEmpty -Because "stack $s was removed"
        }
    }
}

Describe 'Deploy-SwarmStack refuses and reports' {
    It 'refuses an unsatisfiable constraint before creating anything, naming it and the labels that exist' {
        $f = Join-Path $Dir 'place.yml'
        Set-Content -Path (Join-Path $Dir 'token.txt') -Value 'placement' -NoNewline
        "services:`n  pinned:`n    image: lab/busybox:1`n    deploy:`n      placement:`n        constraints: [node.labels.portainer.data == true, node.role == worker]`nsecrets:`n  s:`n    file: ./token.txt`n" | Set-Content $f
        Deploy-SwarmStack -Name depplace -Path $f -ResolveImage Never -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'PlacementUnsatisfiable,*'
        $e[0].Exception.Message | Should -Match 'node.labels.portainer.data == true'
        $o = Get-StackObjects depplace
        $o.Services + $o.Networks + $o.Secrets + $o.Configs | Should -BeNullOrEmpty
        # a label that makes it satisfiable
        Set-SwarmNodeLabel -Name $Workers[0].Name -Add @{ 'portainer.data' = 'true' } | Out-Null
        try {
            $r = Deploy-SwarmStack -Name depplace -Path $f -ResolveImage Never
            $r.Created | Should -Be 1
        }
        finally { Set-SwarmNodeLabel -Name $Workers[0].Name -Remove 'portainer.data' | Out-Null }
    }

    It '-Force deploys an unsatisfiable constraint with a warning' {
        $f = Join-Path $Dir 'force.yml'
        "services:`n  p:`n    image: lab/busybox:1`n    deploy:`n      placement:`n        constraints: [node.labels.nowhere == x]`n" | Set-Content $f
        $r = Deploy-SwarmStack -Name depplace -Path $f -ResolveImage Never -Force -WarningVariable w -WarningAction SilentlyContinue
        $r.Created | Should -Be 1
        ($w -join "`n") | Should -Match 'nowhere'
    }

    It 'a service that cannot start makes -Wait fail within its timeout, and -RollbackOnFailure restores the previous spec' {
        Write-App -Env good
        Deploy-SwarmStack -Name depfail -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 120 | Select-Object -ExpandProperty Converged | Should -BeTrue
        $good = (Invoke-LabDocker $M1 @('service', 'inspect', 'depfail_web', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Args}}'))
        Write-App -Env bad -WebCommand '/no/such/binary'
        $r = Deploy-SwarmStack -Name depfail -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 60 -ErrorVariable e -ErrorAction SilentlyContinue
        $r.Converged | Should -BeFalse
        $e[0].FullyQualifiedErrorId | Should -BeLike 'StackNotConverged,*'
        $web = $r.Services | Where-Object Name -eq 'depfail_web'
        $web.State | Should -BeIn 'Failed', 'TimedOut'
        ($web.Errors -join ' ') | Should -Match 'no such file|not found|executable'
        # back to the good spec, then a bad one with -RollbackOnFailure: the good spec comes back
        Write-App -Env good
        (Deploy-SwarmStack -Name depfail -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 120).Converged | Should -BeTrue
        Write-App -Env bad2 -WebCommand '/no/such/binary'
        $r2 = Deploy-SwarmStack -Name depfail -Path (Join-Path $Dir 'app.yml') -ResolveImage Never -Wait -TimeoutSec 60 -RollbackOnFailure -ErrorVariable e2 -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $r2.RolledBack | Should -BeTrue
        $e2[0].Exception.Message | Should -Match 'previous specs were put back'
        ($r2.Services | Where-Object Name -eq 'depfail_web').State | Should -Be 'RolledBack'
        $spec = (Invoke-LabDocker $M1 @('service', 'inspect', 'depfail_web')) | ConvertFrom-Json
        ($spec.Spec.TaskTemplate.ContainerSpec.Args | ConvertTo-Json -Compress) | Should -Be $good
        $spec.Spec.TaskTemplate.ContainerSpec.Env | Should -Be @('STAGE=good')
    }

    It '-RollbackOnFailure without -Wait is refused' {
        Deploy-SwarmStack -Name depbad -Path (Join-Path $Dir 'app.yml') -RollbackOnFailure -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
    }

    It 'reports <Case> with file, line and column' -ForEach @(
        @{ Case = 'a YAML syntax error'; Yaml = "services:`n  a:`n    image: [unclosed`n"; Pattern = 'bad.yml:\d+:\d+' }
        @{ Case = 'an unknown key'; Yaml = "services:`n  a:`n    image: lab/busybox:1`n    imagee: x`n"; Pattern = 'bad.yml:4:5: services.a.*imagee' }
        @{ Case = 'a missing image'; Yaml = "services:`n  a:`n    command: x`n"; Pattern = 'no image specified' }
        @{ Case = 'a wrong type'; Yaml = "services:`n  a:`n    image: lab/busybox:1`n    deploy:`n      replicas: many`n"; Pattern = 'services.a.deploy.replicas' }
        @{ Case = 'a required variable'; Yaml = "services:`n  a:`n    image: `${NOPE_UNSET_VAR?set NOPE_UNSET_VAR to the image}`n"; Pattern = 'set NOPE_UNSET_VAR to the image' }
    ) {
        $f = Join-Path $Dir 'bad.yml'
        $Yaml | Set-Content $f
        Deploy-SwarmStack -Name depbad -Path $f -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ComposeFileInvalid,*'
        $e[0].Exception.Message | Should -Match $Pattern
        (Get-StackObjects depbad).Services | Should -BeNullOrEmpty
    }

    It 'refuses an invalid stack name' {
        Deploy-SwarmStack -Name 'bad name!' -Path (Join-Path $Dir 'app.yml') -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
        $e[0].Exception.Message | Should -Match 'invalid stack name'
    }

    It 'refuses a missing external network before creating anything' {
        $f = Join-Path $Dir 'ext.yml'
        "services:`n  a:`n    image: lab/busybox:1`n    networks: [n]`nnetworks:`n  n:`n    external: true`n    name: no-such-net`n" | Set-Content $f
        Deploy-SwarmStack -Name depbad -Path $f -ResolveImage Never -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ExternalNetworkNotFound,*'
    }
}

Describe 'Parity with docker stack deploy' {
    BeforeAll {
        $env:DOCKER_HOST = $Lab.DockerHost
        try {
            & docker exec $M1 sh -c 'docker network inspect parity-ext >/dev/null 2>&1 || docker network create -d overlay --attachable parity-ext >/dev/null; docker secret inspect parity_ext_secret >/dev/null 2>&1 || echo ext | docker secret create parity_ext_secret - >/dev/null' | Out-Null
            & docker exec $M1 rm -rf /tmp/parity | Out-Null
            & docker exec $M1 mkdir -p /tmp/parity | Out-Null
            $fixtures = Join-Path $RepoRoot 'tests/fixtures/deploy/parity'
            & tar -C $fixtures -cf - . | & docker exec -i $M1 tar -C /tmp/parity -xf -
            & tar -C (Join-Path $RepoRoot 'examples/stacks') -cf - . | & docker exec -i $M1 tar -C /tmp/parity -xf -
            $out = & docker exec -w /tmp/parity -e PARITY_PREFIX=pcli -e PARITY_SUBNET=10.231.0.0/24 $M1 docker stack deploy --detach=true --resolve-image never -c parity.yml pcli 2>&1
            if ($LASTEXITCODE) { throw "docker stack deploy failed: $out" }
            foreach ($ex in 'portainer', 'web', 'monitoring', 'infra') {
                $out = & docker exec -w /tmp/parity $M1 docker stack deploy --detach=true --resolve-image never -c "$ex.yml" "pexc$ex" 2>&1
                if ($LASTEXITCODE) { throw "docker stack deploy $ex failed: $out" }
            }
        }
        finally { Remove-Item Env:DOCKER_HOST -ErrorAction SilentlyContinue }
        $env:PARITY_PREFIX = 'pour'; $env:PARITY_SUBNET = '10.232.0.0/24'
        try { Deploy-SwarmStack -Name pour -Path (Join-Path $RepoRoot 'tests/fixtures/deploy/parity/parity.yml') -ResolveImage Never -Force -WarningAction SilentlyContinue | Out-Null }
        finally { Remove-Item Env:PARITY_PREFIX, Env:PARITY_SUBNET }
        foreach ($ex in 'portainer', 'web', 'monitoring', 'infra') {
            Deploy-SwarmStack -Name "pexo$ex" -Path (Join-Path $RepoRoot "examples/stacks/$ex.yml") -ResolveImage Never -Force -WarningAction SilentlyContinue | Out-Null
        }

        # JSON → sorted "path = value" lines, with the stack names and SwarmAdmin's documented differences normalised
        # Documented difference: the docker CLI orders several references to the same secret/config at random (it
        # collects them in a Go map); SwarmAdmin sorts them by target. Sort both sides the same way before comparing.
        function script:ConvertTo-Lines($Object, [string[]]$Stacks) {
            $cs = $Object.TaskTemplate.ContainerSpec
            if ($cs.Secrets) { $cs.Secrets = @($cs.Secrets | Sort-Object { $_.SecretName -replace '-[0-9a-f]{10}$' -replace '^(pcli|pour|pexc\w+|pexo\w+)_', 'STACK_' }, { $_.File.Name }) }
            if ($cs.Configs) { $cs.Configs = @($cs.Configs | Sort-Object { $_.ConfigName -replace '-[0-9a-f]{10}$' -replace '^(pcli|pour|pexc\w+|pexo\w+)_', 'STACK_' }, { $_.File.Name }) }
            $lines = [Collections.Generic.List[string]]::new()
            function Walk($o, [string]$p) {
                if ($null -eq $o) { return }
                if ($o -is [System.Management.Automation.PSCustomObject]) { foreach ($prop in $o.PSObject.Properties) { Walk $prop.Value "$p.$($prop.Name)" }; return }
                if ($o -is [array]) { for ($i = 0; $i -lt $o.Count; $i++) { Walk $o[$i] "$p[$i]" }; return }
                $lines.Add("$p = $o")
            }
            Walk $Object ''
            $text = $lines | Where-Object { $_ -notmatch '\.(SecretID|ConfigID) = ' -and $_ -notmatch 'com\.swarmadmin\.stack\.key' -and $_ -notmatch 'vxlanid_list' } |
                ForEach-Object { if ($_ -match '^(.*\.Target) = (\w+)$' -and $script:NetworkNames[$Matches[2]]) { "$($Matches[1]) = $($script:NetworkNames[$Matches[2]])" } else { $_ } }
            foreach ($s in $Stacks) { $text = $text -replace [regex]::Escape($s), 'STACK' }
            $text = $text -replace '10\.232\.0\.', '10.231.0.'  # each stack asks for its own subnet (overlapping pools are refused)
            $text -replace '(STACK_[a-z_]+)-[0-9a-f]{10}', '$1' | Sort-Object
        }
        $script:NetworkNames = @{}
        Invoke-LabDocker $M1 @('network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}') | ForEach-Object { $id, $n = $_ -split ' ', 2; $script:NetworkNames[$id] = $n }
        function script:Get-Spec([string]$Kind, [string]$Name) {
            (Invoke-LabDocker $M1 @($Kind, 'inspect', $Name)) | ConvertFrom-Json | ForEach-Object Spec
        }
    }

    It 'service <Service> of the kitchen-sink file has the same spec' -ForEach @(
        @{ Service = 'web' }, @{ Service = 'agent' }, @{ Service = 'job' }, @{ Service = 'plain' }
    ) {
        $cli = ConvertTo-Lines (Get-Spec service "pcli_$Service") 'pcli', 'pour'
        $ours = ConvertTo-Lines (Get-Spec service "pour_$Service") 'pcli', 'pour'
        ($ours -join "`n") | Should -Be ($cli -join "`n")
    }

    It 'the networks, secrets and configs of the kitchen-sink file are the same' {
        foreach ($n in 'front', 'default') {
            $cli = ConvertTo-Lines ((Invoke-LabDocker $M1 @('network', 'inspect', "pcli_$n")) | ConvertFrom-Json | Select-Object Name, Driver, Internal, Attachable, Options, Labels, @{ n = 'Subnets'; e = { if ($n -eq 'front') { $_.IPAM.Config.Subnet } } }) 'pcli', 'pour'
            $ours = ConvertTo-Lines ((Invoke-LabDocker $M1 @('network', 'inspect', "pour_$n")) | ConvertFrom-Json | Select-Object Name, Driver, Internal, Attachable, Options, Labels, @{ n = 'Subnets'; e = { if ($n -eq 'front') { $_.IPAM.Config.Subnet } } }) 'pcli', 'pour'
            ($ours -join "`n") | Should -Be ($cli -join "`n") -Because "network $n"
        }
        $cliNet = (Invoke-LabDocker $M1 @('network', 'inspect', 'pcli-backend')) | ConvertFrom-Json
        $ourNet = (Invoke-LabDocker $M1 @('network', 'inspect', 'pour-backend')) | ConvertFrom-Json
        $ourNet.Internal | Should -Be $cliNet.Internal
        $ourNet.Labels.'com.docker.stack.namespace' | Should -Be 'pour'

        $ourSecret = Invoke-LabDocker $M1 @('secret', 'ls', '--format', '{{.Name}}', '--filter', 'label=com.docker.stack.namespace=pour')
        $ourSecret | Should -Match '^pour_token-[0-9a-f]{10}$'
        (ConvertTo-Lines (Get-Spec secret $ourSecret) 'pour') | Should -Be (ConvertTo-Lines (Get-Spec secret 'pcli_token') 'pcli')
        $ourConfig = Invoke-LabDocker $M1 @('config', 'ls', '--format', '{{.Name}}', '--filter', 'label=com.docker.stack.namespace=pour') | Where-Object { $_ -like 'pour_app_conf-*' }
        (ConvertTo-Lines (Get-Spec config $ourConfig) 'pour') | Should -Be (ConvertTo-Lines (Get-Spec config 'pcli_app_conf') 'pcli')
        (ConvertTo-Lines (Get-Spec config 'pour_named_conf') 'pour') | Should -Be (ConvertTo-Lines (Get-Spec config 'pcli_named_conf') 'pcli')
    }

    It 'example stack <Example> has the same service specs' -ForEach @(
        @{ Example = 'portainer' }, @{ Example = 'web' }, @{ Example = 'monitoring' }, @{ Example = 'infra' }
    ) {
        $cliServices = @(Invoke-LabDocker $M1 @('service', 'ls', '--format', '{{.Name}}', '--filter', "label=com.docker.stack.namespace=pexc$Example")) | Sort-Object
        $cliServices.Count | Should -BeGreaterThan 0
        foreach ($s in $cliServices) {
            $ourName = $s -replace "^pexc$Example", "pexo$Example"
            $cli = ConvertTo-Lines (Get-Spec service $s) "pexc$Example", "pexo$Example"
            $ours = ConvertTo-Lines (Get-Spec service $ourName) "pexc$Example", "pexo$Example"
            ($ours -join "`n") | Should -Be ($cli -join "`n") -Because "service $s"
        }
    }

    It 'Deploy-SwarmStack takes over the stack <Example> that docker deployed without updating anything' -ForEach @(
        @{ Example = 'portainer' }, @{ Example = 'web' }, @{ Example = 'monitoring' }, @{ Example = 'infra' }
    ) {
        $r = Deploy-SwarmStack -Name "pexc$Example" -Path (Join-Path $RepoRoot "examples/stacks/$Example.yml") -ResolveImage Never -Force -WarningAction SilentlyContinue
        $r.Services.Count | Should -BeGreaterThan 0
        $r.Services | Where-Object Action -ne 'Unchanged' | ForEach-Object { "$($_.Name): $($_.Changes -join '; ')" } | Should -BeNullOrEmpty
    }

    It 'a redeploy of the kitchen-sink file is unchanged' {
        $env:PARITY_PREFIX = 'pour'; $env:PARITY_SUBNET = '10.232.0.0/24'
        try { $r = Deploy-SwarmStack -Name pour -Path (Join-Path $RepoRoot 'tests/fixtures/deploy/parity/parity.yml') -ResolveImage Never -Force -WarningAction SilentlyContinue }
        finally { Remove-Item Env:PARITY_PREFIX, Env:PARITY_SUBNET }
        $r.Services | Where-Object Action -ne 'Unchanged' | ForEach-Object { "$($_.Name): $($_.Changes -join '; ')" } | Should -BeNullOrEmpty
    }
}

Describe 'Deploy-SwarmStack -WithRegistryAuth' {
    BeforeAll {
        $script:Cfg = Join-Path $Dir 'dockercfg'
        New-Item -ItemType Directory $Cfg -Force | Out-Null
        $script:Auth = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('bob:s3cret-pw-123'))
        $script:Private = Join-Path $Dir 'private.yml'
        "services:`n  p:`n    image: registry.lab.example:5000/team/app:1`n    deploy:`n      replicas: 0`n" | Set-Content $Private
    }

    It 'sends the credentials of each image''s registry and shows them in no stream' {
        @{ auths = @{ 'registry.lab.example:5000' = @{ auth = $Auth } } } | ConvertTo-Json -Depth 5 | Set-Content (Join-Path $Cfg 'config.json')
        $env:DOCKER_CONFIG = $Cfg
        $DebugPreference = 'Continue'
        try { $out = Deploy-SwarmStack -Name depauth -Path $Private -WithRegistryAuth -Verbose *>&1 | Out-String -Width 400 }
        finally { Remove-Item Env:DOCKER_CONFIG; $DebugPreference = 'SilentlyContinue' }
        $out | Should -Match 'registry credentials for registry\.lab\.example:5000'
        $out | Should -Not -Match 's3cret'
        $out | Should -Not -Match ([regex]::Escape($Auth))
        (Get-SwarmService -Stack depauth).Name | Should -Be 'depauth_p'
    }

    It 'a malformed config.json is an error that names the file, not what is in it' {
        '{ "auths": { "registry.lab.example:5000": { "auth": "s3cret-pw-123" ' | Set-Content (Join-Path $Cfg 'config.json')
        $env:DOCKER_CONFIG = $Cfg
        try { Deploy-SwarmStack -Name depauth -Path $Private -WithRegistryAuth -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty }
        finally { Remove-Item Env:DOCKER_CONFIG }
        $e[0].Exception.Message | Should -Match 'config.json'
        $e[0].Exception.Message | Should -Not -Match 's3cret'
    }
}
