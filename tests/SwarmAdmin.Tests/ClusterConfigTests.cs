using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using Docker.DotNet.Models;
using SwarmAdmin.Config;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>The cluster file: examples/cluster.yml against the architecture document, positions of every error, findings, capacity.</summary>
    public class ClusterConfigTests
    {
        private static string RepoFile(string relative)
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "SwarmAdmin.psd1"))) return candidate;
            }
            throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
        }

        private static ClusterConfigResult Reference() => ClusterConfigReader.ReadFile(RepoFile("examples/cluster.yml"));

        // ------------------------------------------------------------------ the reference cluster (examples/cluster.yml)

        [Fact]
        public void Reference_file_is_valid_without_findings()
        {
            var r = Reference();
            Assert.True(r.IsValid, string.Join("\n", r.Errors.Select(e => e.Message)));
            Assert.Empty(r.Findings);
            Assert.Empty(r.Config.Findings);
            Assert.Equal("docker-swarm", r.Config.Name);
            Assert.Equal(7, r.Config.Nodes.Length);
            Assert.Equal(3, r.Config.Managers.Length);
            Assert.Equal(4, r.Config.Workers.Length);
            Assert.All(r.Config.Nodes, n => Assert.Same(r.Config, n.Config));
        }

        // Node Types tables of the document: name, IP, Proxmox host, role, CPU, RAM GB, boot GB, data GB, data storage.
        [Theory]
        [InlineData("docker-app-1", "192.168.4.30", "pve01", SwarmNodeRole.Manager, 4, 8, 50, 0, null)]
        [InlineData("docker-app-2", "192.168.4.31", "pve02", SwarmNodeRole.Manager, 4, 8, 50, 0, null)]
        [InlineData("docker-app-3", "192.168.4.32", "pve03", SwarmNodeRole.Manager, 4, 8, 50, 0, null)]
        [InlineData("docker-infra-1", "192.168.4.40", "pve01", SwarmNodeRole.Worker, 4, 8, 30, 50, "tank")]
        [InlineData("docker-infra-2", "192.168.4.41", "pve02", SwarmNodeRole.Worker, 4, 8, 30, 100, "local-lvm")]
        [InlineData("docker-infra-3", "192.168.4.42", "pve03", SwarmNodeRole.Worker, 4, 8, 30, 200, "tank")]
        [InlineData("swarmpit-mgmt", "192.168.4.50", "pve01", SwarmNodeRole.Worker, 4, 6, 30, 0, null)]
        public void Reference_nodes_match_the_document(string name, string ip, string host, SwarmNodeRole role, int cores, double ramGB, double bootGB, double dataGB, string dataStorage)
        {
            var node = Assert.Single(Reference().Config.Nodes, n => n.Name == name);
            Assert.Equal(ip, node.Address);
            Assert.Equal(host, node.ProxmoxHost);
            Assert.Equal(role, node.Role);
            Assert.Equal(cores, node.Cores);
            Assert.Equal(ramGB, node.MemoryGB);
            Assert.Equal((long)(ramGB * 1024), node.MemoryMB);
            Assert.Equal(bootGB, node.BootDiskGB);
            Assert.Equal("local-lvm", node.BootStorage);
            Assert.Equal(dataGB, node.DataDiskGB);
            Assert.Equal(dataStorage, node.DataStorage);
            Assert.Equal("cluster", node.Network);
            Assert.Equal(4, node.VlanTag);
            Assert.Equal(ip + "/24", node.AddressPrefix);
            Assert.Equal("debian-12-cloudinit", node.Template);
            Assert.Equal("root", node.SshUser);
            Assert.Equal($"ssh://root@{ip}", node.Endpoint);
            Assert.Equal(host, node.Labels["proxmox.host"]);
        }

        [Fact]
        public void Reference_order_and_labels()
        {
            var nodes = Reference().Config.Nodes;
            Assert.Equal(new[] { "docker-app-1", "docker-app-2", "docker-app-3", "docker-infra-1", "docker-infra-2", "docker-infra-3", "swarmpit-mgmt" }, nodes.Select(n => n.Name));
            var mgmt = nodes.Single(n => n.Name == "swarmpit-mgmt");
            Assert.Equal("true", mgmt.Labels["portainer.data"]);
            Assert.Equal(2, mgmt.Labels.Count);
            Assert.All(nodes.Where(n => n != mgmt), n => Assert.Equal(new[] { "proxmox.host" }, n.Labels.Keys));
        }

        [Fact]
        public void Reference_hosts_networks_templates_ssh()
        {
            var c = Reference().Config;
            Assert.Equal(new[] { "pve01", "pve02", "pve03" }, c.Hosts.Select(h => h.Name));
            Assert.Equal(new[] { SwarmProxmoxHostRole.Primary, SwarmProxmoxHostRole.Secondary, SwarmProxmoxHostRole.Secondary }, c.Hosts.Select(h => h.Role));
            Assert.Equal(new[] { "https://pve01:8006", "https://pve02:8006", "https://pve03:8006" }, c.Hosts.Select(h => h.ApiUrl));
            Assert.Equal(new[] { "local-lvm", "tank" }, c.Hosts[0].Storages);
            Assert.Equal(new[] { "local-lvm" }, c.Hosts[1].Storages);
            Assert.Equal(new[] { "local-lvm", "tank" }, c.Hosts[2].Storages);

            Assert.Equal(2, c.Networks.Length);
            var cluster = c.Networks[0];
            Assert.Equal(("cluster", 4, "192.168.4.0/24", 24), (cluster.Name, cluster.VlanTag.Value, cluster.Subnet, cluster.PrefixLength));
            Assert.Equal(new[] { "192.168.2.4", "192.168.4.5", "192.168.4.6" }, cluster.Dns);
            Assert.Equal("vmbr0", cluster.Bridge);
            Assert.Null(cluster.Gateway);   // the document gives none
            var storage = c.Networks[1];
            Assert.Equal(("storage", 12, "192.168.12.0/24"), (storage.Name, storage.VlanTag.Value, storage.Subnet));

            var t = Assert.Single(c.Templates);
            Assert.Equal(("debian-12-cloudinit", 9000, "pve01", false), (t.Name, t.VmId, t.Host, t.Shared));

            Assert.Equal("root", c.Ssh.User);
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            Assert.Equal(Path.Combine(home, ".ssh/id_ed25519"), c.Ssh.KeyFile);
            Assert.Equal(Path.Combine(home, ".ssh/known_hosts"), c.Ssh.KnownHostsPath);
            Assert.All(c.Nodes, n => Assert.Equal(c.Ssh.KeyFile, n.KeyFile));

            Assert.Equal(4, c.Defaults.Cores);
            Assert.Equal(8192, c.Defaults.MemoryMB);
            Assert.Equal(30, c.Defaults.BootDiskGB);
        }

        [Fact]
        public void Reference_capacity_sums()
        {
            var rows = SwarmCapacity.FromConfig(Reference().Config);
            var manager = rows.Single(r => r.Role == "Manager");
            var worker = rows.Single(r => r.Role == "Worker");
            var total = rows.Single(r => r.Role == "Total");
            Assert.Equal(new[] { "Manager", "Worker", "Total" }, rows.Select(r => r.Role));

            // The document's totals table: CPU 28 = 12 (3x4) + 16 (4x4); RAM 54 GB = 24 (3x8) + 30 (3x8 + 6);
            // data 350 GB = 50 + 100 + 200 (infra nodes only).
            Assert.Equal((3, 12d, 24d, 0d), (manager.Nodes, manager.Cores, manager.MemoryGB, manager.DataDiskGB.Value));
            Assert.Equal((4, 16d, 30d, 350d), (worker.Nodes, worker.Cores, worker.MemoryGB, worker.DataDiskGB.Value));
            Assert.Equal((7, 28d, 54d, 350d), (total.Nodes, total.Cores, total.MemoryGB, total.DataDiskGB.Value));

            // Boot storage: the document's totals table says 240 GB = 150 (managers) + 90 (workers), but its own node
            // tables give the workers 3 x 30 GB (docker-infra-1..3) + 30 GB (swarmpit-mgmt) = 120 GB. The 240/90
            // figures omit swarmpit-mgmt's 30 GB boot disk; the true sums, computed from the node values, are these.
            Assert.Equal(150d, manager.BootDiskGB);
            Assert.Equal(120d, worker.BootDiskGB);
            Assert.Equal(270d, total.BootDiskGB);

            Assert.All(rows, r => { Assert.Equal("Config", r.Source); Assert.Null(r.ReservedCores); Assert.Null(r.Node); Assert.Equal("docker-swarm", r.Cluster); });
        }

        [Fact]
        public void Lab_file_has_the_reference_topology_with_lab_addresses_and_paths_relative_to_it()
        {
            string file = RepoFile("examples/lab/cluster.yml");
            var r = ClusterConfigReader.ReadFile(file);
            Assert.True(r.IsValid, string.Join("\n", r.Errors.Select(e => e.Message)));
            Assert.Empty(r.Findings);
            var c = r.Config;
            Assert.Equal(7, c.Nodes.Length);
            Assert.Equal(3, c.Managers.Length);
            Assert.Equal(4, c.Workers.Length);
            var lab = IpNetworkOf("10.213.57.0/24");
            Assert.All(c.Nodes, n => Assert.True(lab.Contains(IPAddress.Parse(n.Address)), n.Address));
            Assert.All(c.Managers, n => Assert.StartsWith("10.213.57.5", n.Address));
            Assert.All(c.Workers, n => Assert.StartsWith("10.213.57.6", n.Address));
            Assert.Equal(c.Nodes.Length, c.Nodes.Select(n => n.Name).Distinct().Count());
            Assert.All(c.Nodes, n => Assert.StartsWith("swarmlab-", n.Name));
            // not the main lab's nodes (swarmlab-m1.., .11..; w1.., .21..; s1 .31; x1 .41, x2 .42; bench .81-.85)
            Assert.DoesNotContain(c.Nodes, n => new[] { ".11", ".12", ".13", ".21", ".22", ".31", ".41", ".42" }.Any(s => n.Address.EndsWith(s)));

            string root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(file)));
            Assert.Equal(Path.Combine(root, "out", "lab", "id_ed25519"), c.Ssh.KeyFile);
            Assert.Equal(Path.Combine(root, "out", "lab", "known_hosts"), c.Ssh.KnownHostsPath);
            Assert.All(c.Nodes, n => Assert.Equal(("root", c.Ssh.KeyFile, c.Ssh.KnownHostsPath), (n.SshUser, n.KeyFile, n.KnownHostsPath)));

            // same roles, labels and resources as the reference, node for node
            var reference = Reference().Config.Nodes;
            for (int i = 0; i < reference.Length; i++)
            {
                var (a, b) = (reference[i], c.Nodes[i]);
                Assert.Equal((a.Role, a.Cores, a.MemoryMB, a.BootDiskGB, a.DataDiskGB, a.DataStorage), (b.Role, b.Cores, b.MemoryMB, b.BootDiskGB, b.DataDiskGB, b.DataStorage));
                Assert.Equal(a.Labels.Keys.OrderBy(k => k), b.Labels.Keys.OrderBy(k => k));
                Assert.Equal(b.ProxmoxHost, b.Labels["proxmox.host"]);
            }
            Assert.Equal(new[] { "lab-pve1", "lab-pve2", "lab-pve3" }, c.Managers.Select(m => m.ProxmoxHost));
            Assert.Equal("true", c.Nodes.Single(n => n.Labels.ContainsKey("portainer.data")).Labels["portainer.data"]);
        }

        private static IpNetwork IpNetworkOf(string cidr) { Assert.True(IpNetwork.TryParse(cidr, out var n, out _)); return n; }

        // ------------------------------------------------------------------ inline files: positions of errors

        // 24 lines; tests append nodes from line 25 on.
        private const string Base =
            "proxmox:\n" +                          // 1
            "  hosts:\n" +                          // 2
            "    - name: pve1\n" +                  // 3
            "      storages: [local-lvm, tank]\n" + // 4
            "    - name: pve2\n" +                  // 5
            "      storages: [local-lvm]\n" +       // 6
            "networks:\n" +                         // 7
            "  - name: lan\n" +                     // 8
            "    vlan: 4\n" +                       // 9
            "    subnet: 10.0.4.0/24\n" +           // 10
            "templates:\n" +                        // 11
            "  - name: deb12\n" +                   // 12
            "    vmid: 9000\n" +                    // 13
            "    shared: true\n" +                  // 14
            "defaults:\n" +                         // 15
            "  cores: 2\n" +                        // 16
            "  memory: 4GB\n" +                     // 17
            "  bootDisk: 20GB\n" +                  // 18
            "  network: lan\n" +                    // 19
            "nodes:\n" +                            // 20
            "  - name: m1\n" +                      // 21
            "    ip: 10.0.4.11\n" +                 // 22
            "    proxmoxHost: pve1\n" +             // 23
            "    role: manager\n";                  // 24

        private static ClusterConfigResult Parse(params string[] moreLines)
            => ClusterConfigReader.Parse(Base + string.Join("\n", moreLines) + (moreLines.Length > 0 ? "\n" : ""), "c.yml", "/base");

        private static string[] Node(string name, string ip, string host = "pve2", string role = "worker", params string[] more)
            => new[] { $"  - name: {name}", $"    ip: {ip}", $"    proxmoxHost: {host}", $"    role: {role}" }.Concat(more).ToArray();

        private static SwarmClusterConfigException OneError(ClusterConfigResult r)
        {
            Assert.False(r.IsValid);
            return Assert.Single(r.Errors);
        }

        private static void At(SwarmClusterConfigException e, int line, int column, string id = ClusterConfigErrorId.Invalid)
        {
            Assert.Equal(id, e.ErrorId);
            Assert.Equal((line, column), (e.Line, e.Column));
            Assert.StartsWith($"c.yml:{line}:{column}: ", e.Message);
            Assert.Equal("c.yml", e.Path);
            // (ErrorCategory lives in System.Management.Automation, which the tests do not compile against)
            Assert.Equal(id == ClusterConfigErrorId.Syntax ? "ParserError" : "InvalidData", typeof(SwarmClusterConfigException).GetProperty("Category").GetValue(e).ToString());
        }

        [Fact]
        public void Base_text_is_valid()
        {
            var r = Parse(Node("w1", "10.0.4.21"));
            Assert.True(r.IsValid, string.Join("\n", r.Errors.Select(e => e.Message)));
            Assert.Equal(2, r.Config.Nodes.Length);
            Assert.Equal("c", r.Config.Name);   // no name: the file's base name
            var w1 = r.Config.Nodes[1];
            Assert.Equal((2, 4096L, 20d, "lan", 4), (w1.Cores, w1.MemoryMB, w1.BootDiskGB, w1.Network, w1.VlanTag));
            Assert.Equal("10.0.4.21/24", w1.AddressPrefix);
            Assert.Null(w1.Template);   // no default template in Base
            Assert.Null(w1.BootStorage);
        }

        [Fact]
        public void Bad_yaml_reports_the_parser_position()
        {
            var e = OneError(ClusterConfigReader.Parse("nodes:\n  - name: a\n   ip: 1\n", "c.yml"));
            At(e, 3, 4, ClusterConfigErrorId.Syntax);
            Assert.Null(ClusterConfigReader.Parse("nodes:\n  - name: a\n   ip: 1\n", "c.yml").Config);
        }

        [Fact]
        public void Unclosed_flow_list_points_at_its_bracket()
        {
            var e = OneError(ClusterConfigReader.Parse("name: x\nnodes: [a, b\nother: 1\n", "c.yml"));
            At(e, 2, 8, ClusterConfigErrorId.Syntax);
            Assert.Contains("not closed", e.Reason);
        }

        [Fact]
        public void Duplicate_key_is_a_syntax_error_at_the_second_key()
        {
            var e = OneError(Parse(Node("w1", "10.0.4.21", more: "    role: manager")));
            At(e, 29, 5, ClusterConfigErrorId.Syntax);
            Assert.Contains("Duplicate key", e.Reason);
        }

        [Fact]
        public void Unknown_key_names_the_key_its_place_the_allowed_keys_and_the_closest()
        {
            var e = OneError(Parse(Node("w1", "10.0.4.21", more: "    cpus: 4")));
            At(e, 29, 5);
            Assert.Equal("cpus", e.Target);
            Assert.Equal("nodes[1].cpus", e.Key);
            Assert.Contains("Unknown key 'cpus' in a node", e.Reason);
            Assert.Contains("Did you mean 'cores'?", e.Reason);
            Assert.Contains("Allowed keys: name, ip, proxmoxHost, role, cores, memory", e.Reason);
            Assert.Equal("Rename 'cpus' to 'cores'.", e.RecommendedAction);
        }

        [Theory]
        [InlineData("proxmoxhost", "proxmoxHost")]   // case
        [InlineData("proxmox_host", "proxmoxHost")]
        [InlineData("memroy", "memory")]             // typo
        [InlineData("bootdisk", "bootDisk")]
        [InlineData("address", "ip")]                // synonym
        [InlineData("ram", "memory")]
        [InlineData("host", "proxmoxHost")]
        [InlineData("lables", "labels")]
        [InlineData("zzzzzz", null)]
        public void Suggests_the_closest_node_key(string typo, string expected)
            => Assert.Equal(expected, ClusterConfigReader.Suggest(typo, ClusterConfigReader.NodeKeys));

        [Fact]
        public void Unknown_top_level_and_section_keys()
        {
            var r = ClusterConfigReader.Parse(Base.Replace("    vlan: 4\n", "    vlanTag: 4\n") + "nodez: []\n", "c.yml");
            Assert.Equal(2, r.Errors.Count);
            At(r.Errors[0], 9, 5);
            Assert.Contains("Did you mean 'vlan'?", r.Errors[0].Reason);
            Assert.Contains("a network", r.Errors[0].Reason);
            At(r.Errors[1], 25, 1);
            Assert.Contains("Did you mean 'nodes'?", r.Errors[1].Reason);
            Assert.Equal("nodez", r.Errors[1].Target);
        }

        [Fact]
        public void Wrong_type_names_the_key_the_value_and_the_node()
        {
            var e = OneError(Parse(Node("w1", "10.0.4.21", more: "    cores: \"four\"")));
            At(e, 29, 12);
            Assert.Equal("w1", e.Target);
            Assert.Contains("nodes[1].cores: expected a whole number of cores, found 'four'", e.Reason);
        }

        [Theory]
        [InlineData("    memory: lots", 13, "expected a size")]
        [InlineData("    memory: [1, 2]", 13, "found a list")]
        [InlineData("    bootDisk: 0GB", 15, "more than 0")]
        [InlineData("    cores: 0", 12, "out of range")]
        [InlineData("    labels: [a]", 13, "expected a mapping")]
        [InlineData("    dataDisk: 50GB", 15, "expected a mapping")]
        public void Other_wrong_types(string line, int column, string text)
        {
            var e = OneError(Parse(Node("w1", "10.0.4.21", more: line)));
            At(e, 29, column);
            Assert.Contains(text, e.Reason);
        }

        [Fact]
        public void Duplicate_node_names_point_at_the_second()
        {
            var e = OneError(Parse(Node("M1", "10.0.4.21")));
            At(e, 25, 11);
            Assert.Equal("M1", e.Target);
            Assert.Contains("used twice (first at line 21)", e.Reason);
        }

        [Fact]
        public void Duplicate_ips_name_both_nodes()
        {
            var e = OneError(Parse(Node("w1", "10.0.4.11")));
            At(e, 26, 9);
            Assert.Equal("w1", e.Target);
            Assert.Contains("already the address of node m1 (line 22)", e.Reason);
        }

        [Theory]
        [InlineData("10.0.5.21", "outside the subnet 10.0.4.0/24 of network 'lan' (VLAN 4)")]
        [InlineData("10.0.4.0", "network or broadcast address")]
        [InlineData("10.0.4.255", "network or broadcast address")]
        [InlineData("10.0.4", "is not an IP address")]
        [InlineData("10.0.4.21/24", "has a prefix length")]
        public void Bad_addresses(string ip, string text)
        {
            var e = OneError(Parse(Node("w1", ip)));
            At(e, 26, 9);
            Assert.Equal("w1", e.Target);
            Assert.Contains(text, e.Reason);
        }

        [Fact]
        public void Unknown_proxmox_host()
        {
            var e = OneError(Parse(Node("w1", "10.0.4.21", host: "pve3")));
            At(e, 27, 18);
            Assert.Equal("w1", e.Target);
            Assert.Contains("Proxmox host 'pve3' is not declared in proxmox.hosts. Declared hosts: pve1, pve2.", e.Reason);
        }

        [Fact]
        public void Unknown_storage_for_the_data_disk_and_the_boot_disk()
        {
            var r = Parse(Node("w1", "10.0.4.21", "pve2", "worker", "    bootStorage: tank", "    dataDisk: { size: 50GB, storage: tank }"));
            Assert.Equal(2, r.Errors.Count);
            At(r.Errors[0], 29, 18);
            Assert.Contains("the boot disk storage 'tank' is not on Proxmox host pve2 (its storages: local-lvm)", r.Errors[0].Reason);
            At(r.Errors[1], 30, 38);
            Assert.Contains("the data disk storage 'tank' is not on Proxmox host pve2", r.Errors[1].Reason);
            Assert.All(r.Errors, e => Assert.Equal("w1", e.Target));

            // the same on pve1, which has tank, is fine
            Assert.True(Parse(Node("w1", "10.0.4.21", "pve1", "worker", "    bootStorage: tank", "    dataDisk: { size: 50GB, storage: tank }")).IsValid);
        }

        [Fact]
        public void Inherited_storage_names_the_node_and_the_default()
        {
            var r = ClusterConfigReader.Parse(Base.Replace("  network: lan\n", "  network: lan\n  bootStorage: tank\n") + string.Join("\n", Node("w1", "10.0.4.21")) + "\n", "c.yml");
            var e = OneError(r);
            At(e, 26, 5);   // the node's first line
            Assert.Equal("w1", e.Target);
            Assert.Contains("'tank' (inherited from defaults.bootStorage) is not on Proxmox host pve2", e.Reason);
        }

        [Fact]
        public void Unknown_network_and_template()
        {
            var r = Parse(Node("w1", "10.0.4.21", "pve2", "worker", "    network: lann", "    template: debian"));
            Assert.Equal(2, r.Errors.Count);
            At(r.Errors[0], 29, 14);
            Assert.Contains("network 'lann' is not declared in networks. Declared networks: lan.", r.Errors[0].Reason);
            Assert.Equal("Did you mean 'lan'?", r.Errors[0].RecommendedAction);
            At(r.Errors[1], 30, 15);
            Assert.Contains("template 'debian' is not declared in templates. Declared templates: deb12.", r.Errors[1].Reason);
        }

        [Fact]
        public void Unknown_default_network_is_reported_once_at_the_default()
        {
            var r = ClusterConfigReader.Parse(Base.Replace("  network: lan\n", "  network: wan\n") + string.Join("\n", Node("w1", "10.0.4.21")) + "\n", "c.yml");
            var e = OneError(r);
            At(e, 19, 12);
            Assert.Contains("defaults.network: 'wan' is not a network of the file", e.Reason);
        }

        [Fact]
        public void Missing_required_keys_point_at_the_node()
        {
            var r = ClusterConfigReader.Parse("nodes:\n  - name: a\n    ip: 10.0.0.1\n", "c.yml");
            Assert.Equal(new[] { "role", "proxmoxHost", "cores", "memory", "bootDisk" }.OrderBy(x => x), r.Errors.Select(e => e.Key.Substring(e.Key.LastIndexOf('.') + 1)).OrderBy(x => x));
            Assert.All(r.Errors, e => { At(e, 2, 5); Assert.Equal("a", e.Target); });
            Assert.Contains(r.Errors, e => e.Reason == "nodes[0]: a node has no 'cores': set it on the node or in defaults.cores.");
        }

        [Fact]
        public void Every_problem_is_reported_in_file_order()
        {
            var r = Parse(
                "  - name: m1",            // 25 duplicate name
                "    ip: 10.0.9.1",        // 26 outside the subnet
                "    proxmoxHost: pve7",   // 27 unknown host
                "    role: boss",          // 28 bad role
                "    cpus: 2",             // 29 unknown key
                "    memory: much");       // 30 wrong type
            Assert.Equal(new[] { 25, 26, 27, 28, 29, 30 }, r.Errors.Select(e => e.Line));
            Assert.All(r.Errors, e => Assert.Equal(ClusterConfigErrorId.Invalid, e.ErrorId));
            Assert.Null(r.Findings.FirstOrDefault(f => f.Id == "MANAGERS-EVEN"));
        }

        [Fact]
        public void Network_host_and_template_rules()
        {
            var text = "proxmox:\n  hosts:\n    - name: a\n      apiUrl: pve:8006\n      role: boss\n    - name: A\n" +
                       "networks:\n  - name: n\n    subnet: 10.0.0.1/24\n    vlan: 5000\n    dns: [1.1.1.1, nope]\n  - name: m\n    subnet: 10.1.0.0/16\n    gateway: 10.2.0.1\n" +
                       "templates:\n  - name: t\n    vmid: 9000\n    host: b\n" +
                       "nodes:\n  - name: x\n    ip: 10.1.0.5\n    proxmoxHost: a\n    role: manager\n    cores: 1\n    memory: 1\n    bootDisk: 1\n";
            var r = ClusterConfigReader.Parse(text, "c.yml");
            var lines = r.Errors.Select(e => (e.Line, e.Column)).ToArray();
            Assert.Equal(new[] { (4, 15), (5, 13), (6, 13), (9, 13), (10, 11), (11, 20), (14, 14), (18, 11) }, lines);
            Assert.Contains("not an http(s) URL", r.Errors[0].Reason);
            Assert.Contains("not a host role", r.Errors[1].Reason);
            Assert.Contains("declared twice", r.Errors[2].Reason);
            Assert.Contains("host bits set; the subnet is 10.0.0.0/24", r.Errors[3].Reason);
            Assert.Contains("out of range", r.Errors[4].Reason);
            Assert.Contains("'nope' is not an IP address", r.Errors[5].Reason);
            Assert.Contains("outside the subnet 10.1.0.0/16", r.Errors[6].Reason);
            Assert.Contains("Template 't' is on Proxmox host 'b'", r.Errors[7].Reason);
        }

        [Fact]
        public void Empty_file_non_mapping_and_no_manager()
        {
            At(OneError(ClusterConfigReader.Parse("", "c.yml")), 1, 1);
            At(OneError(ClusterConfigReader.Parse("# only a comment\n", "c.yml")), 1, 1);
            var e = OneError(ClusterConfigReader.Parse("- a\n- b\n", "c.yml"));
            At(e, 1, 1);
            Assert.Contains("expected a mapping", e.Reason);
            var none = OneError(ClusterConfigReader.Parse(Base.Replace("    role: manager\n", "    role: worker\n"), "c.yml"));
            At(none, 20, 1);
            Assert.Contains("a swarm needs at least one manager", none.Reason);
        }

        // ------------------------------------------------------------------ findings, labels, defaults

        [Fact]
        public void Even_managers_is_a_finding_not_an_error()
        {
            var r = Parse(Node("m2", "10.0.4.12", "pve2", "manager"));
            Assert.True(r.IsValid);
            var f = Assert.Single(r.Findings);
            Assert.Equal("MANAGERS-EVEN", f.Id);
            Assert.Equal(FindingSeverity.Warning, f.Severity);
            Assert.Equal((20, 1), (f.Line, f.Column));
            Assert.Contains("2 managers (m1, m2)", f.Message);
            Assert.Equal(r.Findings, r.Config.Findings);
        }

        [Fact]
        public void Managers_sharing_a_host_is_a_finding_that_says_whether_quorum_goes_with_it()
        {
            var r = Parse(Node("m2", "10.0.4.12", "pve1", "manager").Concat(Node("m3", "10.0.4.13", "pve2", "manager")).ToArray());
            Assert.True(r.IsValid);
            var f = Assert.Single(r.Findings);
            Assert.Equal("MANAGERS-SHARE-HOST", f.Id);
            Assert.Equal("pve1", f.Target);
            Assert.Equal((27, 18), (f.Line, f.Column));   // the second manager's proxmoxHost
            Assert.Contains("Managers m1, m2 run on the same Proxmox host pve1", f.Message);
            Assert.Contains("loses 2 of 3 managers and with them the raft quorum", f.Message);

            // 5 managers, 2 on one host: quorum survives the host
            var five = Parse(new[] { ("m2", "pve1"), ("m3", "pve2"), ("m4", "pve2"), ("m5", "pve2") }
                .SelectMany((m, i) => Node(m.Item1, $"10.0.4.{12 + i}", m.Item2, "manager")).ToArray());
            Assert.True(five.IsValid);
            Assert.Contains(five.Findings, x => x.Id == "MANAGERS-SHARE-HOST" && x.Target == "pve2" && x.Message.Contains("loses 3 of 5 managers and with them"));
            Assert.Contains(five.Findings, x => x.Id == "MANAGERS-SHARE-HOST" && x.Target == "pve1" && x.Message.Contains("quorum holds"));
        }

        [Fact]
        public void Proxmox_host_label_is_added_unless_declared()
        {
            var r = Parse(Node("w1", "10.0.4.21", "pve2", "worker", "    labels:", "      storage: ssd", "      proxmox.host: rack-2"));
            Assert.True(r.IsValid);
            Assert.Equal("pve1", r.Config.Nodes[0].Labels["proxmox.host"]);
            var w1 = r.Config.Nodes[1];
            Assert.Equal("rack-2", w1.Labels["proxmox.host"]);
            Assert.Equal("ssd", w1.Labels["storage"]);
            var f = Assert.Single(r.Findings);
            Assert.Equal(("LABEL-PROXMOX-HOST-MISMATCH", 31, 21), (f.Id, f.Line, f.Column));
        }

        [Fact]
        public void Bad_label_key_is_an_error()
        {
            var e = OneError(Parse(Node("w1", "10.0.4.21", "pve2", "worker", "    labels:", "      com.docker.x: 1")));
            At(e, 30, 7);
            Assert.Contains("reserves", e.Reason);
        }

        [Fact]
        public void Node_values_override_defaults_and_ssh_user_falls_back()
        {
            var text = Base.Replace("defaults:\n", "ssh:\n  user: admin\n  keyFile: keys/id\n  knownHostsPath: /etc/kh\ndefaults:\n  sshUser: ops\n")
                + string.Join("\n", Node("w1", "10.0.4.21", "pve2", "worker", "    cores: 8", "    memory: 1536MB", "    bootDisk: 0.5T", "    sshUser: me")) + "\n";
            var r = ClusterConfigReader.Parse(text, "c.yml", "/srv/cluster");
            Assert.True(r.IsValid, string.Join("\n", r.Errors.Select(e => e.Message)));
            var (m1, w1) = (r.Config.Nodes[0], r.Config.Nodes[1]);
            Assert.Equal((2, 4096L, 20d, "ops"), (m1.Cores, m1.MemoryMB, m1.BootDiskGB, m1.SshUser));
            Assert.Equal((8, 1536L, 1.5, 512d, "me"), (w1.Cores, w1.MemoryMB, w1.MemoryGB, w1.BootDiskGB, w1.SshUser));
            Assert.Equal(Path.GetFullPath("/srv/cluster/keys/id"), m1.KeyFile);
            Assert.Equal("/etc/kh", m1.KnownHostsPath);
            Assert.Equal("ssh://me@10.0.4.21", w1.Endpoint);
        }

        [Theory]
        [InlineData("8", 8192)]
        [InlineData("8GB", 8192)]
        [InlineData("8 GiB", 8192)]
        [InlineData("8g", 8192)]
        [InlineData("512MB", 512)]
        [InlineData("512M", 512)]
        [InlineData("1TB", 1048576)]
        [InlineData("1.5G", 1536)]
        [InlineData("2048K", 2)]
        public void Sizes(string text, double mb)
        {
            Assert.True(ClusterConfigReader.TryParseSizeMB(text, out double actual));
            Assert.Equal(mb, actual);
        }

        [Theory]
        [InlineData("eight")]
        [InlineData("8 PB")]
        [InlineData("-1G")]
        [InlineData("")]
        public void Bad_sizes(string text) => Assert.False(ClusterConfigReader.TryParseSizeMB(text, out _));

        [Theory]
        [InlineData("192.168.4.30", true)]
        [InlineData("192.168.4", false)]
        [InlineData("3232236574", false)]
        [InlineData("192.168.4.300", false)]
        [InlineData("fd00::1", true)]
        [InlineData("pve01", false)]
        public void Addresses_are_parsed_strictly(string text, bool ok) => Assert.Equal(ok, IpNetwork.TryParseAddress(text, out _));

        [Fact]
        public void Subnets()
        {
            var n = IpNetworkOf("192.168.12.0/24");
            Assert.True(n.Contains(IPAddress.Parse("192.168.12.7")));
            Assert.False(n.Contains(IPAddress.Parse("192.168.4.7")));
            Assert.True(n.IsReserved(IPAddress.Parse("192.168.12.255")));
            Assert.False(n.IsReserved(IPAddress.Parse("192.168.12.254")));
            Assert.True(IpNetwork.TryParse("192.168.4.30/24", out var host, out bool hostBits) && hostBits && host.ToString() == "192.168.4.0/24");
            Assert.True(IpNetworkOf("fd00:1::/64").Contains(IPAddress.Parse("fd00:1::5")));
            Assert.False(IpNetwork.TryParse("10.0.0.0/33", out _, out _));
        }

        // ------------------------------------------------------------------ live capacity arithmetic

        [Fact]
        public void Live_capacity_sums_reservations_of_tasks_per_node()
        {
            NodeListResponse Node(string id, string name, string role, double cpus, long gib) => new NodeListResponse
            {
                ID = id,
                Spec = new NodeUpdateParameters { Role = role },
                Description = new NodeDescription { Hostname = name, Resources = new SwarmResources { NanoCPUs = (long)(cpus * 1e9), MemoryBytes = gib << 30 } },
            };
            Docker.DotNet.Models.SwarmService Service(string id, double cpus, long mib) => new Docker.DotNet.Models.SwarmService
            {
                ID = id,
                Spec = new ServiceSpec { TaskTemplate = new TaskSpec { Resources = new ResourceRequirements { Reservations = new SwarmResources { NanoCPUs = (long)(cpus * 1e9), MemoryBytes = mib << 20 } } } },
            };
            TaskResponse Task(string service, string node, TaskState state, TaskState desired = TaskState.Running)
                => new TaskResponse { ServiceID = service, NodeID = node, DesiredState = desired, Status = new TaskStatus { State = state } };

            var nodes = new[] { Node("n1", "mgr-1", "manager", 4, 8), Node("n2", "wrk-2", "worker", 2, 4), Node("n3", "wrk-1", "worker", 2, 4) };
            var services = new Docker.DotNet.Models.SwarmService[] { Service("web", 0.5, 512), Service("db", 1, 2048), Service("free", 0, 0) };
            var tasks = new[]
            {
                Task("web", "n1", TaskState.Running), Task("web", "n2", TaskState.Running), Task("web", "n2", TaskState.Starting),
                Task("db", "n3", TaskState.Running),
                Task("db", "n1", TaskState.Shutdown),                            // not holding
                Task("web", "n3", TaskState.Running, TaskState.Shutdown),       // being stopped
                Task("web", null, TaskState.Pending),                            // not scheduled
                Task("free", "n1", TaskState.Running),
            };
            var rows = SwarmCapacity.FromSwarm("cid", nodes, services, tasks);
            Assert.Equal(new[] { "mgr-1", "wrk-1", "wrk-2", null, null, null }, rows.Select(r => r.Node));
            Assert.Equal(new[] { "Manager", "Worker", "Worker", "Manager", "Worker", "Total" }, rows.Select(r => r.Role));

            var m = rows[0];
            Assert.Equal((4d, 8d, 0.5, 0.5, 2), (m.Cores, m.MemoryGB, m.ReservedCores.Value, m.ReservedMemoryGB.Value, m.Tasks.Value));
            Assert.Equal(3.5, m.FreeCores);
            var w2 = rows[2];
            Assert.Equal((1d, 1d, 2), (w2.ReservedCores.Value, w2.ReservedMemoryGB.Value, w2.Tasks.Value));
            var total = rows[5];
            Assert.Equal((3, 8d, 16d, 2.5, 3.5, 5), (total.Nodes, total.Cores, total.MemoryGB, total.ReservedCores.Value, total.ReservedMemoryGB.Value, total.Tasks.Value));
            var workers = rows[4];
            Assert.Equal((2, 4d, 2d, 3d), (workers.Nodes, workers.Cores, workers.ReservedCores.Value, workers.ReservedMemoryGB.Value));
            Assert.All(rows, r => { Assert.Equal("Live", r.Source); Assert.Null(r.BootDiskGB); Assert.Equal("cid", r.Cluster); });
        }
    }
}
