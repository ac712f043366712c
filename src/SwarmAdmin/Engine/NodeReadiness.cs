using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using SwarmAdmin.Quorum;

namespace SwarmAdmin.Engine
{
    /// <summary>The thresholds and judgements of Test-SwarmNodeReadiness (pure; the cmdlet gathers the facts).</summary>
    internal static class ReadinessRules
    {
        /// <summary>Clock offset (beyond the measurement's uncertainty) that makes a Warning: logs and metrics of nodes stop lining up.</summary>
        public const double ClockWarningSeconds = 1.0;
        /// <summary>Clock offset that makes an Error: swarm TLS certificates (valid from their issue time) and raft timeouts get unreliable.</summary>
        public const double ClockErrorSeconds = 5.0;
        /// <summary>Free space on the data root below which the node is not ready (images, containers, raft state).</summary>
        public const double DiskErrorGB = 2.0;
        /// <summary>Free space below which a Warning is given.</summary>
        public const double DiskWarningGB = 10.0;
        /// <summary>Used percentage from which a Warning (85) or an Error (95) is given, whatever the free GB.</summary>
        public const int DiskWarningPercent = 85;
        public const int DiskErrorPercent = 95;
        /// <summary>VXLAN encapsulation overhead (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8).</summary>
        public const int VxlanOverhead = 50;
        /// <summary>The underlay MTU Docker's overlay default (1450) assumes.</summary>
        public const int OverlayAssumedUnderlayMtu = 1500;
        /// <summary>The oldest engine SwarmAdmin speaks to (API 1.41).</summary>
        public static readonly Version MinEngine = new Version(20, 10);

        public static SwarmReadinessStatus StatusOf(IEnumerable<SwarmReadinessFinding> findings)
        {
            var list = findings.ToList();
            if (list.Any(f => f.Severity >= FindingSeverity.Error)) return SwarmReadinessStatus.NotReady;
            if (list.Any(f => f.Severity == FindingSeverity.Warning)) return SwarmReadinessStatus.Warning;
            return SwarmReadinessStatus.Ready;
        }

