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
            public HashSet<string> OurListeners = new HashSet<string>(StringComparer.Ordinal); // bound by our own processes
            public HashSet<string> NotBound = new HashSet<string>(StringComparer.Ordinal);     // started, but another process had the port
            public bool InSwarm;               // the engine is active/pending/locked in a swarm: it owns the swarm ports
            public string ListenersFailed;     // why the listeners could not be started (null: fine)
            public string ProbeFailed;         // why the checks from this node failed
            public string CollectFailed;       // why what the listeners received could not be read
            public double? ClockOffset, ClockUncertainty;
            public string ClockRaw;
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
            var nodes = Deduplicate(_targets).Select(t => new Probe { Target = t, Name = NameOf(t) }).ToList();
            string runId = Guid.NewGuid().ToString("N").Substring(0, 12);
            var timeout = TimeSpan.FromSeconds(TimeoutSec);
            try
            {
                await RunPhaseAsync(nodes, "Reading the nodes", p => ProbeAsync(p, keyFile, knownHosts, timeout));
                var up = nodes.Where(p => p.Shell != null).ToList();
                EvaluateClocks(nodes);

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
                        await RunPhaseAsync(up, "Starting temporary listeners", p => StartListenersAsync(p, runId, timeout), (p, why) => p.ListenersFailed = why);
                        var results = new Dictionary<(int Src, int Dst, string Port), string>();
                        var mtuResults = new Dictionary<(int Src, int Dst), string>();
                        var tokens = up.Select((p, i) => $"sa{runId}s{i}").ToArray(); // + "d{dst}p{port}" per datagram
                        await RunPhaseAsync(up, "Checking ports between the nodes", p => PairProbesAsync(p, up, tokens, results, mtuResults, timeout), (p, why) => p.ProbeFailed = why);
                        await RunPhaseAsync(up, "Collecting and stopping listeners", p => CollectAsync(p, timeout, StopToken), (p, why) => p.CollectFailed = why);
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

        private static SwarmEndpoint EndpointOf(SwarmNodeTarget t) => ReadinessRules.EndpointOf(t);

        /// <summary>The node's name in results and messages: the cluster-file name, else the SSH host.</summary>
        private static string NameOf(SwarmNodeTarget t) => ReadinessRules.NameOf(t);

        /// <summary>
        /// The same machine given twice (root@IP and a cluster-file node with that IP) would share the run folder and
        /// leave listeners behind: keep the first of each resolved host:port and warn about the others.
        /// </summary>
        private List<SwarmNodeTarget> Deduplicate(List<SwarmNodeTarget> targets)
        {
            var keys = targets.Select(t =>
            {
                SwarmEndpoint e = EndpointOf(t);
                if (e?.Host == null) return t.Text;
                string host = e.Host.Trim('[', ']');
                if (IPAddress.TryParse(host, out IPAddress ip)) host = ip.ToString();
                else
                {
                    try
                    {
                        var resolve = Dns.GetHostAddressesAsync(host);
                        if (resolve.Wait(TimeSpan.FromSeconds(2)) && resolve.Result.Length > 0)
                            host = resolve.Result.OrderBy(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : 1).ThenBy(a => a.ToString(), StringComparer.Ordinal).First().ToString();
                    }
                    catch (Exception ex) when (ex is AggregateException || ex is System.Net.Sockets.SocketException || ex is ArgumentException) { }
                }
                return $"{host.ToLowerInvariant()}:{e.Port}";
            }).ToList();
            var dups = ReadinessRules.Duplicates(keys);
            foreach (var (dup, of) in dups)
                WriteWarning($"{targets[dup].Text} ({NameOf(targets[dup])}) is the same machine as {targets[of].Text} ({NameOf(targets[of])}), {keys[dup]}: it is checked once.");
            var drop = new HashSet<int>(dups.Select(d => d.Duplicate));
            return targets.Where((t, i) => !drop.Contains(i)).ToList();
        }

        private static int CheckOrder(string check) => Array.IndexOf(new[] { "Ssh", "Os", "Engine", "EngineSkew", "Overlay", "TimeSync", "Clock", "Port", "Mtu", "Disk" }, check);

        /// <summary>
        /// Runs a step on every node. Without <paramref name="failed"/> a failure is the node's Ssh/Engine Error (the
        /// reading phase); with it, the failure is a tooling problem of the port phases: <paramref name="failed"/>
        /// records why, and the evaluation reports the ports concerned as Warning "not checked".
        /// </summary>
        private async Task RunPhaseAsync(List<Probe> items, string activity, Func<Probe, Task> body, Action<Probe, string> failed = null)
        {
            var throttle = new SemaphoreSlim(ThrottleLimit);
            var tasks = items.Select(p => Task.Run(async () =>
            {
                await throttle.WaitAsync(StopToken).ConfigureAwait(false);
                try { await body(p).ConfigureAwait(false); }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    Exception e = SwarmErrors.Unwrap(ex);
                    if (failed != null) failed(p, $"{activity.ToLowerInvariant()} failed on {p.Name}: {e.Message}");
                    else p.Add(p.Shell == null ? "Ssh" : "Engine", FindingSeverity.Error, $"{activity} failed on {p.Name}: {e.Message}", e.GetType().Name);
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
  echo ""swarmstate=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)""
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
            SshExecResult r = await p.Shell.ExecAsync(Env + (wantAddr != null ? $"WANT_ADDR={NodeShell.Quote(wantAddr)}\n" : "") + ProbeScript, null, timeout, StopToken).ConfigureAwait(false);
            if (r.ExitCode != 0)
            {
                p.Add("Ssh", FindingSeverity.Error, $"the checks could not run on {p.Name} (exit {r.ExitCode}){(p.Shell.UsesSudo ? $": '{p.Shell.Endpoint.User}' needs passwordless sudo (sudo -n)" : "")}", InstallSwarmEngineCommand.Tail(r.StdErr, 5));
                return;
            }
            ParseFacts(p, r.StdOut);
            // the address other nodes probe: only an IP address (sshaddr is what the node itself reported)
            string sshAddr = p.Fact("sshaddr");
            if (sshAddr != null && !IPAddress.TryParse(sshAddr, out _)) sshAddr = null;
            string host = IPAddress.TryParse(p.Shell.Endpoint.Host ?? "", out _) ? p.Shell.Endpoint.Host : null;
            p.Address = wantAddr ?? sshAddr ?? host;
            p.InSwarm = ReadinessRules.InSwarm(p.Fact("swarmstate"));
            Evaluate(p);
            await UserEngineAccessAsync(p, timeout).ConfigureAwait(false);
            await ClockAsync(p, timeout).ConfigureAwait(false);
        }

        /// <summary>
        /// The checks run as root (sudo -n for another SSH user), but SwarmAdmin reaches engines as the SSH user itself
        /// (docker system dial-stdio): for a non-root user whose engine answers root, that path is tried too.
        /// </summary>
        private async Task UserEngineAccessAsync(Probe p, TimeSpan timeout)
        {
            if (!p.Shell.UsesSudo || p.Result.EngineVersion == null) return;
            string user = p.Shell.Endpoint.User;
            try
            {
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(StopToken))
                {
                    cts.CancelAfter(timeout);
                    using (var engine = await p.Shell.OpenEngineAsync(cts.Token).ConfigureAwait(false)) { }
                }
                p.Add("Engine", FindingSeverity.Info, $"'{user}' reaches the engine over docker system dial-stdio (as SwarmAdmin does)");
            }
            catch (Exception ex) when (!StopToken.IsCancellationRequested)
            {
                p.Add("Engine", FindingSeverity.Error,
                    $"the engine answers root, but not '{user}' over docker system dial-stdio, which is how SwarmAdmin reaches engines: {SwarmErrors.Unwrap(ex).Message.Split('\n')[0]} Add '{user}' to the docker group (Install-SwarmEngine does; it takes effect at the user's next SSH login), or connect as root",
                    user);
            }
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
            p.Result.ClockOffsetSeconds = Math.Round(offset, 3); // always the offset from this machine (documented)
            p.ClockOffset = offset; p.ClockUncertainty = uncertainty; p.ClockRaw = raw;
        }

        /// <summary>
        /// Clock findings: with two or more nodes measured, the severity comes from each node's offset from the others
        /// (the median), and the offset from this machine is Info; a single node is judged against this machine.
        /// </summary>
        private static void EvaluateClocks(List<Probe> nodes)
        {
            var measured = nodes.Select(p => p.ClockOffset.HasValue ? ((double, double)?)(p.ClockOffset.Value, p.ClockUncertainty.Value) : null).ToList();
            var among = ReadinessRules.ClockAmongNodes(measured);
            int count = measured.Count(m => m.HasValue);
            for (int i = 0; i < nodes.Count; i++)
            {
                Probe p = nodes[i];
                if (!p.ClockOffset.HasValue) continue;
                double offset = p.ClockOffset.Value, uncertainty = p.ClockUncertainty.Value;
                string local = $"the clock is {Math.Abs(offset):0.###} s {(offset >= 0 ? "ahead of" : "behind")} this machine's (± {uncertainty:0.###} s)";
                string detail = $"node said {p.ClockRaw}; measured against the local clock, corrected by half the SSH round trip";
                if (among[i] is var a && a.HasValue)
                {
                    var (dev, u, sev) = a.Value;
                    string msg = $"the clock is {Math.Abs(dev):0.###} s {(dev >= 0 ? "ahead of" : "behind")} {(count == 2 ? "the other node's" : "the median of the " + count + " nodes'")} (± {u:0.###} s)";
                    p.Add("Clock", sev, msg + ClockAdvice(sev), detail);
                    p.Add("Clock", FindingSeverity.Info, local + " (the nodes are judged against each other, not against this machine)", detail);
                }
                else
                {
                    var sev = ReadinessRules.ClockSeverity(offset, uncertainty);
                    p.Add("Clock", sev, local + ClockAdvice(sev), detail);
                }
            }
        }

        private static string ClockAdvice(FindingSeverity sev) =>
            sev == FindingSeverity.Error ? $": more than {ReadinessRules.ClockErrorSeconds} s off, which breaks swarm TLS certificates and raft timing; synchronise it (NTP) before joining"
            : sev == FindingSeverity.Warning ? $": more than {ReadinessRules.ClockWarningSeconds} s off; synchronise it (NTP)" : "";

        // ------------------------------------------------------------------ ports between nodes

        private IEnumerable<(string Proto, int Port)> Ports() => new[] { ("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", DataPathPort) };

        private static bool HasTool(Probe p, string tool) => p.Has("tool", tool);

        private async Task StartListenersAsync(Probe p, string runId, TimeSpan timeout)
        {
            if (p.InSwarm)
            {
                Verbose($"{p.Name}: in a swarm ({p.Fact("swarmstate")}): no temporary listeners (its engine owns the swarm ports).");
                return;
            }
            string runDir = $"/tmp/swarmadmin-ready-{runId}";
            var started = new List<string>();
            string script = ReadinessScripts.StartListeners(ToolsOf(p), p.Listening, Ports(), runDir, started);
            if (script == null) return; // every port has its own listener already (or no tool could start one)
            foreach (string key in started) p.OurListeners.Add(key);
            Verbose($"{p.Name}: starting {started.Count} temporary listener(s) for the port checks ({string.Join(", ", started)}).");
            p.RunDir = runDir; // from now on the collection stops whatever was started, even if this step fails
            SshExecResult r = await p.Shell.ExecAsync(Env + script, null, timeout, StopToken).ConfigureAwait(false);
            if (r.ExitCode != 0) throw new InvalidOperationException($"starting listeners failed (exit {r.ExitCode}): {InstallSwarmEngineCommand.Tail(r.StdErr, 3)}");
            // only a port one of OUR processes holds counts (another process may have taken it meanwhile)
            var bound = new HashSet<string>(StringComparer.Ordinal);
            foreach (string raw in (r.StdOut ?? string.Empty).Split('\n'))
            {
                string line = raw.Trim();
                if (line.StartsWith("bound ", StringComparison.Ordinal)) bound.Add(line.Substring(6));
            }
            foreach (string key in p.OurListeners.ToList())
                if (!bound.Contains(key)) { p.OurListeners.Remove(key); p.NotBound.Add(key); }
        }

        private static HashSet<string> ToolsOf(Probe p) => new HashSet<string>(p.Facts.TryGetValue("tool", out var t) ? t : new List<string>(), StringComparer.Ordinal);

        private async Task PairProbesAsync(Probe src, List<Probe> all, string[] tokens, Dictionary<(int, int, string), string> results, Dictionary<(int, int), string> mtuResults, TimeSpan timeout)
        {
            int si = all.IndexOf(src);
            var dsts = all.Select((d, i) => (Index: i, d.Address, d.Result.Mtu)).Where(d => d.Index != si).ToList();
            string script = ReadinessScripts.PairProbe(ToolsOf(src), src.Result.Mtu, dsts, Ports(), tokens[si]);
            Verbose($"{src.Name}: checking TCP {string.Join(", ", Ports().Where(x => x.Item1 == "tcp").Select(x => x.Item2))} and UDP {string.Join(", ", Ports().Where(x => x.Item1 == "udp").Select(x => x.Item2))} to {all.Count - 1} other node(s).");
            SshExecResult r = await src.Shell.ExecAsync(Env + script, null, timeout + TimeSpan.FromSeconds(30), StopToken).ConfigureAwait(false);
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
            string script = Env + ReadinessScripts.Collect(dir);
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

        private void EvaluatePorts(List<Probe> up, string[] tokens, Dictionary<(int Src, int Dst, string Port), string> results)
        {
            for (int di = 0; di < up.Count; di++)
            {
                Probe dst = up[di];
                foreach (var (proto, port) in Ports())
                {
                    string key = $"{proto}/{port}";
                    bool ours = dst.OurListeners.Contains(key), theirs = dst.Listening.Contains(key);
                    // tooling problems of the port phases: not checked (Warning), never an Error about the node
                    string toolingProblem = !theirs && dst.ListenersFailed != null ? dst.ListenersFailed
                        : proto == "udp" && ours && dst.CollectFailed != null ? dst.CollectFailed : null;
                    if (toolingProblem != null)
                    {
                        dst.Add("Port", FindingSeverity.Warning, $"{key} on {dst.Name} not checked: {toolingProblem}");
                        continue;
                    }
                    if (!theirs && !ours && dst.InSwarm)
                    {
                        dst.Add("Port", FindingSeverity.Info, $"{key} on {dst.Name} not checked: {dst.Name} is in a swarm (its engine owns these ports)");
                        continue;
                    }
                    if (!theirs && !ours && dst.NotBound.Contains(key))
                    {
                        dst.Add("Port", FindingSeverity.Info, $"{key} on {dst.Name} not checked: the port was taken by another process (the temporary listener could not bind it)");
                        continue;
                    }
                    var blocked = new List<string>(); var notChecked = new List<string>(); var ok = new List<string>();
                    string why = null;
                    for (int si = 0; si < up.Count; si++)
                    {
                        if (si == di) continue;
                        string src = up[si].Name;
                        results.TryGetValue((si, di, key), out string res);
                        if (res == null && up[si].ProbeFailed != null) { notChecked.Add(src); why = why ?? up[si].ProbeFailed; continue; }
                        if (res == "badaddr") { notChecked.Add(src); why = why ?? $"the address of {dst.Name} ({dst.Address ?? "unknown"}) is not an IP address"; continue; }
                        if (proto == "tcp")
                        {
                            if (res == "ok") ok.Add(src);
                            else if (res == "timeout") { blocked.Add($"{src} (no answer)"); }
                            else if (res == "refused" && (ours || theirs)) blocked.Add($"{src} (rejected)");
                            else if (res == "refused") { notChecked.Add(src); why = "nothing listens there and no tool (socat, python3, nc) could start a listener; the host answered with a reset"; }
                            else { notChecked.Add(src); why = why ?? $"no tool on {src} to open a TCP connection (bash, nc, python3)"; }
                        }
                        else
                        {
                            string token = $"{tokens[si]}d{di}p{port}";
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
                if (up[si].ProbeFailed != null)
                {
                    up[si].Add("Mtu", FindingSeverity.Warning, $"path MTU not measured: {up[si].ProbeFailed}");
                    continue;
                }
                var tooLarge = new List<(string Node, string Size)>();
                var okSizes = new List<string>();
                int measured = 0;
                for (int di = 0; di < up.Count; di++)
                {
                    if (si == di || !mtuResults.TryGetValue((si, di), out string res)) continue;
                    string[] f = res.Split(' ');
                    string size = f.Length > 1 ? f[1] : up[si].Result.Mtu?.ToString(CultureInfo.InvariantCulture);
                    if (f[0] == "toolarge") tooLarge.Add((up[di].Name, size));
                    if (f[0] == "ok") okSizes.Add(size);
                    if (f[0] == "ok" || f[0] == "toolarge") measured++;
                }
                if (tooLarge.Count > 0)
                    foreach (var g in tooLarge.GroupBy(t => t.Size))
                        up[si].Add("Mtu", FindingSeverity.Warning, $"packets of {g.Key} bytes (the smaller interface MTU of the pair) with don't-fragment set do not reach {string.Join(", ", g.Select(t => t.Node))} (3 tries): the path MTU is smaller; give overlay networks a smaller MTU (com.docker.network.driver.mtu)");
                else if (measured > 0)
                    up[si].Add("Mtu", FindingSeverity.Info, $"full-size packets ({string.Join("/", okSizes.Distinct())} bytes, don't-fragment) reach {measured} other node(s)");
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
