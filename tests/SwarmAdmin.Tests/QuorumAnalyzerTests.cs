using System;
using System.Collections.Generic;
using System.Linq;
using SwarmAdmin.Quorum;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class QuorumAnalyzerTests
    {
        private static List<NodeFacts> Swarm(int managers, int reachable, bool leader = true, int workers = 2, string version = "26.1.5")
        {
            var nodes = new List<NodeFacts>();
            for (int i = 1; i <= managers; i++)
            {
                bool up = i <= reachable;
                nodes.Add(new NodeFacts
                {
                    Id = "m" + i, Hostname = "mgr-" + i, IsManager = true,
                    Reachability = up ? "reachable" : "unreachable",
                    IsLeader = leader && i == 1 && up,
                    State = up ? "ready" : "down",
                    ManagerAddress = $"10.0.0.{i}:2377", EngineVersion = version,
                    Labels = new Dictionary<string, string> { ["proxmox.host"] = "pve" + i },
                });
            }
            for (int i = 1; i <= workers; i++)
            {
                nodes.Add(new NodeFacts { Id = "w" + i, Hostname = "wrk-" + i, State = "ready", EngineVersion = version });
            }
            return nodes;
        }

        public static IEnumerable<object[]> AllMixes()
        {
            for (int n = 1; n <= 9; n++)
                for (int r = 0; r <= n; r++)
                    yield return new object[] { n, r };
        }

        [Theory]
        [MemberData(nameof(AllMixes))]
        public void Arithmetic_and_verdict_for_every_manager_count_and_reachability(int n, int r)
        {
            int q = n / 2 + 1;
            bool quorum = r >= q;
            // a leader can only exist while a majority is reachable
            var report = QuorumAnalyzer.Analyze(Swarm(n, r, leader: quorum), "proxmox.host");

            Assert.Equal(n, report.Managers);
            Assert.Equal(r, report.Reachable);
            Assert.Equal(n - r, report.Unreachable);
            Assert.Equal(q, report.QuorumSize);
            Assert.Equal((n - 1) / 2, report.FaultTolerance);
            Assert.Equal(r - q, report.RemainingTolerance);
            Assert.Equal(quorum, report.HasQuorum);
            Assert.Equal(quorum ? "mgr-1" : null, report.Leader);

            var ids = report.Findings.Select(f => f.Id).ToList();
            Assert.Equal(n - r, report.Findings.Count(f => f.Id == "MANAGER-UNREACHABLE"));
            Assert.Equal(Enumerable.Range(r + 1, n - r).Select(i => "mgr-" + i), report.Findings.Where(f => f.Id == "MANAGER-UNREACHABLE").Select(f => f.Target).OrderBy(t => t));
            Assert.Equal(!quorum, ids.Contains("NO-LEADER"));
            Assert.Equal(!quorum, ids.Contains("QUORUM-LOST"));
            Assert.Equal(quorum && r - q == 0, ids.Contains("ONE-FAILURE-FROM-QUORUM-LOSS"));
            Assert.Equal(n == 1, ids.Contains("SINGLE-MANAGER"));
            Assert.Equal(n == 2, ids.Contains("TWO-MANAGERS"));
            Assert.Equal(n % 2 == 0 && n > 2, ids.Contains("EVEN-MANAGER-COUNT"));
            Assert.Equal(n > 7, ids.Contains("TOO-MANY-MANAGERS"));
            Assert.DoesNotContain("NODE-DOWN", ids); // down managers are reported once, as unreachable

            QuorumStatus expected = !quorum ? QuorumStatus.Critical
                : (r < n || r - q == 0 || n % 2 == 0 || n <= 2) ? QuorumStatus.Degraded
                : QuorumStatus.Healthy;
            Assert.Equal(expected, report.Status);
        }

        [Theory]
        [InlineData(1, 1, 0)]
        [InlineData(2, 2, 0)]
        [InlineData(3, 2, 1)]
        [InlineData(4, 3, 1)]
        [InlineData(5, 3, 2)]
        [InlineData(6, 4, 2)]
        [InlineData(7, 4, 3)]
        [InlineData(8, 5, 3)]
        [InlineData(9, 5, 4)]
        public void Matches_the_docker_admin_guide_table(int managers, int majority, int tolerance)
        {
            Assert.Equal(majority, QuorumAnalyzer.QuorumSize(managers));
            Assert.Equal(tolerance, QuorumAnalyzer.FaultTolerance(managers));
        }

        [Theory]
        [InlineData(3, 0, false)]  // 3 of 3 up: one can go
        [InlineData(3, 1, true)]   // one already down: removing another loses quorum
        [InlineData(2, 0, true)]   // 2 of 2: none can go
        [InlineData(2, 1, true)]
        [InlineData(5, 0, false)]
        [InlineData(4, 1, false)]
        [InlineData(4, 2, true)]
        public void Daemon_rule_for_removing_a_manager(int reachable, int unreachable, bool losesQuorum)
        {
            Assert.Equal(losesQuorum, QuorumAnalyzer.RemovingOneLosesQuorum(reachable, unreachable));
        }

        [Fact]
        public void Three_healthy_managers_on_three_hosts_is_healthy_with_no_findings()
        {
            var report = QuorumAnalyzer.Analyze(Swarm(3, 3), "proxmox.host");
            Assert.Equal(QuorumStatus.Healthy, report.Status);
            Assert.Empty(report.Findings);
            Assert.Equal(new[] { "pve1", "pve2", "pve3" }, report.FailureDomains.Keys.OrderBy(k => k));
        }

        [Fact]
        public void Two_of_three_managers_on_one_host_is_a_failure_domain_error()
        {
            var nodes = Swarm(3, 3);
            nodes[1].Labels["proxmox.host"] = "pve1";
            var report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            var finding = Assert.Single(report.Findings, f => f.Id == "FAILURE-DOMAIN");
            Assert.Equal(FindingSeverity.Error, finding.Severity);
            Assert.Equal("pve1", finding.Target);
            Assert.Contains("mgr-1", finding.Message);
            Assert.Contains("mgr-2", finding.Message);
            Assert.Equal(QuorumStatus.Degraded, report.Status);
            Assert.Equal(new[] { "mgr-1", "mgr-2" }, report.FailureDomains["pve1"]);
        }

        [Fact]
        public void Two_of_five_managers_on_one_host_only_uses_tolerance()
        {
            var nodes = Swarm(5, 5);
            nodes[1].Labels["proxmox.host"] = "pve1";
            var report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            Assert.DoesNotContain(report.Findings, f => f.Id == "FAILURE-DOMAIN");
            Assert.Contains(report.Findings, f => f.Id == "FAILURE-DOMAIN-SHARED" && f.Severity == FindingSeverity.Warning);
        }

        [Fact]
        public void Two_of_four_managers_on_one_host_loses_quorum_with_that_host()
        {
            var nodes = Swarm(4, 4);
            nodes[1].Labels["proxmox.host"] = "pve1";
            Assert.Contains(QuorumAnalyzer.Analyze(nodes, "proxmox.host").Findings, f => f.Id == "FAILURE-DOMAIN");
        }

        [Fact]
        public void Unlabelled_managers_are_reported()
        {
            var nodes = Swarm(3, 3);
            nodes[2].Labels.Clear();
            var report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            var finding = Assert.Single(report.Findings);
            Assert.Equal(("FAILURE-DOMAIN-UNKNOWN", FindingSeverity.Warning, "mgr-3"), (finding.Id, finding.Severity, finding.Target));

            foreach (var n in nodes) n.Labels.Clear();
            report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            finding = Assert.Single(report.Findings);
            Assert.Equal(("FAILURE-DOMAIN-UNKNOWN", FindingSeverity.Info), (finding.Id, finding.Severity));
            Assert.Equal(QuorumStatus.Healthy, report.Status);
        }

        [Fact]
        public void Engine_skew_is_a_warning_and_an_older_leader_an_error()
        {
            var nodes = Swarm(3, 3);
            nodes[4].EngineVersion = "20.10.24+dfsg1";
            var report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            var skew = Assert.Single(report.Findings);
            Assert.Equal("ENGINE-VERSION-SKEW", skew.Id);
            Assert.Contains("wrk-2", skew.Message);
            Assert.Equal(new[] { "26.1.5", "20.10.24+dfsg1" }, report.EngineVersions);

            nodes[4].EngineVersion = "26.1.5";
            nodes[0].EngineVersion = "25.0.3";
            report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            Assert.Contains(report.Findings, f => f.Id == "LEADER-ENGINE-OLDER" && f.Severity == FindingSeverity.Error && f.Target == "mgr-1");
        }

        [Fact]
        public void Down_workers_paused_and_drained_managers_and_bad_addresses()
        {
            var nodes = Swarm(3, 3);
            nodes[3].State = "down";
            nodes[1].Availability = "pause";
            nodes[2].Availability = "drain";
            nodes[0].ManagerAddress = "0.0.0.0:2377";
            var report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            Assert.Contains(report.Findings, f => f.Id == "NODE-DOWN" && f.Target == "wrk-1" && f.Severity == FindingSeverity.Warning);
            Assert.Contains(report.Findings, f => f.Id == "MANAGER-PAUSED" && f.Target == "mgr-2" && f.Severity == FindingSeverity.Warning);
            Assert.Contains(report.Findings, f => f.Id == "MANAGER-DRAINED" && f.Target == "mgr-3" && f.Severity == FindingSeverity.Info);
            Assert.Contains(report.Findings, f => f.Id == "MANAGER-ADDRESS" && f.Target == "mgr-1" && f.Severity == FindingSeverity.Error);
            nodes[0].ManagerAddress = "127.0.0.1:2377";
            Assert.Contains(QuorumAnalyzer.Analyze(nodes, "proxmox.host").Findings, f => f.Id == "MANAGER-ADDRESS");
            nodes[0].ManagerAddress = "[::1]:2377";
            Assert.Contains(QuorumAnalyzer.Analyze(nodes, "proxmox.host").Findings, f => f.Id == "MANAGER-ADDRESS");
            nodes[0].ManagerAddress = "10.0.0.1:2377";
            Assert.DoesNotContain(QuorumAnalyzer.Analyze(nodes, "proxmox.host").Findings, f => f.Id == "MANAGER-ADDRESS");
        }

        [Fact]
        public void Findings_are_ordered_worst_first_and_every_one_says_what_to_do()
        {
            var nodes = Swarm(4, 2, leader: false);
            var report = QuorumAnalyzer.Analyze(nodes, "proxmox.host");
            Assert.Equal(FindingSeverity.Critical, report.Findings[0].Severity);
            Assert.True(report.Findings.Zip(report.Findings.Skip(1), (a, b) => a.Severity >= b.Severity).All(x => x));
            Assert.All(report.Findings, f => Assert.False(string.IsNullOrWhiteSpace(f.Remedy)));
            Assert.All(report.Findings, f => Assert.False(string.IsNullOrWhiteSpace(f.Message)));
        }

        [Theory]
        [InlineData("26.1.5+dfsg1", "26.1.5")]
        [InlineData("20.10.24", "20.10.24")]
        [InlineData("28", "28.0")]
        [InlineData("garbage", "0.0")]
        public void Parses_engine_versions(string text, string expected)
        {
            Assert.Equal(Version.Parse(expected), QuorumAnalyzer.ParseVersion(text));
        }
    }
}

