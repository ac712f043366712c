# Test-SwarmNodeReadiness against the shared lab. Read-only on the swarm nodes; fault injection (a firewall rule, a
# hidden /sys/module/vxlan) only on the spare node swarmlab-s1, which is in no swarm, and always undone.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Spare = $Spares | Select-Object -First 1
    $script:Tmp = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-readiness-$PID"
    New-Item -ItemType Directory -Force $Tmp | Out-Null

    # The lab nodes as a cluster file, so results carry the node names (and -Config is exercised).
    function script:New-LabClusterFile([object[]]$Nodes, [string]$Path) {
        $lines = @('name: readiness-test', 'proxmox:', '  hosts:', '    - name: lab-pve1', '      storages: [local-lvm]', 'ssh:', '  user: root', "  keyFile: $($Lab.KeyPath)", "  knownHostsPath: $($Lab.KnownHostsPath)",
            'defaults:', '  cores: 1', '  memory: 1GB', '  bootDisk: 10GB', 'nodes:')
        foreach ($n in $Nodes) {
            $lines += "  - name: $($n.Name)", "    ip: $($n.Address)", '    proxmoxHost: lab-pve1', "    role: $(if ($n.Role -eq 'manager') { 'manager' } else { 'worker' })"
        }
        Set-Content -LiteralPath $Path -Value $lines
        $Path
    }
    function script:Test-Lab([object[]]$Nodes, [hashtable]$More = @{}) {
        $file = New-LabClusterFile $Nodes (Join-Path $Tmp "cluster-$([guid]::NewGuid().ToString('N')).yml")
        Import-SwarmClusterConfig $file | Test-SwarmNodeReadiness @More
    }
    # what proves the command left nothing behind on a node: what listens on the swarm ports (2377 0951, 7946 1F0A,
    # 4789 12B5; other ports may change meanwhile through other tests on the shared swarm), our temp folders, stray listeners
    function script:Get-NodeTrace([string]$Name) {
        $listen = (Invoke-Lab exec $Name -- sh -c "cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 | awk '(`$4 == ""0A"" || `$4 == ""07"") && `$2 ~ /:(0951|1F0A|12B5)$/ {print `$2}' | sort -u") -join ' '
        $left = (Invoke-Lab exec $Name -- sh -c 'ls -d /tmp/swarmadmin-ready-* /tmp/swarmadmin-probe.* 2>/dev/null; ps -o args 2>/dev/null | grep -E "^(nc -l|socat|python3 -c|sh /tmp/swarmadmin-ready)"; true') -join ' '
        "$listen|$left"
    }
}

AfterAll {
    Remove-Item -Recurse -Force $Tmp -ErrorAction SilentlyContinue
}

