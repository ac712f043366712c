using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SwarmAdmin.Engine
{
    /// <summary>/etc/os-release of a node and whether Install-SwarmEngine can install an engine on it.</summary>
    internal sealed class OsRelease
    {
        public string Id { get; set; }
        public string[] IdLike { get; set; } = Array.Empty<string>();
        public string VersionId { get; set; }
        public string Codename { get; set; }
        public string PrettyName { get; set; }

        /// <summary>Debian codenames to versions, for os-release files without VERSION_ID (testing, lab images).</summary>
        private static readonly Dictionary<string, string> DebianCodenames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["buster"] = "10", ["bullseye"] = "11", ["bookworm"] = "12", ["trixie"] = "13", ["forky"] = "14", ["duke"] = "15",
        };

        /// <summary>Parses os-release text (KEY=value lines, values optionally quoted, # comments).</summary>
        public static OsRelease Parse(string text)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string raw in (text ?? string.Empty).Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                int eq = line.IndexOf('=');
                if (eq <= 0) continue;
                string key = line.Substring(0, eq).Trim();
                string value = line.Substring(eq + 1).Trim();
                if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[value.Length - 1] == value[0])
                {
                    value = value.Substring(1, value.Length - 2);
                    if (raw.Contains("\"")) value = value.Replace("\\\"", "\"").Replace("\\\\", "\\").Replace("\\$", "$").Replace("\\`", "`");
                }
                map[key] = value;
            }
            map.TryGetValue("ID", out string id);
            map.TryGetValue("ID_LIKE", out string like);
            map.TryGetValue("VERSION_ID", out string version);
            map.TryGetValue("VERSION_CODENAME", out string codename);
            if (string.IsNullOrEmpty(codename)) map.TryGetValue("UBUNTU_CODENAME", out codename);
            map.TryGetValue("PRETTY_NAME", out string pretty);
            var os = new OsRelease
            {
                Id = string.IsNullOrEmpty(id) ? "linux" : id.ToLowerInvariant(), // os-release(5): ID defaults to "linux"
                IdLike = (like ?? string.Empty).ToLowerInvariant().Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries),
                VersionId = string.IsNullOrEmpty(version) ? null : version,
                Codename = string.IsNullOrEmpty(codename) ? null : codename.ToLowerInvariant(),
                PrettyName = pretty,
            };
            if (os.VersionId == null && os.Id == "debian" && os.Codename != null && DebianCodenames.TryGetValue(os.Codename, out string v)) os.VersionId = v;
            return os;
        }

        public override string ToString() => PrettyName ?? $"{Id} {VersionId}".Trim();

        /// <summary>
        /// Null when an engine can be installed from <paramref name="source"/>, else why not (the error message).
        /// Debian 11+ and Ubuntu 20.04+ are supported from both sources; derivatives (ID_LIKE debian/ubuntu) only from
        /// the distribution's docker.io, because Docker's repository is laid out per distribution and codename.
        /// </summary>
        public string WhyUnsupported(SwarmEngineSource source)
        {
            bool debian = Id == "debian", ubuntu = Id == "ubuntu";
            if (debian || ubuntu)
            {
                if (VersionId != null && TryMajorMinor(VersionId, out int major, out int minor))
                {
                    if (debian && major < 11) return $"{this} is older than Debian 11 (bullseye), the oldest release SwarmAdmin installs an engine on";
                    if (ubuntu && (major < 20 || (major == 20 && minor < 4))) return $"{this} is older than Ubuntu 20.04, the oldest release SwarmAdmin installs an engine on";
                }
                if (source == SwarmEngineSource.DockerRepository && Codename == null)
                    return $"{this} names no VERSION_CODENAME in /etc/os-release, which Docker's repository needs as its suite";
                return null;
            }
            if (IdLike.Contains("debian") || IdLike.Contains("ubuntu"))
            {
                if (source == SwarmEngineSource.Distribution) return null;
                return $"{this} is a derivative of {string.Join("/", IdLike)}; Docker's repository has no suite for it. Use -Source Distribution (its docker.io package)";
            }
            return $"{this} (ID={Id}) is not Debian or Ubuntu; Install-SwarmEngine installs engines with APT on Debian 11+ and Ubuntu 20.04+ only";
        }

        private static bool TryMajorMinor(string version, out int major, out int minor)
        {
            major = minor = 0;
            string[] parts = version.Split('.');
            if (!int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out major)) return false;
            if (parts.Length > 1) int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out minor);
            return true;
        }
    }

    /// <summary>The content of /etc/docker/daemon.json: defaults, the user's additions, and comparison as parsed JSON.</summary>
    internal static class DaemonConfigJson
    {
        public const string DefaultLogMaxSize = "10m";
        public const string DefaultLogMaxFile = "3";
        public const int MetricsPort = 9323;

        /// <summary>
        /// The defaults Install-SwarmEngine writes: json-file logs with rotation, the bridge MTU of the node's network
        /// (when known), the Prometheus metrics address (when known), and experimental on engines older than 20.10
        /// (metrics-addr needed it there).
        /// </summary>
        public static JsonObject Defaults(int? mtu, string metricsAddress, string engineVersion)
        {
            var o = new JsonObject
            {
                ["log-driver"] = "json-file",
                ["log-opts"] = new JsonObject { ["max-size"] = DefaultLogMaxSize, ["max-file"] = DefaultLogMaxFile },
            };
            if (mtu.HasValue && mtu.Value >= 576) o["mtu"] = mtu.Value;
            if (!string.IsNullOrEmpty(metricsAddress))
            {
                o["metrics-addr"] = metricsAddress;
                if (EngineVersionBefore(engineVersion, 20, 10)) o["experimental"] = true;
            }
            return o;
        }

        /// <summary>"host:9323" for an IPv4 address, "[v6]:9323" for IPv6.</summary>
        public static string MetricsAddressFor(string ip) => string.IsNullOrEmpty(ip) ? null : (ip.Contains(":") ? $"[{ip}]:{MetricsPort}" : $"{ip}:{MetricsPort}");

        /// <summary>True when the engine package version (26.1.5+dfsg1-9, 5:27.3.1-1~debian.12~bookworm, 20.10.24) is older than major.minor.</summary>
        public static bool EngineVersionBefore(string packageVersion, int major, int minor)
        {
            if (!TryEngineVersion(packageVersion, out int ma, out int mi)) return false;
            return ma < major || (ma == major && mi < minor);
        }

        /// <summary>The engine's major.minor from a Debian package version: strips the epoch (5:) and everything after the upstream digits.</summary>
        public static bool TryEngineVersion(string packageVersion, out int major, out int minor)
        {
            major = minor = 0;
            if (string.IsNullOrEmpty(packageVersion)) return false;
            string v = packageVersion;
            int colon = v.IndexOf(':');
            if (colon >= 0) v = v.Substring(colon + 1);
            var m = System.Text.RegularExpressions.Regex.Match(v, @"^(\d+)\.(\d+)");
            if (!m.Success) return false;
            major = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            minor = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            return true;
        }

        /// <summary>
        /// The user's -DaemonConfig merged over <paramref name="defaults"/>: hashtables merge key by key (recursively),
        /// any other value replaces the default, and $null removes the key.
        /// </summary>
        public static JsonObject Merge(JsonObject defaults, IDictionary user) => Merge(defaults, null, user);

        /// <summary>
        /// The file to write: <paramref name="defaults"/>, then the keys of the file already on the node
        /// (<paramref name="existing"/>, when it is a JSON object; objects merge key by key) so a later run with fewer
        /// parameters keeps what an earlier run or the admin set, then the user's -DaemonConfig over both (its keys
        /// win; $null removes a key).
        /// </summary>
        public static JsonObject Merge(JsonObject defaults, JsonNode existing, IDictionary user)
        {
            var result = (JsonObject)Clone(defaults);
            if (existing is JsonObject e) MergeJson(result, (JsonObject)Clone(e));
            if (user != null) MergeInto(result, user, "");
            return result;
        }

        private static void MergeJson(JsonObject target, JsonObject over)
        {
            foreach (var kv in over.ToList())
            {
                over.Remove(kv.Key);
                if (kv.Value is JsonObject o && target[kv.Key] is JsonObject t) MergeJson(t, o);
                else target[kv.Key] = kv.Value;
            }
        }

        /// <summary>Warnings for -DaemonConfig keys that break swarm nodes or the Debian unit (live-restore true, hosts).</summary>
        public static string[] RiskyUserKeys(IDictionary user)
        {
            var list = new List<string>();
            if (user == null) return list.ToArray();
            foreach (DictionaryEntry e in user)
            {
                string key = e.Key?.ToString();
                if (key == "live-restore" && e.Value is bool b && b)
                    list.Add("-DaemonConfig sets live-restore true: a swarm node's engine refuses to start with it (live-restore is incompatible with swarm mode); do not use it on nodes that are or will be in a swarm.");
                else if (key == "hosts" && e.Value != null)
                    list.Add("-DaemonConfig sets hosts: Debian's and Ubuntu's docker.service start dockerd with -H fd://, and dockerd refuses to start when daemon.json also sets hosts (use a systemd drop-in instead).");
            }
            return list.ToArray();
        }

        private static void MergeInto(JsonObject target, IDictionary user, string path)
        {
            foreach (DictionaryEntry e in user)
            {
                string key = e.Key?.ToString();
                if (string.IsNullOrEmpty(key)) throw new ArgumentException($"-DaemonConfig has an empty key{(path.Length > 0 ? " under '" + path + "'" : "")}.");
                object value = e.Value;
                if (value == null)
                {
                    target.Remove(key);
                }
                else if (value is IDictionary nested && target[key] is JsonObject existing)
                {
                    MergeInto(existing, nested, path.Length > 0 ? path + "." + key : key);
                }
                else
                {
                    target[key] = ToNode(value, path.Length > 0 ? path + "." + key : key);
                }
            }
        }

        /// <summary>Converts a plain value (string, number, bool, list, dictionary; the cmdlet unwraps PowerShell objects first) to JSON.</summary>
        internal static JsonNode ToNode(object value, string path)
        {
            switch (value)
            {
                case null: return null;
                case string s: return JsonValue.Create(s);
                case bool b: return JsonValue.Create(b);
                case int i: return JsonValue.Create(i);
                case long l: return JsonValue.Create(l);
                case short sh: return JsonValue.Create((int)sh);
                case byte by: return JsonValue.Create((int)by);
                case uint ui: return JsonValue.Create((long)ui);
                case double d: return JsonValue.Create(d);
                case float f: return JsonValue.Create((double)f);
                case decimal m: return JsonValue.Create(m);
                case IDictionary dict:
                    {
                        var o = new JsonObject();
                        foreach (DictionaryEntry e in dict) o[e.Key.ToString()] = ToNode(e.Value, path + "." + e.Key);
                        return o;
                    }
                case IEnumerable list:
                    {
                        var a = new JsonArray();
                        foreach (object x in list) a.Add(ToNode(x, path));
                        return a;
                    }
                default:
                    throw new ArgumentException($"-DaemonConfig '{path}' has a value of type {value.GetType().Name}, which has no JSON form; use strings, numbers, booleans, arrays or hashtables.");
            }
        }

        public static JsonNode Clone(JsonNode node) => node == null ? null : JsonNode.Parse(node.ToJsonString());

        /// <summary>Parses daemon.json text; null for an empty or missing file; throws JsonException when it is not JSON.</summary>
        public static JsonNode Parse(string text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }

        /// <summary>
        /// True when two daemon.json contents mean the same: same keys in any order, equal numbers whatever their
        /// spelling (1500, 1500.0), arrays in order. Formatting and key order never count.
        /// </summary>
        public static bool SameMeaning(JsonNode a, JsonNode b) => Canonical(a) == Canonical(b);

        /// <summary>A canonical text of the JSON value: object keys sorted (ordinal), numbers normalised.</summary>
        public static string Canonical(JsonNode node)
        {
            var sb = new StringBuilder();
            Write(sb, node);
            return sb.ToString();
        }

        private static void Write(StringBuilder sb, JsonNode node)
        {
            switch (node)
            {
                case null: sb.Append("null"); return;
                case JsonObject o:
                    sb.Append('{');
                    bool first = true;
                    foreach (var kv in o.OrderBy(k => k.Key, StringComparer.Ordinal))
                    {
                        if (!first) sb.Append(',');
                        first = false;
                        sb.Append(JsonSerializer.Serialize(kv.Key)).Append(':');
                        Write(sb, kv.Value);
                    }
                    sb.Append('}');
                    return;
                case JsonArray a:
                    sb.Append('[');
                    for (int i = 0; i < a.Count; i++) { if (i > 0) sb.Append(','); Write(sb, a[i]); }
                    sb.Append(']');
                    return;
                default:
                    var el = JsonSerializer.Deserialize<JsonElement>(node.ToJsonString());
                    switch (el.ValueKind)
                    {
                        case JsonValueKind.Number:
                            sb.Append(el.TryGetDecimal(out decimal d) ? d.ToString("G29", CultureInfo.InvariantCulture).TrimEnd() : el.GetRawText());
                            return;
                        case JsonValueKind.String: sb.Append(JsonSerializer.Serialize(el.GetString())); return;
                        default: sb.Append(el.GetRawText()); return;
                    }
            }
        }

        /// <summary>Keys of <paramref name="existing"/> (top level) that <paramref name="wanted"/> no longer has.</summary>
        public static string[] DroppedKeys(JsonNode existing, JsonObject wanted)
        {
            if (!(existing is JsonObject e)) return Array.Empty<string>();
            return e.Select(kv => kv.Key).Where(k => !wanted.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        }

        /// <summary>The file content written to the node: indented, keys in a stable order, newline at the end.</summary>
        public static string Format(JsonObject config)
        {
            var sorted = JsonNode.Parse(Canonical(config));
            return sorted.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        }
    }

    internal static class TextTail
    {
        /// <summary>The last <paramref name="lines"/> non-empty lines of a command's output.</summary>
        public static string Of(string text, int lines)
        {
            var all = (text ?? string.Empty).Replace("\r", "").Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
            return string.Join("\n", all.Skip(Math.Max(0, all.Count - lines)));
        }
    }

    /// <summary>What one node already has, before Install-SwarmEngine's choice of version.</summary>
    internal sealed class NodeVersionFacts
    {
        public string Node { get; set; }
        /// <summary>The engine package installed now (null: none).</summary>
        public string Installed { get; set; }
        /// <summary>The version apt-get would install (apt-cache policy's Candidate), null when unknown.</summary>
        public string Candidate { get; set; }
        /// <summary>Every version APT offers on the node (apt-cache madison, best first); null when not read.</summary>
        public IReadOnlyList<string> Available { get; set; }
        /// <summary>The node's release ("debian bookworm"): package versions differ between releases.</summary>
        public string Release { get; set; }
    }

    /// <summary>The version all nodes of one Install-SwarmEngine invocation get, and which nodes run another.</summary>
    internal sealed class VersionChoice
    {
        public string Version { get; set; }
        /// <summary>Where the version came from: -Version, or the node whose installed/candidate version was taken.</summary>
        public string Origin { get; set; }
        /// <summary>The release of the node the version came from ("debian bookworm"); null for -Version.</summary>
        public string OriginRelease { get; set; }
        /// <summary>Nodes whose installed engine is another version, with that version (they keep it without -Version).</summary>
        public List<(string Node, string Installed)> Skew { get; } = new List<(string, string)>();
    }

    internal static class EngineVersions
    {
        /// <summary>
        /// One version for every node: -Version when given; else the version installed on the first node (in input
        /// order) that has the engine, so new nodes match the running ones; else the first node's APT candidate.
        /// Nodes that already run another version are listed as skew.
        /// </summary>
        public static VersionChoice Choose(string explicitVersion, IReadOnlyList<NodeVersionFacts> nodes)
        {
            var choice = new VersionChoice();
            if (!string.IsNullOrEmpty(explicitVersion))
            {
                choice.Version = explicitVersion;
                choice.Origin = "-Version";
            }
            else
            {
                var withEngine = nodes.FirstOrDefault(n => !string.IsNullOrEmpty(n.Installed));
                if (withEngine != null)
                {
                    choice.Version = withEngine.Installed;
                    choice.Origin = $"installed on {withEngine.Node}";
                    choice.OriginRelease = withEngine.Release;
                }
                else
                {
                    var first = nodes.FirstOrDefault(n => !string.IsNullOrEmpty(n.Candidate));
                    if (first != null)
                    {
                        choice.Version = first.Candidate;
                        choice.Origin = $"APT candidate on {first.Node}";
                        choice.OriginRelease = first.Release;
                    }
                }
            }
            if (choice.Version != null)
            {
                foreach (var n in nodes)
                {
                    if (string.IsNullOrEmpty(n.Installed) || string.Equals(n.Installed, choice.Version, StringComparison.Ordinal)) continue;
                    // another release's build of the same engine (docker-ce 27.3.1 for bookworm and for jammy) is no skew
                    if (MayUseOtherBuild(choice.Version, choice.OriginRelease, n) && string.Equals(Upstream(n.Installed), Upstream(choice.Version), StringComparison.Ordinal)) continue;
                    choice.Skew.Add((n.Node, n.Installed));
                }
            }
            return choice;
        }

        /// <summary>
        /// The engine's own version in a Debian package version: no epoch, no Debian revision (from the last '-'), no
        /// repack suffix ('+'): "5:27.3.1-1~debian.12~bookworm" and "27.3.1-1~ubuntu.22.04~jammy" -> "27.3.1";
        /// "20.10.24+dfsg1-1+b3" -> "20.10.24"; "24.0.7-0ubuntu2~22.04.1" -> "24.0.7"; a pre-release keeps its
        /// '~' part ("5:28.0.0~rc.1-1~debian.12~bookworm" -> "28.0.0~rc.1").
        /// </summary>
        public static string Upstream(string version)
        {
            if (string.IsNullOrEmpty(version)) return version;
            string v = version;
            int colon = v.IndexOf(':');
            if (colon > 0 && v.Substring(0, colon).All(char.IsDigit)) v = v.Substring(colon + 1);
            int dash = v.LastIndexOf('-');
            if (dash > 0) v = v.Substring(0, dash);
            int plus = v.IndexOf('+');
            return plus > 0 ? v.Substring(0, plus) : v;
        }

        /// <summary>-Version named only the engine (27.3.1), not a package build of it.</summary>
        public static bool IsEngineOnly(string version) => !string.IsNullOrEmpty(version) && string.Equals(version, Upstream(version), StringComparison.Ordinal);

        /// <summary>The release a Docker-style package version was built for ("...~debian.12~bookworm" -> "bookworm"), else null.</summary>
        public static string CodenameOf(string version)
        {
            var m = System.Text.RegularExpressions.Regex.Match(version ?? "", @"~([a-z]+)$");
            return m.Success ? m.Groups[1].Value : null;
        }

        /// <summary>
        /// Whether <paramref name="node"/> may get another package build of the run's engine: when -Version named only
        /// the engine, or the node is of another release than the version's (the node it came from, or the codename in
        /// a Docker-style version). Within one release the exact package is kept (a node whose APT lacks the security
        /// rebuild the others get fails instead of quietly getting the older build).
        /// </summary>
        public static bool MayUseOtherBuild(string runVersion, string originRelease, NodeVersionFacts node)
        {
            if (IsEngineOnly(runVersion)) return true;
            if (node.Release == null) return false;
            if (originRelease != null) return !string.Equals(node.Release, originRelease, StringComparison.Ordinal);
            string codename = CodenameOf(runVersion);
            string nodeCodename = node.Release.Split(' ').Last();
            return codename != null && !string.Equals(codename, nodeCodename, StringComparison.Ordinal);
        }

        /// <summary>
        /// The package version that gives <paramref name="node"/> the run's engine: the run's version itself when APT
        /// offers it there (or when what APT offers is not known), else, where <see cref="MayUseOtherBuild"/> allows,
        /// the version APT offers there with the same engine version (Docker's repository builds every engine once per
        /// release: the run's 5:27.3.1-1~debian.12~bookworm is 5:27.3.1-1~debian.11~bullseye on a Debian 11 node;
        /// -Version 27.3.1 picks it on every node), else null.
        /// </summary>
        public static string ForNode(string runVersion, string originRelease, NodeVersionFacts node)
        {
            if (runVersion == null) return null;
            if (node.Available == null || node.Available.Contains(runVersion, StringComparer.Ordinal)) return runVersion;
            if (!MayUseOtherBuild(runVersion, originRelease, node)) return null;
            string upstream = Upstream(runVersion);
            // apt-cache madison lists the best first: of several builds of that engine (a security rebuild), the newest
            return node.Available.FirstOrDefault(v => string.Equals(Upstream(v), upstream, StringComparison.Ordinal));
        }
    }

    /// <summary>The facts the probe read on a node (read-only).</summary>
    internal sealed class EngineNodeFacts
    {
        public OsRelease Os { get; set; }
        public bool HasApt { get; set; }
        public bool HasSystemd { get; set; }
        /// <summary>Installed package versions by name (docker.io, docker-ce, docker-ce-cli, containerd.io, moby-engine...).</summary>
        public Dictionary<string, string> Packages { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public HashSet<string> Held { get; } = new HashSet<string>(StringComparer.Ordinal);
        /// <summary>APT's candidate for the engine package in the lists the node has now.</summary>
        public string Candidate { get; set; }
        /// <summary>A dockerd binary exists (possibly not from a package).</summary>
        public bool HasDockerd { get; set; }
        public bool ServiceEnabled { get; set; }
        public bool ServiceActive { get; set; }
        public string DaemonJson { get; set; }
        public bool DaemonJsonExists { get; set; }
        public string AptProxyFile { get; set; }
        public string SourcesFile { get; set; }
        public string KeyFileSha256 { get; set; }
        public bool HasCaCertificates { get; set; }
        /// <summary>The address SSH reached (from $SSH_CONNECTION).</summary>
        public string SshAddress { get; set; }
        public string Interface { get; set; }
        public int? Mtu { get; set; }
        public string Arch { get; set; }
        /// <summary>The IP addresses on the node's interfaces (ip -o addr), for the default metrics-addr.</summary>
        public HashSet<string> Addresses { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        /// <summary>docker info's Swarm.LocalNodeState (active, inactive, pending, locked, error) when the engine answered.</summary>
        public string SwarmState { get; set; }
        /// <summary>docker info's Swarm.ControlAvailable: the node is a swarm manager.</summary>
        public bool ControlAvailable { get; set; }
        /// <summary>The node is an active swarm manager: restarting its engine costs the swarm a manager.</summary>
        public bool IsActiveManager => ControlAvailable && string.Equals(SwarmState, "active", StringComparison.OrdinalIgnoreCase);
        /// <summary>daemon.json's mtime and the running engine's start time (Unix seconds) when both are known.</summary>
        public long? DaemonJsonMtime { get; set; }
        public long? EngineStarted { get; set; }
        /// <summary>daemon.json was written after the running engine started: it was never applied.</summary>
        public bool DaemonJsonNewerThanEngine => ServiceActive && DaemonJsonMtime.HasValue && EngineStarted.HasValue && DaemonJsonMtime.Value > EngineStarted.Value;

        /// <summary>Parses the probe script's output: "key=value" lines and base64 blocks for file contents.</summary>
        public static EngineNodeFacts Parse(string output)
        {
            var f = new EngineNodeFacts();
            string osText = "";
            foreach (string raw in (output ?? string.Empty).Split('\n'))
            {
                string line = raw.TrimEnd('\r');
                int eq = line.IndexOf('=');
                if (eq <= 0) continue;
                string key = line.Substring(0, eq), value = line.Substring(eq + 1).Trim();
                switch (key)
                {
                    case "os": osText = FromB64(value); break;
                    case "apt": f.HasApt = value == "1"; break;
                    case "systemd": f.HasSystemd = value == "1"; break;
                    case "pkg":
                        {
                            // pkg=<name> <status-word> <version>  (dpkg-query -W -f '${Package} ${db:Status-Abbrev} ${Version}')
                            string[] p = value.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                            if (p.Length >= 3 && p[1].StartsWith("ii", StringComparison.Ordinal)) f.Packages[p[0]] = p[2];
                            else if (p.Length >= 3 && p[1].StartsWith("hi", StringComparison.Ordinal)) { f.Packages[p[0]] = p[2]; f.Held.Add(p[0]); }
                            break;
                        }
                    case "hold": if (value.Length > 0) f.Held.Add(value); break;
                    case "candidate": f.Candidate = value.Length == 0 || value == "(none)" ? null : value; break;
                    case "dockerd": f.HasDockerd = value == "1"; break;
                    case "enabled": f.ServiceEnabled = value == "enabled"; break;
                    case "active": f.ServiceActive = value == "active"; break;
                    case "daemonjson": f.DaemonJsonExists = true; f.DaemonJson = FromB64(value); break;
                    case "aptproxy": f.AptProxyFile = FromB64(value); break;
                    case "sources": f.SourcesFile = FromB64(value); break;
                    case "keysha": f.KeyFileSha256 = value.Split(' ')[0]; break;
                    case "ca": f.HasCaCertificates = value == "1"; break;
                    case "sshaddr": f.SshAddress = value.Length == 0 ? null : value; break;
                    case "iface": f.Interface = value.Length == 0 ? null : value; break;
                    case "mtu": if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int mtu) && mtu > 0) f.Mtu = mtu; break;
                    case "arch": f.Arch = value.Length == 0 ? null : value; break;
                    case "addrs": foreach (string a in value.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries)) f.Addresses.Add(a); break;
                    case "swarm":
                        {
                            string[] p = value.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                            f.SwarmState = p.Length > 0 ? p[0] : null;
                            f.ControlAvailable = p.Length > 1 && string.Equals(p[1], "true", StringComparison.OrdinalIgnoreCase);
                            break;
                        }
                    case "djmtime": if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long mt)) f.DaemonJsonMtime = mt; break;
                    case "started": if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long st) && st > 0) f.EngineStarted = st; break;
                }
            }
            f.Os = OsRelease.Parse(osText);
            return f;
        }

        private static string FromB64(string value)
        {
            if (string.IsNullOrEmpty(value)) return string.Empty;
            try { return Encoding.UTF8.GetString(Convert.FromBase64String(value)); }
            catch (FormatException) { return string.Empty; }
        }
    }

    /// <summary>What the user asked Install-SwarmEngine for (the parts that decide the plan).</summary>
    internal sealed class EngineInstallRequest
    {
        public SwarmEngineSource Source { get; set; }
        public string Version { get; set; }
        public string AptProxy { get; set; }
        public string RepositoryUri { get; set; }
        /// <summary>The signing key's bytes (local file), for DockerRepository.</summary>
        public byte[] RepositoryKey { get; set; }
        public IDictionary DaemonConfig { get; set; }
        public string MetricsAddress { get; set; }
        public bool MetricsAddressGiven { get; set; }
        public int? Mtu { get; set; }

        public string[] Packages => Source == SwarmEngineSource.Distribution ? new[] { "docker.io" } : new[] { "docker-ce", "docker-ce-cli", "containerd.io" };
        public string EnginePackage => Packages[0];
    }

    /// <summary>The planned steps for one node and the content they write. Pure: computed from facts and the request.</summary>
    internal sealed class EngineInstallPlan
    {
        public const string AptProxyPath = "/etc/apt/apt.conf.d/80swarmadmin-proxy";
        public const string SourcesPath = "/etc/apt/sources.list.d/swarmadmin-docker.sources";
        /// <summary>Where the repository's signing key goes: .asc for an ASCII-armoured key, .gpg for a binary one (APT tells them apart by the extension).</summary>
        public static string KeyPathFor(byte[] key) => key != null && key.Length > 5 && Encoding.ASCII.GetString(key, 0, Math.Min(key.Length, 64)).Contains("-----BEGIN PGP")
            ? "/etc/apt/keyrings/swarmadmin-docker.asc" : "/etc/apt/keyrings/swarmadmin-docker.gpg";
        public string KeyPath { get; set; }
        public const string DaemonJsonPath = "/etc/docker/daemon.json";

        public List<SwarmEngineStep> Steps { get; } = new List<SwarmEngineStep>();
        public string AptProxyContent { get; set; }
        public string SourcesContent { get; set; }
        public bool WriteKey { get; set; }
        public bool NeedsCaCertificates { get; set; }
        /// <summary>apt-get update is needed (something must be installed, or the version is not known yet).</summary>
        public bool NeedsUpdate { get; set; }
        public bool NeedsInstall { get; set; }
        /// <summary>The version to install; null until chosen (it may come from another node).</summary>
        public string Version { get; set; }
        public string[] HoldMissing { get; set; } = Array.Empty<string>();
        public JsonObject DaemonConfig { get; set; }
        public bool DaemonConfigChanged { get; set; }
        public string[] DroppedKeys { get; set; } = Array.Empty<string>();
        public bool ExistingDaemonJsonInvalid { get; set; }
        public string MetricsAddress { get; set; }
        public int? Mtu { get; set; }
        /// <summary>Why no default metrics-addr was written (the node's address is not on its interfaces), else null.</summary>
        public string MetricsNote { get; set; }
        /// <summary>The engine is restarted by this run (daemon.json changed, or a daemon.json written after the engine started is applied).</summary>
        public bool Restart { get; set; }
        /// <summary>daemon.json is as wanted but newer than the running engine: restart to apply it.</summary>
        public bool ApplyPendingConfig { get; set; }
        /// <summary>The running engine is restarted (by us or by the package's upgrade): a manager loses its vote meanwhile.</summary>
        public bool DisruptsEngine { get; set; }

        /// <summary>The pattern -Version and any version taken from a node must match before it goes into a command.</summary>
        public const string VersionPattern = @"^[A-Za-z0-9][A-Za-z0-9.+:~-]*$";
        public static bool IsValidVersion(string v) => v != null && System.Text.RegularExpressions.Regex.IsMatch(v, VersionPattern);

        /// <summary>"http://user:pw@proxy:3142" -> "http://***@proxy:3142" for messages.</summary>
        public static string Redact(string url)
        {
            if (string.IsNullOrEmpty(url)) return url;
            int scheme = url.IndexOf("://", StringComparison.Ordinal);
            int at = url.LastIndexOf('@');
            int start = scheme < 0 ? 0 : scheme + 3;
            int slash = url.IndexOf('/', start);
            if (at > start && (slash < 0 || at < slash)) return url.Substring(0, start) + "***" + url.Substring(at);
            return url;
        }

        public static string AptProxyText(string proxy) =>
            "// Written by SwarmAdmin Install-SwarmEngine: APT goes through this proxy (http only; https repositories are reached directly).\n" +
            $"Acquire::http::Proxy \"{proxy}\";\n";

        /// <summary>A deb822 source for Docker's repository, the key referenced by Signed-By.</summary>
        public static string SourcesText(string uri, string suite, string arch, string keyPath) =>
            "# Written by SwarmAdmin Install-SwarmEngine\n" +
            "Types: deb\n" +
            $"URIs: {uri.TrimEnd('/')}\n" +
            $"Suites: {suite}\n" +
            "Components: stable\n" +
            (string.IsNullOrEmpty(arch) ? "" : $"Architectures: {arch}\n") +
            $"Signed-By: {keyPath}\n";

        public static string Sha256Hex(byte[] data)
        {
            using (var sha = System.Security.Cryptography.SHA256.Create())
                return string.Concat(sha.ComputeHash(data).Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
        }

        /// <summary>
        /// The plan for one node. <paramref name="version"/> is the invocation's chosen version when already known
        /// (-Version, or chosen across nodes), else null (then it is resolved with apt-cache policy after apt-get update).
        /// </summary>
        public static EngineInstallPlan Make(EngineNodeFacts facts, EngineInstallRequest req, string nodeAddress, string version)
        {
            var plan = new EngineInstallPlan { Version = version };
            string pkg = req.EnginePackage;
            facts.Packages.TryGetValue(pkg, out string installed);

            if (req.AptProxy != null)
            {
                plan.AptProxyContent = AptProxyText(req.AptProxy);
                bool same = string.Equals(Normalize(facts.AptProxyFile), Normalize(plan.AptProxyContent), StringComparison.Ordinal);
                plan.Steps.Add(new SwarmEngineStep { Name = "AptProxy", Changed = !same, Detail = same ? $"{AptProxyPath} already sends APT through {Redact(req.AptProxy)}" : $"write {AptProxyPath}: APT through {Redact(req.AptProxy)}" });
            }
            if (req.Source == SwarmEngineSource.DockerRepository)
            {
                plan.KeyPath = KeyPathFor(req.RepositoryKey);
                plan.SourcesContent = SourcesText(req.RepositoryUri, facts.Os.Codename, facts.Arch, plan.KeyPath);
                plan.WriteKey = req.RepositoryKey != null && !string.Equals(facts.KeyFileSha256, Sha256Hex(req.RepositoryKey), StringComparison.OrdinalIgnoreCase);
                bool same = string.Equals(Normalize(facts.SourcesFile), Normalize(plan.SourcesContent), StringComparison.Ordinal) && !plan.WriteKey;
                plan.NeedsCaCertificates = req.RepositoryUri.StartsWith("https:", StringComparison.OrdinalIgnoreCase) && !facts.HasCaCertificates;
                plan.Steps.Add(new SwarmEngineStep
                {
                    Name = "Repository",
                    Changed = !same || plan.NeedsCaCertificates,
                    Detail = same ? $"{SourcesPath} already names {req.RepositoryUri} {facts.Os.Codename} stable, signed by {plan.KeyPath}"
                        : $"{(plan.NeedsCaCertificates ? "install ca-certificates, " : "")}write {plan.KeyPath} and {SourcesPath} ({req.RepositoryUri} {facts.Os.Codename} stable, Signed-By)",
                });
            }

            bool versionKnown = version != null;
            bool rightVersion = installed != null && (!versionKnown || string.Equals(installed, version, StringComparison.Ordinal));
            // Without -Version an installed engine stays (a different version is reported as skew, not replaced).
            // -Version 27.3.1, the engine's version only, is met by any package build of that engine; and the version
            // chosen for this node (another release's build of the run's engine) may be the installed one
            plan.NeedsInstall = installed == null || (req.Version != null && !string.Equals(installed, req.Version, StringComparison.Ordinal) &&
                !(EngineVersions.IsEngineOnly(req.Version) && string.Equals(EngineVersions.Upstream(installed), req.Version, StringComparison.Ordinal)) &&
                !string.Equals(installed, version, StringComparison.Ordinal));
            plan.NeedsUpdate = plan.NeedsInstall;
            if (plan.NeedsUpdate) plan.Steps.Add(new SwarmEngineStep { Name = "AptUpdate", Changed = false, Detail = "apt-get update" });
            if (!versionKnown && installed == null) plan.Steps.Add(new SwarmEngineStep { Name = "Resolve", Detail = $"apt-cache policy {pkg}: the candidate version (the first node's is used for all nodes)" });

            // daemon.json: defaults for this node, the user's additions on top, compared as parsed JSON
            // the bridge MTU only when the underlay's is smaller than Docker's 1500 (jumbo frames do not mean the bridge should use them)
            plan.Mtu = req.Mtu ?? (facts.Mtu.HasValue && facts.Mtu.Value < 1500 ? facts.Mtu : null);
            if (req.MetricsAddressGiven) plan.MetricsAddress = req.MetricsAddress;
            else
            {
                // dockerd refuses to start when metrics-addr is not an address of the node (a NAT or floating SSH address)
                string ip = nodeAddress ?? facts.SshAddress;
                if (ip != null && facts.Addresses.Contains(ip)) plan.MetricsAddress = DaemonConfigJson.MetricsAddressFor(ip);
                else plan.MetricsNote = $"no default metrics-addr: {ip ?? "the node's address"} is not an address of the node's interfaces{(facts.Addresses.Count > 0 ? " (" + string.Join(", ", facts.Addresses.OrderBy(a => a, StringComparer.Ordinal)) + ")" : "")}; pass -MetricsAddress to set one";
            }
            string engineVersion = version ?? installed ?? facts.Candidate;
            JsonNode existing = null;
            try { existing = DaemonConfigJson.Parse(facts.DaemonJson); }
            catch (JsonException) { plan.ExistingDaemonJsonInvalid = true; }
            plan.DaemonConfig = DaemonConfigJson.Merge(DaemonConfigJson.Defaults(plan.Mtu, plan.MetricsAddress, engineVersion), existing, req.DaemonConfig);
            plan.DaemonConfigChanged = plan.ExistingDaemonJsonInvalid || !facts.DaemonJsonExists || !DaemonConfigJson.SameMeaning(existing, plan.DaemonConfig);
            plan.DroppedKeys = DaemonConfigJson.DroppedKeys(existing, plan.DaemonConfig);
            plan.Steps.Add(new SwarmEngineStep
            {
                Name = "DaemonConfig",
                Changed = plan.DaemonConfigChanged,
                Detail = plan.DaemonConfigChanged
                    ? $"write {DaemonJsonPath}: {DaemonConfigJson.Canonical(plan.DaemonConfig)}{(plan.DroppedKeys.Length > 0 ? " (removes " + string.Join(", ", plan.DroppedKeys) + ")" : "")}{(plan.ExistingDaemonJsonInvalid ? " (the present file is not valid JSON; it is kept as daemon.json.swarmadmin-bak)" : "")}"
                    : $"{DaemonJsonPath} already says the same",
            });

            if (plan.NeedsInstall)
            {
                string what = string.Join(" ", req.Packages.Select((p, i) => i < 2 && version != null ? $"{p}={version}" : p));
                plan.Steps.Add(new SwarmEngineStep { Name = "Install", Changed = true, Detail = $"apt-get install {what}{(version == null ? " (version resolved as above)" : "")}{(installed != null ? $" (replaces {installed})" : "")}" });
            }
            else
            {
                plan.Steps.Add(new SwarmEngineStep { Name = "Install", Changed = false, Detail = $"{pkg} {installed} is installed{(rightVersion ? "" : $" (the other nodes get {version}; pass -Version to align it)")}" });
            }

            var hold = req.Packages.Where(p => plan.NeedsInstall || !facts.Held.Contains(p)).Where(p => plan.NeedsInstall || facts.Packages.ContainsKey(p)).ToArray();
            plan.HoldMissing = hold;
            plan.Steps.Add(new SwarmEngineStep { Name = "Hold", Changed = hold.Length > 0, Detail = hold.Length > 0 ? $"apt-mark hold {string.Join(" ", hold)}" : $"{string.Join(", ", req.Packages.Where(facts.Packages.ContainsKey))} already held" });

            plan.ApplyPendingConfig = !plan.DaemonConfigChanged && installed != null && facts.DaemonJsonNewerThanEngine;
            bool restart = (plan.DaemonConfigChanged || plan.ApplyPendingConfig) && installed != null && facts.ServiceActive;
            plan.Restart = restart;
            plan.DisruptsEngine = installed != null && facts.ServiceActive && (restart || plan.NeedsInstall);
            bool serviceOk = facts.ServiceActive && (facts.ServiceEnabled || !facts.HasSystemd) && !plan.NeedsInstall;
            plan.Steps.Add(new SwarmEngineStep
            {
                Name = "Service",
                Changed = restart || !serviceOk,
                Detail = restart ? (plan.ApplyPendingConfig ? "restart docker: applying a daemon.json written after the engine started" : "restart docker (daemon.json changed; its running containers restart)")
                    : serviceOk ? "docker is enabled and running"
                    : facts.HasSystemd ? "systemctl enable --now docker" : "start docker (/etc/init.d/docker)",
            });
            plan.Steps.Add(new SwarmEngineStep { Name = "Verify", Detail = "the engine answers over the SSH session (docker system dial-stdio, /_ping)" });
            return plan;
        }

        private static string Normalize(string s) => (s ?? string.Empty).Replace("\r\n", "\n").Trim();

        /// <summary>The plan as the -WhatIf / -Confirm text.</summary>
        public string Describe() => string.Join("; ", Steps.Where(s => s.Name != "Verify").Select((s, i) => $"{i + 1}. {s.Name}: {s.Detail}"));
    }
}
