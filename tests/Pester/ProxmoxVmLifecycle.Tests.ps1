# Start-SwarmVm, Stop-SwarmVm and Remove-SwarmVm against the Proxmox VE simulator (tests/ProxmoxSimulator): power
# state per the simulator, guest agent address, graceful/forced/immediate stop, destroy with purge in the query
# string, the guards of Remove-SwarmVm (templates, swarm membership not checkable), -WhatIf, and bad input.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Sim = Start-ProxmoxSim
    Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $Sim.Fingerprint | Out-Null

    function script:Get-SimVm([int]$Id) { (Invoke-ProxmoxSim $Sim GET 'state').vms | Where-Object { [int]$_.vmid -eq $Id } }
    # Invoke-RestMethod hands the JSON array over as one object: unroll it
    function script:Get-SimRequest { Invoke-ProxmoxSim $Sim GET 'requests' | ForEach-Object { $_ } }
    function script:Clear-SimRequest { Invoke-ProxmoxSim $Sim DELETE 'requests' | Out-Null }
    # the writes (POST/PUT/DELETE) to one VM's API paths
    function script:Get-SimWrite([int]$Id) {
        Get-SimRequest | Where-Object { $_.method -ne 'GET' -and $_.path -match "/qemu/$Id(/|$)" }
    }
    function script:New-TestVm([string]$Name, [string]$Ip, [switch]$Running) {
        $p = @{ Name = $Name; Template = 'debian-12-cloudinit'; Cores = 1; MemoryMB = 512 }
        if ($Ip) { $p.IPAddress = $Ip }
        if ($Running) { New-SwarmVm @p -WaitFor None } else { New-SwarmVm @p -NoStart }
    }
    $script:Suffix = Get-Random -Maximum 99999
}

AfterAll {
    Stop-ProxmoxSim $Sim
}

Describe 'Start-SwarmVm' {
    It 'starts a stopped VM, waits for the task and returns it running' {
        $vm = New-TestVm "lc-start-$Suffix"
        (Get-SimVm $vm.VmId).run.status | Should -Be 'stopped'
        $r = $vm | Start-SwarmVm
        $r | Should -HaveCount 1
        $r.VmId | Should -Be $vm.VmId
        $r.Status | Should -Be 'running'
        $r.Node | Should -Be $vm.Node
        (Get-SimVm $vm.VmId).run.status | Should -Be 'running'
        (Get-SimWrite $vm.VmId | Where-Object path -like '*/status/start') | Should -HaveCount 1
        Invoke-ProxmoxSim $Sim POST 'rrd-refresh' | Out-Null
        (Get-SwarmVm -VmId $vm.VmId).Status | Should -Be 'running'
    }

    It 'sends nothing for a VM that already runs, and says so' {
        Clear-SimRequest
        $out = Start-SwarmVm -Name "lc-start-$Suffix" -Verbose 4>&1
        $vm = $out | Where-Object { $_ -is [SwarmAdmin.SwarmVm] }
        $vm.Status | Should -Be 'running'
        ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n" | Should -Match 'already running; nothing was sent'
        Get-SimWrite $vm.VmId | Should -BeNullOrEmpty
    }

    It '-Wait returns the IPv4 address the guest agent reports' {
        $vm = New-TestVm "lc-wait-$Suffix" -Ip 10.96.0.12/24
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'agent'; vmid = $vm.VmId; agentDelaySeconds = 20; netDelaySeconds = 5 } | Out-Null
        $r = Start-SwarmVm -VmId $vm.VmId -Wait -TimeoutSec 60
        $r.Status | Should -Be 'running'
        $r.IPv4 | Should -Contain '10.96.0.12'
        $r.Address | Should -Be '10.96.0.12'
    }

    It 'starts several VMs in parallel (wildcards), keeping what New-SwarmVm knew about them' {
        $made = 1..3 | ForEach-Object { New-TestVm "lc-par$Suffix-$_" }
        $r = Start-SwarmVm -Name "lc-par$Suffix-*" -ThrottleLimit 3
        $r | Should -HaveCount 3
        ($r.Status | Sort-Object -Unique) | Should -Be 'running'
        foreach ($m in $made) { (Get-SimVm $m.VmId).run.status | Should -Be 'running' }
        # piped objects keep their labels (for Join-SwarmNode)
        $vm = New-TestVm "lc-lbl-$Suffix"
        $vm.Labels['proxmox.host'] | Should -Be $vm.Node
        ($vm | Start-SwarmVm).Labels['proxmox.host'] | Should -Be $vm.Node
    }

    It 'refuses a template' {
        Start-SwarmVm -VmId 9000 -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmIsTemplate,*'
        $e[0].TargetObject.VmId | Should -Be 9000
        Get-SimWrite 9000 | Where-Object path -like '*/status/start' | Should -BeNullOrEmpty
    }
}

