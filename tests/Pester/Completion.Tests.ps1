# Argument completers (node, stack, service, secret, config and VM names) through TabExpansion2, as a user's Tab
# press runs them: against the lab swarm (oracle: the docker CLI inside a node), objects of our own (unique prefix,
# removed in AfterAll), the Proxmox simulator, no connection, and an engine that accepts and never answers (no
# results, no error, nothing on any stream). No test asserts on time: bench/Completion.bench.ps1 measures it.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $script:Ctx = Connect-Lab
    $script:M1 = $Managers[0].Name
    $script:P = 'cmp' + [Guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Dir = Join-Path ([IO.Path]::GetTempPath()) "swarmadmin-completion-$P"
    New-Item -ItemType Directory -Force $Dir | Out-Null

    # What TabExpansion2 offers for $Line with the cursor at its end; every record of every stream is kept, so a
    # test can prove that completion wrote nothing but its result.
    function script:Complete([string]$Line) {
        $all = @(TabExpansion2 -inputScript $Line -cursorColumn $Line.Length *>&1)
        $other = @($all | Where-Object { $_ -isnot [System.Management.Automation.CommandCompletion] })
        if ($other.Count) { throw "Completion of '$Line' wrote to a stream: $($other -join '; ')" }
        @($all | Where-Object { $_ -is [System.Management.Automation.CommandCompletion] } | ForEach-Object { $_.CompletionMatches })
    }

    # The completers' internal knobs: the 2 s budget (tests of what completes widen it, so that a loaded CI machine
    # does not turn a slow answer into an empty completion: bench/Completion.bench.ps1 measures the real time) and
    # the cache lifetime. Both are restored in AfterAll.
    $asm = (Get-Command Get-SwarmNode).ImplementingType.Assembly
    $script:BudgetField = $asm.GetType('SwarmAdmin.Completion.SwarmCompleterBase').GetField('Budget', [Reflection.BindingFlags]'Static,NonPublic')
    $script:TtlField = $asm.GetType('SwarmAdmin.Completion.CompletionCache').GetField('Ttl', [Reflection.BindingFlags]'Static,NonPublic')
    $script:DefaultBudget = $BudgetField.GetValue($null)
    $script:DefaultTtl = $TtlField.GetValue($null)
    $BudgetField.SetValue($null, [TimeSpan]::FromSeconds(20))

    # a small stack of our own (no registry, no IPVS), a secret and a config
    Set-Content -Path (Join-Path $Dir 'stack.yml') -Value @"
version: "3.8"
services:
  sleeper:
    image: lab/busybox:1
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
"@
    Deploy-SwarmStack -Name $P -Path (Join-Path $Dir 'stack.yml') -ResolveImage Never | Out-Null
    New-SwarmSecret -Name "$P-secret" -SecureString (ConvertTo-SecureString 'not-a-real-secret' -AsPlainText -Force) | Out-Null
    New-SwarmConfig -Name "$P-config" -Content 'listen 8080;' | Out-Null
}

