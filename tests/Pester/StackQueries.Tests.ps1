# Stacks deployed by the docker CLI inside a lab node (the oracle), read and removed with SwarmAdmin.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    $script:Joined = @($Managers) + @($Workers)
    function Deploy-WithCli([string]$Stack) {
        $env:DOCKER_HOST = $Lab.DockerHost
        try {
            & docker exec $M1 mkdir -p /tmp/stack | Out-Null
            Get-Content (Join-Path $RepoRoot 'tests/fixtures/stacks/query.yml') -Raw | & docker exec -i $M1 sh -c 'cat > /tmp/stack/query.yml'
            'not-a-real-key' | & docker exec -i $M1 sh -c 'cat > /tmp/stack/api_key.txt'
            'listen 8080' | & docker exec -i $M1 sh -c 'cat > /tmp/stack/site.conf'
            $out = & docker exec -w /tmp/stack $M1 docker stack deploy --detach=true --resolve-image never -c query.yml $Stack 2>&1
            if ($LASTEXITCODE) { throw "docker stack deploy failed: $out" }
        }
        finally { Remove-Item Env:DOCKER_HOST -ErrorAction SilentlyContinue }
    }
    function Get-CliCount([string]$Kind, [string]$Stack) {
        @(Invoke-LabDocker $M1 @($Kind, 'ls', '--filter', "label=com.docker.stack.namespace=$Stack", '-q') | Where-Object { $_ }).Count
    }
    Deploy-WithCli 'qa'
    # wait for the tasks, as a user would
    $deadline = [DateTime]::UtcNow.AddSeconds(90)
    do { Start-Sleep 1; $running = @(Get-SwarmTask -Stack qa -DesiredState running | Where-Object CurrentState -eq 'running').Count }
    until ($running -ge 2 + $Joined.Count -or [DateTime]::UtcNow -gt $deadline)
}

AfterAll {
    try { Invoke-LabDocker $M1 @('stack', 'rm', 'qa') | Out-Null } catch { }
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Get-SwarmStack, Get-SwarmService, Get-SwarmTask' {
    It 'lists the stack like docker stack ls' {
        $s = Get-SwarmStack -Name qa
        $s | Should -BeOfType SwarmAdmin.SwarmStack
        $s.Services | Should -Be 2
        $s.ServiceNames | Should -Be @('qa_agent', 'qa_web')
        (Get-SwarmStack | Format-Table | Out-String -Width 200) | Should -Match 'NAME\s+SERVICES'
        Get-SwarmStack -Name nope -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'SwarmStackNotFound,SwarmAdmin.Commands.GetSwarmStackCommand'
    }

    It 'lists the services of a stack with mode, replicas and image, like docker stack services' {
        $services = Get-SwarmStack qa | Get-SwarmService
        $services.Name | Should -Be @('qa_agent', 'qa_web')
        $web = $services | Where-Object Name -eq 'qa_web'
        $web.Mode | Should -Be 'replicated'
        $web.DesiredReplicas | Should -Be 2
        $web.Desired | Should -Be 2
        $web.Image | Should -Be 'lab/busybox:1'
        $web.Stack | Should -Be 'qa'
        ($services | Where-Object Name -eq 'qa_agent').Mode | Should -Be 'global'
        $cli = Invoke-LabDocker $M1 @('service', 'ls', '--filter', 'label=com.docker.stack.namespace=qa', '--format', '{{.ID}} {{.Name}} {{.Mode}}')
        foreach ($line in $cli) {
            $id, $name, $mode = $line -split ' '
            ($services | Where-Object Name -eq $name).Id | Should -BeLike "$id*"
        }
        (Get-SwarmService -Name 'qa_*').Count | Should -Be 2
        (Get-SwarmService -Name $web.Id).Name | Should -Be 'qa_web'
        Get-SwarmService -Name 'qa_nothing' -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Be 'SwarmServiceNotFound,SwarmAdmin.Commands.GetSwarmServiceCommand'
    }

    It 'lists tasks by stack, by service from the pipeline and by node' {
        $tasks = Get-SwarmTask -Stack qa -DesiredState running
        @($tasks | Where-Object ServiceName -eq 'qa_web').Count | Should -Be 2
        @($tasks | Where-Object ServiceName -eq 'qa_agent').Count | Should -Be $Joined.Count
        ($tasks | Where-Object ServiceName -eq 'qa_web').Name | Sort-Object | Should -Be @('qa_web.1', 'qa_web.2')
        $tasks | ForEach-Object { $_.Node | Should -BeIn $Joined.Name }
        (Get-SwarmService qa_web | Get-SwarmTask -DesiredState running).Count | Should -Be 2
        $node = Get-SwarmNode -Name $Workers[0].Name
        $onNode = $node | Get-SwarmTask -DesiredState running
        ($onNode | Where-Object ServiceName -eq 'qa_agent').Count | Should -Be 1
        $cli = Invoke-LabDocker $M1 @('node', 'ps', $Workers[0].Name, '--filter', 'desired-state=running', '--format', '{{.Name}}')
        @($onNode | Where-Object Stack -eq 'qa').Count | Should -Be @($cli | Where-Object { $_ -like 'qa_*' }).Count
        (Get-SwarmTask -Stack qa | Format-Table | Out-String -Width 250) | Should -Match 'DESIRED STATE\s+CURRENT STATE'
    }
}

Describe 'Remove-SwarmStack' {
    It '-WhatIf removes nothing' {
        Remove-SwarmStack -Name qa -WhatIf
        Get-CliCount 'service' 'qa' | Should -Be 2
        Get-CliCount 'secret' 'qa' | Should -Be 1
    }

    It 'says when a stack does not exist' {
        Remove-SwarmStack -Name no-such-stack -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'SwarmStackNotFound,SwarmAdmin.Commands.RemoveSwarmStackCommand'
    }

    It 'removes services, then after their tasks stopped, secrets, configs and networks' {
        Get-SwarmStack qa | Remove-SwarmStack -Wait -Confirm:$false
        foreach ($kind in 'service', 'secret', 'config', 'network') {
            Get-CliCount $kind 'qa' | Should -Be 0 -Because "no $kind with the stack's label is left"
        }
        @(Get-SwarmTask -Stack qa).Count | Should -Be 0
    }
}
