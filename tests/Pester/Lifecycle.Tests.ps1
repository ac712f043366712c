# Happy path, bad input and -WhatIf for the cmdlets the other files touch only in passing.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
}

AfterAll {
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
}

Describe 'Disconnect-SwarmCluster' {
    It 'closes a context, clears the default, and later calls say to connect again' {
        $ctx = Connect-Lab
        Disconnect-SwarmCluster
        $ctx.IsConnected | Should -BeFalse
        { Get-SwarmNode -ErrorAction Stop } | Should -Throw -ErrorId 'SwarmNotConnected,SwarmAdmin.Commands.GetSwarmNodeCommand'
        $err = $null
        try { Get-SwarmNode -Context $ctx -ErrorAction Stop } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'SwarmNotConnected,SwarmAdmin.Commands.GetSwarmNodeCommand'
        $err.Exception.Message | Should -Match 'Connect-SwarmCluster'
    }

    It '-WhatIf leaves the context connected' {
        $ctx = Connect-Lab
        Disconnect-SwarmCluster -WhatIf
        $ctx.IsConnected | Should -BeTrue
        (Get-SwarmNode).Count | Should -BeGreaterThan 0
        $ctx | Disconnect-SwarmCluster
    }

    It 'says there is nothing to disconnect' {
        Disconnect-SwarmCluster -ErrorAction SilentlyContinue
        Disconnect-SwarmCluster -ErrorVariable e -ErrorAction SilentlyContinue
        $e[0].FullyQualifiedErrorId | Should -Be 'SwarmNotConnected,SwarmAdmin.Commands.DisconnectSwarmClusterCommand'
    }
}

Describe 'Initialize-Swarm -WhatIf' {
    It 'changes nothing on a bare node' {
        $spare = $Spares[0]
        $spare | Should -Not -BeNullOrEmpty -Because 'the Test task starts a spare node outside the swarm'
        Initialize-Swarm -Node "root@$($spare.Address)" -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -WhatIf | Should -BeNullOrEmpty
        (Invoke-LabDocker $spare.Name @('info', '--format', '{{.Swarm.LocalNodeState}}')).Trim() | Should -Be 'inactive'
    }

    It 'refuses a malformed address pool before touching the node' {
        $spare = $Spares[0]
        { Initialize-Swarm -Node "root@$($spare.Address)" -DefaultAddressPool 'not-a-cidr' -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,SwarmAdmin.Commands.InitializeSwarmCommand'
        (Invoke-LabDocker $spare.Name @('info', '--format', '{{.Swarm.LocalNodeState}}')).Trim() | Should -Be 'inactive'
    }
}

Describe 'Join tokens' {
    BeforeAll { $script:Ctx = Connect-Lab }

    It 'returns the token as a SecureString that matches the engine''s' {
        $t = Get-SwarmJoinToken -Role Manager
        $t | Should -BeOfType [securestring]
        $plain = [System.Net.NetworkCredential]::new('', $t).Password
        $plain | Should -Be ((Invoke-LabDocker $Managers[0].Name @('swarm', 'join-token', '-q', 'manager')).Trim())
        ($t | Out-String) | Should -Not -Match 'SWMTKN'
    }

    It 'refuses an unknown role' {
        { Get-SwarmJoinToken -Role Boss -ErrorAction Stop } | Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,SwarmAdmin.Commands.GetSwarmJoinTokenCommand'
    }

    It 'rotation -WhatIf keeps the token' {
        $before = [System.Net.NetworkCredential]::new('', (Get-SwarmJoinToken Worker)).Password
        Invoke-SwarmTokenRotation -Role Worker -WhatIf
        [System.Net.NetworkCredential]::new('', (Get-SwarmJoinToken Worker)).Password | Should -Be $before
    }
}