Describe 'Test-SwarmNodeReadiness on the swarm nodes' {
    BeforeAll {
        # managers and workers: a node in a swarm gets no temporary listener at all (its engine owns the swarm ports;
        # a listener could keep a worker being promoted meanwhile from binding 2377), so this is safe on the shared swarm
        $script:SwarmNodes = @($Managers) + @($Workers)
        $script:Before = @{}
        foreach ($n in $SwarmNodes) { $Before[$n.Name] = Get-NodeTrace $n.Name }
        $script:Results = @(Test-Lab $SwarmNodes)
    }

    It 'returns one typed result per node, in input order, none NotReady' {
        $Results.Count | Should -Be $SwarmNodes.Count
        $Results[0] | Should -BeOfType SwarmAdmin.SwarmNodeReadiness
        $Results.Node | Should -Be $SwarmNodes.Name
        foreach ($r in $Results) {
            $r.Status | Should -Not -Be 'NotReady' -Because (($r.Findings | Where-Object Severity -ge Error | ForEach-Object Message) -join '; ')
            $r.Address | Should -Be ($SwarmNodes | Where-Object Name -eq $r.Node).Address
            $r.Findings[0] | Should -BeOfType SwarmAdmin.SwarmReadinessFinding
            $r.Os | Should -Be 'debian'
            $r.Target.Name | Should -Be $r.Node
        }
    }

    It 'reports each engine version as the engine itself does, and no skew in a uniform lab' {
        foreach ($r in $Results) {
            $r.EngineVersion | Should -Be ((Invoke-LabDocker $r.Node @('version', '--format', '{{.Server.Version}}')) -join '').Trim()
            ($r.Findings | Where-Object Check -eq 'Engine').Severity | Should -Be 'Info'
            ($r.Findings | Where-Object Check -eq 'EngineSkew').Severity | Should -Be 'Info'
        }
    }

    It 'finds vxlan support, a container clock and a measured clock offset' {
        foreach ($r in $Results) {
            ($r.Findings | Where-Object Check -eq 'Overlay').Severity | Should -Be 'Info'
            ($r.Findings | Where-Object Check -eq 'TimeSync').Message | Should -Match 'container'
            $r.ClockOffsetSeconds | Should -Not -BeNullOrEmpty
            [math]::Abs($r.ClockOffsetSeconds) | Should -BeLessThan 1.5 -Because 'the nodes share this machine''s kernel clock (busybox date has whole seconds only)'
            $clock = @($r.Findings | Where-Object Check -eq 'Clock')
            $clock.Count | Should -Be 2
            foreach ($c in $clock) { $c.Severity | Should -Be 'Info' }
            ($clock.Message -join ' ') | Should -Match 'median of the \d+ nodes'
            ($clock.Message -join ' ') | Should -Match 'this machine'
            $r.FreeDiskGB | Should -BeGreaterThan 0
        }
    }

    It 'finds TCP 2377 and 7946 reachable between all swarm nodes through the engines'' own listeners, and says honestly what was not checked' {
        $others = $SwarmNodes.Count - 1
        foreach ($r in $Results) {
            $ports = @($r.Findings | Where-Object Check -eq 'Port')
            $ports.Count | Should -Be 4
            foreach ($p in $ports) {
                $p.Severity | Should -Be 'Info' -Because $p.Message   # no false Error (udp/4789 on the workers, 2377 on the workers)
                $p.Message | Should -Not -Match 'temporary listener'
            }
            ($ports | Where-Object Message -like 'tcp/7946 *').Message | Should -Match "reachable from all $others other node"
            foreach ($udp in $ports | Where-Object Message -like 'udp/*') {
                $udp.Message | Should -Match 'not checked'
                $udp.Message | Should -Not -Match 'reachable from all'
            }
        }
        foreach ($m in $Results | Where-Object Node -in $Managers.Name) {
            ($m.Findings | Where-Object Message -like 'tcp/2377 *').Message | Should -Match "reachable from all $others other node"
        }
        foreach ($w in $Results | Where-Object Node -in $Workers.Name) {
            ($w.Findings | Where-Object Message -like 'tcp/2377 *').Message | Should -Match "not checked: $([regex]::Escape($w.Node)) is in a swarm \(its engine owns these ports\)"
        }
    }

    It 'starts no listener on two swarm members (workers, nothing on 2377): no new sockets, nothing left' {
        $two = @($Workers | Select-Object -First 2)
        $before = @{}; foreach ($n in $two) { $before[$n.Name] = Get-NodeTrace $n.Name }
        # as plain SSH targets (a cluster file needs a manager): the nodes then go by their addresses
        $r = @(Test-SwarmNodeReadiness -Node ($two | ForEach-Object { "root@$($_.Address)" }) -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -Verbose 4>&1)
        $verbose = @($r | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message)
        @($verbose | Where-Object { $_ -match 'starting \d+ temporary listener' }).Count | Should -Be 0
        @($verbose | Where-Object { $_ -match 'in a swarm \(active\): no temporary listeners' }).Count | Should -Be 2
        $res = @($r | Where-Object { $_ -is [SwarmAdmin.SwarmNodeReadiness] })
        $res.Count | Should -Be 2
        foreach ($x in $res) { $x.Status | Should -Not -Be 'NotReady' -Because (($x.Findings | Where-Object Severity -ge Error | ForEach-Object Message) -join '; ') }
        $res.Node | Should -Be @($two | ForEach-Object Address)
        foreach ($x in $res) {
            ($x.Findings | Where-Object Message -like 'udp/4789 *').Severity | Should -Be 'Info'
            ($x.Findings | Where-Object Message -like 'tcp/2377 *').Message | Should -Match 'is in a swarm'
        }
        foreach ($n in $two) { Get-NodeTrace $n.Name | Should -Be $before[$n.Name] }
    }

    It 'changed nothing on the nodes: same listening sockets, no temp folders, no listener left' {
        foreach ($n in $SwarmNodes) { Get-NodeTrace $n.Name | Should -Be $Before[$n.Name] -Because "$($n.Name) must be as before" }
    }

    It 'has a table view with the status and the problems' {
        $text = $Results | Out-String -Width 200
        $text | Should -Match 'NODE\s+ADDRESS\s+STATUS\s+ENGINE\s+CLOCK\s+MTU\s+FREE GB\s+PROBLEMS'
        $text | Should -Match ([regex]::Escape($Managers[0].Name))
        ($Results[0].Findings | Out-String -Width 200) | Should -Match 'NODE\s+SEVERITY\s+CHECK\s+MESSAGE'
    }
}

