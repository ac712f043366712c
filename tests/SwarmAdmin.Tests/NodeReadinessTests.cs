using System;
using System.Collections.Generic;
using System.Linq;
using SwarmAdmin.Engine;
using SwarmAdmin.Quorum;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class NodeReadinessTests
    {
        private static readonly DateTime T0 = new DateTime(2026, 11, 27, 21, 0, 0, DateTimeKind.Utc);
        private static double Epoch(DateTime t) => (t - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;

        [Fact]
        public void ClockOffsetIsCorrectedByHalfTheRoundTrip()
        {
            // the node read its clock 0.1 s into a 0.2 s round trip and was 2 s ahead
            string remote = (Epoch(T0) + 0.1 + 2.0).ToString("0.000000000", System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(ReadinessRules.TryClockOffset(remote, T0, T0.AddSeconds(0.2), out double offset, out double uncertainty));
            Assert.Equal(2.0, offset, 3);
            Assert.Equal(0.1, uncertainty, 3);
            Assert.Equal(FindingSeverity.Warning, ReadinessRules.ClockSeverity(offset, uncertainty));
        }

        [Fact]
        public void IntegerSecondsAddHalfASecondOfUncertainty()
        {
            // busybox date prints "%N" literally
            string remote = ((long)Epoch(T0) + 10).ToString() + ".%N";
            Assert.True(ReadinessRules.TryClockOffset(remote, T0, T0.AddSeconds(0.02), out double offset, out double uncertainty));
            Assert.Equal(10.49, offset, 2);
            Assert.Equal(0.51, uncertainty, 2);
            Assert.True(ReadinessRules.TryClockOffset(((long)Epoch(T0)).ToString(), T0, T0, out _, out double u2));
            Assert.Equal(0.5, u2, 3);
            Assert.False(ReadinessRules.TryClockOffset("date: invalid", T0, T0, out _, out _));
        }

        [Theory]
        [InlineData(0.3, 0.01, FindingSeverity.Info)]
        [InlineData(-0.9, 0.01, FindingSeverity.Info)]
        [InlineData(1.2, 0.5, FindingSeverity.Info)]      // not certain beyond the uncertainty
        [InlineData(1.6, 0.5, FindingSeverity.Warning)]
        [InlineData(-3.0, 0.05, FindingSeverity.Warning)]
        [InlineData(5.4, 0.5, FindingSeverity.Warning)]
        [InlineData(-6.0, 0.5, FindingSeverity.Error)]
        [InlineData(120, 0.1, FindingSeverity.Error)]
        public void ClockThresholds(double offset, double uncertainty, FindingSeverity expected)
            => Assert.Equal(expected, ReadinessRules.ClockSeverity(offset, uncertainty));

        [Theory]
        [InlineData(50.0, 40, FindingSeverity.Info)]
        [InlineData(9.9, 40, FindingSeverity.Warning)]
        [InlineData(100.0, 85, FindingSeverity.Warning)]
        [InlineData(1.9, 10, FindingSeverity.Error)]
        [InlineData(100.0, 95, FindingSeverity.Error)]
        public void DiskThresholds(double freeGB, int used, FindingSeverity expected)
            => Assert.Equal(expected, ReadinessRules.DiskSeverity(freeGB, used));

        [Fact]
        public void ParsesDf()
        {
            Assert.True(ReadinessRules.TryParseDf("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 264212084 17212652 79565320 18% /var/lib/docker\n", out double free, out int used, out string mount));
            Assert.Equal(75.88, free, 2);
            Assert.Equal(18, used);
            Assert.Equal("/var/lib/docker", mount);
            Assert.False(ReadinessRules.TryParseDf("", out _, out _, out _));
        }

        [Fact]
        public void StatusIsTheWorstFinding()
        {
            SwarmReadinessFinding F(FindingSeverity s) => new SwarmReadinessFinding { Check = "x", Severity = s };
            Assert.Equal(SwarmReadinessStatus.Ready, ReadinessRules.StatusOf(new[] { F(FindingSeverity.Info) }));
            Assert.Equal(SwarmReadinessStatus.Warning, ReadinessRules.StatusOf(new[] { F(FindingSeverity.Info), F(FindingSeverity.Warning) }));
            Assert.Equal(SwarmReadinessStatus.NotReady, ReadinessRules.StatusOf(new[] { F(FindingSeverity.Warning), F(FindingSeverity.Error) }));
            Assert.Equal(SwarmReadinessStatus.Ready, ReadinessRules.StatusOf(Array.Empty<SwarmReadinessFinding>()));
        }

        [Fact]
        public void SkewIsAgainstTheMostCommonVersion()
        {
            var (reference, differ) = ReadinessRules.Skew(new Dictionary<string, string> { ["m1"] = "26.1.5", ["m2"] = "26.1.5", ["w1"] = "20.10.24", ["s1"] = null });
            Assert.Equal("26.1.5", reference);
            Assert.Equal(new[] { "w1" }, differ);
            // a tie: the newest is the reference
            var (r2, d2) = ReadinessRules.Skew(new Dictionary<string, string> { ["a"] = "20.10.24", ["b"] = "26.1.5" });
            Assert.Equal("26.1.5", r2);
            Assert.Equal(new[] { "a" }, d2);
            Assert.Null(ReadinessRules.Skew(new Dictionary<string, string> { ["a"] = null }).Reference);
        }

        [Theory]
        [InlineData("26.1.5+dfsg1", 26, 1)]
        [InlineData("20.10.24", 20, 10)]
        [InlineData("v27.3", 27, 3)]
        public void EngineVersions(string text, int major, int minor)
        {
            var v = ReadinessRules.EngineVersion(text);
            Assert.Equal(major, v.Major);
            Assert.Equal(minor, v.Minor);
        }

        [Fact]
        public void ListeningPortsFromProcNet()
        {
            const string sections =
                "@tcp\n  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
                "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n" +
                "   1: 0B39D50A:0016 0139D50A:C350 01 00000000:00000000 02:0009A1C4 00000000     0        0 2 4 0 20 4 30 10 -1\n" +
                "@tcp6\n  sl  local_address                         remote_address                        st\n" +
                "   0: 00000000000000000000000000000000:0951 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3\n" +
                "   1: 00000000000000000000000000000000:1F0A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4\n" +
                "@udp\n  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
                "  10: 00000000:12B5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0 0\n" +
                "@udp6\n  sl  local_address                         remote_address                        st\n" +
                "   5: 00000000000000000000000000000000:1F0A 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 2 0 0\n";
            var ports = ReadinessRules.ListeningFrom(sections);
            Assert.Contains("tcp/22", ports);
            Assert.Contains("tcp/2385", ports);    // 0x0951
            Assert.Contains("tcp/7946", ports);    // 0x1F0A
            Assert.Contains("udp/4789", ports);    // 0x12B5 (the kernel's VXLAN socket)
            Assert.Contains("udp/7946", ports);
            Assert.DoesNotContain("tcp/50000", ports); // an established connection's remote port is no listener
            Assert.Equal(5, ports.Count);
        }

        private static HashSet<string> Tools(params string[] t) => new HashSet<string>(t, StringComparer.Ordinal);
        private static readonly (string, int)[] SwarmPorts = { ("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789) };

        [Fact]
        public void ListenersPreferPython3ThenSocatThenNc()
        {
            Assert.StartsWith("exec python3 -c", ReadinessScripts.ListenerCommand(Tools("socat", "python3", "nc"), "tcp", 7946, "/f"));
            Assert.StartsWith("exec socat -u TCP-LISTEN:7946", ReadinessScripts.ListenerCommand(Tools("socat", "nc"), "tcp", 7946, "/f"));
            Assert.StartsWith("exec socat -u UDP-RECV:4789", ReadinessScripts.ListenerCommand(Tools("socat", "nc"), "udp", 4789, "/f"));
            Assert.DoesNotContain("reuseaddr", ReadinessScripts.ListenerCommand(Tools("socat"), "udp", 4789, "/f")); // never share a UDP port
            Assert.StartsWith("while :; do nc -l -p 7946", ReadinessScripts.ListenerCommand(Tools("nc"), "tcp", 7946, "/f"));
            // busybox's small nc has no -u: no UDP listener, and nc -u needs timeout for its restart loop
            Assert.Null(ReadinessScripts.ListenerCommand(Tools("nc", "timeout"), "udp", 4789, "/f"));
            Assert.Null(ReadinessScripts.ListenerCommand(Tools("nc-u"), "udp", 4789, "/f"));
            Assert.Contains("nc -u -l -p 4789", ReadinessScripts.ListenerCommand(Tools("nc-u", "timeout"), "udp", 4789, "/f"));
            Assert.Null(ReadinessScripts.ListenerCommand(Tools(), "tcp", 2377, "/f"));
        }

        [Fact]
        public void ListenersOnlyWhereNothingListens()
        {
            var started = new List<string>();
            string script = ReadinessScripts.StartListeners(Tools("nc", "setsid"), new HashSet<string> { "tcp/2377", "udp/7946", "udp/4789" }, SwarmPorts, "/tmp/swarmadmin-ready-x", started);
            Assert.Equal(new[] { "tcp/7946" }, started);
            Assert.Contains("SWARMADMIN_RUN=/tmp/swarmadmin-ready-x/tcp-7946. setsid sh /tmp/swarmadmin-ready-x/tcp-7946.sh", script);
            Assert.Contains("( sleep 180; exec env -i", script); // the watchdog
            Assert.Contains("grep -ls \"SWARMADMIN_RUN=/tmp/swarmadmin-ready-x/\" /proc/[0-9]*/environ", script);
            Assert.Contains("left='tcp/7946:1F0A'", script);      // only a port our own process holds counts as bound
            Assert.Contains("echo \"bound $k\"", script);
            Assert.Contains("echo \"notbound $k\"", script);
            // without setsid the listener is still found (and stopped) through its environment
            Assert.Contains("SWARMADMIN_RUN=/tmp/swarmadmin-ready-x/tcp-7946. sh /tmp/swarmadmin-ready-x/tcp-7946.sh", ReadinessScripts.StartListeners(Tools("nc"), new HashSet<string> { "tcp/2377", "udp/7946", "udp/4789" }, SwarmPorts, "/tmp/swarmadmin-ready-x", new List<string>()));
            Assert.DoesNotContain("2377", script);
            var none = new List<string>();
            Assert.Null(ReadinessScripts.StartListeners(Tools("nc"), new HashSet<string> { "tcp/2377", "tcp/7946" }, new[] { ("tcp", 2377), ("tcp", 7946), ("udp", 4789) }, "/d", none));
            Assert.Empty(none);
        }

        [Fact]
        public void ProbesEveryDestinationWithTokensAndTheRightTools()
        {
            var dsts = new List<(int, string, int?)> { (1, "10.0.0.2", 1500), (2, "10.0.0.3", 1450) };
            string bash = ReadinessScripts.PairProbe(Tools("bash", "timeout", "iputils-ping"), 1500, dsts, SwarmPorts, "saXs0");
            Assert.Contains("tcp_check 1 '10.0.0.2' 2377", bash);
            Assert.Contains("tcp_check 2 '10.0.0.3' 7946", bash);
            Assert.Contains("udp_send '10.0.0.3' 4789 'saXs0d2p4789'", bash);
            Assert.Contains("bash -c 'printf \"%s\\n\" \"$3\" > /dev/udp/$1/$2'", bash); // /dev/udp through bash, not sh
            Assert.Contains("ping -c 3 -i 0.3 -W 2 -M do -s 1422 '10.0.0.3'", bash);  // the smaller MTU of the pair, minus IP and ICMP headers, 3 tries
            Assert.Contains("echo \"m 2 toolarge 1450\"", bash);
            Assert.Contains("timeout 5 bash -c", bash);
            string busybox = ReadinessScripts.PairProbe(Tools("nc", "timeout"), 1500, dsts, SwarmPorts, "saXs0");
            Assert.Contains("echo \"r 1 udp 7946 notool\"", busybox);
            Assert.DoesNotContain("ping -c 1", busybox);
            Assert.Contains("trap 'rm -rf \"$t\"' EXIT", busybox);
        }

        [Fact]
        public void CollectStopsEveryProcessOfTheRunAndRemovesTheFolder()
        {
            string c = ReadinessScripts.Collect("/tmp/swarmadmin-ready-x");
            Assert.Contains("grep -ls \"SWARMADMIN_RUN=$d/\" /proc/[0-9]*/environ", c);
            Assert.Contains("kill -TERM $p", c);
            Assert.Contains("kill -KILL $p", c);
            Assert.Contains("rm -rf \"$d\"", c);
            Assert.Contains("echo \"got ${f##*/}", c);
        }

        [Fact]
        public void VxlanEvidence()
        {
            Assert.Equal(FindingSeverity.Info, ReadinessRules.Vxlan(new[] { "loaded" }).Severity);
            Assert.Equal(FindingSeverity.Info, ReadinessRules.Vxlan(new[] { "builtin" }).Severity);
            Assert.Equal(FindingSeverity.Info, ReadinessRules.Vxlan(new[] { "loadable" }).Severity);
            Assert.Equal(FindingSeverity.Info, ReadinessRules.Vxlan(new[] { "interface" }).Severity);
            var (sev, msg) = ReadinessRules.Vxlan(new string[0]);
            Assert.Equal(FindingSeverity.Error, sev);
            Assert.Contains("overlay networks will not work", msg);
        }

        [Theory]
        [InlineData(1500, FindingSeverity.Info, "1450")]
        [InlineData(9000, FindingSeverity.Info, "8950")]
        [InlineData(1450, FindingSeverity.Warning, "com.docker.network.driver.mtu=1400")]
        public void MtuAgainstTheOverlay(int mtu, FindingSeverity severity, string text)
        {
            var (sev, msg) = ReadinessRules.Mtu(mtu);
            Assert.Equal(severity, sev);
            Assert.Contains(text, msg);
        }
    
        [Fact]
        public void AddressesFromNodesMustBeIpAddressesAndAreQuoted()
        {
            var dsts = new List<(int, string, int?)> { (1, "10.0.0.2; touch /tmp/pwned", 1500), (2, "$(reboot)", 1500), (3, "fd00::5", 1500) };
            string s = ReadinessScripts.PairProbe(Tools("bash", "timeout", "iputils-ping"), 1500, dsts, SwarmPorts, "saXs0");
            Assert.DoesNotContain("pwned", s);
            Assert.DoesNotContain("reboot", s);
            Assert.Contains("echo \"r 1 tcp 2377 badaddr\"", s);
            Assert.Contains("echo \"r 2 udp 4789 badaddr\"", s);
            Assert.Contains("tcp_check 3 'fd00::5' 2377", s);
        }

        [Fact]
        public void ClockIsJudgedAmongTheNodesNotAgainstThisMachine()
        {
            // this machine's clock is 30 s off: every node is 30 s "ahead", but they agree with each other
            var r = ReadinessRules.ClockAmongNodes(new (double, double)?[] { (30.0, 0.05), (30.2, 0.05), (29.9, 0.05) });
            Assert.All(r, x => Assert.Equal(FindingSeverity.Info, x.Value.Severity));
            Assert.Equal(0.0, r[0].Value.Deviation, 3);  // the median
            Assert.Equal(0.2, r[1].Value.Deviation, 3);
            Assert.Equal(0.1, r[1].Value.Uncertainty, 3); // its own plus the median one
            // one node of four is 8 s behind the others: only it is an Error
            var four = ReadinessRules.ClockAmongNodes(new (double, double)?[] { (0.1, 0.05), (-0.1, 0.05), (-8.0, 0.05), null, (0.0, 0.05) });
            Assert.Equal(FindingSeverity.Info, four[0].Value.Severity);
            Assert.Equal(FindingSeverity.Info, four[1].Value.Severity);
            Assert.Equal(FindingSeverity.Error, four[2].Value.Severity);
            Assert.Null(four[3]);
            Assert.Equal(FindingSeverity.Info, four[4].Value.Severity);
            Assert.Equal(-8.0 - (-0.05), four[2].Value.Deviation, 3);
            // two nodes 3 s apart: each is judged on the difference (which one is wrong cannot be told)
            var two = ReadinessRules.ClockAmongNodes(new (double, double)?[] { (1.0, 0.1), null, (-2.0, 0.2) });
            Assert.Equal(3.0, two[0].Value.Deviation, 3);
            Assert.Equal(-3.0, two[2].Value.Deviation, 3);
            Assert.Equal(0.3, two[0].Value.Uncertainty, 3);
            Assert.Equal(FindingSeverity.Warning, two[0].Value.Severity);
            Assert.Equal(FindingSeverity.Warning, two[2].Value.Severity);
            // a single node: judged against this machine by the caller
            Assert.All(ReadinessRules.ClockAmongNodes(new (double, double)?[] { (9.0, 0.1), null }), x => Assert.Null(x));
            Assert.Equal(2.5, ReadinessRules.Median(new[] { 4.0, 1.0, 2.0, 3.0 }), 3);
        }

        [Fact]
        public void NodesGoByTheirNameElseTheSshHost()
        {
            Assert.Equal("swarmlab-m1", ReadinessRules.NodeName("swarmlab-m1", "10.0.0.5", "ssh://root@10.0.0.5"));
            Assert.Equal("10.0.0.5", ReadinessRules.NodeName(null, "10.0.0.5", "root@10.0.0.5"));
            Assert.Equal("host.lab", ReadinessRules.NodeName(null, "host.lab", "ssh://admin@host.lab:2222"));
            Assert.Equal("weird", ReadinessRules.NodeName(null, null, "weird"));
            Assert.Equal("10.0.0.5", ReadinessRules.NameOf(new SwarmNodeTarget("root@10.0.0.5")));
            Assert.Equal("10.0.0.6", ReadinessRules.NameOf(new SwarmNodeTarget("ssh://root@10.0.0.6:22")));
        }

        [Fact]
        public void TheSameMachineTwiceIsCheckedOnce()
        {
            var d = ReadinessRules.Duplicates(new[] { "10.0.0.5:22", "10.0.0.6:22", "10.0.0.5:22", "10.0.0.5:2222", "HOST.lab:22", "host.lab:22" });
            Assert.Equal(new[] { (2, 0), (5, 4) }, d);
            Assert.Empty(ReadinessRules.Duplicates(new[] { "a:22", "b:22" }));
        }

        [Theory]
        [InlineData("active", true)]
        [InlineData("pending", true)]
        [InlineData("locked", true)]
        [InlineData("inactive", false)]
        [InlineData("error", false)]
        [InlineData("", false)]
        [InlineData(null, false)]
        public void SwarmMembersOwnTheirPorts(string state, bool inSwarm) => Assert.Equal(inSwarm, ReadinessRules.InSwarm(state));
    }
}
