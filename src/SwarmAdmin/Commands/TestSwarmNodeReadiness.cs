using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Quorum;
using SwarmAdmin.Recovery;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Test-SwarmNodeReadiness: checks over SSH whether machines can run (or join) a swarm: engine and version skew,
    /// vxlan, time sync and clock offset, the swarm ports between the nodes, MTU, disk. Read-only; the temporary
    /// listeners it starts for the port checks are stopped before it returns.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "SwarmNodeReadiness", DefaultParameterSetName = "Node")]
    [OutputType(typeof(SwarmNodeReadiness))]
    public sealed class TestSwarmNodeReadinessCommand : SwarmCmdlet
    {
        /// <summary>Machines: SSH targets or nodes from Import-SwarmClusterConfig / Install-SwarmEngine.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Node")]
        [ValidateNotNull]
        public SwarmNodeTarget[] Node { get; set; }

        /// <summary>A whole cluster file (Import-SwarmClusterConfig): every node it declares.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "ClusterConfig")]
        [ValidateNotNull]
        public SwarmClusterConfig Config { get; set; }

        /// <summary>The UDP port of overlay (VXLAN) traffic, when the swarm uses another than 4789 (Initialize-Swarm -DataPathPort).</summary>
        [Parameter]
        [ValidateRange(1024, 65535)]
        public int DataPathPort { get; set; } = 4789;

        /// <summary>How many nodes are checked at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 8;

        /// <summary>Seconds each remote step may take.</summary>
        [Parameter]
        [ValidateRange(5, 600)]
        public int TimeoutSec { get; set; } = 60;

        /// <summary>SSH private key. Default: the node's key from the cluster file, else ~/.ssh/id_*.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts file for host key checks. Default: the node's from the cluster file, else ~/.ssh/known_hosts.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        private readonly List<SwarmNodeTarget> _targets = new List<SwarmNodeTarget>();

        private const string Env = "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";

        private sealed class Probe
        {
            public SwarmNodeTarget Target;
            public string Name;
            public string Address;
            public NodeShell Shell;
            public Dictionary<string, List<string>> Facts = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            public string ProcNet = "";
            public readonly List<SwarmReadinessFinding> Findings = new List<SwarmReadinessFinding>();
            public SwarmNodeReadiness Result = new SwarmNodeReadiness();
            public readonly Stopwatch Watch = Stopwatch.StartNew();
            public HashSet<string> Listening = new HashSet<string>(StringComparer.Ordinal); // "tcp/7946"
            public HashSet<string> OurListeners = new HashSet<string>(StringComparer.Ordinal);
            public string RunDir;
            public Dictionary<string, string> Received = new Dictionary<string, string>(StringComparer.Ordinal); // "udp/7946" -> tokens
            public string Fact(string key) => Facts.TryGetValue(key, out var v) && v.Count > 0 ? v[v.Count - 1] : null;
            public bool Has(string key, string value) => Facts.TryGetValue(key, out var v) && v.Contains(value);
            public void Add(string check, FindingSeverity severity, string message, string detail = null)
            {
                lock (Findings) Findings.Add(new SwarmReadinessFinding { Node = Name, Check = check, Severity = severity, Message = message, Detail = detail });
            }
        }

        protected override Task ProcessRecordAsync()
        {
            if (ParameterSetName == "ClusterConfig") _targets.AddRange(Config.Nodes.Where(n => n != null).Select(n => new SwarmNodeTarget(n)));
            else _targets.AddRange(Node.Where(n => n != null));
            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync()
        {
            if (_targets.Count == 0) return;
            string keyFile = KeyFile != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile) : null;
            string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : null;
            var nodes = _targets.Select(t => new Probe { Target = t, Name = t.ToString() }).ToList();
            string runId = Guid.NewGuid().ToString("N").Substring(0, 12);
            var timeout = TimeSpan.FromSeconds(TimeoutSec);
            try
            {
                await RunPhaseAsync(nodes, "Reading the nodes", p => ProbeAsync(p, keyFile, knownHosts, timeout));
                var up = nodes.Where(p => p.Shell != null).ToList();

                // engine version skew across the nodes given
                var (reference, differ) = ReadinessRules.Skew(up.ToDictionary(p => p.Name, p => p.Result.EngineVersion, StringComparer.Ordinal));
                foreach (var p in up.Where(x => x.Result.EngineVersion != null))
                {
                    if (differ.Contains(p.Name)) p.Add("EngineSkew", FindingSeverity.Warning, $"engine {p.Result.EngineVersion} differs from {reference}, which most of the nodes given run: keep one version across a swarm (Install-SwarmEngine -Version)");
                    else if (up.Count > 1) p.Add("EngineSkew", FindingSeverity.Info, $"engine {p.Result.EngineVersion} is the version {(differ.Count == 0 ? "all" : "most")} of the nodes given run");
                }

                // ports and path MTU between every pair of nodes
                if (up.Count >= 2)
                {
                    try
                    {
                        await RunPhaseAsync(up, "Starting temporary listeners", p => StartListenersAsync(p, runId, timeout));
                        var results = new Dictionary<(int Src, int Dst, string Port), string>();
                        var mtuResults = new Dictionary<(int Src, int Dst), string>();
                        var tokens = up.Select((p, i) => up.Select((q, j) => $"sa{runId}s{i}d{j}").ToArray()).ToArray();
                        await RunPhaseAsync(up, "Checking ports between the nodes", p => PairProbesAsync(p, up, tokens, results, mtuResults, timeout));
                        await RunPhaseAsync(up, "Collecting and stopping listeners", p => CollectAsync(p, timeout, StopToken));
                        EvaluatePorts(up, tokens, results);
                        EvaluatePathMtu(up, mtuResults);
                    }
                    finally
                    {
                        // whatever happened (Ctrl+C too), stop every listener we started and remove its files
                        using (var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
                            await Task.WhenAll(up.Where(p => p.RunDir != null).Select(p => CollectAsync(p, TimeSpan.FromSeconds(15), cleanup.Token, quiet: true)));
                    }
                }
                else if (up.Count == 1)
                {
                    up[0].Add("Port", FindingSeverity.Info, "ports between nodes not checked: give at least two nodes");
                }

                foreach (var p in nodes)
                {
                    SwarmNodeReadiness r = p.Result;
                    r.Node = p.Name;
                    r.Address = p.Address;
                    r.Target = p.Target;
                    r.Findings = p.Findings.OrderByDescending(f => f.Severity).ThenBy(f => CheckOrder(f.Check)).ToArray();
                    r.Status = ReadinessRules.StatusOf(r.Findings);
                    r.CheckedAt = DateTime.UtcNow;
                    r.Duration = p.Watch.Elapsed;
                    WriteObject(r);
                }
            }
            finally
            {
                foreach (var p in nodes) p.Shell?.Dispose();
            }
        }

        private static int CheckOrder(string check) => Array.IndexOf(new[] { "Ssh", "Os", "Engine", "EngineSkew", "Overlay", "TimeSync", "Clock", "Port", "Mtu", "Disk" }, check);

        private async Task RunPhaseAsync(List<Probe> items, string activity, Func<Probe, Task> body)
        {
            var throttle = new SemaphoreSlim(ThrottleLimit);
            var tasks = items.Select(p => Task.Run(async () =>
            {
                await throttle.WaitAsync(StopToken).ConfigureAwait(false);
                try { await body(p).ConfigureAwait(false); }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    Exception e = SwarmErrors.Unwrap(ex);
                    p.Add(p.Shell == null ? "Ssh" : "Engine", FindingSeverity.Error, $"{activity} failed on {p.Name}: {e.Message}", e.GetType().Name);
                }
                finally { throttle.Release(); }
            })).ToList();
            var progress = new ProgressRecord(4302, "Test-SwarmNodeReadiness", $"{activity}: 0 of {tasks.Count} nodes done");
            Task all = Task.WhenAll(tasks);
            while (await Task.WhenAny(all, Task.Delay(500)) != all)
            {
                int done = tasks.Count(x => x.IsCompleted);
                progress.StatusDescription = $"{activity}: {done} of {tasks.Count} nodes done";
                progress.PercentComplete = done * 100 / tasks.Count;
                WriteProgress(progress);
            }
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            await all;
        }

        // ------------------------------------------------------------------ per node (worker threads)

        private const string ProbeScript = @"
b64() { [ -r ""$1"" ] && base64 < ""$1"" | tr -d '\n'; echo; }
f=/etc/os-release; [ -r $f ] || f=/usr/lib/os-release
printf 'os='; b64 $f
echo ""kernel=$(uname -r)""
if [ -f /.dockerenv ] || [ -f /run/.containerenv ]; then echo container=1; fi
if command -v docker >/dev/null 2>&1; then
  echo ""engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null)""
  echo ""dataroot=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null)""