        /// <summary>
        /// The node's clock minus ours from one `date +%s.%N` sample taken between local times t0 and t1: the node
        /// read its clock somewhere in between, so the best estimate is the middle and the uncertainty half the round
        /// trip. A node whose date cannot print fractions (busybox: "%N" stays literal) adds half a second.
        /// </summary>
        public static bool TryClockOffset(string remote, DateTime t0Utc, DateTime t1Utc, out double offset, out double uncertainty)
        {
            offset = uncertainty = 0;
            string s = (remote ?? string.Empty).Trim();
            bool fractional = true;
            int dot = s.IndexOf('.');
            if (dot >= 0 && !char.IsDigit(s.Length > dot + 1 ? s[dot + 1] : 'x')) { s = s.Substring(0, dot); fractional = false; }
            if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double epoch)) return false;
            if (dot < 0) fractional = false;
            double remoteTime = fractional ? epoch : epoch + 0.5;
            double t0 = (t0Utc - UnixEpoch).TotalSeconds, t1 = (t1Utc - UnixEpoch).TotalSeconds;
            double mid = (t0 + t1) / 2;
            offset = remoteTime - mid;
            uncertainty = (t1 - t0) / 2 + (fractional ? 0 : 0.5);
            return true;
        }

        private static readonly DateTime UnixEpoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>Severity of a clock offset: only what is certain beyond the measurement's uncertainty counts.</summary>
        public static FindingSeverity ClockSeverity(double offset, double uncertainty)
        {
            double sure = Math.Abs(offset) - uncertainty;
            if (sure > ClockErrorSeconds) return FindingSeverity.Error;
            if (sure > ClockWarningSeconds) return FindingSeverity.Warning;
            return FindingSeverity.Info;
        }

        /// <summary>
        /// Clock judgement among the nodes checked together: each node's offset from the median of the nodes' offsets
        /// (all measured against this machine), so a wrong clock on the admin workstation does not make every node
        /// look wrong. With two nodes the median cannot tell which one is off: each is judged on its difference from
        /// the other. The uncertainty is the node's own plus the median one of the others'. Null entries (clock not
        /// read) stay null; with fewer than two measured nodes every result is null (judge against this machine).
        /// </summary>
        public static (double Deviation, double Uncertainty, FindingSeverity Severity)?[] ClockAmongNodes(IList<(double Offset, double Uncertainty)?> measured)
        {
            var result = new (double, double, FindingSeverity)?[measured.Count];
            var known = measured.Where(m => m.HasValue).Select(m => m.Value).ToList();
            if (known.Count < 2) return result;
            double medianOffset = Median(known.Select(k => k.Offset));
            double medianUncertainty = Median(known.Select(k => k.Uncertainty));
            for (int i = 0; i < measured.Count; i++)
            {
                if (!measured[i].HasValue) continue;
                var (offset, u) = measured[i].Value;
                double deviation = offset - medianOffset;
                if (known.Count == 2)
                {
                    var other = known[measured.Take(i).Count(m => m.HasValue) == 0 ? 1 : 0];
                    deviation = offset - other.Offset;
                    medianUncertainty = other.Uncertainty;
                }
                double uncertainty = u + medianUncertainty;
                result[i] = (deviation, uncertainty, ClockSeverity(deviation, uncertainty));
            }
            return result;
        }

        public static double Median(IEnumerable<double> values)
        {
            var v = values.OrderBy(x => x).ToList();
            if (v.Count == 0) return 0;
            return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
        }

        /// <summary>The name a node goes by in results and messages: its cluster-file name, else the SSH host (not 'root@host' or 'ssh://...').</summary>
        public static string NodeName(string name, string endpointHost, string text) =>
            !string.IsNullOrEmpty(name) ? name : !string.IsNullOrEmpty(endpointHost) ? endpointHost : text;

        /// <summary>The SSH endpoint of a target (root by default), or null when its text does not parse.</summary>
        public static Connection.SwarmEndpoint EndpointOf(SwarmNodeTarget t)
        {
            try { return t.ResolveEndpoint("root"); }
            catch (FormatException) { return null; }
        }

        public static string NameOf(SwarmNodeTarget t) => NodeName(t.Name, EndpointOf(t)?.Host?.Trim('[', ']'), t.Text);

        /// <summary>
        /// Indexes of the targets to drop because an earlier one has the same endpoint key ("host:port", the host
        /// resolved and lower-cased): (duplicate index, the index it repeats). The first occurrence is kept.
        /// </summary>
        public static List<(int Duplicate, int Of)> Duplicates(IList<string> endpointKeys)
        {
            var first = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
            var dups = new List<(int, int)>();
            for (int i = 0; i < endpointKeys.Count; i++)
            {
                string k = endpointKeys[i];
                if (k == null) continue;
                if (first.TryGetValue(k, out int j)) dups.Add((i, j));
                else first[k] = i;
            }
            return dups;
        }

        /// <summary>True for the docker info LocalNodeState values of a node whose engine owns the swarm ports (active, pending, locked).</summary>
        public static bool InSwarm(string localNodeState) =>
            localNodeState != null && new[] { "active", "pending", "locked" }.Contains(localNodeState.Trim().ToLowerInvariant());

        public static FindingSeverity DiskSeverity(double freeGB, int usedPercent)
        {
            if (freeGB < DiskErrorGB || usedPercent >= DiskErrorPercent) return FindingSeverity.Error;
            if (freeGB < DiskWarningGB || usedPercent >= DiskWarningPercent) return FindingSeverity.Warning;
            return FindingSeverity.Info;
        }

        /// <summary>Parses `df -Pk` output: free GiB and used percent of the last line.</summary>
        public static bool TryParseDf(string df, out double freeGB, out int usedPercent, out string mount)
        {
            freeGB = 0; usedPercent = 0; mount = null;
            var line = (df ?? string.Empty).Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0 && !l.StartsWith("Filesystem", StringComparison.Ordinal));
            if (line == null) return false;
            string[] p = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (p.Length < 6) return false;
            if (!long.TryParse(p[3], NumberStyles.None, CultureInfo.InvariantCulture, out long availKb)) return false;
            int.TryParse(p[4].TrimEnd('%'), NumberStyles.None, CultureInfo.InvariantCulture, out usedPercent);
            freeGB = availKb / 1024.0 / 1024.0;
            mount = p[5];
            return true;
        }

        /// <summary>Engine version text ("26.1.5", "20.10.24+dfsg1", "27.3.1") as a Version, or null.</summary>
        public static Version EngineVersion(string text)
        {
            if (string.IsNullOrEmpty(text)) return null;
            var m = System.Text.RegularExpressions.Regex.Match(text, @"(\d+)\.(\d+)(?:\.(\d+))?");
            if (!m.Success) return null;
            return new Version(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                m.Groups[3].Success ? int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) : 0);
        }

        /// <summary>
        /// Nodes whose engine version differs from the most common one among the nodes given (ties: the newest wins).
        /// Returns the reference version and the nodes that differ.
        /// </summary>
        public static (string Reference, List<string> Differ) Skew(IReadOnlyDictionary<string, string> versionsByNode)
        {
            var known = versionsByNode.Where(kv => !string.IsNullOrEmpty(kv.Value)).ToList();
            if (known.Count == 0) return (null, new List<string>());
            string reference = known.GroupBy(kv => kv.Value).OrderByDescending(g => g.Count()).ThenByDescending(g => EngineVersion(g.Key) ?? new Version(0, 0)).First().Key;
            return (reference, known.Where(kv => kv.Value != reference).Select(kv => kv.Key).OrderBy(n => n, StringComparer.Ordinal).ToList());
        }

        /// <summary>Ports in LISTEN state (tcp, st 0A) or bound (udp, any state) from /proc/net/{tcp,tcp6,udp,udp6} text.</summary>
        public static HashSet<int> ListeningPorts(string procNet, bool tcp)
        {
            var ports = new HashSet<int>();
            foreach (string raw in (procNet ?? string.Empty).Split('\n'))
            {
                string[] p = raw.Trim().Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (p.Length < 4 || !p[0].EndsWith(":", StringComparison.Ordinal)) continue;
                int colon = p[1].LastIndexOf(':');
                if (colon < 0) continue;
                if (!int.TryParse(p[1].Substring(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port)) continue;
                if (tcp && p[3] != "0A") continue;
                ports.Add(port);
            }
            return ports;
        }

        /// <summary>"tcp/2377"-style keys of what listens, from "@tcp", "@tcp6", "@udp", "@udp6" sections of /proc/net text.</summary>
        public static HashSet<string> ListeningFrom(string sections)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            foreach (string section in (sections ?? string.Empty).Split(new[] { "@" }, StringSplitOptions.RemoveEmptyEntries))
            {
                int nl = section.IndexOf('\n');
                if (nl < 0) continue;
                string name = section.Substring(0, nl).Trim();
                bool tcp = name.StartsWith("tcp", StringComparison.Ordinal);
                if (!tcp && !name.StartsWith("udp", StringComparison.Ordinal)) continue;
                foreach (int port in ReadinessRules.ListeningPorts(section.Substring(nl + 1), tcp)) result.Add((tcp ? "tcp/" : "udp/") + port.ToString(CultureInfo.InvariantCulture));
            }
            return result;
        }

        /// <summary>
        /// What the vxlan evidence says: loaded (/sys/module/vxlan/initstate or refcnt present), builtin
        /// (/sys/module/vxlan/parameters without initstate, or modules.builtin lists it), loadable (modprobe -n finds
        /// it), an existing vxlan interface, or nothing. An empty /sys/module/vxlan (a test hides it with a mount)
        /// counts as nothing.
        /// </summary>
        public static (FindingSeverity Severity, string Message) Vxlan(ICollection<string> evidence)
        {
            if (evidence.Contains("loaded")) return (FindingSeverity.Info, "the vxlan module is loaded (overlay networks can work)");
            if (evidence.Contains("builtin")) return (FindingSeverity.Info, "vxlan is built into the kernel");
            if (evidence.Contains("interface")) return (FindingSeverity.Info, "a vxlan interface exists, so the kernel supports it");
            if (evidence.Contains("loadable")) return (FindingSeverity.Info, "the vxlan module is not loaded but can be (modprobe finds it); the engine loads it when an overlay network needs it");
            return (FindingSeverity.Error, "the kernel has no vxlan support that can be seen (no /sys/module/vxlan, not in modules.builtin, modprobe does not find it): overlay networks will not work");
        }

        /// <summary>Findings about the interface MTU against what the overlay needs.</summary>
        public static (FindingSeverity Severity, string Message) Mtu(int? mtu)
        {
            if (!mtu.HasValue) return (FindingSeverity.Info, "the MTU of the node's interface is not known");
            int overlay = mtu.Value - VxlanOverhead;
            if (mtu.Value < OverlayAssumedUnderlayMtu)
                return (FindingSeverity.Warning, $"the interface MTU is {mtu.Value}: overlay networks need an MTU of at most {overlay} (VXLAN adds {VxlanOverhead} bytes), but Docker's default is 1450. Create overlay networks with driver option com.docker.network.driver.mtu={overlay}");
            return (FindingSeverity.Info, $"interface MTU {mtu.Value} leaves {overlay} for overlay networks (Docker's default 1450 fits)");
        }
    }
}