Describe 'Stop-SwarmVm' {
    It 'shuts a VM down gracefully by default (status/shutdown with the timeout)' {
        $vm = New-TestVm "lc-stop-$Suffix" -Running
        (Get-SimVm $vm.VmId).run.status | Should -Be 'running'
        Clear-SimRequest
        $r = $vm | Stop-SwarmVm -Confirm:$false
        $r.Status | Should -Be 'stopped'
        (Get-SimVm $vm.VmId).run.status | Should -Be 'stopped'
        $w = @(Get-SimWrite $vm.VmId)
        $w | Should -HaveCount 1
        $w[0].path | Should -BeLike '*/status/shutdown'
        $w[0].body | Should -Match 'timeout=120'
        $w[0].body | Should -Not -Match 'forceStop'
    }

    It 'sends nothing for a VM that is already stopped' {
        Clear-SimRequest
        $out = Stop-SwarmVm -Name "lc-stop-$Suffix" -Confirm:$false -Verbose 4>&1
        ($out | Where-Object { $_ -is [SwarmAdmin.SwarmVm] }).Status | Should -Be 'stopped'
        ($out | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }) -join "`n" | Should -Match 'already stopped; nothing was sent'
        Get-SimRequest | Where-Object method -ne 'GET' | Should -BeNullOrEmpty
    }

    It '-Kill stops at once (status/stop, no shutdown)' {
        $vm = New-TestVm "lc-kill-$Suffix" -Running
        Clear-SimRequest
        $r = Stop-SwarmVm -VmId $vm.VmId -Kill -Confirm:$false
        $r.Status | Should -Be 'stopped'
        (Get-SimVm $vm.VmId).run.status | Should -Be 'stopped'
        $w = @(Get-SimWrite $vm.VmId)
        $w | Should -HaveCount 1
        $w[0].path | Should -BeLike '*/status/stop'
    }

    It 'reports a guest that ignores ACPI within the timeout, and -Force stops it' {
        $vm = New-TestVm "lc-acpi-$Suffix" -Running
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'agent'; vmid = $vm.VmId; acpi = $false } | Out-Null
        $watch = [Diagnostics.Stopwatch]::StartNew()
        Stop-SwarmVm -VmId $vm.VmId -TimeoutSec 20 -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 20
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmShutdownTimeout,*'
        $e[0].CategoryInfo.Category | Should -Be 'OperationTimeout'
        $e[0].Exception.Message | Should -Match 'did not shut down within 20 s'
        $e[0].ErrorDetails.RecommendedAction | Should -Match '-Force'
        $e[0].TargetObject.VmId | Should -Be $vm.VmId
        (Get-SimVm $vm.VmId).run.status | Should -Be 'running'

        Clear-SimRequest
        $r = Stop-SwarmVm -VmId $vm.VmId -TimeoutSec 20 -Force -Confirm:$false
        $r.Status | Should -Be 'stopped'
        (Get-SimVm $vm.VmId).run.status | Should -Be 'stopped'
        $w = @(Get-SimWrite $vm.VmId)
        $w[0].path | Should -BeLike '*/status/shutdown'
        $w[0].body | Should -Match 'forceStop=1'
    }
}