else
  echo nocli=1
fi
if command -v dockerd >/dev/null 2>&1; then echo ""dockerd=$(dockerd --version 2>/dev/null | head -n 1)""; fi
k=$(uname -r)
if [ -e /sys/module/vxlan/initstate ] || [ -e /sys/module/vxlan/refcnt ]; then echo vxlan=loaded
elif [ -e /sys/module/vxlan/parameters ] || [ -e /sys/module/vxlan/version ]; then echo vxlan=builtin; fi
if [ -r /lib/modules/$k/modules.builtin ] && grep -q '/vxlan\.ko' /lib/modules/$k/modules.builtin; then echo vxlan=builtin; fi
if [ -d /lib/modules/$k ] && command -v modprobe >/dev/null 2>&1 && modprobe -n -q vxlan 2>/dev/null; then echo vxlan=loadable; fi
for d in /sys/class/net/*; do if grep -qs '^DEVTYPE=vxlan' ""$d/uevent""; then echo vxlan=interface; break; fi; done
if command -v timedatectl >/dev/null 2>&1; then s=$(timedatectl show -p NTPSynchronized --value 2>/dev/null); [ -n ""$s"" ] && echo ""ntpsync=$s""; fi
if command -v chronyc >/dev/null 2>&1; then chronyc -n tracking 2>/dev/null | awk -F': *' '/^Leap status/ {print ""chronyleap="" $2} /^System time/ {print ""chronysys="" $2}'; fi
for p in chronyd ntpd systemd-timesyncd openntpd ntpsec; do if pidof $p >/dev/null 2>&1; then echo ""timedaemon=$p""; fi; done
ssh_addr=$(echo ""$SWARMADMIN_SSH"" | awk '{print $3}')
echo ""sshaddr=$ssh_addr""
addr=${WANT_ADDR:-$ssh_addr}
dev=''
if command -v ip >/dev/null 2>&1; then
  [ -n ""$addr"" ] && dev=$(ip -o addr show 2>/dev/null | awk -v a=""$addr"" '{split($4, p, ""/""); if (p[1] == a) { print $2; exit }}')
  [ -z ""$dev"" ] && dev=$(ip route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == ""dev"") { print $(i + 1); exit }}')
fi
[ -z ""$dev"" ] && dev=$(awk 'NR > 1 && $2 == ""00000000"" { print $1; exit }' /proc/net/route 2>/dev/null)
dev=${dev%@*}
echo ""iface=$dev""
if [ -n ""$dev"" ] && [ -r /sys/class/net/$dev/mtu ]; then echo ""mtu=$(cat /sys/class/net/$dev/mtu)""; fi
root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null); [ -n ""$root"" ] || root=/var/lib/docker
[ -d ""$root"" ] || root=/var/lib
echo ""dfroot=$root""
df -Pk ""$root"" 2>/dev/null | tail -n 1 | sed 's/^/df=/'
command -v bash >/dev/null 2>&1 && echo tool=bash
command -v socat >/dev/null 2>&1 && echo tool=socat
command -v python3 >/dev/null 2>&1 && echo tool=python3
if command -v nc >/dev/null 2>&1; then echo tool=nc; nc -h 2>&1 | grep -q -- ' -u' && echo tool=nc-u; nc -h 2>&1 | grep -q -- ' -z' && echo tool=nc-z; fi
command -v timeout >/dev/null 2>&1 && echo tool=timeout
command -v setsid >/dev/null 2>&1 && echo tool=setsid
ping -V 2>&1 | grep -q iputils && echo tool=iputils-ping
for n in tcp tcp6 udp udp6; do echo ""@$n""; cat /proc/net/$n 2>/dev/null; done
exit 0";

        private async Task ProbeAsync(Probe p, string keyFile, string knownHosts, TimeSpan timeout)
        {
            Verbose($"{p.Name}: connecting over SSH and reading the OS, engine, kernel, time sync, MTU and disk.");
            try
            {
                p.Shell = await NodeShell.ConnectAsync(null, p.Target, keyFile, knownHosts, StopToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && StopToken.IsCancellationRequested))
            {
                Exception e = SwarmErrors.Unwrap(ex);
                ErrorRecord rec = SwarmErrors.ToRecord(e, p.Target);
                p.Add("Ssh", FindingSeverity.Error, $"cannot reach {p.Name} over SSH: {e.Message}", rec.FullyQualifiedErrorId.Split(',')[0]);
                p.Address = p.Target.AdvertiseAddress;
                return;
            }
            string wantAddr = p.Target.AdvertiseAddress;
            if (wantAddr == null && IPAddress.TryParse(p.Shell.Endpoint.Host, out _)) wantAddr = p.Shell.Endpoint.Host;
            if (wantAddr != null && !IPAddress.TryParse(wantAddr, out _)) wantAddr = null;
            SshExecResult r = await p.Shell.ExecAsync(Env + (wantAddr != null ? $"WANT_ADDR={wantAddr}\n" : "") + ProbeScript, null, timeout, StopToken).ConfigureAwait(false);
            if (r.ExitCode != 0)
            {
                p.Add("Ssh", FindingSeverity.Error, $"the checks could not run on {p.Name} (exit {r.ExitCode}){(p.Shell.UsesSudo ? $": '{p.Shell.Endpoint.User}' needs passwordless sudo (sudo -n)" : "")}", InstallSwarmEngineCommand.Tail(r.StdErr, 5));
                return;
            }
            ParseFacts(p, r.StdOut);
            p.Address = wantAddr ?? p.Fact("sshaddr") ?? p.Shell.Endpoint.Host;
            Evaluate(p);
            await ClockAsync(p, timeout).ConfigureAwait(false);
        }

        private static void ParseFacts(Probe p, string output)
        {
            var procNet = new StringBuilder();
            bool inProc = false;
            foreach (string raw in (output ?? string.Empty).Split('\n'))
            {
                string line = raw.TrimEnd('\r');
                if (line.StartsWith("@tcp", StringComparison.Ordinal) || line.StartsWith("@udp", StringComparison.Ordinal)) { inProc = true; procNet.Append(line).Append('\n'); continue; }
                if (inProc) { procNet.Append(line).Append('\n'); continue; }
                int eq = line.IndexOf('=');
                if (eq <= 0) continue;
                string key = line.Substring(0, eq);
                if (!p.Facts.TryGetValue(key, out var list)) p.Facts[key] = list = new List<string>();
                list.Add(line.Substring(eq + 1).Trim());
            }
            p.ProcNet = procNet.ToString();
            p.Listening = ListeningFrom(p.ProcNet);
        }

        private static HashSet<string> ListeningFrom(string sections) => ReadinessRules.ListeningFrom(sections);

        private static void Evaluate(Probe p)
        {
            string osText = p.Fact("os");
            OsRelease os = OsRelease.Parse(string.IsNullOrEmpty(osText) ? "" : SafeB64(osText));
            p.Result.Os = os.Id;
            p.Result.OsVersion = os.VersionId ?? os.Codename;
            p.Result.Kernel = p.Fact("kernel");
            string installable = os.WhyUnsupported(SwarmEngineSource.Distribution);
            p.Add("Os", FindingSeverity.Info, $"{os}, kernel {p.Result.Kernel}{(installable != null ? " (Install-SwarmEngine does not support it)" : "")}", osText == null ? null : os.PrettyName);

            // engine
            string engine = p.Fact("engine");
            p.Result.EngineVersion = string.IsNullOrEmpty(engine) ? null : engine;
            if (p.Result.EngineVersion == null)
            {
                string dockerd = p.Fact("dockerd");
                if (p.Has("nocli", "1") && !string.IsNullOrEmpty(dockerd))
                    p.Add("Engine", FindingSeverity.Error, $"dockerd is installed ({dockerd}) but the docker CLI is not: SwarmAdmin reaches the engine through 'docker system dial-stdio' (install docker-cli)", dockerd);
                else if (!string.IsNullOrEmpty(dockerd))
                    p.Add("Engine", FindingSeverity.Error, $"the engine does not answer ({dockerd} is installed): start it (systemctl start docker)", dockerd);
                else
                    p.Add("Engine", FindingSeverity.Error, "no Docker Engine is installed (Install-SwarmEngine installs one)");
            }
            else
            {
                Version v = ReadinessRules.EngineVersion(p.Result.EngineVersion);
                if (v != null && v < ReadinessRules.MinEngine)
                    p.Add("Engine", FindingSeverity.Error, $"engine {p.Result.EngineVersion} is older than 20.10, the oldest SwarmAdmin supports (API 1.41)");
                else
                    p.Add("Engine", FindingSeverity.Info, $"engine {p.Result.EngineVersion} answers");
            }

            // overlay networks need vxlan
            var evidence = p.Facts.TryGetValue("vxlan", out var ev) ? ev : new List<string>();
            var (vsev, vmsg) = ReadinessRules.Vxlan(evidence);
            p.Add("Overlay", vsev, vmsg, evidence.Count == 0 ? "no evidence" : string.Join(", ", evidence));

            // time synchronisation
            string ntpsync = p.Fact("ntpsync"), leap = p.Fact("chronyleap");
            var daemons = p.Facts.TryGetValue("timedaemon", out var td) ? td : new List<string>();
            bool container = p.Has("container", "1");
            if (ntpsync == "yes" || (leap != null && leap.StartsWith("Normal", StringComparison.OrdinalIgnoreCase)))
                p.Add("TimeSync", FindingSeverity.Info, $"the clock is synchronised ({(ntpsync == "yes" ? "timedatectl: NTPSynchronized=yes" : "chrony: " + leap)})", p.Fact("chronysys"));
            else if (ntpsync == "no" || leap != null)
                p.Add("TimeSync", FindingSeverity.Warning, $"a time service runs but the clock is not synchronised ({(ntpsync == "no" ? "timedatectl: NTPSynchronized=no" : "chrony: " + leap)}): check its servers and that UDP 123 gets out", string.Join(", ", daemons));
            else if (daemons.Count > 0)
                p.Add("TimeSync", FindingSeverity.Info, $"{string.Join(", ", daemons)} runs (its synchronisation state could not be read)");
            else if (container)
                p.Add("TimeSync", FindingSeverity.Info, "no time service runs, but this is a container: its clock is the host's (check the host)");
            else
                p.Add("TimeSync", FindingSeverity.Warning, "no time synchronisation found (no systemd-timesyncd, chrony or ntpd): install one, e.g. apt-get install chrony");

            // MTU
            if (int.TryParse(p.Fact("mtu"), NumberStyles.None, CultureInfo.InvariantCulture, out int mtu)) p.Result.Mtu = mtu;
            var (msev, mmsg) = ReadinessRules.Mtu(p.Result.Mtu);
            p.Add("Mtu", msev, mmsg, p.Fact("iface") != null ? $"interface {p.Fact("iface")}" : null);

            // disk on the data root
            string df = p.Fact("df");
            if (df != null && ReadinessRules.TryParseDf(df, out double freeGB, out int used, out string mount))
            {
                p.Result.FreeDiskGB = Math.Round(freeGB, 2);
                var dsev = ReadinessRules.DiskSeverity(freeGB, used);
                p.Add("Disk", dsev, $"{freeGB:0.#} GiB free ({used}% used) on {p.Fact("dfroot")}" + (dsev == FindingSeverity.Info ? "" : $": keep at least {ReadinessRules.DiskWarningGB} GiB and under {ReadinessRules.DiskWarningPercent}% for images, containers and raft state"), df);
            }
            else
            {
                p.Add("Disk", FindingSeverity.Warning, $"free space on {p.Fact("dfroot") ?? "the data root"} could not be read", df);
            }
        }

        private static string SafeB64(string text)
        {
            try { return Encoding.UTF8.GetString(Convert.FromBase64String(text)); }
            catch (FormatException) { return string.Empty; }
        }

        /// <summary>Three samples of the node's clock; the one with the shortest round trip counts.</summary>
        private async Task ClockAsync(Probe p, TimeSpan timeout)
        {
            double best = double.MaxValue, offset = 0, uncertainty = 0;
            string raw = null;
            for (int i = 0; i < 3; i++)
            {
                DateTime t0 = DateTime.UtcNow;
                SshExecResult r = await p.Shell.ExecAsync("date -u +%s.%N", null, timeout, StopToken).ConfigureAwait(false);
                DateTime t1 = DateTime.UtcNow;
                if (r.ExitCode != 0) break;
                if (ReadinessRules.TryClockOffset(r.StdOut, t0, t1, out double o, out double u) && u < best) { best = u; offset = o; uncertainty = u; raw = r.StdOut.Trim(); }
            }
            if (raw == null)
            {
                p.Add("Clock", FindingSeverity.Warning, "the node's clock could not be read (date -u +%s)");
                return;
            }
            p.Result.ClockOffsetSeconds = Math.Round(offset, 3);
            var sev = ReadinessRules.ClockSeverity(offset, uncertainty);
            string msg = $"the clock is {Math.Abs(offset):0.###} s {(offset >= 0 ? "ahead of" : "behind")} this machine's (± {uncertainty:0.###} s)";
            if (sev == FindingSeverity.Warning) msg += $": more than {ReadinessRules.ClockWarningSeconds} s off; synchronise it (NTP)";
            if (sev == FindingSeverity.Error) msg += $": more than {ReadinessRules.ClockErrorSeconds} s off, which breaks swarm TLS certificates and raft timing; synchronise it (NTP) before joining";
            p.Add("Clock", sev, msg, $"node said {raw}; measured against the local clock, corrected by half the SSH round trip");
        }

        // ------------------------------------------------------------------ ports between nodes

        private IEnumerable<(string Proto, int Port)> Ports() => new[] { ("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", DataPathPort) };

        private static bool HasTool(Probe p, string tool) => p.Has("tool", tool);

        /// <summary>A listener command for a port nothing listens on, with the tools the node has (null: none).</summary>
        private static string ListenerCommand(Probe p, string proto, int port, string file)
        {
            if (proto == "tcp")
            {
                if (HasTool(p, "socat")) return $"socat -u TCP-LISTEN:{port},reuseaddr,fork /dev/null";
                if (HasTool(p, "python3")) return $"python3 -c 'import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((\"\",{port}))\ns.listen(64)\nwhile True:\n  c,a=s.accept()\n  c.close()'";
                if (HasTool(p, "nc")) return $"while :; do nc -l -p {port} </dev/null >/dev/null 2>&1 || nc -l {port} </dev/null >/dev/null 2>&1 || sleep 1; done";
                return null;
            }
            if (HasTool(p, "socat")) return $"socat -u UDP-RECV:{port},reuseaddr OPEN:{file},creat,append";
            if (HasTool(p, "python3")) return $"python3 -c 'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((\"\",{port}))\nf=open(\"{file}\",\"ab\")\nwhile True:\n  d,a=s.recvfrom(4096)\n  f.write(d)\n  f.flush()'";
            if (HasTool(p, "nc-u") && HasTool(p, "timeout")) return $"while :; do timeout 1 nc -u -l -p {port} >> {file} 2>/dev/null || timeout 1 nc -u -l {port} >> {file} 2>/dev/null; done";
            return null;
        }

        private async Task StartListenersAsync(Probe p, string runId, TimeSpan timeout)
        {
            p.RunDir = $"/tmp/swarmadmin-ready-{runId}";
            var sb = new StringBuilder(Env + $"set -e\numask 077\nmkdir -p {p.RunDir}\nd={p.RunDir}\n");
            int n = 0;
            foreach (var (proto, port) in Ports())
            {
                string key = $"{proto}/{port}";
                if (p.Listening.Contains(key)) continue;
                string file = $"{p.RunDir}/{proto}-{port}.recv";
                string cmd = ListenerCommand(p, proto, port, file);
                if (cmd == null) continue;
                string script = $"{p.RunDir}/{proto}-{port}.sh";
                // each listener: its own session (setsid: no hangup when the SSH/sudo session ends), its pid for the
                // stop, and a watchdog that ends it after 180 s even if the stop never comes
                sb.Append($"cat > {script} <<'SWARMADMIN_EOF'\necho $$ > {p.RunDir}/{proto}-{port}.pid\n( sleep 180; kill -TERM -$$ 2>/dev/null; kill -TERM $$ 2>/dev/null ) </dev/null >/dev/null 2>&1 &\n{cmd}\nSWARMADMIN_EOF\n");
                sb.Append(HasTool(p, "setsid") ? $"setsid sh {script} </dev/null >/dev/null 2>&1 &\n" : $"sh {script} </dev/null >/dev/null 2>&1 &\n");
                p.OurListeners.Add(key);
                n++;
            }
            if (n == 0 && p.OurListeners.Count == 0)
            {
                sb.Append("exit 0\n");
            }
            else
            {
                sb.Append("sleep 1\nfor n in tcp tcp6 udp udp6; do echo \"@$n\"; cat /proc/net/$n 2>/dev/null; done\n");
            }
            Verbose($"{p.Name}: starting {n} temporary listener(s) for the port checks ({string.Join(", ", p.OurListeners)}).");
            SshExecResult r = await p.Shell.ExecAsync(sb.ToString(), null, timeout, StopToken).ConfigureAwait(false);
            if (r.ExitCode != 0) throw new InvalidOperationException($"starting listeners failed (exit {r.ExitCode}): {InstallSwarmEngineCommand.Tail(r.StdErr, 3)}");
            if (n > 0)
            {
                var now = ListeningFrom(r.StdOut);
                foreach (string key in p.OurListeners.ToList()) if (!now.Contains(key)) p.OurListeners.Remove(key);
            }
        }

        private async Task PairProbesAsync(Probe src, List<Probe> all, string[][] tokens, Dictionary<(int, int, string), string> results, Dictionary<(int, int), string> mtuResults, TimeSpan timeout)
        {
            int si = all.IndexOf(src);
            bool bash = HasTool(src, "bash"), timeoutTool = HasTool(src, "timeout");
            string to = timeoutTool ? "timeout 5 " : "";
            var sb = new StringBuilder(Env + $"t=$(mktemp -d /tmp/swarmadmin-probe.XXXXXX)\ntrap 'rm -rf \"$t\"' EXIT\n");
            sb.Append(@"tcp_try() { # idx ip port
  if " + (bash ? "true" : "false") + @"; then " + to + @"bash -c ""exec 3<>/dev/tcp/$2/$3"" 2>""$t/e.$1.$3""; rc=$?
  elif " + (HasTool(src, "nc-z") ? "true" : "false") + @"; then " + to + @"nc -z -w 3 ""$2"" ""$3"" 2>""$t/e.$1.$3""; rc=$?
  elif " + (HasTool(src, "nc") ? "true" : "false") + @"; then " + to + @"nc -w 3 ""$2"" ""$3"" </dev/null >/dev/null 2>""$t/e.$1.$3""; rc=$?
  else echo ""r $1 tcp $3 notool""; return; fi
  if [ $rc -eq 0 ]; then echo ""r $1 tcp $3 ok""
  elif grep -qi refused ""$t/e.$1.$3"" 2>/dev/null; then echo ""r $1 tcp $3 refused""
  else echo ""r $1 tcp $3 timeout""; fi
}
tcp_check() { # retries a refused connect: a one-connection listener may be between two accepts
  for i in 1 2 3 4 5; do
    res=$(tcp_try ""$@""); case ""$res"" in *refused) sleep 1 ;; *) break ;; esac
  done
  echo ""$res""
}
udp_send() { # ip port token
");
            if (bash) sb.Append("  printf '%s\\n' \"$3\" 2>/dev/null > /dev/udp/$1/$2 && return 0\n");
            if (HasTool(src, "socat")) sb.Append("  printf '%s\\n' \"$3\" | socat -u - UDP-SENDTO:$1:$2 2>/dev/null && return 0\n");
            if (HasTool(src, "python3")) sb.Append("  python3 -c 'import socket,sys; socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto((sys.argv[3]+\"\\n\").encode(),(sys.argv[1],int(sys.argv[2])))' \"$1\" \"$2\" \"$3\" 2>/dev/null && return 0\n");
            if (HasTool(src, "nc-u") && timeoutTool) sb.Append("  printf '%s\\n' \"$3\" | timeout 2 nc -u -w 1 \"$1\" \"$2\" 2>/dev/null; return 0\n");
            sb.Append("  return 1\n}\n");
            bool canSendUdp = bash || HasTool(src, "socat") || HasTool(src, "python3") || (HasTool(src, "nc-u") && timeoutTool);

            for (int di = 0; di < all.Count; di++)
            {
                if (di == si) continue;
                Probe dst = all[di];
                foreach (var (proto, port) in Ports().Where(x => x.Item1 == "tcp"))
                    sb.Append($"tcp_check {di} {dst.Address} {port} > \"$t/r.{di}.{port}\" &\n");
                if (HasTool(src, "iputils-ping") && src.Result.Mtu.HasValue)
                {
                    int size = Math.Min(src.Result.Mtu.Value, dst.Result.Mtu ?? src.Result.Mtu.Value) - 28;
                    sb.Append($"( if ping -c 1 -W 2 {dst.Address} >/dev/null 2>&1; then if ping -c 1 -W 2 -M do -s {size} {dst.Address} >/dev/null 2>&1; then echo \"m {di} ok {size + 28}\"; else echo \"m {di} toolarge {size + 28}\"; fi; else echo \"m {di} noreply\"; fi ) > \"$t/m.{di}\" &\n");
                }
            }
            sb.Append("wait\n");
            if (canSendUdp)
            {
                // three rounds of one datagram per node and port: the collector counts what arrived
                sb.Append("for round in 1 2 3; do\n");
                for (int di = 0; di < all.Count; di++)
                {
                    if (di == si) continue;
                    foreach (var (proto, port) in Ports().Where(x => x.Item1 == "udp"))
                        sb.Append($"  udp_send {all[di].Address} {port} {tokens[si][di]}p{port} || echo \"r {di} udp {port} notool\" > \"$t/u.{di}.{port}\"\n");
                }
                sb.Append("  sleep 1\ndone\n");
                for (int di = 0; di < all.Count; di++)
                {
                    if (di == si) continue;
                    foreach (var (proto, port) in Ports().Where(x => x.Item1 == "udp"))
                        sb.Append($"if [ -s \"$t/u.{di}.{port}\" ]; then cat \"$t/u.{di}.{port}\"; else echo \"r {di} udp {port} sent\"; fi\n");
                }
            }
            else
            {
                for (int di = 0; di < all.Count; di++)
                {
                    if (di == si) continue;
                    foreach (var (proto, port) in Ports().Where(x => x.Item1 == "udp")) sb.Append($"echo \"r {di} udp {port} notool\"\n");
                }
            }
            sb.Append("cat \"$t\"/r.* \"$t\"/m.* 2>/dev/null\nexit 0\n");
            Verbose($"{src.Name}: checking TCP {string.Join(", ", Ports().Where(x => x.Item1 == "tcp").Select(x => x.Item2))} and UDP {string.Join(", ", Ports().Where(x => x.Item1 == "udp").Select(x => x.Item2))} to {all.Count - 1} other node(s).");
            SshExecResult r = await src.Shell.ExecAsync(sb.ToString(), null, timeout + TimeSpan.FromSeconds(30), StopToken).ConfigureAwait(false);
            foreach (string raw in (r.StdOut ?? string.Empty).Split('\n'))
            {
                string[] f = raw.Trim().Split(' ');
                if (f.Length >= 5 && f[0] == "r" && int.TryParse(f[1], out int di))
                    lock (results) results[(si, di, $"{f[2]}/{f[3]}")] = f[4];
                else if (f.Length >= 3 && f[0] == "m" && int.TryParse(f[1], out int mi))
                    lock (mtuResults) mtuResults[(si, mi)] = string.Join(" ", f.Skip(2));
            }
        }

        /// <summary>Reads what the UDP listeners received, stops every listener we started and removes its files.</summary>
        private async Task CollectAsync(Probe p, TimeSpan timeout, CancellationToken ct, bool quiet = false)
        {
            if (p.RunDir == null || p.Shell == null) return;
            string dir = p.RunDir;
            string script = Env + $@"d={dir}
[ -d ""$d"" ] || exit 0
for f in ""$d""/*.recv; do [ -f ""$f"" ] && echo ""got ${{f##*/}} $(tr '\n' ' ' < ""$f"")""; done
for f in ""$d""/*.pid; do
  [ -f ""$f"" ] || continue
  pid=$(cat ""$f"")
  kill -TERM -""$pid"" 2>/dev/null || kill -TERM ""$pid"" 2>/dev/null
done
sleep 0.2 2>/dev/null || sleep 1
for f in ""$d""/*.pid; do [ -f ""$f"" ] && {{ pid=$(cat ""$f""); kill -KILL -""$pid"" 2>/dev/null; kill -KILL ""$pid"" 2>/dev/null; }}; done
rm -rf ""$d""
exit 0";
            try
            {
                SshExecResult r = await p.Shell.ExecAsync(script, null, timeout, ct).ConfigureAwait(false);
                foreach (string raw in (r.StdOut ?? string.Empty).Split('\n'))
                {
                    string line = raw.Trim();
                    if (!line.StartsWith("got ", StringComparison.Ordinal)) continue;
                    string[] f = line.Split(new[] { ' ' }, 3);
                    string name = f[1].Replace(".recv", ""); // udp-7946
                    lock (p.Received) p.Received[name.Replace('-', '/')] = f.Length > 2 ? f[2] : "";
                }
                if (!quiet) Verbose($"{p.Name}: temporary listeners stopped.");
                p.RunDir = null;
            }
            catch (Exception ex) when (quiet)
            {
                ((IOperationLog)this).Warning($"{p.Name}: the temporary port listeners could not be stopped ({SwarmErrors.Unwrap(ex).Message}); they end by themselves within 3 minutes (directory {dir}).");
            }
        }

        private void EvaluatePorts(List<Probe> up, string[][] tokens, Dictionary<(int Src, int Dst, string Port), string> results)
        {
            for (int di = 0; di < up.Count; di++)
            {
                Probe dst = up[di];
                foreach (var (proto, port) in Ports())
                {
                    string key = $"{proto}/{port}";
                    bool ours = dst.OurListeners.Contains(key), theirs = dst.Listening.Contains(key);
                    var blocked = new List<string>(); var notChecked = new List<string>(); var ok = new List<string>();
                    string why = null;
                    for (int si = 0; si < up.Count; si++)
                    {
                        if (si == di) continue;
                        string src = up[si].Name;
                        results.TryGetValue((si, di, key), out string res);
                        if (proto == "tcp")
                        {
                            if (res == "ok") ok.Add(src);
                            else if (res == "timeout") { blocked.Add($"{src} (no answer)"); }
                            else if (res == "refused" && (ours || theirs)) blocked.Add($"{src} (rejected)");
                            else if (res == "refused") { notChecked.Add(src); why = "nothing listens there and no tool (socat, python3, nc) could start a listener; the host answered with a reset"; }
                            else { notChecked.Add(src); why = why ?? $"no tool on {src} to open a TCP connection (bash, nc)"; }
                        }
                        else
                        {
                            string token = tokens[si][di] + "p" + port;
                            dst.Received.TryGetValue(key, out string got);
                            if (res == "notool" || res == null) { notChecked.Add(src); why = why ?? $"no tool on {src} to send UDP (bash, socat, python3, nc -u)"; }
                            else if (theirs && !ours) { notChecked.Add(src); why = $"the port is in use on {dst.Name} (by the engine or the kernel's VXLAN socket): UDP delivery cannot be seen without capturing packets"; }
                            else if (!ours) { notChecked.Add(src); why = $"no tool on {dst.Name} to receive UDP (socat, python3, nc -u with timeout)"; }
                            else if (got != null && got.Contains(token)) ok.Add(src);
                            else blocked.Add($"{src} (datagrams did not arrive)");
                        }
                    }
                    if (blocked.Count > 0)
                        dst.Add("Port", FindingSeverity.Error, $"{key} on {dst.Name} is not reachable from {string.Join(", ", blocked)}: open it in the firewalls between the nodes", $"reachable from: {(ok.Count > 0 ? string.Join(", ", ok) : "none")}{(notChecked.Count > 0 ? "; not checked from: " + string.Join(", ", notChecked) : "")}");
                    else if (ok.Count > 0 && notChecked.Count == 0)
                        dst.Add("Port", FindingSeverity.Info, $"{key} on {dst.Name} is reachable from all {ok.Count} other node(s){(ours ? " (through a temporary listener)" : "")}", string.Join(", ", ok));
                    else
                        dst.Add("Port", FindingSeverity.Info, $"{key} on {dst.Name} not checked{(ok.Count > 0 ? $" from {notChecked.Count} node(s) (reachable from {string.Join(", ", ok)})" : "")}: {why}", notChecked.Count > 0 ? "not checked from: " + string.Join(", ", notChecked) : null);
                }
            }
        }

        private static void EvaluatePathMtu(List<Probe> up, Dictionary<(int Src, int Dst), string> mtuResults)
        {
            for (int si = 0; si < up.Count; si++)
            {
                var tooLarge = new List<string>();
                int measured = 0;
                for (int di = 0; di < up.Count; di++)
                {
                    if (si == di || !mtuResults.TryGetValue((si, di), out string res)) continue;
                    if (res.StartsWith("toolarge", StringComparison.Ordinal)) tooLarge.Add(up[di].Name);
                    if (res.StartsWith("ok", StringComparison.Ordinal) || res.StartsWith("toolarge", StringComparison.Ordinal)) measured++;
                }
                if (tooLarge.Count > 0)
                    up[si].Add("Mtu", FindingSeverity.Warning, $"packets of the interface MTU ({up[si].Result.Mtu}) with don't-fragment set do not reach {string.Join(", ", tooLarge)}: the path MTU is smaller; give overlay networks a smaller MTU (com.docker.network.driver.mtu)");
                else if (measured > 0)
                    up[si].Add("Mtu", FindingSeverity.Info, $"full-size packets ({up[si].Result.Mtu} bytes, don't-fragment) reach {measured} other node(s)");
                else if (!HasTool(up[si], "iputils-ping"))
                    up[si].Add("Mtu", FindingSeverity.Info, "path MTU not measured (no iputils ping on the node); the interface MTU was used");
            }
            var mtus = up.Where(p => p.Result.Mtu.HasValue).Select(p => p.Result.Mtu.Value).Distinct().ToList();
            if (mtus.Count > 1)
            {
                int min = mtus.Min();
                foreach (var p in up.Where(x => x.Result.Mtu.HasValue && x.Result.Mtu.Value != min))
                    p.Add("Mtu", FindingSeverity.Warning, $"the nodes' interface MTUs differ ({string.Join(", ", mtus.OrderBy(x => x))}): overlay traffic must fit the smallest ({min}); use com.docker.network.driver.mtu={min - ReadinessRules.VxlanOverhead}");
            }
        }
    }
}