namespace SwarmAdmin.Engine
{
    /// <summary>
    /// The shell scripts of Test-SwarmNodeReadiness's port checks (pure text, POSIX sh; tested locally and on busybox):
    /// temporary listeners on a destination, the probes from a source, and the collection that stops the listeners.
    /// Tool names: bash, socat, python3, nc, nc-u (nc with -u), nc-z (nc with -z), timeout, setsid, iputils-ping.
    /// </summary>
    internal static class ReadinessScripts
    {
        /// <summary>
        /// A listener command for a port nothing listens on, with the tools the node has (null: none). python3 and
        /// socat run as one process (the script execs them); the nc fallbacks are loops whose children the collection
        /// finds through their environment (SWARMADMIN_RUN).
        /// </summary>
        public static string ListenerCommand(ISet<string> tools, string proto, int port, string file)
        {
            if (proto == "tcp")
            {
                if (tools.Contains("python3")) return $"exec python3 -c 'import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((\"\",{port}))\ns.listen(64)\nwhile True:\n  c,a=s.accept()\n  c.close()'";
                if (tools.Contains("socat")) return $"exec socat -u TCP-LISTEN:{port},reuseaddr,fork /dev/null";
                if (tools.Contains("nc")) return $"while :; do nc -l -p {port} </dev/null >/dev/null 2>&1 || nc -l {port} </dev/null >/dev/null 2>&1 || sleep 1; done";
                return null;
            }
            if (tools.Contains("python3")) return $"exec python3 -c 'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((\"\",{port}))\nf=open(\"{file}\",\"ab\")\nwhile True:\n  d,a=s.recvfrom(4096)\n  f.write(d)\n  f.flush()'";
            if (tools.Contains("socat")) return $"exec socat -u UDP-RECV:{port} OPEN:{file},creat,append";
            if (tools.Contains("nc-u") && tools.Contains("timeout")) return $"while :; do timeout 1 nc -u -l -p {port} >> {file} 2>/dev/null || timeout 1 nc -u -l {port} >> {file} 2>/dev/null; done";
            return null;
        }