Describe 'Remove-SwarmVm' {
    It 'stops a running VM, then deletes it with purge in the query string and no body' {
        $vm = New-TestVm "lc-rm-$Suffix" -Running
        Clear-SimRequest
        Remove-SwarmVm -Name "lc-rm-$Suffix" -Confirm:$false -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        Get-SimVm $vm.VmId | Should -BeNullOrEmpty
        Invoke-ProxmoxSim $Sim POST 'rrd-refresh' | Out-Null
        Get-SwarmVm -Name "lc-rm-$Suffix" -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $w = @(Get-SimWrite $vm.VmId)
        $w | Should -HaveCount 2
        $w[0].method | Should -Be 'POST'
        $w[0].path | Should -BeLike '*/status/stop'
        $w[1].method | Should -Be 'DELETE'
        $w[1].path | Should -BeLike "*/nodes/$($vm.Node)/qemu/$($vm.VmId)"
        $w[1].query | Should -Match '(^|[?&])purge=1(&|$)'
        $w[1].query | Should -Match 'destroy-unreferenced-disks=1'
        $w[1].body | Should -BeNullOrEmpty
        $w[1].status | Should -Be 200
    }

    It 'warns that swarm membership could not be checked when no swarm is connected' {
        $vm = New-TestVm "lc-nosw-$Suffix"
        # a fresh runspace: no Connect-SwarmCluster has run there, whatever other test files did in this one
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript({
                param($Module, $Url, $TokenId, $Secret, $Fingerprint, $Name)
                Import-Module $Module
                Connect-SwarmProxmox -Endpoint $Url -TokenId $TokenId -TokenSecret $Secret -CertificateFingerprint $Fingerprint | Out-Null
                Remove-SwarmVm -Name $Name -Confirm:$false
            }).AddParameters(@{ Module = $ModulePath; Url = $Sim.Url; TokenId = $Sim.TokenId; Secret = $Sim.TokenSecret; Fingerprint = $Sim.Fingerprint; Name = $vm.Name })
            $out = $ps.Invoke()
            $ps.Streams.Error | Should -BeNullOrEmpty
            $out | Should -BeNullOrEmpty
            $ps.Streams.Warning | Should -HaveCount 1
            $ps.Streams.Warning[0].Message | Should -Match "could not be checked whether $($vm.Name) is a swarm node"
            $ps.Streams.Warning[0].Message | Should -Match 'Remove-SwarmNode'
        }
        finally { $ps.Dispose() }
        Get-SimVm $vm.VmId | Should -BeNullOrEmpty
    }

    It 'refuses a template, and leaves it in place' {
        Clear-SimRequest
        Remove-SwarmVm -VmId 9001 -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmIsTemplate,*'
        $e[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $e[0].TargetObject.VmId | Should -Be 9001
        (Get-SimVm 9001).template | Should -BeTrue
        Get-SimRequest | Where-Object method -ne 'GET' | Should -BeNullOrEmpty
    }

    It 'never lets a wildcard match a template' {
        Remove-SwarmVm -Name 'debian-12-*' -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        $e | Should -BeNullOrEmpty
        @((Invoke-ProxmoxSim $Sim GET 'state').vms | Where-Object template).Count | Should -Be 3
    }
}

