using System;
using System.Collections.Generic;
using System.Linq;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>Placement constraints exactly as swarmkit manager/constraint/constraint.go parses and matches them.</summary>
    public class PlacementConstraintsTests
    {
        private static PlacementNode Node(string host, string role, string address = "10.0.0.5", params (string Key, string Value)[] labels)
            => new PlacementNode
            {
                Id = "id-" + host,
                Hostname = host,
                Role = role,
                Os = "linux",
                Arch = "x86_64",
                Address = address,
                NodeLabels = labels.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal),
                EngineLabels = new Dictionary<string, string>(StringComparer.Ordinal) { ["storage"] = "ssd" },
            };

        private static readonly PlacementNode M1 = Node("swarmlab-m1", "manager", "10.0.0.11", ("zone", "a"));
        private static readonly PlacementNode M2 = Node("swarmlab-m2", "manager", "10.0.0.12", ("zone", "a"));
        private static readonly PlacementNode W1 = Node("swarmlab-w1", "worker", "10.0.1.21");
        private static readonly PlacementNode W2 = Node("swarmlab-w2", "worker", "10.0.1.22", ("portainer.data", "true"));
        private static readonly PlacementNode[] Lab = { M1, M2, W1, W2 };

        private static PlacementConstraint C(string text)
        {
            Assert.True(PlacementConstraints.TryParse(text, out var c, out string error), error);
            Assert.Null(error);
            return c;
        }

        private static bool M(string text, PlacementNode n) => PlacementConstraints.Matches(C(text), n);

        // ------------------------------------------------------------------ parsing

        [Fact]
        public void Parse_equal_and_not_equal_trims_and_keeps_the_text()
        {
            var c = C("  node.role == manager ");
            Assert.Equal("node.role", c.Key);
            Assert.True(c.Equal);
            Assert.Equal("manager", c.Value);
            Assert.Equal("  node.role == manager ", c.Text);
            Assert.Equal("  node.role == manager ", c.ToString());

            var n = C("node.labels.zone!=a");
            Assert.Equal("node.labels.zone", n.Key);
            Assert.False(n.Equal);
            Assert.Equal("a", n.Value);
        }

        [Theory]
        [InlineData("node.labels.zone==eu west 1", "eu west 1")]          // inner blanks are allowed
        [InlineData("node.ip==2001:db8::/32", "2001:db8::/32")]
        [InlineData("engine.labels.os==ubuntu-14.04", "ubuntu-14.04")]
        [InlineData("node.labels.x==a*b(c)?+[d]\\^$|/e", "a*b(c)?+[d]\\^$|/e")]
        [InlineData("_k==v", "v")]
        public void Parse_accepts_swarmkit_values(string text, string value)
            => Assert.Equal(value, C(text).Value);

        [Theory]
        [InlineData("node.role = manager", "constraint expected one operator from ==, !=")]
        [InlineData("node.role", "constraint expected one operator from ==, !=")]
        [InlineData("", "constraint expected one operator from ==, !=")]
        [InlineData("x==y", "key 'x' is invalid")]                        // keys need two characters
        [InlineData("1node==a", "key '1node' is invalid")]                // and start with a letter or '_'
        [InlineData("node role==manager", "key 'node role' is invalid")]
        [InlineData(" == manager", "key '' is invalid")]
        [InlineData("node.role==", "value '' is invalid")]
        [InlineData("node.role==  ", "value '' is invalid")]
        [InlineData("node.labels.a==b>c", "value 'b>c' is invalid")]
        [InlineData("node.labels.a==b!=c", "value 'b!=c' is invalid")]
        [InlineData("node.labels.a!=b==c", "key 'node.labels.a!=b' is invalid")] // "==" is looked for first
        [InlineData("node.labels.a==é", "value 'é' is invalid")]
        public void Parse_rejects_with_swarmkit_wording(string text, string expected)
        {
            Assert.False(PlacementConstraints.TryParse(text, out var c, out string error));
            Assert.Null(c);
            Assert.Equal(expected, error);
        }

        // ------------------------------------------------------------------ matching, per key

        [Fact]
        public void Node_id_hostname_role_platform()
        {
            Assert.True(M("node.id==id-swarmlab-m1", M1));
            Assert.False(M("node.id==id-swarmlab-m1", M2));
            Assert.True(M("node.id!=id-swarmlab-m1", M2));
            Assert.True(M("node.hostname==swarmlab-w1", W1));
            Assert.True(M("node.hostname!=swarmlab-w1", W2));
            Assert.False(M("node.hostname!=swarmlab-w1", W1));
            Assert.True(M("node.role==manager", M1));
            Assert.False(M("node.role==manager", W1));
            Assert.True(M("node.role!=manager", W1));
            Assert.True(M("node.role==worker", W2));
            Assert.True(M("node.platform.os==linux", M1));
            Assert.False(M("node.platform.os==windows", M1));
            Assert.True(M("node.platform.arch==x86_64", M1));
            Assert.True(M("node.platform.arch!=aarch64", M1));
        }

        [Fact]
        public void Keys_and_values_are_case_insensitive()
        {
            Assert.True(M("NODE.ROLE==MANAGER", M1));
            Assert.True(M("Node.Hostname==SWARMLAB-M1", M1));
            Assert.True(M("node.PLATFORM.os==Linux", M1));
            Assert.True(M("NODE.LABELS.zone==A", M1));                     // prefix ignores case, value too
            Assert.True(M("Engine.Labels.storage==SSD", M1));
            Assert.True(M("node.role==manager", new PlacementNode { Role = "MANAGER" }));
        }

        [Fact]
        public void Label_names_are_case_sensitive_and_missing_labels_are_empty()
        {
            Assert.True(M("node.labels.zone==a", M1));
            Assert.False(M("node.labels.Zone==a", M1));                   // "Zone" is not "zone"
            Assert.True(M("node.labels.Zone!=a", M1));
            Assert.False(M("node.labels.portainer.data==true", M1));      // missing label: == fails
            Assert.True(M("node.labels.portainer.data!=true", M1));       // ... and != matches
            Assert.True(M("node.labels.portainer.data==true", W2));
            Assert.False(M("node.labels.portainer.data!=true", W2));
            Assert.True(M("engine.labels.storage==ssd", W1));
            Assert.False(M("engine.labels.missing==ssd", W1));
            Assert.True(M("engine.labels.missing!=ssd", W1));
        }

        [Fact]
        public void Label_lookup_is_ordinal_even_with_a_case_insensitive_dictionary()
        {
            var n = new PlacementNode { NodeLabels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["zone"] = "a" } };
            Assert.True(M("node.labels.zone==a", n));
            Assert.False(M("node.labels.ZONE==a", n));
        }

        [Fact]
        public void Missing_attributes_and_null_dictionaries_count_as_empty()
        {
            var bare = new PlacementNode { NodeLabels = null, EngineLabels = null };
            Assert.False(M("node.hostname==a1", bare));
            Assert.True(M("node.hostname!=a1", bare));
            Assert.False(M("node.platform.os==linux", bare));
            Assert.True(M("node.platform.arch!=x86_64", bare));
            Assert.False(M("node.labels.zone==a", bare));
            Assert.True(M("node.labels.zone!=a", bare));
            Assert.True(M("engine.labels.zone!=a", bare));
            Assert.NotNull(new PlacementNode().NodeLabels);
            Assert.NotNull(new PlacementNode().EngineLabels);
        }

        [Theory]
        [InlineData("node.foo==x")]
        [InlineData("node.foo!=x")]
        [InlineData("node.labels==x")]     // no label name
        [InlineData("node.labels.!=x")]    // prefix only: not a label key
        [InlineData("engine.labels.!=x")]
        [InlineData("node.platform!=x")]
        public void Unknown_keys_never_match(string text)
        {
            foreach (var n in Lab) Assert.False(M(text, n));
        }

        [Fact]
        public void Node_ip_single_address()
        {
            Assert.True(M("node.ip==10.0.0.11", M1));
            Assert.False(M("node.ip==10.0.0.11", M2));
            Assert.True(M("node.ip!=10.0.0.11", M2));
            Assert.False(M("node.ip!=10.0.0.11", M1));
            Assert.True(M("node.ip==10.0.0.11", Node("v4mapped", "worker", "::ffff:10.0.0.11"))); // net.IP.Equal
            Assert.True(M("node.ip==2001:db8::2", Node("v6", "worker", "2001:db8::2")));
            Assert.True(M("node.ip==2001:DB8:0:0::2", Node("v6", "worker", "2001:db8::2")));
            Assert.False(M("node.ip==2001:db8::3", Node("v6", "worker", "2001:db8::2")));
        }

        [Fact]
        public void Node_ip_cidr()
        {
            Assert.True(M("node.ip==10.0.0.0/24", M1));
            Assert.False(M("node.ip==10.0.0.0/24", W1));
            Assert.True(M("node.ip!=10.0.0.0/24", W1));
            Assert.False(M("node.ip!=10.0.0.0/24", M1));
            Assert.True(M("node.ip==10.0.0.0/16", W1));
            Assert.True(M("node.ip==10.0.0.7/24", M1));                    // host bits are ignored
            Assert.True(M("node.ip==0.0.0.0/0", W2));
            Assert.True(M("node.ip==10.0.0.0/024", M1));                   // Go dtoi takes leading zeros
            Assert.True(M("node.ip==10.0.0.0/24", Node("v4mapped", "worker", "::ffff:10.0.0.9")));
            Assert.True(M("node.ip==2001:db8::/32", Node("v6", "worker", "2001:db8:1::5")));
            Assert.False(M("node.ip==2001:db8::/32", Node("v6", "worker", "2001:db9::5")));
            Assert.False(M("node.ip==::/0", M1));                          // an IPv4 node is never in an IPv6 network
        }

        [Theory]
        [InlineData("node.ip==10.0.0.300")]
        [InlineData("node.ip!=10.0.0.300")]
        [InlineData("node.ip==10.0.0.0/33")]
        [InlineData("node.ip!=10.0.0.0/33")]
        [InlineData("node.ip==010.0.0.11")]   // Go rejects leading zeros
        [InlineData("node.ip!=swarmlab-m1")]
        [InlineData("node.ip==10.0.0")]
        public void Node_ip_malformed_matches_nothing_even_with_not_equal(string text)
        {
            foreach (var n in Lab) Assert.False(M(text, n));
        }

        [Fact]
        public void Node_ip_without_address()
        {
            var n = new PlacementNode { Address = null };
            Assert.False(M("node.ip==10.0.0.1", n));
            Assert.True(M("node.ip!=10.0.0.1", n));
            Assert.False(M("node.ip==10.0.0.0/8", n));
            Assert.True(M("node.ip!=10.0.0.0/8", n));
        }

        [Fact]
        public void MatchesAll_needs_every_constraint()
        {
            var cs = new[] { C("node.role==manager"), C("node.labels.zone==a") };
            Assert.True(PlacementConstraints.MatchesAll(cs, M1));
            Assert.False(PlacementConstraints.MatchesAll(cs, W2));
            Assert.False(PlacementConstraints.MatchesAll(new[] { C("node.role==worker"), C("node.labels.zone==a") }, M1));
            Assert.True(PlacementConstraints.MatchesAll(Array.Empty<PlacementConstraint>(), W1));
        }

        // ------------------------------------------------------------------ Explain

        [Fact]
        public void Explain_is_null_when_a_node_fits_or_there_is_nothing_to_fit()
        {
            Assert.Null(PlacementConstraints.Explain(new[] { "node.role==manager", "node.labels.zone==a" }, Lab));
            Assert.Null(PlacementConstraints.Explain(new[] { "node.labels.portainer.data==true" }, Lab));
            Assert.Null(PlacementConstraints.Explain(Array.Empty<string>(), Lab));
            Assert.Null(PlacementConstraints.Explain(null, Lab));
        }

        [Fact]
        public void Explain_single_unsatisfiable_constraint_lists_the_labels()
        {
            Assert.Equal(
                "no node satisfies \"node.labels.db==true\"; labels on the ready nodes: portainer.data=true (swarmlab-w2), zone=a (swarmlab-m1, swarmlab-m2)",
                PlacementConstraints.Explain(new[] { "node.role==manager", "node.labels.db==true" }, Lab));
        }

        [Fact]
        public void Explain_names_every_constraint_no_node_satisfies_alone()
        {
            Assert.Equal(
                "no node satisfies \"node.labels.db==true\" or \"node.labels.zone == b\"; labels on the ready nodes: portainer.data=true (swarmlab-w2), zone=a (swarmlab-m1, swarmlab-m2)",
                PlacementConstraints.Explain(new[] { "node.labels.db==true", "node.role==worker", "node.labels.zone == b" }, Lab));
        }

        [Fact]
        public void Explain_combination_that_no_single_node_satisfies()
        {
            Assert.Equal(
                "no single node satisfies \"node.labels.portainer.data==true\" and \"node.labels.zone==a\" together; labels on the ready nodes: portainer.data=true (swarmlab-w2), zone=a (swarmlab-m1, swarmlab-m2)",
                PlacementConstraints.Explain(new[] { "node.labels.portainer.data==true", "node.labels.zone==a" }, Lab));
        }

        [Fact]
        public void Explain_lists_roles_when_a_role_constraint_fails()
        {
            var workers = new[] { W2, W1 };
            Assert.Equal(
                "no node satisfies \"node.role==manager\"; roles on the ready nodes: worker (swarmlab-w1, swarmlab-w2); labels on the ready nodes: portainer.data=true (swarmlab-w2)",
                PlacementConstraints.Explain(new[] { "node.role==manager" }, workers));
            Assert.Equal(
                "no single node satisfies \"node.role==manager\" and \"node.labels.portainer.data==true\" together; roles on the ready nodes: manager (swarmlab-m1, swarmlab-m2), worker (swarmlab-w1, swarmlab-w2); labels on the ready nodes: portainer.data=true (swarmlab-w2), zone=a (swarmlab-m1, swarmlab-m2)",
                PlacementConstraints.Explain(new[] { "node.role==manager", "node.labels.portainer.data==true" }, Lab));
        }

        [Fact]
        public void Explain_says_when_no_node_has_labels()
        {
            Assert.Equal(
                "no node satisfies \"node.labels.zone==a\"; no node has labels",
                PlacementConstraints.Explain(new[] { "node.labels.zone==a" }, new[] { W1 }));
        }

        [Fact]
        public void Explain_hostname_constraint_lists_the_nodes()
        {
            Assert.Equal(
                "no node satisfies \"node.hostname==swarmlab-w9\"; ready nodes: swarmlab-w1 (id-swarmlab-w1), swarmlab-w2 (id-swarmlab-w2); labels on the ready nodes: portainer.data=true (swarmlab-w2)",
                PlacementConstraints.Explain(new[] { "node.hostname==swarmlab-w9" }, new[] { W2, W1 }));
        }

        [Fact]
        public void Explain_without_nodes()
        {
            Assert.Equal("no node satisfies \"node.role==manager\": there are no ready nodes",
                PlacementConstraints.Explain(new[] { "node.role==manager" }, Array.Empty<PlacementNode>()));
        }

        [Fact]
        public void Explain_reports_invalid_constraints_first()
        {
            Assert.Equal("invalid constraint \"node.role = manager\": constraint expected one operator from ==, !=",
                PlacementConstraints.Explain(new[] { "node.labels.zone==a", "node.role = manager" }, Lab));
        }

        [Fact]
        public void Explain_is_deterministic_whatever_the_node_order()
        {
            string a = PlacementConstraints.Explain(new[] { "node.labels.x==1" }, Lab);
            string b = PlacementConstraints.Explain(new[] { "node.labels.x==1" }, Lab.Reverse().ToArray());
            Assert.Equal(a, b);
        }
    }
}