Describe 'Test-SwarmNodeReadiness with the spare node' {
    BeforeAll {
        $script:Pair = @($Managers[0], $Managers[1], $Spare)
        $script:SpareBefore = Get-NodeTrace $Spare.Name
    }
    AfterAll {
        # never leave a rule or a mount behind, whatever failed
        Invoke-Lab exec $Spare.Name -- sh -c 'while iptables -D INPUT -p tcp --dport 7946 -j DROP 2>/dev/null; do :; done; while grep -q " /sys/module/vxlan " /proc/mounts; do umount /sys/module/vxlan || break; done; true' | Out-Null
    }

    It 'checks the ports of a node that listens on none through temporary listeners, and stops them' {
        $r = @(Test-Lab $Pair)
        $s = $r | Where-Object Node -eq $Spare.Name
        $tcp = @($s.Findings | Where-Object { $_.Check -eq 'Port' -and $_.Message -like 'tcp/*' })
        $tcp.Count | Should -Be 2
        foreach ($f in $tcp) { $f.Message | Should -Match 'reachable from all 2 other node\(s\) \(through a temporary listener\)' }
        ($s.Findings | Where-Object { $_.Message -like 'udp/7946 *' }).Message | Should -Match 'not checked.*no tool'
        Get-NodeTrace $Spare.Name | Should -Be $SpareBefore
    }

    It 'reports a port blocked by a firewall as an Error naming the port and the nodes it fails from' {
        Invoke-Lab exec $Spare.Name -- iptables -I INPUT -p tcp --dport 7946 -j DROP | Out-Null
        try {
            $r = @(Test-Lab $Pair)
        }
        finally {
            Invoke-Lab exec $Spare.Name -- iptables -D INPUT -p tcp --dport 7946 -j DROP | Out-Null
        }
        $s = $r | Where-Object Node -eq $Spare.Name
        $s.Status | Should -Be 'NotReady'
        $err = @($s.Findings | Where-Object Severity -eq 'Error')
        $err.Count | Should -Be 1 -Because (($err | ForEach-Object { "$($_.Check): $($_.Message)" }) -join "; ")
        $err[0].Check | Should -Be 'Port'
        $err[0].Message | Should -Match "tcp/7946 on $($Spare.Name) is not reachable from"
        $err[0].Message | Should -Match "$($Managers[0].Name) \(no answer\)"
        $err[0].Message | Should -Match "$($Managers[1].Name) \(no answer\)"
        ($s.Findings | Where-Object Message -like 'tcp/2377 *').Severity | Should -Be 'Info'
        # the other nodes are not blamed
        foreach ($o in $r | Where-Object Node -ne $Spare.Name) { @($o.Findings | Where-Object Severity -ge 'Error').Count | Should -Be 0 }
        Get-NodeTrace $Spare.Name | Should -Be $SpareBefore
    }

    It 'reports missing vxlan support as an Error when /sys/module/vxlan is hidden' {
        # a container shares the host's kernel: hiding the module's sysfs folder in the node's own mount namespace is
        # what a kernel without vxlan looks like from inside (the lab nodes have no /lib/modules for modprobe)
        Invoke-Lab exec $Spare.Name -- mount -t tmpfs -o size=4k swarmadmin-test /sys/module/vxlan | Out-Null
        try {
            $r = @(Test-SwarmNodeReadiness -Node "root@$($Spare.Address)" -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath)
        }
        finally {
            Invoke-Lab exec $Spare.Name -- umount /sys/module/vxlan | Out-Null
        }
        $r.Count | Should -Be 1
        $r[0].Node | Should -Be $Spare.Address -Because 'a target without a name goes by its SSH host'
        $r[0].Target.Text | Should -Be "root@$($Spare.Address)"
        $r[0].Status | Should -Be 'NotReady'
        $o = $r[0].Findings | Where-Object Check -eq 'Overlay'
        $o.Severity | Should -Be 'Error'
        $o.Message | Should -Match 'overlay networks will not work'
        ($r[0].Findings | Where-Object Check -eq 'Port').Message | Should -Match 'at least two nodes'
        # and with the folder back, it is fine again
        $again = Test-SwarmNodeReadiness -Node "root@$($Spare.Address)" -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath
        ($again.Findings | Where-Object Check -eq 'Overlay').Severity | Should -Be 'Info'
    }
}

