using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using SwarmAdmin.Infrastructure;
using System.Management.Automation;
using System.Net;
using System.Text.RegularExpressions;
using SwarmAdmin.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace SwarmAdmin.Config
{
    /// <summary>What reading one cluster file gave: the configuration, every error (with positions) and the findings.</summary>
    internal sealed class ClusterConfigResult
    {
        public SwarmClusterConfig Config { get; set; }
        public List<SwarmClusterConfigException> Errors { get; } = new List<SwarmClusterConfigException>();
        public List<SwarmConfigFinding> Findings { get; } = new List<SwarmConfigFinding>();
        public bool IsValid => Errors.Count == 0;
    }

    /// <summary>
    /// Reads and validates a cluster file (the schema is in docs/Import-SwarmClusterConfig.md). Walks YamlDotNet's
    /// representation model so every error keeps the line and column of the text it is about, collects all problems
    /// instead of stopping at the first, and returns only SwarmAdmin types.
    /// </summary>
    internal static class ClusterConfigReader
    {
        internal const string ProxmoxHostLabel = "proxmox.host";

        internal static readonly string[] TopKeys = { "name", "description", "proxmox", "templates", "networks", "ssh", "defaults", "nodes" };
        internal static readonly string[] ProxmoxKeys = { "hosts" };
        internal static readonly string[] HostKeys = { "name", "apiUrl", "role", "storages", "description" };
        internal static readonly string[] TemplateKeys = { "name", "vmid", "host", "shared", "os", "description" };
        internal static readonly string[] NetworkKeys = { "name", "vlan", "subnet", "gateway", "dns", "mtu", "bridge", "description" };
        internal static readonly string[] SshKeys = { "user", "keyFile", "knownHostsPath" };
        internal static readonly string[] DefaultsKeys = { "template", "network", "cores", "memory", "bootDisk", "bootStorage", "sshUser" };
        internal static readonly string[] NodeKeys = { "name", "ip", "proxmoxHost", "role", "cores", "memory", "bootDisk", "bootStorage", "dataDisk", "network", "template", "labels", "sshUser", "vmid", "description" };
        internal static readonly string[] DataDiskKeys = { "size", "storage" };

        /// <summary>Words people use for our keys; tried before the edit distance when suggesting a key.</summary>
        private static readonly Dictionary<string, string[]> Synonyms = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
        {
            ["cpu"] = new[] { "cores" }, ["cpus"] = new[] { "cores" }, ["vcpus"] = new[] { "cores" }, ["vcpu"] = new[] { "cores" }, ["sockets"] = new[] { "cores" },
            ["ram"] = new[] { "memory" }, ["mem"] = new[] { "memory" }, ["memorymb"] = new[] { "memory" }, ["memorygb"] = new[] { "memory" },
            ["address"] = new[] { "ip" }, ["ipaddress"] = new[] { "ip" }, ["addr"] = new[] { "ip" }, ["ipv4"] = new[] { "ip" },
            ["host"] = new[] { "proxmoxHost" }, ["pve"] = new[] { "proxmoxHost" }, ["pvehost"] = new[] { "proxmoxHost" }, ["proxmox"] = new[] { "proxmoxHost" }, ["node"] = new[] { "proxmoxHost" },
            ["disk"] = new[] { "bootDisk" }, ["rootdisk"] = new[] { "bootDisk" }, ["osdisk"] = new[] { "bootDisk" }, ["disksize"] = new[] { "bootDisk", "size" },
            ["storage"] = new[] { "storages", "bootStorage" }, ["datastorage"] = new[] { "dataDisk" }, ["data"] = new[] { "dataDisk" },
            ["tag"] = new[] { "vlan" }, ["vlanid"] = new[] { "vlan" }, ["vlantag"] = new[] { "vlan" },
            ["cidr"] = new[] { "subnet" }, ["prefix"] = new[] { "subnet" }, ["gw"] = new[] { "gateway" },
            ["nameserver"] = new[] { "dns" }, ["nameservers"] = new[] { "dns" }, ["dnsservers"] = new[] { "dns" },
            ["url"] = new[] { "apiUrl" }, ["api"] = new[] { "apiUrl" }, ["endpoint"] = new[] { "apiUrl" },
            ["username"] = new[] { "user", "sshUser" }, ["user"] = new[] { "sshUser" }, ["key"] = new[] { "keyFile" }, ["identityfile"] = new[] { "keyFile" },
            ["knownhosts"] = new[] { "knownHostsPath" }, ["knownhostsfile"] = new[] { "knownHostsPath" },
            ["id"] = new[] { "vmid" }, ["hostname"] = new[] { "name" }, ["label"] = new[] { "labels" }, ["type"] = new[] { "role" },
            ["capacity"] = new[] { "size" }, ["image"] = new[] { "template" }, ["os_type"] = new[] { "os" },
        };

        private static readonly Regex HostnameRule = new Regex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", RegexOptions.CultureInvariant);
        private static readonly Regex SizeRule = new Regex(@"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i?B)?)?\s*$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

        /// <summary>Reads the file at <paramref name="path"/> (a full file system path); relative paths inside resolve against its folder.</summary>
        public static ClusterConfigResult ReadFile(string path)
        {
            string text = File.ReadAllText(path);
            return Parse(text, path, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)));
        }

        /// <summary>Parses and validates <paramref name="text"/>; <paramref name="path"/> is only used in messages.</summary>
        public static ClusterConfigResult Parse(string text, string path, string baseDirectory = null)
        {
            var walker = new Walker(path, baseDirectory);
            walker.Run(text ?? string.Empty);
            walker.Result.Errors.Sort((a, b) => a.Line != b.Line ? a.Line.CompareTo(b.Line) : a.Column.CompareTo(b.Column));
            return walker.Result;
        }

        /// <summary>The allowed key closest to <paramref name="key"/> (synonyms, case, then edit distance), or null.</summary>
        internal static string Suggest(string key, IReadOnlyCollection<string> allowed) => KeySuggestion.Closest(key, allowed, Synonyms);

        /// <summary>A size: a number of GiB, or a number with a unit (K, M, G, T, optionally followed by B or iB; binary units as in Proxmox). Returns MiB.</summary>
        internal static bool TryParseSizeMB(string text, out double megabytes)
        {
            megabytes = 0;
            Match m = SizeRule.Match(text ?? string.Empty);
            if (!m.Success) return false;
            double value = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            string unit = m.Groups[2].Success ? m.Groups[2].Value.ToUpperInvariant() : "G";
            switch (unit)
            {
                case "K": megabytes = value / 1024; break;
                case "M": megabytes = value; break;
                case "G": megabytes = value * 1024; break;
                default: megabytes = value * 1024 * 1024; break;
            }
            return true;
        }

        private struct Pos
        {
            public Pos(Mark mark) { Line = (int)mark.Line; Column = (int)mark.Column; }
            public Pos(YamlNode node) : this(node.Start) { }
            public int Line;
            public int Column;
            public bool IsSet => Line > 0;
        }

        /// <summary>A mapping whose keys have been checked against the allowed list.</summary>
        private sealed class Section
        {
            public YamlMappingNode Node;
            public string Key;
            public string What;
            public object Target;
            public readonly Dictionary<string, KeyValuePair<YamlScalarNode, YamlNode>> Entries = new Dictionary<string, KeyValuePair<YamlScalarNode, YamlNode>>(StringComparer.Ordinal);

            /// <summary>The value node, or null when the key is missing or its value is null/~/empty.</summary>
            public YamlNode Value(string key)
            {
                if (!Entries.TryGetValue(key, out var kv)) return null;
                return IsNull(kv.Value) ? null : kv.Value;
            }
            public Pos KeyPos(string key) => Entries.TryGetValue(key, out var kv) ? new Pos(kv.Key) : new Pos(Node);
            public Pos ValuePos(string key) => Entries.TryGetValue(key, out var kv) ? new Pos(kv.Value) : new Pos(Node);
            public string Sub(string key) => Key.Length == 0 ? key : Key + "." + key;
        }

        private static bool IsNull(YamlNode node)
            => node == null || (node is YamlScalarNode s && s.Style == ScalarStyle.Plain && (s.Value == null || s.Value == "~" || s.Value == "null" || s.Value == "Null" || s.Value == "NULL" || s.Value.Length == 0));

        private static string Describe(YamlNode node)
        {
            switch (node)
            {
                case YamlMappingNode _: return "a mapping";
                case YamlSequenceNode _: return "a list";
                case YamlScalarNode s when IsNull(s): return "nothing";
                case YamlScalarNode s: return $"'{s.Value}'";
                default: return "something else";
            }
        }

        /// <summary>The effective values of one node, with where each came from (for errors found later).</summary>
        private sealed class NodeDraft
        {
            public SwarmClusterNode Node;
            public Section S;
            public string Key;
            public object Target => (object)Node.Name ?? Key;
            public IPAddress Ip;
            public Pos At, NameAt, IpAt, HostAt, RoleAt, NetworkAt, TemplateAt, BootStorageAt, DataStorageAt, VmIdAt;
            public bool NetworkInherited, TemplateInherited, BootStorageInherited, RoleValid;
        }

        /// <summary>Follows the parser's position so a parser failure without a mark (a YamlDotNet bug on unclosed flow collections) still gets one.</summary>
        private sealed class TrackingParser : IParser
        {
            private readonly IParser _inner;
            public TrackingParser(IParser inner) { _inner = inner; }
            private readonly Stack<(Mark Start, bool Flow, bool List)> _open = new Stack<(Mark, bool, bool)>();
            public Mark LastEnd { get; private set; } = Mark.Empty;
            public ParsingEvent Current => _inner.Current;
            /// <summary>The innermost [ list ] or { mapping } that is still open, if any.</summary>
            public (Mark Start, bool List)? OpenFlow => _open.Where(o => o.Flow).Select(o => ((Mark, bool)?)(o.Start, o.List)).FirstOrDefault();
            public bool MoveNext()
            {
                bool more = _inner.MoveNext();
                switch (_inner.Current)
                {
                    case SequenceStart ss: _open.Push((ss.Start, ss.Style == SequenceStyle.Flow, true)); break;
                    case MappingStart ms: _open.Push((ms.Start, ms.Style == MappingStyle.Flow, false)); break;
                    case SequenceEnd _:
                    case MappingEnd _: if (_open.Count > 0) _open.Pop(); break;
                }
                if (_inner.Current != null) LastEnd = _inner.Current.End;
                return more;
            }
        }

        private sealed class Walker
        {
            private readonly string _path;
            private readonly string _baseDirectory;
            private readonly HashSet<string> _reported = new HashSet<string>(StringComparer.Ordinal);

            public Walker(string path, string baseDirectory)
            {
                _path = path;
                _baseDirectory = baseDirectory;
                Result = new ClusterConfigResult();
            }

            public ClusterConfigResult Result { get; }

            private void Error(Pos at, string key, object target, string reason, string action = null)
            {
                if (!_reported.Add($"{at.Line}:{at.Column}:{reason}")) return;
                Result.Errors.Add(new SwarmClusterConfigException(ClusterConfigErrorId.Invalid, ErrorCategory.InvalidData, _path, Math.Max(1, at.Line), Math.Max(1, at.Column), reason, key, target ?? key)
                {
                    RecommendedAction = action,
                });
            }

            private void Finding(string id, string target, Pos at, string message, string remedy)
                => Result.Findings.Add(new SwarmConfigFinding(id, FindingSeverity.Warning, target, message, remedy, _path, Math.Max(1, at.Line), Math.Max(1, at.Column)));

            public void Run(string text)
            {
                YamlNode root = Load(text);
                if (Result.Errors.Count > 0) return;
                var config = new SwarmClusterConfig { Path = _path };
                Result.Config = config;
                if (root == null || IsNull(root))
                {
                    Error(new Pos { Line = 1, Column = 1 }, string.Empty, _path, "The cluster file is empty: it needs at least a 'nodes' list.");
                    return;
                }
                Section top = Open(root, string.Empty, "the cluster file", TopKeys, _path);
                if (top == null) return;

                config.Name = Text(top, "name", false) ?? FileBaseName();
                config.Description = Text(top, "description", false);

                var hosts = ReadHosts(top);
                config.Hosts = hosts.Select(h => h.Item1).ToArray();
                var networks = ReadNetworks(top);
                config.Networks = networks.Select(n => n.Item1).ToArray();
                var templates = ReadTemplates(top, hosts);
                config.Templates = templates.Select(t => t.Item1).ToArray();
                config.Ssh = ReadSsh(top);
                Section defaults = ReadDefaults(top, config, networks, templates);
                List<NodeDraft> nodes = ReadNodes(top, config, defaults, hosts, networks, templates);
                config.Nodes = nodes.Select(n => n.Node).ToArray();
                CheckAcrossNodes(top, nodes, templates);
                config.Findings = Result.Findings.ToArray();
            }

            private string FileBaseName()
            {
                try { return System.IO.Path.GetFileNameWithoutExtension(_path); } catch (ArgumentException) { return _path; }
            }

            private YamlNode Load(string text)
            {
                var stream = new YamlStream();
                var parser = new TrackingParser(new Parser(new StringReader(text)));
                try
                {
                    stream.Load(parser);
                }
                catch (YamlException ex)
                {
                    string message = ex.InnerException is YamlException inner ? inner.Message : ex.Message;
                    AddSyntax(new Pos(ex.Start), message, ex);
                    return null;
                }
                catch (Exception ex) when (ex is InvalidOperationException || ex is ArgumentException || ex is NullReferenceException)
                {
                    var open = parser.OpenFlow;
                    if (open != null) AddSyntax(new Pos(open.Value.Start), open.Value.List ? "This [ list is not closed with ]." : "This { mapping is not closed with }.", ex);
                    else AddSyntax(new Pos(parser.LastEnd), "The YAML cannot be parsed after this point.", ex);
                    return null;
                }
                if (stream.Documents.Count > 1)
                {
                    AddSyntax(new Pos(stream.Documents[1].RootNode), "The cluster file must hold one YAML document; found a second one (---).", null);
                    return null;
                }
                return stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
            }

            private void AddSyntax(Pos at, string message, Exception inner)
            {
                Result.Errors.Add(new SwarmClusterConfigException(ClusterConfigErrorId.Syntax, ErrorCategory.ParserError, _path, Math.Max(1, at.Line), Math.Max(1, at.Column), message, null, _path, inner));
            }

            // ---------------------------------------------------------------- typed value readers

            private Section Open(YamlNode node, string key, string what, string[] allowed, object target)
            {
                if (!(node is YamlMappingNode map))
                {
                    Error(new Pos(node), key, target ?? key, $"{Where(key)}expected a mapping (key: value lines) for {what}, found {Describe(node)}.");
                    return null;
                }
                var section = new Section { Node = map, Key = key, What = what, Target = target };
                foreach (var kv in map.Children)
                {
                    if (!(kv.Key is YamlScalarNode k) || IsNull(k))
                    {
                        Error(new Pos(kv.Key), key, target ?? key, $"{Where(key)}keys must be plain text, found {Describe(kv.Key)}.");
                        continue;
                    }
                    if (allowed.Contains(k.Value, StringComparer.Ordinal))
                    {
                        section.Entries[k.Value] = new KeyValuePair<YamlScalarNode, YamlNode>(k, kv.Value);
                        continue;
                    }
                    string suggestion = Suggest(k.Value, allowed);
                    string hint = suggestion == null ? string.Empty : $" Did you mean '{suggestion}'?";
                    Error(new Pos(k), key.Length == 0 ? k.Value : key + "." + k.Value, k.Value,
                        $"Unknown key '{k.Value}' in {what}.{hint} Allowed keys: {string.Join(", ", allowed)}.",
                        suggestion == null ? null : $"Rename '{k.Value}' to '{suggestion}'.");
                }
                return section;
            }

            private static string Where(string key) => key.Length == 0 ? string.Empty : key + ": ";

            private YamlScalarNode Scalar(Section s, string key, string expected)
            {
                YamlNode v = s.Value(key);
                if (v == null) return null;
                if (v is YamlScalarNode scalar) return scalar;
                Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: expected {expected}, found {Describe(v)}.");
                return null;
            }

            private void Missing(Section s, string key, string why = null)
                => Error(new Pos(s.Node), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Key}: {s.What} has no '{key}'{(why == null ? "." : ": " + why)}");

            private string Text(Section s, string key, bool required)
            {
                YamlScalarNode v = Scalar(s, key, "text");
                if (v == null)
                {
                    if (required && s.Value(key) == null) Missing(s, key);
                    return null;
                }
                return v.Value.Trim();
            }

            private int? Int(Section s, string key, int min, int max, string unit = null)
            {
                YamlScalarNode v = Scalar(s, key, "a whole number");
                if (v == null) return null;
                if (!int.TryParse(v.Value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n))
                {
                    Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: expected a whole number{(unit == null ? "" : " of " + unit)}, found '{v.Value}'.");
                    return null;
                }
                if (n < min || n > max)
                {
                    Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: {n} is out of range; allowed: {min} to {max}.");
                    return null;
                }
                return n;
            }

            private bool? Bool(Section s, string key)
            {
                YamlScalarNode v = Scalar(s, key, "true or false");
                if (v == null) return null;
                switch (v.Value.Trim().ToLowerInvariant())
                {
                    case "true": case "yes": case "on": return true;
                    case "false": case "no": case "off": return false;
                    default:
                        Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: expected true or false, found '{v.Value}'.");
                        return null;
                }
            }

            /// <summary>A size in MiB (see TryParseSizeMB), more than zero.</summary>
            private double? Size(Section s, string key)
            {
                YamlScalarNode v = Scalar(s, key, "a size such as 8GB");
                if (v == null) return null;
                if (!TryParseSizeMB(v.Value, out double mb))
                {
                    Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: expected a size such as 8GB, 512MB or 8 (GiB), found '{v.Value}'.");
                    return null;
                }
                if (mb <= 0)
                {
                    Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: the size must be more than 0.");
                    return null;
                }
                return mb;
            }

            private List<(string Value, Pos At)> TextList(Section s, string key)
            {
                var list = new List<(string, Pos)>();
                YamlNode v = s.Value(key);
                if (v == null) return list;
                if (v is YamlScalarNode one) { list.Add((one.Value.Trim(), new Pos(one))); return list; }
                if (!(v is YamlSequenceNode seq))
                {
                    Error(new Pos(v), s.Sub(key), s.Target ?? s.Sub(key), $"{s.Sub(key)}: expected a list of text items, found {Describe(v)}.");
                    return list;
                }
                int i = 0;
                foreach (YamlNode item in seq.Children)
                {
                    if (item is YamlScalarNode sc && !IsNull(sc)) list.Add((sc.Value.Trim(), new Pos(sc)));
                    else Error(new Pos(item), $"{s.Sub(key)}[{i}]", s.Target ?? s.Sub(key), $"{s.Sub(key)}[{i}]: expected text, found {Describe(item)}.");
                    i++;
                }
                return list;
            }

            private List<(YamlNode Node, string Key)> Items(Section s, string key)
            {
                var items = new List<(YamlNode, string)>();
                YamlNode v = s.Value(key);
                if (v == null) return items;
                if (!(v is YamlSequenceNode seq))
                {
                    Error(new Pos(v), s.Sub(key), s.Sub(key), $"{s.Sub(key)}: expected a list (lines starting with '- '), found {Describe(v)}.");
                    return items;
                }
                int i = 0;
                foreach (YamlNode item in seq.Children) items.Add((item, $"{s.Sub(key)}[{i++}]"));
                return items;
            }

            private string ResolvePath(string path)
            {
                if (string.IsNullOrWhiteSpace(path)) return null;
                if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
                {
                    string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                    path = path.Length <= 2 ? home : System.IO.Path.Combine(home, path.Substring(2));
                }
                if (System.IO.Path.IsPathRooted(path) || _baseDirectory == null) return path;
                return System.IO.Path.GetFullPath(System.IO.Path.Combine(_baseDirectory, path));
            }

            // ---------------------------------------------------------------- sections

            private List<(SwarmClusterHost, Section)> ReadHosts(Section top)
            {
                var hosts = new List<(SwarmClusterHost, Section)>();
                YamlNode proxmoxNode = top.Value("proxmox");
                if (proxmoxNode == null) return hosts;
                Section proxmox = Open(proxmoxNode, "proxmox", "the proxmox section", ProxmoxKeys, null);
                if (proxmox == null) return hosts;
                var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var (node, key) in Items(proxmox, "hosts"))
                {
                    Section s = Open(node, key, "a Proxmox host", HostKeys, null);
                    if (s == null) continue;
                    var host = new SwarmClusterHost { Name = Text(s, "name", true) };
                    s.Target = (object)host.Name ?? key;
                    if (host.Name != null && seen.TryGetValue(host.Name, out string first))
                        Error(s.ValuePos("name"), key + ".name", host.Name, $"Proxmox host '{host.Name}' is declared twice (first at {first}).");
                    else if (host.Name != null) seen[host.Name] = $"line {s.ValuePos("name").Line}";

                    host.ApiUrl = Text(s, "apiUrl", false);
                    if (host.ApiUrl != null && (!Uri.TryCreate(host.ApiUrl, UriKind.Absolute, out Uri uri) || (uri.Scheme != "https" && uri.Scheme != "http")))
                        Error(s.ValuePos("apiUrl"), key + ".apiUrl", s.Target, $"{key}.apiUrl: '{host.ApiUrl}' is not an http(s) URL such as https://pve01:8006.");

                    string role = Text(s, "role", false);
                    if (role == null) host.Role = SwarmProxmoxHostRole.Secondary;
                    else if (Enum.TryParse(role, true, out SwarmProxmoxHostRole r) && !role.Any(char.IsDigit)) host.Role = r;
                    else Error(s.ValuePos("role"), key + ".role", s.Target, $"{key}.role: '{role}' is not a host role; allowed: primary, secondary.");

                    host.Storages = TextList(s, "storages").Select(x => x.Value).Distinct(StringComparer.Ordinal).ToArray();
                    host.Description = Text(s, "description", false);
                    hosts.Add((host, s));
                }
                int primaries = hosts.Count(h => h.Item1.Role == SwarmProxmoxHostRole.Primary);
                if (primaries > 1)
                {
                    var second = hosts.Where(h => h.Item1.Role == SwarmProxmoxHostRole.Primary).Skip(1).First();
                    Error(second.Item2.ValuePos("role"), second.Item2.Key + ".role", second.Item1.Name, $"{primaries} Proxmox hosts are marked primary ({string.Join(", ", hosts.Where(h => h.Item1.Role == SwarmProxmoxHostRole.Primary).Select(h => h.Item1.Name))}); only one can be.");
                }
                return hosts;
            }

            private List<(SwarmClusterNetwork, Section, IpNetwork)> ReadNetworks(Section top)
            {
                var networks = new List<(SwarmClusterNetwork, Section, IpNetwork)>();
                var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                foreach (var (node, key) in Items(top, "networks"))
                {
                    Section s = Open(node, key, "a network", NetworkKeys, null);
                    if (s == null) continue;
                    var net = new SwarmClusterNetwork { Name = Text(s, "name", true) };
                    s.Target = (object)net.Name ?? key;
                    if (net.Name != null && seen.TryGetValue(net.Name, out int firstLine))
                        Error(s.ValuePos("name"), key + ".name", net.Name, $"Network '{net.Name}' is declared twice (first at line {firstLine}).");
                    else if (net.Name != null) seen[net.Name] = s.ValuePos("name").Line;

                    net.VlanTag = Int(s, "vlan", 1, 4094, "a VLAN tag");
                    IpNetwork subnet = null;
                    string cidr = Text(s, "subnet", true);
                    if (cidr != null)
                    {
                        if (!IpNetwork.TryParse(cidr, out subnet, out bool hostBits))
                            Error(s.ValuePos("subnet"), key + ".subnet", s.Target, $"{key}.subnet: '{cidr}' is not a subnet in CIDR notation such as 10.0.4.0/24.");
                        else if (hostBits)
                        {
                            Error(s.ValuePos("subnet"), key + ".subnet", s.Target, $"{key}.subnet: '{cidr}' has host bits set; the subnet is {subnet}.", $"Write {subnet}.");
                            subnet = null;
                        }
                        else { net.Subnet = subnet.ToString(); net.PrefixLength = subnet.PrefixLength; }
                    }
                    net.Gateway = Address(s, "gateway", subnet, "gateway");
                    foreach (var (dns, at) in TextList(s, "dns"))
                    {
                        if (IpNetwork.TryParseAddress(dns, out IPAddress ip)) net.Dns = net.Dns.Concat(new[] { ip.ToString() }).ToArray();
                        else Error(at, key + ".dns", s.Target, $"{key}.dns: '{dns}' is not an IP address.");
                    }
                    net.Mtu = Int(s, "mtu", 576, 65520, "bytes");
                    net.Bridge = Text(s, "bridge", false);
                    net.Description = Text(s, "description", false);
                    networks.Add((net, s, subnet));
                }
                return networks;
            }

            private string Address(Section s, string key, IpNetwork subnet, string what)
            {
                string text = Text(s, key, false);
                if (text == null) return null;
                if (!IpNetwork.TryParseAddress(text, out IPAddress ip))
                {
                    Error(s.ValuePos(key), s.Sub(key), s.Target, $"{s.Sub(key)}: '{text}' is not an IP address.");
                    return null;
                }
                if (subnet != null && !subnet.Contains(ip))
                    Error(s.ValuePos(key), s.Sub(key), s.Target, $"{s.Sub(key)}: the {what} {ip} is outside the subnet {subnet}.");
                return ip.ToString();
            }

            private List<(SwarmClusterTemplate, Section)> ReadTemplates(Section top, List<(SwarmClusterHost, Section)> hosts)
            {
                var templates = new List<(SwarmClusterTemplate, Section)>();
                var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
                foreach (var (node, key) in Items(top, "templates"))
                {
                    Section s = Open(node, key, "a VM template", TemplateKeys, null);
                    if (s == null) continue;
                    var t = new SwarmClusterTemplate { Name = Text(s, "name", true) };
                    s.Target = (object)t.Name ?? key;
                    if (t.Name != null && seen.TryGetValue(t.Name, out int firstLine))
                        Error(s.ValuePos("name"), key + ".name", t.Name, $"Template '{t.Name}' is declared twice (first at line {firstLine}).");
                    else if (t.Name != null) seen[t.Name] = s.ValuePos("name").Line;

                    int? vmid = Int(s, "vmid", 100, 999999999, "a Proxmox VM ID");
                    if (vmid == null && s.Value("vmid") == null) Missing(s, "vmid", "the Proxmox VM ID of the template.");
                    t.VmId = vmid ?? 0;
                    t.Host = Text(s, "host", false);
                    t.Shared = Bool(s, "shared") ?? false;
                    if (t.Host != null && t.Shared)
                        Error(s.KeyPos("shared"), key + ".shared", s.Target, $"{key}: give either 'host' (the template is on one host) or 'shared: true' (every host can clone it), not both.");
                    else if (t.Host == null && !t.Shared && s.Value("host") == null)
                        Missing(s, "host", "say which Proxmox host holds the template, or 'shared: true'.");
                    if (t.Host != null && !hosts.Any(h => string.Equals(h.Item1.Name, t.Host, StringComparison.OrdinalIgnoreCase)))
                        Error(s.ValuePos("host"), key + ".host", s.Target, $"Template '{t.Name}' is on Proxmox host '{t.Host}', which proxmox.hosts does not declare.{Known("hosts", hosts.Select(h => h.Item1.Name))}", SuggestName(t.Host, hosts.Select(h => h.Item1.Name)));
                    t.OS = Text(s, "os", false);
                    t.Description = Text(s, "description", false);
                    templates.Add((t, s));
                }
                return templates;
            }

            private SwarmClusterSsh ReadSsh(Section top)
            {
                var ssh = new SwarmClusterSsh();
                YamlNode v = top.Value("ssh");
                if (v == null) return ssh;
                Section s = Open(v, "ssh", "the ssh section", SshKeys, null);
                if (s == null) return ssh;
                ssh.User = Text(s, "user", false);
                ssh.KeyFile = ResolvePath(Text(s, "keyFile", false));
                ssh.KnownHostsPath = ResolvePath(Text(s, "knownHostsPath", false));
                return ssh;
            }

            private Section ReadDefaults(Section top, SwarmClusterConfig config, List<(SwarmClusterNetwork, Section, IpNetwork)> networks, List<(SwarmClusterTemplate, Section)> templates)
            {
                YamlNode v = top.Value("defaults");
                if (v == null) return null;
                Section s = Open(v, "defaults", "the defaults section", DefaultsKeys, null);
                if (s == null) return null;
                var d = config.Defaults;
                d.Template = Text(s, "template", false);
                d.Network = Text(s, "network", false);
                d.Cores = Int(s, "cores", 1, 1024, "cores");
                double? mem = Size(s, "memory");
                d.MemoryMB = mem == null ? (long?)null : (long)Math.Round(mem.Value);
                double? boot = Size(s, "bootDisk");
                d.BootDiskGB = boot / 1024;
                d.BootStorage = Text(s, "bootStorage", false);
                d.SshUser = Text(s, "sshUser", false);
                if (d.Network != null && !networks.Any(n => Same(n.Item1.Name, d.Network)))
                    Error(s.ValuePos("network"), "defaults.network", "defaults.network", $"defaults.network: '{d.Network}' is not a network of the file.{Known("networks", networks.Select(n => n.Item1.Name))}", SuggestName(d.Network, networks.Select(n => n.Item1.Name)));
                if (d.Template != null && !templates.Any(t => Same(t.Item1.Name, d.Template)))
                    Error(s.ValuePos("template"), "defaults.template", "defaults.template", $"defaults.template: '{d.Template}' is not a template of the file.{Known("templates", templates.Select(t => t.Item1.Name))}", SuggestName(d.Template, templates.Select(t => t.Item1.Name)));
                return s;
            }

            private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

            private static string Known(string what, IEnumerable<string> names)
            {
                var list = names.Where(n => n != null).ToList();
                return list.Count == 0 ? $" The file declares no {what}." : $" Declared {what}: {string.Join(", ", list)}.";
            }

            private static string SuggestName(string name, IEnumerable<string> names)
            {
                string s = Suggest(name, names.Where(n => n != null).ToList());
                return s == null ? null : $"Did you mean '{s}'?";
            }

            // ---------------------------------------------------------------- nodes

            private List<NodeDraft> ReadNodes(Section top, SwarmClusterConfig config, Section defaults,
                List<(SwarmClusterHost, Section)> hosts, List<(SwarmClusterNetwork, Section, IpNetwork)> networks, List<(SwarmClusterTemplate, Section)> templates)
            {
                var drafts = new List<NodeDraft>();
                if (top.Value("nodes") == null)
                {
                    Missing(top, "nodes", "list the swarm's nodes (name, ip, role, proxmoxHost...).");
                    return drafts;
                }
                var d = config.Defaults;
                foreach (var (yaml, key) in Items(top, "nodes"))
                {
                    Section s = Open(yaml, key, "a node", NodeKeys, null);
                    if (s == null) continue;
                    var node = new SwarmClusterNode { Config = config };
                    var draft = new NodeDraft { Node = node, S = s, Key = key, At = new Pos(s.Node) };
                    node.Name = Text(s, "name", true);
                    s.Target = draft.Target;
                    draft.NameAt = s.ValuePos("name");
                    if (node.Name != null && !HostnameRule.IsMatch(node.Name))
                        Error(draft.NameAt, key + ".name", node.Name, $"{key}.name: '{node.Name}' is not a valid hostname (letters, digits and '-', at most 63, not starting or ending with '-').");

                    // address
                    string ip = Text(s, "ip", true);
                    draft.IpAt = s.ValuePos("ip");
                    if (ip != null)
                    {
                        if (IpNetwork.TryParseAddress(ip, out IPAddress addr)) { draft.Ip = addr; node.Address = addr.ToString(); }
                        else if (ip.Contains("/")) Error(draft.IpAt, key + ".ip", draft.Target, $"Node {Name(draft)}: ip '{ip}' has a prefix length; give the address alone (the prefix comes from the node's network).");
                        else Error(draft.IpAt, key + ".ip", draft.Target, $"Node {Name(draft)}: ip '{ip}' is not an IP address.");
                    }

                    // role
                    string role = Text(s, "role", true);
                    draft.RoleAt = s.ValuePos("role");
                    if (role != null)
                    {
                        draft.RoleValid = true;
                        if (Same(role, "manager")) node.Role = SwarmNodeRole.Manager;
                        else if (Same(role, "worker")) node.Role = SwarmNodeRole.Worker;
                        else { draft.RoleValid = false; Error(draft.RoleAt, key + ".role", draft.Target, $"Node {Name(draft)}: role '{role}' is not manager or worker."); }
                    }

                    // Proxmox host
                    node.ProxmoxHost = Text(s, "proxmoxHost", true);
                    draft.HostAt = s.ValuePos("proxmoxHost");
                    SwarmClusterHost host = null;
                    if (node.ProxmoxHost != null)
                    {
                        host = hosts.Select(h => h.Item1).FirstOrDefault(h => Same(h.Name, node.ProxmoxHost));
                        if (host == null)
                            Error(draft.HostAt, key + ".proxmoxHost", draft.Target, $"Node {Name(draft)}: Proxmox host '{node.ProxmoxHost}' is not declared in proxmox.hosts.{Known("hosts", hosts.Select(h => h.Item1.Name))}", SuggestName(node.ProxmoxHost, hosts.Select(h => h.Item1.Name)));
                        else node.ProxmoxHost = host.Name;
                    }

                    // resources (node value, else the default)
                    node.Cores = Int(s, "cores", 1, 1024, "cores") ?? (s.Value("cores") == null ? d.Cores : null) ?? 0;
                    if (node.Cores == 0 && s.Value("cores") == null) Missing(s, "cores", "set it on the node or in defaults.cores.");
                    double? mem = Size(s, "memory");
                    if (mem != null) node.MemoryMB = (long)Math.Round(mem.Value);
                    else if (s.Value("memory") == null && d.MemoryMB != null) node.MemoryMB = d.MemoryMB.Value;
                    else if (s.Value("memory") == null) Missing(s, "memory", "set it on the node or in defaults.memory.");
                    double? boot = Size(s, "bootDisk");
                    if (boot != null) node.BootDiskGB = boot.Value / 1024;
                    else if (s.Value("bootDisk") == null && d.BootDiskGB != null) node.BootDiskGB = d.BootDiskGB.Value;
                    else if (s.Value("bootDisk") == null) Missing(s, "bootDisk", "set it on the node or in defaults.bootDisk.");

                    node.BootStorage = Text(s, "bootStorage", false);
                    draft.BootStorageAt = s.ValuePos("bootStorage");
                    if (node.BootStorage == null && s.Value("bootStorage") == null && d.BootStorage != null)
                    {
                        node.BootStorage = d.BootStorage; draft.BootStorageInherited = true; draft.BootStorageAt = defaults.ValuePos("bootStorage");
                    }
                    if (node.BootStorage != null && host != null) CheckStorage(draft, host, node.BootStorage, "boot disk", draft.BootStorageInherited ? draft.At : draft.BootStorageAt, draft.BootStorageInherited ? "defaults.bootStorage" : key + ".bootStorage");

                    YamlNode dataYaml = s.Value("dataDisk");
                    if (dataYaml != null)
                    {
                        Section ds = Open(dataYaml, key + ".dataDisk", "a data disk (size, storage)", DataDiskKeys, draft.Target);
                        if (ds != null)
                        {
                            double? size = Size(ds, "size");
                            if (size == null && ds.Value("size") == null) Missing(ds, "size");
                            node.DataDiskGB = (size ?? 0) / 1024;
                            node.DataStorage = Text(ds, "storage", true);
                            draft.DataStorageAt = ds.ValuePos("storage");
                            if (node.DataStorage != null && host != null) CheckStorage(draft, host, node.DataStorage, "data disk", draft.DataStorageAt, key + ".dataDisk.storage");
                        }
                    }

                    // network
                    node.Network = Text(s, "network", false);
                    draft.NetworkAt = s.ValuePos("network");
                    if (node.Network == null && s.Value("network") == null && d.Network != null)
                    {
                        node.Network = d.Network; draft.NetworkInherited = true; draft.NetworkAt = defaults.ValuePos("network");
                    }
                    if (node.Network != null)
                    {
                        var net = networks.FirstOrDefault(n => Same(n.Item1.Name, node.Network));
                        if (net.Item1 == null)
                        {
                            if (!draft.NetworkInherited)
                                Error(draft.NetworkAt, key + ".network", draft.Target, $"Node {Name(draft)}: network '{node.Network}' is not declared in networks.{Known("networks", networks.Select(n => n.Item1.Name))}", SuggestName(node.Network, networks.Select(n => n.Item1.Name)));
                        }
                        else
                        {
                            node.Network = net.Item1.Name;
                            node.VlanTag = net.Item1.VlanTag;
                            IpNetwork subnet = net.Item3;
                            if (subnet != null && draft.Ip != null)
                            {
                                node.AddressPrefix = $"{node.Address}/{subnet.PrefixLength}";
                                if (!subnet.Contains(draft.Ip))
                                    Error(draft.IpAt, key + ".ip", draft.Target, $"Node {Name(draft)}: ip {node.Address} is outside the subnet {subnet} of network '{net.Item1.Name}'{(net.Item1.VlanTag == null ? "" : $" (VLAN {net.Item1.VlanTag})")}.");
                                else if (subnet.IsReserved(draft.Ip))
                                    Error(draft.IpAt, key + ".ip", draft.Target, $"Node {Name(draft)}: ip {node.Address} is the network or broadcast address of {subnet}.");
                                else if (net.Item1.Gateway != null && net.Item1.Gateway == node.Address)
                                    Error(draft.IpAt, key + ".ip", draft.Target, $"Node {Name(draft)}: ip {node.Address} is the gateway of network '{net.Item1.Name}'.");
                            }
                        }
                    }

                    // template
                    node.Template = Text(s, "template", false);
                    draft.TemplateAt = s.ValuePos("template");
                    if (node.Template == null && s.Value("template") == null && d.Template != null)
                    {
                        node.Template = d.Template; draft.TemplateInherited = true;
                    }
                    if (node.Template != null)
                    {
                        var t = templates.Select(x => x.Item1).FirstOrDefault(x => Same(x.Name, node.Template));
                        if (t != null) node.Template = t.Name;
                        else if (!draft.TemplateInherited)
                            Error(draft.TemplateAt, key + ".template", draft.Target, $"Node {Name(draft)}: template '{node.Template}' is not declared in templates.{Known("templates", templates.Select(x => x.Item1.Name))}", SuggestName(node.Template, templates.Select(x => x.Item1.Name)));
                    }

                    node.VmId = Int(s, "vmid", 100, 999999999, "a Proxmox VM ID");
                    draft.VmIdAt = s.ValuePos("vmid");
                    node.Description = Text(s, "description", false);

                    // ssh: the node's user, else defaults.sshUser, else ssh.user
                    node.SshUser = Text(s, "sshUser", false) ?? d.SshUser ?? config.Ssh.User;
                    node.KeyFile = config.Ssh.KeyFile;
                    node.KnownHostsPath = config.Ssh.KnownHostsPath;

                    ReadLabels(s, draft);
                    drafts.Add(draft);
                }
                return drafts;
            }

            private static string Name(NodeDraft d) => d.Node.Name ?? d.Key;

            private void CheckStorage(NodeDraft draft, SwarmClusterHost host, string storage, string what, Pos at, string key)
            {
                if (host.Storages.Contains(storage, StringComparer.Ordinal)) return;
                string inherited = key.StartsWith("defaults.", StringComparison.Ordinal) ? $" (inherited from {key})" : string.Empty;
                string list = host.Storages.Length == 0 ? "it lists no storages" : "its storages: " + string.Join(", ", host.Storages);
                Error(at, key, draft.Target, $"Node {Name(draft)}: the {what} storage '{storage}'{inherited} is not on Proxmox host {host.Name} ({list}).",
                    SuggestName(storage, host.Storages));
            }

            private void ReadLabels(Section s, NodeDraft draft)
            {
                SwarmClusterNode node = draft.Node;
                YamlNode v = s.Value("labels");
                Section labels = null;
                if (v != null)
                {
                    if (!(v is YamlMappingNode map))
                        Error(new Pos(v), draft.Key + ".labels", draft.Target, $"{draft.Key}.labels: expected a mapping of label: value, found {Describe(v)}.");
                    else
                    {
                        labels = new Section { Node = map, Key = draft.Key + ".labels", What = "labels", Target = draft.Target };
                        foreach (var kv in map.Children)
                        {
                            string k = (kv.Key as YamlScalarNode)?.Value;
                            string problem = k == null ? "label keys must be text" : NodeLabels.Validate(k);
                            if (problem != null) { Error(new Pos(kv.Key), draft.Key + ".labels", k ?? draft.Key, $"Node {Name(draft)}: label {problem}"); continue; }
                            string value;
                            if (IsNull(kv.Value)) value = string.Empty;
                            else if (kv.Value is YamlScalarNode sv) value = sv.Value;
                            else { Error(new Pos(kv.Value), draft.Key + ".labels." + k, draft.Target, $"Node {Name(draft)}: the value of label '{k}' must be text, found {Describe(kv.Value)}."); continue; }
                            string valueProblem = NodeLabels.ValidateValue(k, value);
                            if (valueProblem != null) { Error(new Pos(kv.Value), draft.Key + ".labels." + k, draft.Target, $"Node {Name(draft)}: {valueProblem}"); continue; }
                            node.Labels[k] = value;
                            labels.Entries[k] = new KeyValuePair<YamlScalarNode, YamlNode>((YamlScalarNode)kv.Key, kv.Value);
                        }
                    }
                }
                if (node.ProxmoxHost == null) return;
                if (!node.Labels.TryGetValue(ProxmoxHostLabel, out string declared))
                {
                    node.Labels[ProxmoxHostLabel] = node.ProxmoxHost;
                }
                else if (!string.Equals(declared, node.ProxmoxHost, StringComparison.OrdinalIgnoreCase))
                {
                    Finding("LABEL-PROXMOX-HOST-MISMATCH", node.Name, labels.ValuePos(ProxmoxHostLabel),
                        $"Node {Name(draft)} runs on Proxmox host {node.ProxmoxHost} but declares the label {ProxmoxHostLabel}={declared}; failure-domain checks (Test-SwarmQuorum) will use the label.",
                        $"Remove the label (it is added as {ProxmoxHostLabel}={node.ProxmoxHost}) or fix proxmoxHost.");
                }
            }

            private void CheckAcrossNodes(Section top, List<NodeDraft> nodes, List<(SwarmClusterTemplate, Section)> templates)
            {
                var names = new Dictionary<string, NodeDraft>(StringComparer.OrdinalIgnoreCase);
                var ips = new Dictionary<IPAddress, NodeDraft>();
                var vmids = new Dictionary<int, string>();
                foreach (var t in templates) if (t.Item1.VmId > 0 && !vmids.ContainsKey(t.Item1.VmId)) vmids[t.Item1.VmId] = $"template {t.Item1.Name}";
                foreach (NodeDraft n in nodes)
                {
                    if (n.Node.Name != null)
                    {
                        if (names.TryGetValue(n.Node.Name, out NodeDraft first))
                            Error(n.NameAt, n.Key + ".name", n.Node.Name, $"Node name '{n.Node.Name}' is used twice (first at line {first.NameAt.Line}); hostnames must be unique.");
                        else names[n.Node.Name] = n;
                    }
                    if (n.Ip != null)
                    {
                        if (ips.TryGetValue(n.Ip, out NodeDraft first))
                            Error(n.IpAt, n.Key + ".ip", n.Target, $"Node {Name(n)}: ip {n.Node.Address} is already the address of node {Name(first)} (line {first.IpAt.Line}).");
                        else ips[n.Ip] = n;
                    }
                    if (n.Node.VmId != null)
                    {
                        if (vmids.TryGetValue(n.Node.VmId.Value, out string owner))
                            Error(n.VmIdAt, n.Key + ".vmid", n.Target, $"Node {Name(n)}: VM ID {n.Node.VmId} is already used by {owner}.");
                        else vmids[n.Node.VmId.Value] = "node " + Name(n);
                    }
                }

                if (nodes.Count == 0)
                {
                    if (top.Value("nodes") != null) Error(top.ValuePos("nodes"), "nodes", "nodes", "The nodes list is empty: a swarm needs at least one manager.");
                    return;
                }
                var managers = nodes.Where(n => n.Node.Role == SwarmNodeRole.Manager && n.RoleValid).ToList();
                bool rolesKnown = nodes.All(n => n.RoleValid);
                if (managers.Count == 0)
                {
                    if (rolesKnown) Error(top.KeyPos("nodes"), "nodes", "nodes", "No node has role: manager; a swarm needs at least one manager (three for fault tolerance).");
                    return;
                }
                int quorum = managers.Count / 2 + 1;
                if (managers.Count % 2 == 0)
                {
                    Finding("MANAGERS-EVEN", Result.Config.Name, top.KeyPos("nodes"),
                        $"The file declares {managers.Count} managers ({string.Join(", ", managers.Select(Name))}). An even number tolerates no more failures than {managers.Count - 1} managers would ({(managers.Count - 1) / 2}) and needs {quorum} for quorum.",
                        $"Use {managers.Count - 1} or {managers.Count + 1} managers.");
                }
                foreach (var group in managers.Where(m => m.Node.ProxmoxHost != null).GroupBy(m => m.Node.ProxmoxHost, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
                {
                    var list = group.ToList();
                    int left = managers.Count - list.Count;
                    string impact = left < quorum
                        ? $"losing {group.Key} loses {list.Count} of {managers.Count} managers and with them the raft quorum ({quorum} needed)"
                        : $"losing {group.Key} leaves {left} of {managers.Count} managers (quorum holds, but the swarm can lose {left - quorum} more)";
                    Finding("MANAGERS-SHARE-HOST", group.Key, list[1].HostAt,
                        $"Managers {string.Join(", ", list.Select(Name))} run on the same Proxmox host {group.Key}: {impact}.",
                        "Put each manager on its own Proxmox host.");
                }
            }
        }
    }
}