AfterAll {
    $BudgetField.SetValue($null, $DefaultBudget)
    $TtlField.SetValue($null, $DefaultTtl)
    try { Remove-SwarmStack -Name $P -Wait -Confirm:$false -ErrorAction SilentlyContinue } catch { }
    try { Remove-SwarmSecret -Name "$P-secret" -Confirm:$false -ErrorAction SilentlyContinue } catch { }
    try { Remove-SwarmConfig -Name "$P-config" -Confirm:$false -ErrorAction SilentlyContinue } catch { }
    Disconnect-SwarmCluster -ErrorAction SilentlyContinue
    Remove-Item $Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Completers are attached to the parameters that take existing names' {
    It 'has <Completer> on <Command> -<Parameter>' -ForEach @(
        foreach ($c in 'Get-SwarmNode', 'Set-SwarmNodeAvailability', 'Set-SwarmNodeLabel', 'Set-SwarmNodeRole', 'Remove-SwarmNode', 'Backup-SwarmManager') { @{ Command = $c; Parameter = 'Name'; Completer = 'SwarmNodeNameCompleter' } }
        @{ Command = 'Get-SwarmTask'; Parameter = 'Node'; Completer = 'SwarmNodeNameCompleter' }
        @{ Command = 'Invoke-SwarmNodeMaintenance'; Parameter = 'Node'; Completer = 'SwarmNodeNameCompleter' }
        foreach ($c in 'Get-SwarmStack', 'Remove-SwarmStack', 'Deploy-SwarmStack') { @{ Command = $c; Parameter = 'Name'; Completer = 'SwarmStackNameCompleter' } }
        foreach ($c in 'Get-SwarmService', 'Get-SwarmTask', 'Invoke-SwarmRebalance', 'Get-SwarmSecret', 'Get-SwarmConfig') { @{ Command = $c; Parameter = 'Stack'; Completer = 'SwarmStackNameCompleter' } }
        @{ Command = 'Get-SwarmService'; Parameter = 'Name'; Completer = 'SwarmServiceNameCompleter' }
        @{ Command = 'Get-SwarmServiceLog'; Parameter = 'Name'; Completer = 'SwarmServiceNameCompleter' }
        @{ Command = 'Get-SwarmTask'; Parameter = 'Service'; Completer = 'SwarmServiceNameCompleter' }
        @{ Command = 'Invoke-SwarmRebalance'; Parameter = 'Service'; Completer = 'SwarmServiceNameCompleter' }
        foreach ($c in 'Get-SwarmSecret', 'Remove-SwarmSecret', 'Update-SwarmSecret', 'Get-SwarmConfig', 'Remove-SwarmConfig', 'Update-SwarmConfig') { @{ Command = $c; Parameter = 'Name'; Completer = 'SwarmStoredObjectNameCompleter' } }
        foreach ($c in 'Get-SwarmVm', 'Start-SwarmVm', 'Stop-SwarmVm', 'Remove-SwarmVm') { @{ Command = $c; Parameter = 'Name'; Completer = 'SwarmVmNameCompleter' } }
    ) {
        $attr = @((Get-Command $Command).Parameters[$Parameter].Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] })
        $attr.Count | Should -Be 1
        $attr[0].Type.FullName | Should -Be "SwarmAdmin.Completion.$Completer"
    }

    It 'offers nothing for new names, paths and IDs' {
        foreach ($p in @(
                @('New-SwarmSecret', 'Name'), @('New-SwarmConfig', 'Name'), @('New-SwarmVm', 'Name'), @('Deploy-SwarmStack', 'Path'),
                @('Backup-SwarmManager', 'Destination'), @('Get-SwarmNode', 'Id'), @('Get-SwarmVm', 'VmId'))) {
            $attrs = (Get-Command $p[0]).Parameters[$p[1]].Attributes
            @($attrs | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] }).Count | Should -Be 0 -Because "$($p[0]) -$($p[1])"
        }
    }
}

