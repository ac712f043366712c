using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>examples/stacks load with our compose loader (the lab runs them with the docker CLI: ExampleStacks.Tests.ps1).</summary>
    public class ExampleStacksTests
    {
        private static string Example(string name)
        {
            string dir = AppContext.BaseDirectory;
            while (dir != null && !Directory.Exists(Path.Combine(dir, "examples", "stacks"))) dir = Path.GetDirectoryName(dir);
            Assert.NotNull(dir);
            return Path.Combine(dir, "examples", "stacks", name);
        }

        private static ComposeProject Load(string name, params (string, string)[] env)
        {
            var values = env.ToDictionary(e => e.Item1, e => e.Item2);
            var warnings = new List<ComposeWarning>();
            var project = ComposeLoader.Load(new[] { Example(name) }, null, k => values.TryGetValue(k, out string v) ? (true, v) : (false, null), warnings);
            Assert.Empty(warnings);
            return project;
        }

        [Fact]
        public void Portainer_pins_the_ui_and_runs_the_agent_everywhere()
        {
            var p = Load("portainer.yml");
            Assert.Equal(new[] { "agent", "portainer" }, p.Services.Keys);
            Assert.Equal("global", p.Services["agent"].Deploy.Mode);
            Assert.Equal(new[] { "node.labels.portainer.data == true" }, p.Services["portainer"].Deploy.Placement.Constraints);
            Assert.Equal("lab/busybox:1", p.Services["portainer"].Image);
            Assert.True(p.Networks.ContainsKey("agent_network"));
            Assert.True(p.Volumes.ContainsKey("portainer_data"));
        }

        [Fact]
        public void Images_come_from_the_environment_on_a_real_cluster()
        {
            var p = Load("portainer.yml", ("PORTAINER_IMAGE", "portainer/portainer-ce:2.21.4"), ("AGENT_IMAGE", "portainer/agent:2.21.4"));
            Assert.Equal("portainer/portainer-ce:2.21.4", p.Services["portainer"].Image);
            Assert.Equal("portainer/agent:2.21.4", p.Services["agent"].Image);
        }

        [Theory]
        [InlineData("web.yml", "app", 3ul, "node.role == manager")]
        [InlineData("infra.yml", "storage", 2ul, "node.role == worker")]
        public void Replicated_examples_place_as_the_reference_says(string file, string service, ulong replicas, string constraint)
        {
            var s = Load(file).Services[service];
            Assert.Equal(replicas, s.Deploy.Replicas);
            Assert.Contains(constraint, s.Deploy.Placement.Constraints);
        }

        [Fact]
        public void Monitoring_is_global()
        {
            Assert.Equal("global", Load("monitoring.yml").Services["node-exporter"].Deploy.Mode);
        }
    }
}
