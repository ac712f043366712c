BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    # a service that writes one numbered line to stdout and one to stderr every second, on two tasks
    Invoke-LabDocker $M1 @('service', 'create', '--detach', '--no-resolve-image', '--name', 'logtest', '--replicas', '2', '--stop-grace-period', '1s',
        'lab/busybox:1', 'sh', '-c', 'i=0; while true; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); sleep 1; done') | Out-Null
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    do { Start-Sleep 1; $lines = @(Get-SwarmServiceLog logtest -Stream stdout) } until ($lines.Count -ge 6 -or [DateTime]::UtcNow -gt $deadline)
}

AfterAll {
    try { Invoke-LabDocker $M1 @('service', 'rm', 'logtest') | Out-Null } catch { }
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Get-SwarmServiceLog' {
    It 'returns typed lines with timestamp, task, node and stream' {
        $lines = Get-SwarmServiceLog -Name logtest
        $lines.Count | Should -BeGreaterOrEqual 6
        $lines | ForEach-Object { $_ | Should -BeOfType SwarmAdmin.SwarmLogLine }
        $tasks = Get-SwarmTask -Service logtest -DesiredState running
        ($lines.TaskId | Sort-Object -Unique) | Should -Be ($tasks.Id | Sort-Object)
        $lines | ForEach-Object {
            $_.Service | Should -Be 'logtest'
            $_.Node | Should -BeIn $tasks.Node
            $_.Timestamp | Should -Not -BeNullOrEmpty
            $_.Message | Should -Match '^(out|err) \d+$'
            $_.Stream | Should -Be $(if ($_.Message -like 'out*') { 'stdout' } else { 'stderr' })
        }
    }

    It 'tails per task and filters by stream' {
        # -Tail counts a task's last lines over both streams, so ask for enough that each task has a stderr line among them
        $tail = Get-SwarmServiceLog logtest -Tail 4 -Stream stderr
        $tail | ForEach-Object { $_.Stream | Should -Be 'stderr' }
        ($tail.TaskId | Sort-Object -Unique).Count | Should -Be 2
        $tail.Count | Should -BeLessOrEqual 8
        (Get-SwarmServiceLog logtest -Tail 1).Count | Should -Be 2   # one line of each task
        $since = Get-SwarmServiceLog logtest -Since ([DateTime]::UtcNow.AddSeconds(-3)) -Stream stdout
        $since | ForEach-Object { $_.Timestamp | Should -BeGreaterThan ([DateTime]::UtcNow.AddSeconds(-10)) }
    }

    It 'takes services from the pipeline and reports an unknown one without stopping' {
        $lines = 'no-such-service', 'logtest' | Get-SwarmServiceLog -Tail 1 -ErrorVariable e -ErrorAction SilentlyContinue
        $lines.Count | Should -Be 2     # the last line of each of the 2 tasks
        $e[0].FullyQualifiedErrorId | Should -Be 'SwarmServiceNotFound,SwarmAdmin.Commands.GetSwarmServiceLogCommand'
        (Get-SwarmService logtest | Get-SwarmServiceLog -Tail 1).Count | Should -Be 2
    }

    It 'follows until stopped (Ctrl+C)' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript({ param($m, $ep, $k, $kh) Import-Module $m; Connect-SwarmCluster -Endpoint $ep -KeyFile $k -KnownHostsPath $kh | Out-Null; Get-SwarmServiceLog logtest -Follow -Tail 0 }).
            AddArgument($ModulePath).AddArgument((Get-LabEndpoint $M1)).AddArgument($Lab.KeyPath).AddArgument($Lab.KnownHostsPath)
        $out = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $null = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $out)
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ($out.Count -lt 4 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
        $out.Count | Should -BeGreaterOrEqual 4 -Because 'new lines keep arriving while following'
        $stop = $ps.BeginStop($null, $null)
        $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(30)) | Should -BeTrue
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()
    }
}