Describe 'Node name completion' {
    It "completes 'Get-SwarmNode -Name swarmlab-' to the lab's nodes, like docker node ls" {
        $expected = @(Invoke-LabDocker $M1 @('node', 'ls', '--format', '{{.Hostname}}') | Where-Object { $_ -like 'swarmlab-*' } | Sort-Object -Unique)
        $r = Complete 'Get-SwarmNode -Name swarmlab-'
        $r.CompletionText | Should -Be $expected
        $r.ResultType | Sort-Object -Unique | Should -Be 'ParameterValue'
        ($r | Where-Object CompletionText -eq $M1).ToolTip | Should -Match "^$M1`: manager \(\w+\), ready, \w+"
        ($r | Where-Object CompletionText -eq $Workers[0].Name).ToolTip | Should -Match 'worker, ready'
    }

    It 'matches a wildcard prefix, case-insensitively, and keeps the quote the user opened' {
        (Complete 'Get-SwarmNode -Name SWARMLAB-W').CompletionText | Should -Be @($Workers.Name | Sort-Object)
        (Complete 'Get-SwarmNode -Name *lab-m?').CompletionText | Should -Be @($Managers.Name | Sort-Object)
        (Complete "Get-SwarmNode -Name 'swarmlab-m").CompletionText | Should -Be @($Managers.Name | Sort-Object | ForEach-Object { "'$_'" })
        Complete 'Get-SwarmNode -Name no-such-node-' | Should -BeNullOrEmpty
    }

    It 'completes every node parameter: <Line>' -ForEach @(
        @{ Line = 'Get-SwarmNode swarmlab-m' }
        @{ Line = 'Set-SwarmNodeAvailability -Name swarmlab-m' }
        @{ Line = 'Set-SwarmNodeLabel -Node swarmlab-m' }
        @{ Line = 'Set-SwarmNodeRole -Name swarmlab-m' }
        @{ Line = 'Remove-SwarmNode -Name swarmlab-m' }
        @{ Line = 'Backup-SwarmManager -Name swarmlab-m' }
        @{ Line = 'Get-SwarmTask -Node swarmlab-m' }
        @{ Line = 'Invoke-SwarmNodeMaintenance -Node swarmlab-m' }
    ) {
        (Complete $Line).CompletionText | Should -Be @($Managers.Name | Sort-Object)
    }

    It 'uses the -Context given on the command line' {
        $script:Other = Connect-Lab -Endpoint (Get-LabEndpoint $Managers[1].Name) -NoDefault
        try {
            (Complete 'Get-SwarmNode -Context $script:Other -Name swarmlab-m').CompletionText | Should -Be @($Managers.Name | Sort-Object)
            # a -Context whose value cannot be known without running code: nothing rather than the default swarm
            Complete 'Get-SwarmNode -Context (Get-Random) -Name swarmlab-m' | Should -BeNullOrEmpty
        }
        finally { Disconnect-SwarmCluster -Context $Other }
    }
}