        /// <summary>Shell: the pids of the processes whose environment carries SWARMADMIN_RUN={prefix}... (the listeners of a run, or of one port).</summary>
        private static string PidsOf(string prefix) => $"grep -ls \"SWARMADMIN_RUN={prefix}\" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3";

        /// <summary>
        /// Starts a listener for each port in <paramref name="ports"/> that is not in <paramref name="listening"/> and
        /// that a tool can serve; adds "tcp/7946"-style keys to <paramref name="started"/>. Null when there is nothing
        /// to start. Every listener process carries SWARMADMIN_RUN={runDir}/{proto}-{port}. in its environment: the
        /// script prints "bound tcp/7946" only for a port on which one of THOSE processes holds the listening socket
        /// (/proc/PID/fd socket inodes against /proc/net), so a port some other process (the engine, the kernel's
        /// VXLAN socket) took in the meantime is told apart; listeners that did not bind are stopped at once.
        /// A watchdog ends every listener after 180 s even if the collection never comes.
        /// </summary>
        public static string StartListeners(ISet<string> tools, ISet<string> listening, IEnumerable<(string Proto, int Port)> ports, string runDir, List<string> started)
        {
            var sb = new StringBuilder($"umask 077\nd={runDir}\nmkdir -p \"$d\" || exit 1\n");
            sb.Append("owns() { # name proto porthex: does a process of this listener hold a socket bound (tcp: listening) to the port?\n");
            sb.Append($"  ino=\" $(for q in $({PidsOf("$d/$1.")}); do ls -l /proc/$q/fd 2>/dev/null; done | sed -n 's/.*socket:\\[\\([0-9]*\\)\\].*/\\1/p' | tr '\\n' ' ')\"\n");
            sb.Append("  [ \"$ino\" = ' ' ] && return 1\n");
            sb.Append("  cat /proc/net/$2 /proc/net/${2}6 2>/dev/null | awk -v port=\":$3\" -v ino=\"$ino\" -v tcp=\"$([ \"$2\" = tcp ] && echo 1 || echo 0)\" 'substr($2, length($2) - 4) == port && (tcp == 0 || $4 == \"0A\") && index(ino, \" \" $10 \" \") { f = 1 } END { exit !f }'\n}\n");
            var check = new List<string>();
            foreach (var (proto, port) in ports)
            {
                string key = $"{proto}/{port}";
                if (listening.Contains(key) || started.Contains(key)) continue;
                string name = $"{proto}-{port}";
                string cmd = ListenerCommand(tools, proto, port, $"{runDir}/{name}.recv");
                if (cmd == null) continue;
                string script = $"{runDir}/{name}.sh";
                // the watchdog execs a clean environment, so its own scan does not find (and end) itself first
                sb.Append($"cat > {script} <<'SWARMADMIN_EOF'\n( sleep 180; exec env -i PATH=\"$PATH\" sh -c 'kill -TERM $({PidsOf(runDir + "/")}) 2>/dev/null' ) </dev/null >/dev/null 2>&1 &\n{cmd}\nSWARMADMIN_EOF\n");
                sb.Append($"SWARMADMIN_RUN={runDir}/{name}. {(tools.Contains("setsid") ? "setsid " : "")}sh {script} </dev/null >/dev/null 2>&1 &\n");
                check.Add($"{key}:{port:X4}");
                started.Add(key);
            }
            if (started.Count == 0) return null;
            sb.Append($"left='{string.Join(" ", check)}'\n");
            sb.Append("for try in 1 2 3; do\n  sleep 1; still=''\n  for e in $left; do k=${e%%:*}; n=$(echo \"$k\" | tr / -); if owns \"$n\" \"${k%%/*}\" \"${e##*:}\"; then echo \"bound $k\"; else still=\"$still $e\"; fi; done\n  left=$still; [ -z \"$left\" ] && break\ndone\n");
            sb.Append($"for e in $left; do k=${{e%%:*}}; n=$(echo \"$k\" | tr / -); echo \"notbound $k\"; p=$({PidsOf("$d/$n.")}); [ -n \"$p\" ] && kill -TERM $p 2>/dev/null; done\n");
            sb.Append("exit 0\n");
            return sb.ToString();
        }