namespace SwarmAdmin.Tests
{
    public class QuorumGuardTests
    {
        [Theory]
        // reachable, unreachable, member reachable, loses quorum
        [InlineData(3, 0, true, false)]   // 3 healthy: one can go
        [InlineData(2, 1, true, true)]    // one down already: demoting a healthy one breaks it
        [InlineData(2, 1, false, false)]  // removing the down one is fine (2 of 2 left)
        [InlineData(1, 0, true, true)]    // the last manager
        [InlineData(2, 0, true, true)]    // 2 -> 1 of 1 ... reachable-2 <= unreachable says true
        [InlineData(5, 0, true, false)]
        [InlineData(3, 2, true, true)]
        [InlineData(3, 2, false, false)]  // 5 -> 4, 3 reachable of 4: majority is 3
        [InlineData(4, 1, true, false)]
        public void Matches_swarmkit(int reachable, int unreachable, bool memberReachable, bool loses)
        {
            Assert.Equal(loses, Quorum.QuorumAnalyzer.RemovalLosesQuorum(reachable, unreachable, memberReachable));
            if (memberReachable && reachable + unreachable > 1)
            {
                // for a reachable member it is exactly the engine's rule
                Assert.Equal(Quorum.QuorumAnalyzer.RemovingOneLosesQuorum(reachable, unreachable), loses);
            }
        }
    }
}