Describe 'Stack, service, secret and config name completion' {
    It 'completes our stack: <Line>' -ForEach @(
        @{ Line = 'Get-SwarmStack -Name {0}' }
        @{ Line = 'Get-SwarmStack {0}' }
        @{ Line = 'Remove-SwarmStack -Name {0}' }
        @{ Line = 'Deploy-SwarmStack -Name {0}' }
        @{ Line = 'Get-SwarmService -Stack {0}' }
        @{ Line = 'Get-SwarmTask -Stack {0}' }
        @{ Line = 'Invoke-SwarmRebalance -Stack {0}' }
        @{ Line = 'Get-SwarmSecret -Stack {0}' }
    ) {
        $r = Complete ($Line -f $P)
        $r.CompletionText | Should -Be @($P)
        $r[0].ToolTip | Should -Be "$P`: 1 service (${P}_sleeper)"
    }

    It 'completes our service: <Line>' -ForEach @(
        @{ Line = 'Get-SwarmService -Name {0}' }
        @{ Line = 'Get-SwarmServiceLog -Name {0}' }
        @{ Line = 'Get-SwarmServiceLog {0}' }
        @{ Line = 'Get-SwarmTask -Service {0}' }
        @{ Line = 'Invoke-SwarmRebalance -Service {0}' }
    ) {
        $r = Complete ($Line -f $P)
        $r.CompletionText | Should -Be @("${P}_sleeper")
        $r[0].ToolTip | Should -Match "^${P}_sleeper: replicated, \d+/1 running, lab/busybox:1, stack $P$"
    }

    It 'offers only the services of the stack given with -Stack' {
        (Complete "Get-SwarmService -Stack $P -Name ").CompletionText | Should -Be @("${P}_sleeper")
        (Complete "Get-SwarmTask -Stack $P -Service ").CompletionText | Should -Be @("${P}_sleeper")
    }

    It 'completes our secret, and only secrets, for the secret cmdlets: <Command>' -ForEach @(
        @{ Command = 'Get-SwarmSecret' }, @{ Command = 'Remove-SwarmSecret' }, @{ Command = 'Update-SwarmSecret' }
    ) {
        $r = Complete "$Command -Name $P"
        $r.CompletionText | Should -Be @("$P-secret")
        $r[0].ToolTip | Should -Match "^$P-secret: secret, created \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
    }

    It 'completes our config, and only configs, for the config cmdlets: <Command>' -ForEach @(
        @{ Command = 'Get-SwarmConfig' }, @{ Command = 'Remove-SwarmConfig' }, @{ Command = 'Update-SwarmConfig' }
    ) {
        $r = Complete "$Command -Name $P"
        $r.CompletionText | Should -Be @("$P-config")
        $r[0].ToolTip | Should -Match "^$P-config: config, created "
    }

    It 'completes configs through an alias of a config cmdlet (the alias is resolved to the cmdlet)' {
        Set-Alias -Name "gcfg$P" -Value Get-SwarmConfig -Scope Global
        try {
            (Complete "gcfg$P -Name $P").CompletionText | Should -Be @("$P-config")
        }
        finally { Remove-Item "Alias:gcfg$P" -ErrorAction SilentlyContinue }
    }

    It 'answers from the cache for repeated Tab presses and sees a new object after it expires' {
        # a long lifetime first, so that "still cached" does not depend on how fast this machine is
        $TtlField.SetValue($null, [TimeSpan]::FromMinutes(10))
        try {
            $TtlField.SetValue($null, [TimeSpan]::Zero); $null = Complete "Get-SwarmSecret -Name $P"   # drop what is cached
            $TtlField.SetValue($null, [TimeSpan]::FromMinutes(10))
            (Complete "Get-SwarmSecret -Name $P").CompletionText | Should -Be @("$P-secret")
            New-SwarmSecret -Name "$P-secret2" -SecureString (ConvertTo-SecureString 'second' -AsPlainText -Force) | Out-Null
            # within the lifetime: the cached list, without the new secret
            (Complete "Get-SwarmSecret -Name $P").CompletionText | Should -Be @("$P-secret")
            # once it expired: asked again, the new secret is there
            $TtlField.SetValue($null, [TimeSpan]::Zero)
            (Complete "Get-SwarmSecret -Name $P").CompletionText | Should -Be @("$P-secret", "$P-secret2")
        }
        finally {
            $TtlField.SetValue($null, $DefaultTtl)
            Remove-SwarmSecret -Name "$P-secret2" -Confirm:$false
        }
    }
}

Describe 'VM name completion (Proxmox simulator)' {
    BeforeAll {
        $script:Sim = Start-ProxmoxSim
        Connect-SwarmProxmox -Endpoint $Sim.Url -TokenId $Sim.TokenId -TokenSecret $Sim.TokenSecret -CertificateFingerprint $Sim.Fingerprint | Out-Null
        $script:Vm = New-SwarmVm -Name "$P-vm" -Template 'debian-12-cloudinit' -Cores 1 -MemoryMB 512 -NoStart
        $script:Template = Get-SwarmVm -IncludeTemplate | Where-Object IsTemplate | Select-Object -First 1
    }
    AfterAll {
        Stop-ProxmoxSim $Sim
    }

    It 'completes our VM: <Command>' -ForEach @(
        @{ Command = 'Get-SwarmVm' }, @{ Command = 'Start-SwarmVm' }, @{ Command = 'Stop-SwarmVm' }, @{ Command = 'Remove-SwarmVm' }
    ) {
        $r = Complete "$Command -Name $P"
        $r.CompletionText | Should -Be @("$P-vm")
        $r[0].ToolTip | Should -Be "$P-vm: VMID $($Vm.VmId) on $($Vm.Node), stopped"
    }

    It 'offers templates to Get-SwarmVm only' {
        $Template | Should -Not -BeNullOrEmpty
        $r = Complete "Get-SwarmVm -Name $($Template.Name)"
        $r.CompletionText | Should -Contain $Template.Name
        ($r | Where-Object CompletionText -eq $Template.Name).ToolTip | Should -Match ', template$'
        (Complete "Remove-SwarmVm -Name $($Template.Name)").CompletionText | Should -Not -Contain $Template.Name
        (Complete "Start-SwarmVm -Name $($Template.Name)").CompletionText | Should -Not -Contain $Template.Name
        # an alias is resolved to the cmdlet it stands for: no templates for Remove-SwarmVm under another name
        Set-Alias -Name "rvm$P" -Value Remove-SwarmVm -Scope Global
        try {
            (Complete "rvm$P -Name $P").CompletionText | Should -Be @("$P-vm")
            (Complete "rvm$P -Name $($Template.Name)").CompletionText | Should -Not -Contain $Template.Name
        }
        finally { Remove-Item "Alias:rvm$P" -ErrorAction SilentlyContinue }
    }
}