Describe 'Test-SwarmNodeReadiness with the same machine given twice' {
    It 'checks it once, with a warning' {
        $r = @(Test-SwarmNodeReadiness -Node "root@$($Spare.Address)", "ssh://root@$($Spare.Address):22" -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -WarningVariable w 3>$null)
        $r.Count | Should -Be 1
        ($w -join ' ') | Should -Match 'same machine'
        ($r[0].Findings | Where-Object Check -eq 'Port').Message | Should -Match 'at least two nodes'
    }
}

Describe 'Test-SwarmNodeReadiness with a node it cannot reach' {
    It 'reports it NotReady with an Ssh finding naming the error id, and still checks the others' {
        $r = @(Test-SwarmNodeReadiness -Node "root@$($Managers[0].Address)", 'root@10.213.57.254' -KeyFile $Lab.KeyPath -KnownHostsPath $Lab.KnownHostsPath -ErrorVariable e)
        $e.Count | Should -Be 0
        $r.Count | Should -Be 2
        $r[1].Status | Should -Be 'NotReady'
        $ssh = $r[1].Findings | Where-Object Check -eq 'Ssh'
        $ssh.Severity | Should -Be 'Error'
        $ssh.Detail | Should -BeIn 'SwarmEndpointUnreachable', 'SwarmOperationTimeout', 'HostKeyUnknown'
        $r[0].Status | Should -Not -Be 'NotReady'
        ($r[0].Findings | Where-Object Check -eq 'Port').Message | Should -Match 'at least two nodes'
    }

    It 'refuses an unknown host key without trusting it' {
        $kh = Join-Path $Tmp 'empty_known_hosts'
        Set-Content -LiteralPath $kh -Value ''
        $r = Test-SwarmNodeReadiness -Node "root@$($Spare.Address)" -KeyFile $Lab.KeyPath -KnownHostsPath $kh
        ($r.Findings | Where-Object Check -eq 'Ssh').Detail | Should -Be 'HostKeyUnknown'
        (Get-Content -LiteralPath $kh -Raw).Trim() | Should -BeNullOrEmpty
    }
}

