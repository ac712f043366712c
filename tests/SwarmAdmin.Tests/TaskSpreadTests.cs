using System.Collections.Generic;
using System.Linq;
using SwarmAdmin.Maintenance;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>Invoke-SwarmRebalance / Invoke-SwarmNodeMaintenance: eligibility, skew and the maintenance quorum rule.</summary>
    public class TaskSpreadTests
    {
        private static SpreadNode Node(string name, string role = "worker", bool ready = true, bool active = true,
            string os = "linux", string arch = "x86_64", Dictionary<string, string> labels = null) => new SpreadNode
        {
            Placement = new PlacementNode { Id = "id-" + name, Hostname = name, Role = role, Os = os, Arch = arch, NodeLabels = labels ?? new Dictionary<string, string>() },
            Ready = ready,
            Active = active,
        };

        private static readonly List<SpreadNode> Lab = new List<SpreadNode>
        {
            Node("m1", "manager"), Node("m2", "manager"), Node("m3", "manager"), Node("w1"), Node("w2"),
        };

        private static SpreadService Svc(ulong replicas, params string[] constraints) => new SpreadService { Replicas = replicas, Constraints = constraints };

        /// <summary>One node ID per running task: ("w1", 3) → id-w1 three times.</summary>
        private static IEnumerable<string> On(params (string Node, int Count)[] tasks) => tasks.SelectMany(t => Enumerable.Repeat("id-" + t.Node, t.Count));

        [Fact]
        public void All_tasks_on_one_of_two_workers_is_skewed()
        {
            var r = TaskSpread.Evaluate(Lab, Svc(4, "node.role==worker"), On(("w2", 4)));
            Assert.True(r.IsSkewed);
            Assert.Equal(4, r.Skew);
            Assert.Equal("w1=0 w2=4", r.Distribution);
            Assert.Equal(new[] { "w1", "w2" }, r.Eligible.Select(kv => kv.Key));
        }

        [Fact]
        public void Even_and_off_by_one_spreads_are_balanced()
        {
            Assert.False(TaskSpread.Evaluate(Lab, Svc(4, "node.role==worker"), On(("w1", 2), ("w2", 2))).IsSkewed);
            var r = TaskSpread.Evaluate(Lab, Svc(5, "node.role==worker"), On(("w1", 3), ("w2", 2)));
            Assert.False(r.IsSkewed);
            Assert.Equal(1, r.Skew);
            Assert.Null(r.Reason);
        }

        [Fact]
        public void Without_constraints_every_ready_active_node_counts_and_an_empty_one_makes_skew()
        {
            var r = TaskSpread.Evaluate(Lab, Svc(6), On(("m1", 2), ("m2", 1), ("m3", 1), ("w1", 2)));
            Assert.True(r.IsSkewed);
            Assert.Equal(2, r.Skew);
            Assert.Equal("m1=2 m2=1 m3=1 w1=2 w2=0", r.Distribution);
            Assert.False(TaskSpread.Evaluate(Lab, Svc(6), On(("m1", 2), ("m2", 1), ("m3", 1), ("w1", 1), ("w2", 1))).IsSkewed);
        }

        [Fact]
        public void Fewer_replicas_than_nodes_is_balanced_when_every_node_runs_zero_or_one()
        {
            Assert.False(TaskSpread.Evaluate(Lab, Svc(3), On(("m1", 1), ("w1", 1), ("w2", 1))).IsSkewed);
            var r = TaskSpread.Evaluate(Lab, Svc(3), On(("w1", 2), ("w2", 1)));
            Assert.True(r.IsSkewed);
            Assert.Equal(2, r.Skew);
            Assert.False(TaskSpread.Evaluate(Lab, Svc(1), On(("m2", 1))).IsSkewed);
            Assert.False(TaskSpread.Evaluate(Lab, Svc(0), On()).IsSkewed);
        }

        [Fact]
        public void A_task_on_a_drained_paused_down_or_unmatched_node_is_skew()
        {
            var nodes = new List<SpreadNode> { Node("w1", active: false), Node("w2"), Node("w3", ready: false), Node("m1", "manager") };
            var r = TaskSpread.Evaluate(nodes, Svc(2, "node.role==worker"), On(("w1", 1), ("w2", 1)));
            Assert.True(r.IsSkewed);
            Assert.Equal(0, r.Skew);
            Assert.Equal("w2=1 | w1=1 (not eligible)", r.Distribution);
            Assert.Contains("not eligible", r.Reason);
            // down node
            Assert.True(TaskSpread.Evaluate(nodes, Svc(2, "node.role==worker"), On(("w3", 1), ("w2", 1))).IsSkewed);
            // a manager does not match node.role==worker
            Assert.True(TaskSpread.Evaluate(nodes, Svc(2, "node.role==worker"), On(("m1", 1), ("w2", 1))).IsSkewed);
        }

        [Fact]
        public void Label_constraints_decide_the_eligible_nodes()
        {
            var nodes = new List<SpreadNode>
            {
                Node("a", labels: new Dictionary<string, string> { ["zone"] = "x" }),
                Node("b", labels: new Dictionary<string, string> { ["zone"] = "x" }),
                Node("c", labels: new Dictionary<string, string> { ["zone"] = "y" }),
            };
            // c runs nothing but it is not eligible: a/b are 2/2 → balanced
            var r = TaskSpread.Evaluate(nodes, Svc(4, "node.labels.zone==x"), On(("a", 2), ("b", 2)));
            Assert.False(r.IsSkewed);
            Assert.Equal("a=2 b=2", r.Distribution);
            Assert.True(TaskSpread.Evaluate(nodes, Svc(4, "node.labels.zone != x"), On(("a", 2), ("c", 2))).IsSkewed);
            Assert.True(TaskSpread.Evaluate(nodes, Svc(4, "node.labels.zone==x", "node.hostname!=b"), On(("a", 2), ("b", 2))).IsSkewed);
        }

        [Fact]
        public void Max_replicas_per_node_is_honoured()
        {
            var nodes = new List<SpreadNode> { Node("a"), Node("b"), Node("c"), Node("d") };
            var svc = new SpreadService { Replicas = 6, MaxReplicasPerNode = 2 };
            // 2/2/1/1 is the best spread there is
            Assert.False(TaskSpread.Evaluate(nodes, svc, On(("a", 2), ("b", 2), ("c", 1), ("d", 1))).IsSkewed);
            // 2/2/2/0 is not
            Assert.True(TaskSpread.Evaluate(nodes, svc, On(("a", 2), ("b", 2), ("c", 2))).IsSkewed);
            // more replicas than the nodes may hold: every node full is balanced
            var many = new SpreadService { Replicas = 10, MaxReplicasPerNode = 2 };
            Assert.False(TaskSpread.Evaluate(nodes, many, On(("a", 2), ("b", 2), ("c", 2), ("d", 2))).IsSkewed);
            // a node above the limit (the limit was lowered) is skew even when the counts differ by one
            var r = TaskSpread.Evaluate(nodes, new SpreadService { Replicas = 7, MaxReplicasPerNode = 1 }, On(("a", 2), ("b", 2), ("c", 2), ("d", 1)));
            Assert.True(r.IsSkewed);
            Assert.Equal(3, r.OverLimit);
            Assert.Contains("max replicas per node", r.Reason);
        }

        [Fact]
        public void Platforms_limit_the_eligible_nodes_and_x86_64_is_amd64()
        {
            var nodes = new List<SpreadNode> { Node("x1"), Node("x2"), Node("arm", arch: "aarch64") };
            var svc = new SpreadService { Replicas = 2, Platforms = new List<(string, string)> { ("linux", "amd64") } };
            var r = TaskSpread.Evaluate(nodes, svc, On(("x1", 1), ("x2", 1)));
            Assert.False(r.IsSkewed);
            Assert.Equal(new[] { "x1", "x2" }, r.Eligible.Select(kv => kv.Key));
            Assert.True(TaskSpread.MatchesPlatform(new List<(string, string)> { ("linux", "arm64") }, "linux", "aarch64"));
            Assert.True(TaskSpread.MatchesPlatform(new List<(string, string)> { ("", "") }, "windows", "x86_64"));
            Assert.False(TaskSpread.MatchesPlatform(new List<(string, string)> { ("windows", "") }, "linux", "x86_64"));
        }

        [Fact]
        public void Tasks_that_have_nowhere_to_go_are_not_skew_and_an_invalid_constraint_makes_no_node_eligible()
        {
            var nodes = new List<SpreadNode> { Node("w1", active: false) };
            var r = TaskSpread.Evaluate(nodes, Svc(1), On(("w1", 1)));
            Assert.False(r.IsSkewed);
            Assert.Contains("no node is eligible", r.Reason);
            Assert.Empty(TaskSpread.EligibleNodes(Lab, Svc(1, "node.role")));
        }

        [Theory]
        // managers, reachable, node is manager, node reachable → refuse
        [InlineData(3, 3, true, true, false)]
        [InlineData(3, 2, true, true, true)]   // tolerance already 0
        [InlineData(3, 2, true, false, false)] // the unreachable one itself: no reachable manager is lost
        [InlineData(3, 2, false, false, false)] // a worker never matters
        [InlineData(5, 4, true, true, false)]
        [InlineData(5, 3, true, true, true)]
        [InlineData(4, 4, true, true, false)]
        [InlineData(4, 3, true, true, true)]
        [InlineData(1, 1, true, true, true)]
        [InlineData(2, 2, true, true, true)]
        public void Maintenance_of_a_manager_is_refused_when_tolerance_would_go_below_zero(int managers, int reachable, bool isManager, bool isReachable, bool refuse)
        {
            Assert.Equal(refuse, TaskSpread.MaintenanceLosesQuorum(managers, reachable, isManager, isReachable).Refuse);
        }
    }
}