Describe 'No connection' {
    It 'completes nothing, with no error, in a session that never connected' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($ModulePath)
                    Import-Module $ModulePath
                    foreach ($line in 'Get-SwarmNode -Name swarmlab-', 'Get-SwarmStack -Name ', 'Get-SwarmService -Name ', 'Get-SwarmSecret -Name ', 'Get-SwarmConfig -Name ', 'Get-SwarmVm -Name ') {
                        $r = TabExpansion2 -inputScript $line -cursorColumn $line.Length
                        [pscustomobject]@{ Line = $line; Count = $r.CompletionMatches.Count }
                    }
                    [pscustomobject]@{ Line = 'errors'; Count = $Error.Count }
                }).AddArgument($ModulePath)
            $out = $ps.Invoke()
            $ps.HadErrors | Should -BeFalse
            $ps.Streams.Error.Count | Should -Be 0
            $ps.Streams.Warning.Count | Should -Be 0
            $out.Count | Should -Be 7
            foreach ($o in $out) { $o.Count | Should -Be 0 -Because $o.Line }
        }
        finally { $ps.Dispose() }
    }

    It 'completes nothing, with no error, once the context is disconnected' {
        $c = Connect-Lab -NoDefault
        (Complete 'Get-SwarmNode -Context $c -Name swarmlab-m').CompletionText | Should -Be @($Managers.Name | Sort-Object)
        Disconnect-SwarmCluster -Context $c
        $before = $Error.Count
        Complete 'Get-SwarmNode -Context $c -Name swarmlab-m' | Should -BeNullOrEmpty
        Complete 'Get-SwarmStack -Context $c -Name ' | Should -BeNullOrEmpty
        $Error.Count | Should -Be $before
    }
}

