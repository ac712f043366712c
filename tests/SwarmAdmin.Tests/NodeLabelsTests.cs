using System.Collections.Generic;
using System.Net;
using Docker.DotNet;
using SwarmAdmin.Nodes;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class NodeLabelsTests
    {
        [Theory]
        [InlineData("proxmox.host")]
        [InlineData("portainer.data")]
        [InlineData("storage")]
        [InlineData("a")]
        [InlineData("node_role")]
        [InlineData("example.com/tier")]
        [InlineData("A1-b2.c3")]
        public void Accepts_usual_keys(string key) => Assert.Null(NodeLabels.Validate(key));

        [Theory]
        [InlineData("", "empty")]
        [InlineData("bad key", "not valid")]
        [InlineData("-lead", "not valid")]
        [InlineData("trail.", "not valid")]
        [InlineData("a..b", "repeats")]
        [InlineData("a=b", "not valid")]
        [InlineData("com.docker.x", "reserves")]
        [InlineData("io.docker.y", "reserves")]
        [InlineData("org.dockerproject.z", "reserves")]
        [InlineData("ünïcode", "not valid")]
        public void Refuses_bad_keys_and_says_why(string key, string why) => Assert.Contains(why, NodeLabels.Validate(key));

        [Fact]
        public void Refuses_control_characters_in_values()
        {
            Assert.NotNull(NodeLabels.ValidateValue("k", "a\nb"));
            Assert.Null(NodeLabels.ValidateValue("k", ""));
            Assert.Null(NodeLabels.ValidateValue("k", "any text, even = and spaces"));
        }

        [Fact]
        public void Add_remove_and_replace()
        {
            var current = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" };
            var r = NodeLabels.Apply(current, new Dictionary<string, string> { ["c"] = "3", ["a"] = "9" }, new[] { "b", "nope" }, null);
            Assert.Equal(new Dictionary<string, string> { ["a"] = "9", ["c"] = "3" }, r);
            Assert.Equal(new Dictionary<string, string> { ["x"] = "" }, NodeLabels.Apply(current, null, null, new Dictionary<string, string> { ["x"] = "" }));
            Assert.Empty(NodeLabels.Apply(current, null, null, new Dictionary<string, string>()));
            Assert.Equal(2, current.Count); // the input is not modified
        }

        [Fact]
        public void Compares_label_sets_exactly()
        {
            Assert.True(NodeLabels.SameSet(new Dictionary<string, string> { ["a"] = "" }, new Dictionary<string, string> { ["a"] = null }));
            Assert.False(NodeLabels.SameSet(new Dictionary<string, string> { ["a"] = "1" }, new Dictionary<string, string> { ["a"] = "1", ["b"] = "" }));
            Assert.False(NodeLabels.SameSet(new Dictionary<string, string> { ["a"] = "x" }, new Dictionary<string, string> { ["a"] = "X" }));
            Assert.True(NodeLabels.SameSet(null, new Dictionary<string, string>()));
        }

        [Fact]
        public void Recognises_the_swarm_version_conflict()
        {
            // what a 26.1 manager answered in the lab to an update with a stale version index
            var stale = new DockerApiException(HttpStatusCode.InternalServerError, "{\"message\":\"rpc error: code = Unknown desc = update out of sequence\"}");
            Assert.True(NodeLabels.IsVersionConflict(stale));
            Assert.True(NodeLabels.IsVersionConflict(new DockerApiException(HttpStatusCode.Conflict, "{}")));
            Assert.False(NodeLabels.IsVersionConflict(new DockerApiException(HttpStatusCode.InternalServerError, "{\"message\":\"the swarm does not have a leader\"}")));
            Assert.False(NodeLabels.IsVersionConflict(new System.IO.IOException("update out of sequence")));
        }

        [Fact]
        public void Formats_label_sets_sorted()
        {
            Assert.Equal("{a=1, b=}", NodeLabels.Format(new Dictionary<string, string> { ["b"] = "", ["a"] = "1" }));
            Assert.Equal("{}", NodeLabels.Format(null));
        }
    }
}
