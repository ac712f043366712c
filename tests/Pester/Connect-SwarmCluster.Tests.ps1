BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Tmp = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-connect-$PID"
    New-Item -ItemType Directory -Force $script:Tmp | Out-Null
    $script:M1 = $script:Managers[0]
}

AfterAll {
    Remove-Item $script:Tmp -Recurse -Force -ErrorAction SilentlyContinue
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Connect-SwarmCluster over SSH' {
    It 'connects to a manager and describes the swarm' {
        $ctx = Connect-Lab -Endpoint (Get-LabEndpoint $M1.Name)
        $ctx | Should -BeOfType SwarmAdmin.Connection.SwarmContext
        $ctx.IsConnected | Should -BeTrue
        $ctx.NodeHostname | Should -Be $M1.Name
        $ctx.ActiveEndpoint.Host | Should -Be $M1.Address
        $expectedId = (Invoke-LabDocker $M1.Name @('info', '--format', '{{.Swarm.Cluster.ID}}')).Trim()
        $ctx.ClusterId | Should -Be $expectedId
        $ctx.EngineVersion | Should -Be $M1.EngineVersion
        # the API version is negotiated with the engine, not assumed
        $engineApi = (Invoke-LabDocker $M1.Name @('version', '--format', '{{.Server.APIVersion}}')).Trim()
        $ctx.ApiVersion | Should -Be $engineApi
    }

    It 'shares one SSH connection between calls (no new channel per call)' {
        $ctx = Connect-Lab -Endpoint (Get-LabEndpoint $M1.Name) -NoDefault
        1..5 | ForEach-Object { Get-SwarmNode -Context $ctx | Out-Null }
        $flags = [Reflection.BindingFlags]'NonPublic,Instance'
        $opened = $ctx.GetType().GetProperty('EngineConnectionsOpened', $flags).GetValue($ctx)
        $opened | Should -BeLessOrEqual 2
        $ctx | Disconnect-SwarmCluster
    }

    It 'makes the new context the default and -NoDefault does not' {
        $a = Connect-Lab -Endpoint (Get-LabEndpoint $M1.Name)
        $b = Connect-Lab -Endpoint (Get-LabEndpoint $script:Managers[1].Name) -NoDefault
        (Get-SwarmNode | Where-Object IsSelf).Hostname | Should -Be $M1.Name
        (Get-SwarmNode -Context $b | Where-Object IsSelf).Hostname | Should -Be $script:Managers[1].Name
        $b | Disconnect-SwarmCluster
    }

    It 'uses the first reachable manager when the first endpoint is down' {
        $down = $script:Managers[2]
        Invoke-Lab stop-node $down.Name | Out-Null
        try {
            $ctx = Connect-Lab -Endpoint (Get-LabEndpoint $down.Name), (Get-LabEndpoint $M1.Name) -TimeoutSec 3 -NoDefault
            $ctx.ActiveEndpoint.Host | Should -Be $M1.Address
            (Get-SwarmNode -Context $ctx).Count | Should -Be ($script:Managers.Count + $script:Workers.Count)
            $ctx | Disconnect-SwarmCluster
        }
        finally {
            Invoke-Lab start-node $down.Name | Out-Null
            Wait-LabHealthy
        }
    }

    It 'fails over to the next manager when the active one stops answering' {
        $first = $script:Managers[1]
        $ctx = Connect-Lab -Endpoint (Get-LabEndpoint $first.Name), (Get-LabEndpoint $M1.Name) -TimeoutSec 4 -NoDefault
        $ctx.ActiveEndpoint.Host | Should -Be $first.Address
        Invoke-Lab stop-node $first.Name | Out-Null
        try {
            $nodes = Get-SwarmNode -Context $ctx -WarningVariable warned -WarningAction SilentlyContinue
            $nodes.Count | Should -Be ($script:Managers.Count + $script:Workers.Count)
            $ctx.ActiveEndpoint.Host | Should -Be $M1.Address
            $ctx.FailoverCount | Should -Be 1
            ($warned -join ' ') | Should -Match ([regex]::Escape($first.Address))
            ($nodes | Where-Object Hostname -eq $first.Name).ManagerStatus | Should -Be 'Unreachable'
        }
        finally {
            Invoke-Lab start-node $first.Name | Out-Null
            Wait-LabHealthy
            $ctx | Disconnect-SwarmCluster
        }
    }

    It 'negotiates the API version with an older engine (20.10 speaks 1.41)' {
        $prefix = ($M1.Address -split '\.')[0..2] -join '.'
        $address = "$prefix.41"
        Invoke-Lab add-node swarmlab-x1 --address $address --engine 20 | Out-Null
        try {
            Invoke-LabDocker swarmlab-x1 @('swarm', 'init', '--advertise-addr', $address) | Out-Null
            $ctx = Connect-Lab -Endpoint "ssh://root@$address" -NoDefault
            $ctx.ApiVersion | Should -Be '1.41'
            $ctx.EngineVersion | Should -Match '^20\.10\.'
            $node = Get-SwarmNode -Context $ctx
            $node.Hostname | Should -Be 'swarmlab-x1'
            $node.EngineVersion | Should -Be $ctx.EngineVersion
            $node.ManagerStatus | Should -Be 'Leader'
            $ctx | Disconnect-SwarmCluster
        }
        finally {
            Invoke-Lab remove-node swarmlab-x1 | Out-Null
        }
    }

    It 'connects over a unix socket and says when that engine is not in a swarm' {
        $sock = $script:Lab.DockerHost
        { Connect-SwarmCluster -Endpoint $sock -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'SwarmNotActive,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
    }
}

Describe 'Connect-SwarmCluster host key trust' {
    It 'refuses an unknown host key without -TrustOnFirstUse and names the fingerprint' {
        $kh = Join-Path $Tmp 'empty_known_hosts'
        Set-Content $kh ''
        $err = $null
        try { Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $Lab.KeyPath -KnownHostsPath $kh -NoDefault -ErrorAction Stop }
        catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be 'HostKeyUnknown,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'SecurityError'
        $err.Exception.Message | Should -Match 'SHA256:[A-Za-z0-9+/]{43}'
        $err.Exception.Message | Should -Match 'TrustOnFirstUse'
        (Get-Content $kh -Raw).Trim() | Should -BeNullOrEmpty
    }

    It 'records the key with -TrustOnFirstUse, with the fingerprint ssh-keygen prints, and trusts it afterwards' {
        $kh = Join-Path $Tmp 'tofu_known_hosts'
        Remove-Item $kh -ErrorAction SilentlyContinue
        $ctx = Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $Lab.KeyPath -KnownHostsPath $kh -TrustOnFirstUse -NoDefault -WarningVariable w -WarningAction SilentlyContinue
        $ctx.IsConnected | Should -BeTrue
        $line = (Get-Content $kh | Where-Object { $_ -match '\S' })
        @($line).Count | Should -Be 1
        $line | Should -Match ("^" + [regex]::Escape($M1.Address) + " ")
        $recorded = (& ssh-keygen -lf $kh) -split ' ' | Select-Object -Index 1
        $env:DOCKER_HOST = $Lab.DockerHost
        $keyType = ($line -split ' ')[1]
        $file = switch ($keyType) { 'ssh-ed25519' { 'ed25519' } 'ecdsa-sha2-nistp256' { 'ecdsa' } default { 'rsa' } }
        $pub = & docker exec $M1.Name cat "/etc/ssh/ssh_host_${file}_key.pub"
        Remove-Item Env:DOCKER_HOST
        $nodeFp = ($pub | & ssh-keygen -lf - ) -split ' ' | Select-Object -Index 1
        $recorded | Should -Be $nodeFp
        ($w -join ' ') | Should -Match ([regex]::Escape($nodeFp))
        $ctx | Disconnect-SwarmCluster
        # now known: a plain connection works
        $again = Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $Lab.KeyPath -KnownHostsPath $kh -NoDefault
        $again.IsConnected | Should -BeTrue
        $again | Disconnect-SwarmCluster
    }

    It '-TrustOnFirstUse -WhatIf records nothing' {
        $kh = Join-Path $Tmp 'whatif_known_hosts'
        Set-Content $kh '# nothing yet'
        { Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $Lab.KeyPath -KnownHostsPath $kh -TrustOnFirstUse -WhatIf -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'HostKeyUnknown,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
        Get-Content $kh -Raw | Should -Be "# nothing yet$([Environment]::NewLine)"
    }

    It 'fails with HostKeyChanged, naming the known_hosts file and line, when a node''s host key was regenerated' {
        $victim = $script:Workers[-1]
        $kh = Join-Path $Tmp 'changed_known_hosts'
        Copy-Item $Lab.KnownHostsPath $kh
        Invoke-Lab regen-hostkey $victim.Name | Out-Null
        try {
            $err = $null
            try { Connect-SwarmCluster -Endpoint (Get-LabEndpoint $victim.Name) -KeyFile $Lab.KeyPath -KnownHostsPath $kh -TrustOnFirstUse -NoDefault -ErrorAction Stop }
            catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -Be 'HostKeyChanged,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
            $lineNo = (Select-String -Path $kh -Pattern ("^" + [regex]::Escape($victim.Address) + " ")).LineNumber | Select-Object -First 1
            $err.Exception.Message | Should -Match ([regex]::Escape($kh))
            $err.Exception.Message | Should -Match "line $lineNo\b"
            # -TrustOnFirstUse never overrides a changed key: the file is untouched
            (Get-FileHash $kh).Hash | Should -Be (Get-FileHash $Lab.KnownHostsPath).Hash
        }
        finally {
            # the tests that follow reach this node over SSH with the lab's known_hosts: it takes the new keys
            Invoke-Lab trust-hostkey $victim.Name | Out-Null
        }
    }
}

Describe 'Connect-SwarmCluster bad input' {
    It 'refuses a malformed endpoint: <Endpoint>' -ForEach @(
        @{ Endpoint = 'http://10.213.57.11' }
        @{ Endpoint = 'ssh://root@' }
        @{ Endpoint = 'ssh://root@host:99999' }
        @{ Endpoint = 'ssh://root@host/extra/path' }
    ) {
        { Connect-SwarmCluster -Endpoint $Endpoint -KeyFile $Lab.KeyPath -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidSwarmEndpoint,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
    }

    It 'never repeats a password given in an endpoint' {
        $err = $null
        try { Connect-SwarmCluster -Endpoint 'ssh://root:S3cretPw@10.213.57.11' -NoDefault -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'InvalidSwarmEndpoint,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
        # (the record's InvocationInfo echoes the caller's own command line; everything SwarmAdmin says must not)
        $err.Exception.Message | Should -Not -Match 'S3cretPw'
        "$($err.ErrorDetails)" | Should -Not -Match 'S3cretPw'
        "$($err.TargetObject)" | Should -Not -Match 'S3cretPw'
        $err.Exception.Message | Should -Match 'KeyFile'
    }

    It 'says which key file is missing' {
        $missing = Join-Path $Tmp 'no_such_key'
        $err = $null
        try { Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $missing -NoDefault -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SshKeyFileNotFound,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
        $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err.Exception.Message | Should -Match ([regex]::Escape($missing))
    }

    It 'says when known_hosts cannot be read' {
        $dir = Join-Path $Tmp 'known_hosts_is_a_directory'
        New-Item -ItemType Directory -Force $dir | Out-Null
        { Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $Lab.KeyPath -KnownHostsPath $dir -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'KnownHostsUnreadable,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
    }

    It 'reports a key the node does not accept as an authentication failure' {
        $other = Join-Path $Tmp 'other_key'
        Remove-Item $other, "$other.pub" -ErrorAction SilentlyContinue
        & ssh-keygen -q -t ed25519 -N '' -f $other | Out-Null
        { Connect-SwarmCluster -Endpoint (Get-LabEndpoint $M1.Name) -KeyFile $other -KnownHostsPath $Lab.KnownHostsPath -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'SshAuthenticationFailed,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
    }

    It 'says that a worker is not a manager' {
        $err = $null
        try { Connect-Lab -Endpoint (Get-LabEndpoint $script:Workers[0].Name) -NoDefault -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'NotASwarmManager,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
        $err.Exception.Message | Should -Match 'manager'
    }

    It 'says that an engine outside any swarm is not in a swarm' {
        $Spares | Should -Not -BeNullOrEmpty -Because 'the Test task starts the lab with a spare node outside the swarm'
        { Connect-Lab -Endpoint (Get-LabEndpoint $script:Spares[0].Name) -NoDefault -ErrorAction Stop } |
            Should -Throw -ErrorId 'SwarmNotActive,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
    }

    It 'names an endpoint that refuses connections' {
        $ep = Get-LabEndpoint $M1.Name -Port 2222
        $err = $null
        try { Connect-Lab -Endpoint $ep -TimeoutSec 5 -NoDefault -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SwarmEndpointUnreachable,SwarmAdmin.Commands.ConnectSwarmClusterCommand'
        $err.Exception.Message | Should -Match ([regex]::Escape("$($M1.Address):2222"))
    }

    It 'gives up on an address that never answers after -TimeoutSec, naming it' {
        # an address inside the lab network that no node has: SYNs go unanswered
        $prefix = ($M1.Address -split '\.')[0..2] -join '.'
        $ep = "ssh://root@$prefix.250"
        $job = Start-ThreadJob -ScriptBlock {
            param($module, $ep, $key, $kh)
            Import-Module $module
            try { Connect-SwarmCluster -Endpoint $ep -KeyFile $key -KnownHostsPath $kh -TimeoutSec 2 -NoDefault -ErrorAction Stop; 'connected' }
            catch { $_.FullyQualifiedErrorId; $_.Exception.Message }
        } -ArgumentList $ModulePath, $ep, $Lab.KeyPath, $Lab.KnownHostsPath
        # a hang guard, not a speed check: the command must come back by itself
        $finished = $job | Wait-Job -Timeout 60
        $finished | Should -Not -BeNullOrEmpty
        $out = @($job | Receive-Job)
        $out[0] | Should -BeIn @('SwarmOperationTimeout,SwarmAdmin.Commands.ConnectSwarmClusterCommand', 'SwarmEndpointUnreachable,SwarmAdmin.Commands.ConnectSwarmClusterCommand')
        $out[1] | Should -Match ([regex]::Escape("$prefix.250"))
    }

    It 'stops at once on Ctrl+C (StopProcessing) while a connection hangs' {
        $prefix = ($M1.Address -split '\.')[0..2] -join '.'
        $ps = [powershell]::Create()
        $null = $ps.AddScript({
            param($module, $ep, $key, $kh)
            Import-Module $module
            Connect-SwarmCluster -Endpoint $ep -KeyFile $key -KnownHostsPath $kh -TimeoutSec 600 -NoDefault
        }).AddArgument($ModulePath).AddArgument("ssh://root@$prefix.251").AddArgument($Lab.KeyPath).AddArgument($Lab.KnownHostsPath)
        $async = $ps.BeginInvoke()
        Start-Sleep -Seconds 3
        $ps.InvocationStateInfo.State | Should -Be 'Running'
        $stop = $ps.BeginStop($null, $null)
        # hang guard: with a 600 s timeout, only cancellation can end it this soon
        $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60)) | Should -BeTrue
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()
    }
}
