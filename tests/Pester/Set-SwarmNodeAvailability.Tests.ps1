BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    function Get-CliAvailability([string]$Node) { (Invoke-LabDocker $M1 @('node', 'inspect', $Node, '--format', '{{.Spec.Availability}}')).Trim() }
    function Get-CliVersion([string]$Node) { [int64](Invoke-LabDocker $M1 @('node', 'inspect', $Node, '--format', '{{.Version.Index}}')) }
    # running tasks of a service, as "node state" lines
    function Get-CliTasks([string]$Service) {
        Invoke-LabDocker $M1 @('service', 'ps', $Service, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}')
    }
}

AfterAll {
    foreach ($n in $Workers.Name + $Managers.Name) { Set-SwarmNodeAvailability -Name $n -Availability Active | Out-Null }
    try { Invoke-LabDocker $M1 @('service', 'rm', 'drain-test') | Out-Null } catch { }
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Set-SwarmNodeAvailability' {
    It 'drains a node with -Wait: its replicated tasks are gone when it returns, and run elsewhere' {
        $target = $Workers[0].Name
        $other = $Workers[1].Name
        Invoke-LabDocker $M1 @('service', 'create', '--detach', '--no-resolve-image', '--name', 'drain-test', '--replicas', '4',
            '--constraint', 'node.role==worker', '--stop-grace-period', '1s', 'lab/busybox:1', 'busybox', 'sleep', '3600') | Out-Null
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        do { Start-Sleep 1; $running = @(Get-CliTasks drain-test | Where-Object { $_ -match ' Running' }) }
        until ($running.Count -eq 4 -or [DateTime]::UtcNow -gt $deadline)
        $running.Count | Should -Be 4
        @($running | Where-Object { $_ -like "$target *" }).Count | Should -BeGreaterThan 0 -Because 'the spread puts tasks on both workers'

        $node = Set-SwarmNodeAvailability -Name $target -Availability Drain -Wait -TimeoutSec 120
        $node.Availability | Should -Be 'Drain'
        # at return, the node runs no task of the service
        $onTarget = Invoke-LabDocker $M1 @('node', 'ps', $target, '--filter', 'desired-state=running', '--format', '{{.Name}} {{.CurrentState}}')
        @($onTarget | Where-Object { $_ -match 'drain-test' }).Count | Should -Be 0
        $actual = Invoke-LabDocker $target @('ps', '--filter', 'label=com.docker.swarm.service.name=drain-test', '--format', '{{.ID}}')
        @($actual | Where-Object { $_ }).Count | Should -Be 0 -Because 'no container of the service is left on the drained node'
        # and the service still has its replicas, on the other worker
        $deadline = [DateTime]::UtcNow.AddSeconds(90)
        do { Start-Sleep 1; $running = @(Get-CliTasks drain-test | Where-Object { $_ -match ' Running' }) }
        until ($running.Count -eq 4 -or [DateTime]::UtcNow -gt $deadline)
        $running.Count | Should -Be 4
        $running | ForEach-Object { $_ | Should -BeLike "$other *" }
        Get-CliAvailability $target | Should -Be 'drain'
    }

    It 'sets a node active and paused, piped from Get-SwarmNode' {
        $target = $Workers[0].Name
        (Get-SwarmNode -Name $target | Set-SwarmNodeAvailability -Availability Active).Availability | Should -Be 'Active'
        Get-CliAvailability $target | Should -Be 'active'
        (Set-SwarmNodeAvailability -Name $target -Availability Pause).Availability | Should -Be 'Pause'
        Get-CliAvailability $target | Should -Be 'pause'
        Set-SwarmNodeAvailability -Name $target -Availability Active | Out-Null
    }

    It 'sends nothing when the node already has that availability' {
        $target = $Workers[1].Name
        $before = Get-CliVersion $target
        (Set-SwarmNodeAvailability -Name $target -Availability Active).Version | Should -Be $before
        Get-CliVersion $target | Should -Be $before
    }

    It '-WhatIf leaves the node untouched' {
        $target = $Workers[1].Name
        $before = Get-CliVersion $target
        Set-SwarmNodeAvailability -Name $target -Availability Drain -WhatIf | Should -BeNullOrEmpty
        Get-CliAvailability $target | Should -Be 'active'
        Get-CliVersion $target | Should -Be $before
    }

    It 'reports an unknown node and goes on with the others; refuses an unknown availability' {
        $out = Set-SwarmNodeAvailability -Name 'no-such-node', $Workers[1].Name -Availability Active -ErrorVariable errs -ErrorAction SilentlyContinue
        $out.Hostname | Should -Be $Workers[1].Name
        $errs[0].FullyQualifiedErrorId | Should -Be 'SwarmNodeNotFound,SwarmAdmin.Commands.SetSwarmNodeAvailabilityCommand'
        { Set-SwarmNodeAvailability -Name $Workers[1].Name -Availability Sleeping -ErrorAction Stop } | Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,SwarmAdmin.Commands.SetSwarmNodeAvailabilityCommand'
    }
}