        /// <summary>
        /// From one source to each destination: TCP connects (bash /dev/tcp, nc -z, python3 or nc), three rounds of UDP datagrams
        /// carrying "{tokenPrefix}d{index}p{port}", and (with iputils ping) a don't-fragment ping of the interface MTU.
        /// Prints "r INDEX PROTO PORT ok|refused|timeout|notool|sent" and "m INDEX ok|toolarge|noreply SIZE" lines.
        /// </summary>
        public static string PairProbe(ISet<string> tools, int? srcMtu, IList<(int Index, string Address, int? Mtu)> dsts, IEnumerable<(string Proto, int Port)> ports, string tokenPrefix)
        {
            var tcpPorts = ports.Where(x => x.Proto == "tcp").Select(x => x.Port).ToList();
            var udpPorts = ports.Where(x => x.Proto == "udp").Select(x => x.Port).ToList();
            bool bash = tools.Contains("bash"), timeoutTool = tools.Contains("timeout");
            string to = timeoutTool ? "timeout 5 " : "";
            var sb = new StringBuilder("t=$(mktemp -d /tmp/swarmadmin-probe.XXXXXX)\ntrap 'rm -rf \"$t\"' EXIT\n");
            sb.Append(@"tcp_try() { # idx ip port
  if " + (bash ? "true" : "false") + @"; then " + to + @"bash -c ""exec 3<>/dev/tcp/$2/$3"" 2>""$t/e.$1.$3""; rc=$?
  elif " + (tools.Contains("nc-z") ? "true" : "false") + @"; then " + to + @"nc -z -w 3 ""$2"" ""$3"" 2>""$t/e.$1.$3""; rc=$?
  elif " + (tools.Contains("python3") ? "true" : "false") + @"; then " + to + @"python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3).close()' ""$2"" ""$3"" 2>""$t/e.$1.$3""; rc=$?
  elif " + (tools.Contains("nc") ? "true" : "false") + @"; then " + to + @"nc -w 3 ""$2"" ""$3"" </dev/null >/dev/null 2>""$t/e.$1.$3""; rc=$?
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
            if (bash) sb.Append("  bash -c 'printf \"%s\\n\" \"$3\" > /dev/udp/$1/$2' udp \"$1\" \"$2\" \"$3\" 2>/dev/null && return 0\n"); // /dev/udp is bash's, not sh's
            if (tools.Contains("socat")) sb.Append("  printf '%s\\n' \"$3\" | socat -u - UDP-SENDTO:$1:$2 2>/dev/null && return 0\n");
            if (tools.Contains("python3")) sb.Append("  python3 -c 'import socket,sys; socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto((sys.argv[3]+\"\\n\").encode(),(sys.argv[1],int(sys.argv[2])))' \"$1\" \"$2\" \"$3\" 2>/dev/null && return 0\n");
            if (tools.Contains("nc-u") && timeoutTool) sb.Append("  printf '%s\\n' \"$3\" | timeout 2 nc -u -w 1 \"$1\" \"$2\" 2>/dev/null; return 0\n");
            sb.Append("  return 1\n}\n");
            bool canSendUdp = bash || tools.Contains("socat") || tools.Contains("python3") || (tools.Contains("nc-u") && timeoutTool);

            // addresses come from the nodes (SSH_CONNECTION) or the cluster file: only IP addresses, always quoted
            var bad = new HashSet<int>(dsts.Where(d => !IsIp(d.Address)).Select(d => d.Index));
            foreach (var d in dsts)
            {
                if (bad.Contains(d.Index))
                {
                    foreach (var (proto, port) in ports) sb.Append($"echo \"r {d.Index} {proto} {port} badaddr\"\n");
                    continue;
                }
                string a = Recovery.NodeShell.Quote(d.Address);
                foreach (int port in tcpPorts)
                    sb.Append($"tcp_check {d.Index} {a} {port} > \"$t/r.{d.Index}.{port}\" &\n");
                if (tools.Contains("iputils-ping") && srcMtu.HasValue)
                {
                    // the smaller MTU of the pair; three don't-fragment probes (one lost packet is no verdict)
                    int size = Math.Min(srcMtu.Value, d.Mtu ?? srcMtu.Value) - 28;
                    sb.Append($"( if ping -c 2 -W 2 {a} >/dev/null 2>&1; then if ping -c 3 -i 0.3 -W 2 -M do -s {size} {a} >/dev/null 2>&1; then echo \"m {d.Index} ok {size + 28}\"; else echo \"m {d.Index} toolarge {size + 28}\"; fi; else echo \"m {d.Index} noreply\"; fi ) > \"$t/m.{d.Index}\" &\n");
                }
            }
            sb.Append("wait\n");
            foreach (var d in dsts.Where(x => !bad.Contains(x.Index)))
            {
                foreach (int port in udpPorts)
                {
                    if (!canSendUdp) { sb.Append($"echo \"r {d.Index} udp {port} notool\" > \"$t/r.{d.Index}.u{port}\"\n"); continue; }
                    // three datagrams, a second apart, in the background: the collector on the destination counts what arrived
                    sb.Append($"( s=notool; for round in 1 2 3; do udp_send {Recovery.NodeShell.Quote(d.Address)} {port} {Recovery.NodeShell.Quote($"{tokenPrefix}d{d.Index}p{port}")} && s=sent; sleep 1; done; echo \"r {d.Index} udp {port} $s\" > \"$t/r.{d.Index}.u{port}\" ) &\n");
                }
            }
            sb.Append("wait\ncat \"$t\"/r.* \"$t\"/m.* 2>/dev/null\nexit 0\n");
            return sb.ToString();
        }

        private static bool IsIp(string address) => !string.IsNullOrEmpty(address) && System.Net.IPAddress.TryParse(address, out _) && address.IndexOfAny(new[] { ' ', '\'', '"', ';', '$', '`', '\\' }) < 0;

        /// <summary>Prints what the UDP listeners received ("got udp-7946.recv TOKENS"), stops every listener in the folder and removes it.</summary>
        public static string Collect(string runDir) => $@"d={runDir}
for f in ""$d""/*.recv; do [ -f ""$f"" ] && echo ""got ${{f##*/}} $(tr '\n' ' ' < ""$f"")""; done
p=$({PidsOf("$d/")}); [ -n ""$p"" ] && kill -TERM $p 2>/dev/null
sleep 0.2 2>/dev/null || sleep 1
p=$({PidsOf("$d/")}); [ -n ""$p"" ] && kill -KILL $p 2>/dev/null
rm -rf ""$d""
exit 0";
    }
}