Describe 'The port-check scripts with bash and python3 (on this machine, not the lab)' {
    # The lab nodes only have busybox (nc without -u): this runs the UDP path (listener, datagrams, collection)
    # with the tools a Debian or Ubuntu VM has, on 127.0.0.1 under /bin/sh.
    BeforeAll {
        foreach ($tool in 'sh', 'bash', 'python3', 'setsid', 'timeout') { Get-Command $tool -CommandType Application -ErrorAction Stop | Out-Null }
        $asm = (Get-Command Test-SwarmNodeReadiness).ImplementingType.Assembly
        $script:Scripts = $asm.GetType('SwarmAdmin.Engine.ReadinessScripts')
        function script:New-ToolSet([string[]]$Items) { Write-Output -NoEnumerate ([System.Collections.Generic.HashSet[string]]::new([string[]]@($Items))) }
        $base = 47000 + ($PID % 900) * 4
        $script:TestPorts = [System.ValueTuple[string, int][]]@(
            [System.ValueTuple]::Create('tcp', $base), [System.ValueTuple]::Create('tcp', $base + 1),
            [System.ValueTuple]::Create('udp', $base + 2), [System.ValueTuple]::Create('udp', $base + 3))
        $script:Base = $base
        $script:Dir = "/tmp/swarmadmin-ready-pester$PID"
    }
    AfterAll { & sh -c ($Scripts.GetMethod('Collect').Invoke($null, @($Dir))) | Out-Null }

    It 'starts listeners, gets TCP and UDP through, tells a refused port apart, and leaves nothing running' {
        $started = [System.Collections.Generic.List[string]]::new()
        [System.Collections.Generic.HashSet[string]]$dstTools = New-ToolSet 'bash', 'python3', 'timeout', 'setsid'
        [System.Collections.Generic.HashSet[string]]$listening = New-ToolSet "tcp/$($Base + 1)"
        $start = $Scripts.GetMethod('StartListeners').Invoke($null, @($dstTools, $listening, $TestPorts, $Dir, $started))
        @($started) | Should -Be @("tcp/$Base", "udp/$($Base + 2)", "udp/$($Base + 3)")
        $boundLines = @(& sh -c $start)
        $boundLines | Should -Contain "bound tcp/$Base"
        $boundLines | Should -Contain "bound udp/$($Base + 2)"
        $boundLines | Should -Contain "bound udp/$($Base + 3)"
        $dsts = [System.Collections.Generic.List[System.ValueTuple[int, string, System.Nullable[int]]]]::new()
        $dsts.Add([System.ValueTuple]::Create(1, '127.0.0.1', [System.Nullable[int]]1500))
        $lines = foreach ($tools in @(@('bash', 'timeout'), @('python3'))) {
            [System.Collections.Generic.HashSet[string]]$srcTools = New-ToolSet $tools
            & sh -c ($Scripts.GetMethod('PairProbe').Invoke($null, @($srcTools, [System.Nullable[int]]1500, $dsts, $TestPorts, "satest$($tools[0])s0")))
        }
        $lines | Should -Contain "r 1 tcp $Base ok"
        $lines | Should -Contain "r 1 tcp $($Base + 1) refused"     # nothing listens there: the connection is refused
        @($lines | Where-Object { $_ -eq "r 1 udp $($Base + 2) sent" }).Count | Should -Be 2
        $got = & sh -c ($Scripts.GetMethod('Collect').Invoke($null, @($Dir)))
        ($got -join ' ') | Should -Match "satestbashs0d1p$($Base + 2)"
        ($got -join ' ') | Should -Match "satestpython3s0d1p$($Base + 3)"
        Start-Sleep -Milliseconds 300
        Test-Path $Dir | Should -BeFalse
        (& sh -c "ps -eo args | grep -E '^(python3 -c|sh $Dir)' || true") | Should -BeNullOrEmpty
    }

    It 'tells a port another process holds apart from a bound one: notbound, and that listener stopped at once' {
        # another process (think: the engine's VXLAN socket appearing after the probe) has the UDP port
        $psi = [System.Diagnostics.ProcessStartInfo]::new('python3')
        $psi.ArgumentList.Add('-c'); $psi.ArgumentList.Add("import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('',$($Base + 2))); time.sleep(60)")
        $holder = [System.Diagnostics.Process]::Start($psi)
        try {
            Start-Sleep -Milliseconds 500
            $started = [System.Collections.Generic.List[string]]::new()
            [System.Collections.Generic.HashSet[string]]$tools = New-ToolSet 'python3', 'setsid'
            [System.Collections.Generic.HashSet[string]]$none = New-ToolSet
            $ports = [System.ValueTuple[string, int][]]@([System.ValueTuple]::Create('udp', $Base + 2), [System.ValueTuple]::Create('tcp', $Base))
            $out = @(& sh -c ($Scripts.GetMethod('StartListeners').Invoke($null, @($tools, $none, $ports, $Dir, $started))))
            $out | Should -Contain "notbound udp/$($Base + 2)"
            $out | Should -Contain "bound tcp/$Base"
            & sh -c ($Scripts.GetMethod('Collect').Invoke($null, @($Dir))) | Out-Null
            Start-Sleep -Milliseconds 300
            (& sh -c "grep -ls 'SWARMADMIN_RUN=$Dir/' /proc/[0-9]*/environ 2>/dev/null || true") | Should -BeNullOrEmpty
            $holder.HasExited | Should -BeFalse -Because 'the collection stops only our own processes'
        }
        finally { $holder | Stop-Process -Force -ErrorAction SilentlyContinue }
    }
}