Describe 'An engine that accepts and never answers' {
    BeforeAll {
        # A fake engine on loopback: it answers /_ping and /info like a swarm manager (so Connect-SwarmCluster
        # succeeds), then accepts every other request and never replies.
        Add-Type -TypeDefinition @'
using System; using System.Collections.Generic; using System.Net; using System.Net.Sockets; using System.Text; using System.Threading;
public sealed class CompletionTestSilentEngine : IDisposable
{
    private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
    private readonly List<TcpClient> _held = new List<TcpClient>();
    private volatile bool _stopped;
    public int Port { get; private set; }
    public int Held { get { lock (_held) return _held.Count; } }
    public CompletionTestSilentEngine()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        new Thread(Accept) { IsBackground = true }.Start();
    }
    private void Accept()
    {
        while (!_stopped)
        {
            TcpClient c;
            try { c = _listener.AcceptTcpClient(); } catch { return; }
            new Thread(() => Serve(c)) { IsBackground = true }.Start();
        }
    }
    private void Serve(TcpClient c)
    {
        try
        {
            var s = c.GetStream();
            var buf = new List<byte>();
            var one = new byte[1];
            while (!_stopped)
            {
                buf.Clear();
                while (true)
                {
                    if (s.Read(one, 0, 1) != 1) { c.Close(); return; }
                    buf.Add(one[0]);
                    int n = buf.Count;
                    if (n >= 4 && buf[n - 4] == 13 && buf[n - 3] == 10 && buf[n - 2] == 13 && buf[n - 1] == 10) break;
                }
                string path = Encoding.ASCII.GetString(buf.ToArray()).Split(' ')[1];
                string body, extra = "";
                if (path.EndsWith("/_ping")) { body = "OK"; extra = "Api-Version: 1.45\r\nServer: Docker/26.1.5 (linux)\r\nSwarm: active/manager\r\n"; }
                else if (path.EndsWith("/info")) body = "{\"Name\":\"silent\",\"ServerVersion\":\"26.1.5\",\"Swarm\":{\"NodeID\":\"silentnode\",\"LocalNodeState\":\"active\",\"ControlAvailable\":true,\"Cluster\":{\"ID\":\"silentcluster\"}}}";
                else { lock (_held) _held.Add(c); return; }
                byte[] b = Encoding.UTF8.GetBytes(body);
                byte[] h = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: " + (body == "OK" ? "text/plain" : "application/json") + "\r\n" + extra + "Content-Length: " + b.Length + "\r\n\r\n");
                s.Write(h, 0, h.Length); s.Write(b, 0, b.Length); s.Flush();
            }
        }
        catch { }
    }
    public void Dispose()
    {
        _stopped = true;
        try { _listener.Stop(); } catch { }
        lock (_held) { foreach (var c in _held) { try { c.Close(); } catch { } } _held.Clear(); }
    }
}
'@
        # the real budget here, and no memory of failures between the cases (each must send its own request)
        $BudgetField.SetValue($null, $DefaultBudget)
        $TtlField.SetValue($null, [TimeSpan]::Zero)
        $script:Silent = [CompletionTestSilentEngine]::new()
        $script:SilentCtx = Connect-SwarmCluster -Endpoint "tcp://127.0.0.1:$($Silent.Port)" -KnownHostsPath $Lab.KnownHostsPath -TimeoutSec 1 -NoDefault
    }
    AfterAll {
        $BudgetField.SetValue($null, [TimeSpan]::FromSeconds(20))
        $TtlField.SetValue($null, $DefaultTtl)
        if ($SilentCtx) { Disconnect-SwarmCluster -Context $SilentCtx -ErrorAction SilentlyContinue }
        if ($Silent) { $Silent.Dispose() }
    }

    It 'completes nothing, with no error and nothing on any stream: <Line>' -ForEach @(
        @{ Line = 'Get-SwarmNode -Context $script:SilentCtx -Name swarmlab-' }
        @{ Line = 'Get-SwarmStack -Context $script:SilentCtx -Name ' }
        @{ Line = 'Get-SwarmService -Context $script:SilentCtx -Name ' }
        @{ Line = 'Get-SwarmSecret -Context $script:SilentCtx -Name ' }
        @{ Line = 'Get-SwarmConfig -Context $script:SilentCtx -Name ' }
    ) {
        $SilentCtx.IsConnected | Should -BeTrue
        $heldBefore = $Silent.Held
        $before = $Error.Count
        Complete $Line | Should -BeNullOrEmpty
        $Error.Count | Should -Be $before
        # the request really reached the engine and was left unanswered (not refused before it was sent)
        $Silent.Held | Should -BeGreaterThan $heldBefore
    }

    It 'remembers a timeout for the cache lifetime: the next Tab sends nothing and answers nothing at once' {
        $TtlField.SetValue($null, [TimeSpan]::FromMinutes(10))
        try {
            Complete 'Get-SwarmNode -Context $script:SilentCtx -Name x' | Should -BeNullOrEmpty
            $held = $Silent.Held
            Complete 'Get-SwarmNode -Context $script:SilentCtx -Name x' | Should -BeNullOrEmpty
            $Silent.Held | Should -Be $held -Because 'a request that timed out is not sent again within the cache lifetime'
        }
        finally { $TtlField.SetValue($null, [TimeSpan]::Zero) }
    }

    It 'leaves the default context working' {
        (Complete 'Get-SwarmNode -Name swarmlab-m').CompletionText | Should -Be @($Managers.Name | Sort-Object)
    }
}