Describe '-WhatIf' {
    BeforeAll {
        $script:Stopped = New-TestVm "lc-wi-off-$Suffix"
        $script:Running = New-TestVm "lc-wi-on-$Suffix" -Running
    }

    It 'Start-SwarmVm -WhatIf starts nothing' {
        Clear-SimRequest
        Start-SwarmVm -VmId $Stopped.VmId -WhatIf | Should -BeNullOrEmpty
        (Get-SimVm $Stopped.VmId).run.status | Should -Be 'stopped'
        Get-SimRequest | Where-Object method -ne 'GET' | Should -BeNullOrEmpty
    }

    It 'Stop-SwarmVm -WhatIf stops nothing' {
        Clear-SimRequest
        Stop-SwarmVm -VmId $Running.VmId -WhatIf | Should -BeNullOrEmpty
        Stop-SwarmVm -VmId $Running.VmId -Kill -WhatIf | Should -BeNullOrEmpty
        (Get-SimVm $Running.VmId).run.status | Should -Be 'running'
        Get-SimRequest | Where-Object method -ne 'GET' | Should -BeNullOrEmpty
    }

    It 'Remove-SwarmVm -WhatIf removes nothing' {
        Clear-SimRequest
        Remove-SwarmVm -VmId $Stopped.VmId, $Running.VmId -WhatIf -WarningAction SilentlyContinue | Should -BeNullOrEmpty
        Get-SimVm $Stopped.VmId | Should -Not -BeNullOrEmpty
        (Get-SimVm $Running.VmId).run.status | Should -Be 'running'
        Get-SimRequest | Where-Object method -ne 'GET' | Should -BeNullOrEmpty
    }
}

Describe 'Bad input' {
    BeforeAll {
        $script:Good = 1..2 | ForEach-Object { New-TestVm "lc-bad$Suffix-$_" }
    }

    It 'reports an unknown name as SwarmVmNotFound and still handles the others in the pipeline' {
        $r = "lc-bad$Suffix-1", 'no-such-vm', "lc-bad$Suffix-2" | Start-SwarmVm -ErrorVariable e -ErrorAction SilentlyContinue
        $r | Should -HaveCount 2
        ($r.Name | Sort-Object) | Should -Be @("lc-bad$Suffix-1", "lc-bad$Suffix-2")
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmNotFound,*'
        $e[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $e[0].TargetObject | Should -Be 'no-such-vm'
        $e[0].Exception.Message | Should -Match 'Get-SwarmVm'
        foreach ($g in $Good) { (Get-SimVm $g.VmId).run.status | Should -Be 'running' }
    }

    It 'reports an unknown VMID and a piped VM that is gone, and stops the others' {
        $gone = New-TestVm "lc-gone-$Suffix"
        Remove-SwarmVm -VmId $gone.VmId -Force -Confirm:$false
        $r = $Good[0], $gone, $Good[1] | Stop-SwarmVm -Kill -Confirm:$false -ErrorVariable e -ErrorAction SilentlyContinue
        $r | Should -HaveCount 2
        ($r.Status | Sort-Object -Unique) | Should -Be 'stopped'
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmNotFound,*'
        $e[0].TargetObject.VmId | Should -Be $gone.VmId

        Stop-SwarmVm -VmId 4242 -Confirm:$false -ErrorVariable e2 -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $e2[0].FullyQualifiedErrorId | Should -BeLike 'SwarmVmNotFound,*'
        $e2[0].TargetObject | Should -Be 4242
    }

    It 'keeps going when one VM''s task fails' {
        Invoke-ProxmoxSim $Sim POST 'faults' @{ type = 'task-fail'; taskType = 'qmstart'; vmid = "$($Good[0].VmId)"; count = 1; exitStatus = 'start failed: QEMU exited with code 1' } | Out-Null
        $r = Start-SwarmVm -VmId $Good[0].VmId, $Good[1].VmId -ErrorVariable e -ErrorAction SilentlyContinue
        $r | Should -HaveCount 1
        $r.VmId | Should -Be $Good[1].VmId
        $e | Should -HaveCount 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'ProxmoxTaskFailed,*'
        $e[0].Exception.Message | Should -Match 'QEMU exited with code 1'
        $e[0].TargetObject.VmId | Should -Be $Good[0].VmId
        (Get-SimVm $Good[0].VmId).run.status | Should -Be 'stopped'
    }
}
