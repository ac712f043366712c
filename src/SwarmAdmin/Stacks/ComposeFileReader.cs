using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using static SwarmAdmin.Stacks.ComposeYaml;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// Reads ONE compose file into a partial <see cref="ComposeProject"/>: YAML with positions, version, forbidden keys,
    /// interpolation of every value, then a typed walk that checks keys and types against the compose 3.x schema of the
    /// file's version (docker/cli cli/compose/schema/data/config_schema_v3.*.json) and the CLI's loader rules
    /// (cli/compose/loader/loader.go). All problems are collected (not only the first).
    /// </summary>
    internal sealed class ComposeFileReader
    {
        // ------------------------------------------------------------------ key tables (3.13 schema; "key@N" = since 3.N)

        internal static readonly string[] TopKeys = { "version", "services", "networks", "volumes", "secrets@1", "configs@3" };
        internal static readonly string[] ServiceKeys =
        {
            "build", "cap_add", "cap_drop", "cgroup_parent", "cgroupns_mode@9", "command", "configs@3", "container_name", "credential_spec@3",
            "depends_on", "deploy", "devices", "dns", "dns_search", "domainname", "entrypoint", "env_file", "environment", "expose",
            "external_links", "extra_hosts", "healthcheck", "hostname", "image", "init@7", "ipc", "isolation@5", "labels", "links",
            "logging", "mac_address", "network_mode", "networks", "oom_score_adj@13", "pid", "ports", "privileged", "read_only",
            "restart", "secrets@1", "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "sysctls", "tmpfs",
            "tty", "ulimits", "user", "userns_mode", "volumes", "working_dir",
            // forbidden by the CLI (reported before the walk), listed so they are not also "unknown"
            "extends", "volume_driver", "volumes_from", "cpu_quota", "cpu_shares", "cpuset", "mem_limit", "memswap_limit",
        };
        internal static readonly string[] DeployKeys = { "mode", "replicas", "labels", "update_config", "rollback_config@7", "resources", "restart_policy", "placement", "endpoint_mode@2" };
        internal static readonly string[] UpdateKeys = { "parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order@4" };
        internal static readonly string[] ResourcesKeys = { "limits", "reservations" };
        internal static readonly string[] LimitsKeys = { "cpus", "memory", "pids@9" };
        internal static readonly string[] ReservationsKeys = { "cpus", "memory", "generic_resources@5" };
        internal static readonly string[] GenericResourceKeys = { "discrete_resource_spec" };
        internal static readonly string[] DiscreteKeys = { "kind", "value" };
        internal static readonly string[] RestartKeys = { "condition", "delay", "max_attempts", "window" };
        internal static readonly string[] PlacementKeys = { "constraints", "preferences@3", "max_replicas_per_node@8" };
        internal static readonly string[] PreferenceKeys = { "spread" };
        internal static readonly string[] HealthKeys = { "test", "interval", "timeout", "retries", "start_period@4", "start_interval@12", "disable" };
        internal static readonly string[] ServiceNetworkKeys = { "aliases", "ipv4_address", "ipv6_address", "driver_opts@13" };
        internal static readonly string[] PortKeys = { "mode", "target", "published", "protocol" };
        internal static readonly string[] VolumeMountKeys = { "type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs@6" };
        internal static readonly string[] BindKeys = { "propagation" };
        internal static readonly string[] VolumeOptKeys = { "nocopy", "subpath" };
        internal static readonly string[] TmpfsKeys = { "size" };
        internal static readonly string[] FileRefKeys = { "source", "target", "uid", "gid", "mode" };
        internal static readonly string[] UlimitKeys = { "soft", "hard" };
        internal static readonly string[] LoggingKeys = { "driver", "options" };
        internal static readonly string[] CredentialSpecKeys = { "config@8", "file", "registry" };
        internal static readonly string[] NetworkKeys = { "name@5", "driver", "driver_opts", "ipam", "external", "internal", "attachable@2", "labels" };
        internal static readonly string[] IpamKeys = { "driver", "config" };
        internal static readonly string[] IpamPoolKeys = { "subnet" };
        internal static readonly string[] ExternalKeys = { "name" };
        internal static readonly string[] VolumeKeys = { "name@4", "driver", "driver_opts", "external", "labels", "x-cluster-spec@10" };
        internal static readonly string[] SecretKeys = { "name@5", "file", "external", "labels", "driver@8", "driver_opts@8", "template_driver@8" };
        internal static readonly string[] ConfigKeys = { "name@5", "file", "external", "labels", "template_driver@8" };

        /// <summary>types.ForbiddenProperties: an error before anything else.</summary>
        internal static readonly Dictionary<string, string> ForbiddenProperties = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["extends"] = "Support for `extends` is not implemented yet.",
            ["volume_driver"] = "Instead of setting the volume driver on the service, define a volume using the top-level `volumes` option and specify the driver there.",
            ["volumes_from"] = "To share a volume between services, define it using the top-level `volumes` option and reference it from each service that shares it using the service-level `volumes` option.",
            ["cpu_quota"] = "Set resource limits using deploy.resources",
            ["cpu_shares"] = "Set resource limits using deploy.resources",
            ["cpuset"] = "Set resource limits using deploy.resources",
            ["mem_limit"] = "Set resource limits using deploy.resources",
            ["memswap_limit"] = "Set resource limits using deploy.resources",
        };

        /// <summary>types.UnsupportedProperties ("Ignoring unsupported options: ...").</summary>
        internal static readonly string[] UnsupportedProperties =
        {
            "build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links", "ipc", "links", "mac_address",
            "network_mode", "pid", "privileged", "restart", "security_opt", "shm_size", "userns_mode",
        };

        /// <summary>types.DeprecatedProperties ("Ignoring deprecated options: ...").</summary>
        internal static readonly Dictionary<string, string> DeprecatedProperties = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["container_name"] = "Setting the container name is not supported.",
            ["expose"] = "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
        };

        internal const string IgnoredPrefix = "ignored by docker stack deploy: ";
        internal static readonly Regex ObjectName = new Regex(@"^[a-zA-Z0-9._-]+$", RegexOptions.CultureInvariant);
        private static readonly Regex UlimitName = new Regex(@"^[a-z]+$", RegexOptions.CultureInvariant);

        // ------------------------------------------------------------------ state

        private readonly string _file;
        private readonly string _workingDir;
        private readonly Func<string, (bool Found, string Value)> _lookup;
        private readonly List<ComposeFileException> _errors;
        private readonly List<ComposeWarning> _warnings;
        private readonly HashSet<YamlNode> _interpolated = new HashSet<YamlNode>(NodeIdentity.Instance);
        private readonly HashSet<string> _reported = new HashSet<string>(StringComparer.Ordinal);
        private int _minor = 13;
        private YamlNode _currentKey;

        public ComposeFileReader(string file, string workingDir, Func<string, (bool Found, string Value)> lookup, List<ComposeFileException> errors, List<ComposeWarning> warnings)
        {
            _file = file; _workingDir = workingDir; _lookup = lookup; _errors = errors; _warnings = warnings;
        }

        /// <summary>The normalised version ("3.13" when absent or "3"), or null when it is not usable.</summary>
        public string Version { get; private set; }
        public YamlNode VersionNode { get; private set; }

        private sealed class Map
        {
            public YamlMappingNode Node;
            public string Path;
            public readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> Entries = new Dictionary<string, (YamlScalarNode, YamlNode)>(StringComparer.Ordinal);
            /// <summary>The value, or null when missing or null/~/empty.</summary>
            public YamlNode Get(string key) => Entries.TryGetValue(key, out var kv) && !IsNull(kv.Value) ? kv.Value : null;
            public bool Has(string key) => Entries.ContainsKey(key);
            public string Sub(string key) => Path.Length == 0 ? key : Path + "." + key;
        }

        // ------------------------------------------------------------------ reporting

        private void Error(YamlNode at, string keyPath, string reason, string suggestion = null) => Error(at?.Start ?? Mark.Empty, keyPath, reason, suggestion);

        private void Error(Mark at, string keyPath, string reason, string suggestion = null)
        {
            int line = Math.Max(1, (int)at.Line), col = Math.Max(1, (int)at.Column);
            if (!_reported.Add($"{line}:{col}:{keyPath}:{reason}")) return;
            _errors.Add(new ComposeFileException(_file, line, col, keyPath, reason) { Suggestion = suggestion });
        }

        private void Warn(YamlNode at, string keyPath, string message)
        {
            var m = at?.Start ?? Mark.Empty;
            _warnings.Add(new ComposeWarning(_file, Math.Max(1, (int)m.Line), Math.Max(1, (int)m.Column), keyPath, message));
        }

        private ComposeSource Pos(YamlNode node) => new ComposeSource(_file, Math.Max(1, (int)(node?.Start.Line ?? 1)), Math.Max(1, (int)(node?.Start.Column ?? 1)));

        // ------------------------------------------------------------------ entry

        public ComposeProject Read(string text)
        {
            YamlNode root = LoadYaml(text);
            if (root == null) return null;
            if (!(root is YamlMappingNode rootMap))
            {
                Error(root, string.Empty, "top-level object must be a mapping");
                return null;
            }
            ReadVersion(rootMap);
            if (Version == null) return null;
            CheckForbidden(rootMap);
            Interpolate(rootMap, string.Empty, string.Empty);

            var project = new ComposeProject { Version = Version };
            Map top = Open(rootMap, string.Empty, "the compose file", TopKeys, extensionsSince: 4);
            if (top == null) return project;
            if (top.Has("services") && top.Get("services") != null && !(top.Get("services") is YamlMappingNode))
                Error(top.Get("services"), "services", $"must be a mapping, found {Describe(top.Get("services"))}");
            ReadNamed(top, "services", n => n is YamlMappingNode, (key, node, path) => { var s = ReadService(key, node, path); if (s != null) project.Services[key] = s; });
            ReadNamed(top, "networks", n => true, (key, node, path) => { var s = ReadNetwork(key, node, path); if (s != null) project.Networks[key] = s; });
            ReadNamed(top, "volumes", n => true, (key, node, path) => { var s = ReadVolume(key, node, path); if (s != null) project.Volumes[key] = s; });
            ReadNamed(top, "secrets", n => n is YamlMappingNode, (key, node, path) => { var s = new ComposeSecret(); if (ReadFileObject(s, "secret", key, node, path, SecretKeys)) project.Secrets[key] = s; });
            ReadNamed(top, "configs", n => n is YamlMappingNode, (key, node, path) => { var s = new ComposeConfig(); if (ReadFileObject(s, "config", key, node, path, ConfigKeys)) project.Configs[key] = s; });
            return project;
        }

        private YamlNode LoadYaml(string text)
        {
            var stream = new YamlStream();
            var parser = new ComposeTrackingParser(new MergingParser(new Parser(new StringReader(text ?? string.Empty))));
            try
            {
                stream.Load(parser);
            }
            catch (YamlException ex)
            {
                string message = ex.InnerException is YamlException inner ? inner.Message : ex.Message;
                Error(ex.Start, string.Empty, "YAML syntax error: " + message);
                return null;
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is ArgumentException || ex is NullReferenceException)
            {
                string what = ex is ArgumentException && ex.Message.IndexOf("same key", StringComparison.OrdinalIgnoreCase) >= 0
                    ? "YAML syntax error: a mapping key is defined twice" : "YAML syntax error: the file cannot be parsed after this point";
                Error(parser.LastEnd, string.Empty, what);
                return null;
            }
            if (stream.Documents.Count == 0 || IsNull(stream.Documents[0].RootNode))
            {
                Error(new Mark(), string.Empty, "top-level object must be a mapping (the file is empty)");
                return null;
            }
            if (stream.Documents.Count > 1)
            {
                Error(stream.Documents[1].RootNode, string.Empty, "a compose file holds one YAML document; found a second one (---)");
                return null;
            }
            return stream.Documents[0].RootNode;
        }

        private void ReadVersion(YamlMappingNode root)
        {
            YamlNode v = null;
            foreach (var kv in root.Children)
                if (kv.Key is YamlScalarNode k && k.Value == "version") v = kv.Value;
            VersionNode = v;
            if (v == null) { Version = "3.13"; _minor = 13; return; }
            var kind = KindOf(v);
            if (kind != Kind.String)
            {
                string shown = v is YamlScalarNode sv ? sv.Value : Describe(v);
                Error(v, "version", $"version must be a string (write version: \"{shown}\")", $"Quote the version: \"{shown}\".");
                return;
            }
            string text = ((YamlScalarNode)v).Value;
            if (text.Length == 0 || text == "3") { Version = "3.13"; _minor = 13; return; }
            var m = Regex.Match(text, @"^3\.(\d|1[0-3])$");
            if (!m.Success)
            {
                Error(v, "version", $"unsupported Compose file version: {text} (docker stack deploy accepts 3.0 to 3.13; the Compose Specification is not supported)");
                return;
            }
            Version = text;
            _minor = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        private void CheckForbidden(YamlMappingNode root)
        {
            YamlMappingNode services = root.Children.Where(kv => (kv.Key as YamlScalarNode)?.Value == "services").Select(kv => kv.Value).OfType<YamlMappingNode>().FirstOrDefault();
            if (services == null) return;
            foreach (var svc in services.Children)
            {
                if (!(svc.Value is YamlMappingNode body)) continue;
                string name = (svc.Key as YamlScalarNode)?.Value;
                foreach (var kv in body.Children)
                {
                    string key = (kv.Key as YamlScalarNode)?.Value;
                    if (key != null && ForbiddenProperties.TryGetValue(key, out string hint))
                        Error(kv.Key, $"services.{name}.{key}", $"compose file contains unsupported options: {key}: {hint}");
                }
            }
        }

        // ------------------------------------------------------------------ interpolation

        /// <summary>Interpolates every scalar VALUE (never a key), x- extensions included, like the CLI.
        /// <paramref name="cliPath"/> is the CLI-style path ("services.web.ports.[]") used for casts and messages.</summary>
        private void Interpolate(YamlNode node, string path, string cliPath)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    foreach (var kv in map.Children)
                    {
                        string k = (kv.Key as YamlScalarNode)?.Value ?? "?";
                        Interpolate(kv.Value, path.Length == 0 ? k : path + "." + k, cliPath.Length == 0 ? k : cliPath + "." + k);
                    }
                    break;
                case YamlSequenceNode seq:
                    for (int i = 0; i < seq.Children.Count; i++)
                        Interpolate(seq.Children[i], $"{path}[{i}]", cliPath + ".[]");
                    break;
                case YamlScalarNode s:
                    if (s.Value == null || s.Value.IndexOf('$') < 0) return;
                    if (KindOf(s) != Kind.String) return; // yaml.v3 only substitutes in strings
                    if (_interpolated.Contains(s)) return; // an alias seen twice
                    try
                    {
                        string result = ComposeInterpolation.Interpolate(s.Value, _lookup, cliPath);
                        if (result != s.Value)
                        {
                            s.Value = result;
                            _interpolated.Add(s);
                        }
                    }
                    catch (ComposeInterpolationException ex)
                    {
                        Error(s, path, ex.Message);
                    }
                    break;
            }
        }

        // ------------------------------------------------------------------ generic readers

        private static (string Name, int Since) KeyOf(string spec)
        {
            int at = spec.IndexOf('@');
            return at < 0 ? (spec, 0) : (spec.Substring(0, at), int.Parse(spec.Substring(at + 1), CultureInfo.InvariantCulture));
        }

        /// <summary>Opens a mapping and checks its keys. <paramref name="extensionsSince"/>: minor version from which x- keys
        /// are allowed (-1 never). <paramref name="open"/>: the schema allows other keys here (they are warned about, not errors).</summary>
        private Map Open(YamlNode node, string path, string what, string[] allowed, int extensionsSince = -1, bool open = false)
        {
            if (!(node is YamlMappingNode map))
            {
                Error(node, path, $"must be a mapping ({what}), found {Describe(node)}");
                return null;
            }
            var keys = allowed.Select(KeyOf).ToList();
            var m = new Map { Node = map, Path = path };
            foreach (var kv in map.Children)
            {
                if (!(kv.Key is YamlScalarNode k) || k.Value == null || KindOf(k) == Kind.Null)
                {
                    Error(kv.Key, path, $"keys must be text, found {Describe(kv.Key)}");
                    continue;
                }
                string sub = m.Sub(k.Value);
                var hit = keys.FirstOrDefault(x => x.Name == k.Value);
                if (hit.Name != null)
                {
                    if (hit.Since > _minor)
                    {
                        Error(k, sub, $"'{k.Value}' needs compose file version 3.{hit.Since} or later; this file declares {Version}", $"Set version: \"3.{Math.Max(hit.Since, 13)}\" (or remove the key).");
                        continue;
                    }
                    if (m.Entries.ContainsKey(k.Value)) { Error(k, sub, $"'{k.Value}' is defined twice"); continue; }
                    m.Entries[k.Value] = (k, kv.Value);
                    continue;
                }
                if (k.Value.StartsWith("x-", StringComparison.Ordinal) && extensionsSince >= 0)
                {
                    if (extensionsSince > _minor)
                        Error(k, sub, $"extension fields (x-...) here need compose file version 3.{extensionsSince} or later; this file declares {Version}");
                    continue;
                }
                string suggestion = Suggest(k.Value, keys.Where(x => x.Since <= _minor).Select(x => x.Name));
                string hint = suggestion == null ? string.Empty : $" Did you mean '{suggestion}'?";
                if (open)
                {
                    Warn(k, sub, $"{IgnoredPrefix}unknown key '{k.Value}' in {what}.{hint}");
                    continue;
                }
                Error(k, sub, $"unknown key '{k.Value}' in {what}.{hint} Allowed keys: {string.Join(", ", keys.Where(x => x.Since <= _minor && !ForbiddenProperties.ContainsKey(x.Name)).Select(x => x.Name))}.",
                    suggestion == null ? null : $"Rename '{k.Value}' to '{suggestion}'.");
            }
            return m;
        }

        /// <summary>A top-level section of named objects (services, networks...): mapping, name pattern, per-entry reader.</summary>
        private void ReadNamed(Map top, string section, Func<YamlNode, bool> nullAllowed, Action<string, YamlNode, string> read)
        {
            if (!top.Entries.TryGetValue(section, out var entry)) return;
            if (IsNull(entry.Value)) return;
            if (!(entry.Value is YamlMappingNode map))
            {
                if (section != "services") Error(entry.Value, section, $"must be a mapping, found {Describe(entry.Value)}");
                return;
            }
            foreach (var kv in map.Children)
            {
                string key = (kv.Key as YamlScalarNode)?.Value;
                if (key == null) { Error(kv.Key, section, $"keys must be text, found {Describe(kv.Key)}"); continue; }
                string path = section + "." + key;
                if (section == "networks" || section == "volumes" || section == "services" || section == "secrets" || section == "configs")
                {
                    if (!ObjectName.IsMatch(key)) { Error(kv.Key, path, $"'{key}' is not a valid name: use letters, digits, '.', '_' and '-'"); continue; }
                }
                _currentKey = kv.Key;
                read(key, kv.Value, path);
            }
        }

        private YamlScalarNode Scalar(YamlNode v, string path, string expected)
        {
            if (v is YamlScalarNode s) return s;
            Error(v, path, $"must be {expected}, found {Describe(v)}");
            return null;
        }

        /// <summary>A schema "string": YAML numbers and booleans are rejected unless <paramref name="numbersOk"/>.</summary>
        private string Str(Map m, string key, bool numbersOk = false)
        {
            YamlNode v = m.Get(key);
            if (v == null) return null;
            return StrValue(v, m.Sub(key), numbersOk);
        }

        private string StrValue(YamlNode v, string path, bool numbersOk = false)
        {
            var s = Scalar(v, path, "a string");
            if (s == null) return null;
            var kind = KindOf(s);
            if (kind == Kind.String || kind == Kind.Null) return s.Value;
            if (numbersOk && (kind == Kind.Int || kind == Kind.Float)) return GoText(s);
            Error(s, path, $"must be a string, found {Describe(s)}", $"Quote the value: \"{s.Value}\".");
            return null;
        }

        /// <summary>A schema "integer". Quoted numbers are strings for the CLI (an error), except values that came from
        /// interpolation at a path the CLI casts (replicas, ports, ...).</summary>
        private long? Int(Map m, string key, long min = long.MinValue, long max = long.MaxValue) => m.Get(key) == null ? null : IntValue(m.Get(key), m.Sub(key), min, max);

        private long? IntValue(YamlNode v, string path, long min = long.MinValue, long max = long.MaxValue, bool numberOk = false)
        {
            var s = Scalar(v, path, "an integer");
            if (s == null) return null;
            long n;
            var kind = KindOf(s);
            if (kind == Kind.Int) ComposeUnits.TryParseYamlInt(s.Value, out n);
            else if (numberOk && kind == Kind.Float && double.TryParse(s.Value.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d == Math.Floor(d) && Math.Abs(d) < 9e18) n = (long)d;
            else if (kind == Kind.String && _interpolated.Contains(s) && ComposeUnits.TryParseGoAtoi(s.Value.Trim(), out n, out _)) { }
            else
            {
                string hint = kind == Kind.String && ComposeUnits.TryParseYamlInt(s.Value, out _) ? $"Remove the quotes: {s.Value}." : null;
                Error(s, path, $"must be an integer, found {Describe(s)}", hint);
                return null;
            }
            if (n < min || n > max)
            {
                Error(s, path, min == 0 && max == long.MaxValue ? $"must be 0 or more, found {n}" : $"{n} is out of range ({min} to {max})");
                return null;
            }
            return n;
        }

        private ulong? UInt(Map m, string key) { long? v = Int(m, key, 0); return v == null ? (ulong?)null : (ulong)v.Value; }

        private double? Number(Map m, string key)
        {
            YamlNode v = m.Get(key);
            if (v == null) return null;
            var s = Scalar(v, m.Sub(key), "a number");
            if (s == null) return null;
            var kind = KindOf(s);
            if (kind == Kind.Int) { ComposeUnits.TryParseYamlInt(s.Value, out long l); return l; }
            if ((kind == Kind.Float || (kind == Kind.String && _interpolated.Contains(s))) && ComposeUnits.TryParseGoFloat(s.Value.Replace("_", ""), out double d, out _)) return d;
            Error(s, m.Sub(key), $"must be a number, found {Describe(s)}");
            return null;
        }

        private bool? Bool(Map m, string key)
        {
            YamlNode v = m.Get(key);
            if (v == null) return null;
            var s = Scalar(v, m.Sub(key), "true or false");
            if (s == null) return null;
            var kind = KindOf(s);
            if (kind == Kind.Bool) return s.Value.Equals("true", StringComparison.OrdinalIgnoreCase);
            if (kind == Kind.String && _interpolated.Contains(s) && ComposeUnits.TryParseComposeBool(s.Value, out bool b)) return b;
            bool would = false;
            string hint = kind == Kind.String && ComposeUnits.TryParseComposeBool(s.Value, out would)
                ? $" ('{s.Value}' is text in YAML 1.2, which docker stack deploy uses; write {(would ? "true" : "false")})" : string.Empty;
            Error(s, m.Sub(key), $"must be true or false, found {Describe(s)}{hint}", hint.Length > 0 ? $"Write {(would ? "true" : "false")}." : null);
            return null;
        }

        private ComposeDuration Duration(Map m, string key)
        {
            YamlNode v = m.Get(key);
            if (v == null) return null;
            var s = Scalar(v, m.Sub(key), "a duration such as 10s or 1m30s");
            if (s == null) return null;
            if (KindOf(s) != Kind.String)
            {
                Error(s, m.Sub(key), $"must be a duration string such as 10s or 1m30s, found {Describe(s)}", KindOf(s) == Kind.Int ? $"Write \"{s.Value}s\" (a unit is required)." : null);
                return null;
            }
            try { return new ComposeDuration(s.Value, ComposeUnits.ParseDurationNanoseconds(s.Value)); }
            catch (FormatException ex)
            {
                Error(s, m.Sub(key), $"'{s.Value}' is not a duration ({ex.Message}); use a number with a unit: ns, us, ms, s, m, h (e.g. 30s, 1m30s)");
                return null;
            }
        }

        private ComposeByteSize Bytes(Map m, string key)
        {
            YamlNode v = m.Get(key);
            if (v == null) return null;
            var s = Scalar(v, m.Sub(key), "a size such as 512M");
            if (s == null) return null;
            var kind = KindOf(s);
            if (kind == Kind.Int || kind == Kind.Float)
                Warn(s, m.Sub(key), $"docker stack deploy rejects a number here (the 3.x schema wants a string); accepted as {GoText(s)} bytes. Quote it, e.g. \"{s.Value}\" or \"512M\".");
            else if (kind != Kind.String) { Error(s, m.Sub(key), $"must be a size such as 512M, found {Describe(s)}"); return null; }
            string text = kind == Kind.String ? s.Value : GoText(s);
            try { return new ComposeByteSize(text, ComposeUnits.ParseByteSize(text)); }
            catch (FormatException ex) { Error(s, m.Sub(key), $"'{text}' is not a size ({ex.Message}); use e.g. 512M, 1.5G, 1024k"); return null; }
        }

        private ComposeCpus Cpus(Map m, string key)
        {
            YamlNode v = m.Get(key);
            if (v == null) return null;
            var s = Scalar(v, m.Sub(key), "a CPU count such as \"0.5\"");
            if (s == null) return null;
            var kind = KindOf(s);
            if (kind == Kind.Int || kind == Kind.Float)
                Warn(s, m.Sub(key), $"docker stack deploy rejects a number here (\"cpus must be a string\"); accepted. Quote it: \"{s.Value}\".");
            else if (kind != Kind.String) { Error(s, m.Sub(key), $"must be a CPU count such as \"0.5\", found {Describe(s)}"); return null; }
            string text = s.Value;
            try { return new ComposeCpus(text, ComposeUnits.ParseNanoCpus(text)); }
            catch (FormatException ex) { Error(s, m.Sub(key), $"'{text}' is not a CPU count ({ex.Message})"); return null; }
        }

        /// <summary>A list of strings (schema list_of_strings: unique items).</summary>
        private List<string> StrList(Map m, string key, bool unique = true, bool stringOrList = false, bool numbersOk = false)
        {
            YamlNode v = m.Get(key);
            var list = new List<string>();
            if (v == null) return list;
            string path = m.Sub(key);
            if (v is YamlScalarNode one && stringOrList) { string s = StrValue(one, path); if (s != null) list.Add(s); return list; }
            if (!(v is YamlSequenceNode seq))
            {
                Error(v, path, $"must be a list{(stringOrList ? " or a string" : string.Empty)}, found {Describe(v)}");
                return list;
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < seq.Children.Count; i++)
            {
                string s = StrValue(seq.Children[i], $"{path}[{i}]", numbersOk);
                if (s == null) continue;
                if (unique && !seen.Add(s)) { Error(seq.Children[i], $"{path}[{i}]", $"'{s}' is listed twice (items must be unique)"); continue; }
                list.Add(s);
            }
            return list;
        }

        /// <summary>Schema list_or_dict: a mapping (values string, number or null) or a list of "key=value" strings.
        /// Returns key → value (null = no value: a null map value or, with <paramref name="allowNil"/>, a list item without '=').</summary>
        private List<(string Key, string Value, YamlNode At)> ListOrDict(Map m, string key, bool allowNil, string sep = "=")
        {
            YamlNode v = m.Get(key);
            var result = new List<(string, string, YamlNode)>();
            if (v == null) return result;
            string path = m.Sub(key);
            if (v is YamlMappingNode map)
            {
                foreach (var kv in map.Children)
                {
                    string k = (kv.Key as YamlScalarNode)?.Value;
                    if (k == null || k.Length == 0) { Error(kv.Key, path, $"keys must be text, found {Describe(kv.Key)}"); continue; }
                    var kind = KindOf(kv.Value);
                    string sub = path + "." + k;
                    if (kind == Kind.Null) { result.Add((k, allowNil ? null : string.Empty, kv.Key)); continue; }
                    if (kind == Kind.String || kind == Kind.Int || kind == Kind.Float) { result.Add((k, GoText((YamlScalarNode)kv.Value), kv.Key)); continue; }
                    string hint = kind == Kind.Bool ? $" (quote it: \"{((YamlScalarNode)kv.Value).Value}\")" : string.Empty;
                    Error(kv.Value, sub, $"must be a string, number or null, found {Describe(kv.Value)}{hint}", kind == Kind.Bool ? $"Quote the value: \"{((YamlScalarNode)kv.Value).Value}\"." : null);
                }
                return result;
            }
            if (v is YamlSequenceNode seq)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < seq.Children.Count; i++)
                {
                    string item = StrValue(seq.Children[i], $"{path}[{i}]");
                    if (item == null) continue;
                    if (!seen.Add(item)) { Error(seq.Children[i], $"{path}[{i}]", $"'{item}' is listed twice (items must be unique)"); continue; }
                    int at = item.IndexOf(sep, StringComparison.Ordinal);
                    if (at < 0) result.Add((item, allowNil ? null : string.Empty, seq.Children[i]));
                    else result.Add((item.Substring(0, at), item.Substring(at + sep.Length), seq.Children[i]));
                }
                return result;
            }
            Error(v, path, $"must be a mapping or a list of \"key{sep}value\" strings, found {Describe(v)}");
            return result;
        }

        private void FillMap(SortedDictionary<string, string> target, Map m, string key)
        {
            foreach (var (k, val, _) in ListOrDict(m, key, allowNil: false)) target[k] = val;
        }

        /// <summary>driver_opts / logging options: mapping of string or number (null allowed where <paramref name="nullOk"/>).</summary>
        private void FillOptions(SortedDictionary<string, string> target, Map m, string key, bool nullOk = false)
        {
            YamlNode v = m.Get(key);
            if (v == null) return;
            string path = m.Sub(key);
            if (!(v is YamlMappingNode map)) { Error(v, path, $"must be a mapping, found {Describe(v)}"); return; }
            foreach (var kv in map.Children)
            {
                string k = (kv.Key as YamlScalarNode)?.Value;
                if (k == null) { Error(kv.Key, path, "keys must be text"); continue; }
                var kind = KindOf(kv.Value);
                if (kind == Kind.String || kind == Kind.Int || kind == Kind.Float) target[k] = GoText((YamlScalarNode)kv.Value);
                else if (kind == Kind.Null && nullOk) target[k] = string.Empty;
                else Error(kv.Value, path + "." + k, $"must be a string or a number, found {Describe(kv.Value)}");
            }
        }

        private void Record(ComposeService svc, Map m, string key, string relative)
        {
            if (m.Entries.TryGetValue(key, out var kv)) svc.Positions[relative] = Pos(kv.Value);
        }

        private string ResolvePath(string path)
        {
            if (string.IsNullOrEmpty(path)) return path;
            if (Path.IsPathRooted(path) || path.StartsWith("/", StringComparison.Ordinal)) return path;
            return Path.GetFullPath(Path.Combine(_workingDir, path));
        }

        private bool IsAbsoluteAnyOs(string p) => p.StartsWith("/", StringComparison.Ordinal) || p.StartsWith(@"\\", StringComparison.Ordinal) || Regex.IsMatch(p, @"^[A-Za-z]:[\\/]") || Path.IsPathRooted(p);

        // ------------------------------------------------------------------ services

        private ComposeService ReadService(string name, YamlNode node, string path)
        {
            Map m = Open(node, path, $"service {name}", ServiceKeys, extensionsSince: 7);
            if (m == null) return null;
            var svc = new ComposeService { Name = name, Source = Pos(_currentKey ?? node) };
            foreach (var kv in m.Entries) svc.Positions[kv.Key] = Pos(kv.Value.Value);
            if (m.Get("deploy") is YamlMappingNode deployMap)
                foreach (var kv in deployMap.Children)
                    if (kv.Key is YamlScalarNode dk) svc.Positions["deploy." + dk.Value] = Pos(kv.Value);

            // keys the CLI ignores for swarm
            foreach (string key in UnsupportedProperties)
            {
                if (!m.Entries.TryGetValue(key, out var e)) continue;
                svc.IgnoredKeys.Add(key);
                string extra = key == "restart" ? " (it is used as the restart policy only when deploy.restart_policy is absent)" : string.Empty;
                Warn(e.Key, m.Sub(key), $"{IgnoredPrefix}{key} is not supported in swarm mode{extra}");
            }
            foreach (var kv in DeprecatedProperties)
            {
                if (!m.Entries.TryGetValue(kv.Key, out var e)) continue;
                svc.IgnoredKeys.Add(kv.Key);
                Warn(e.Key, m.Sub(kv.Key), $"{IgnoredPrefix}{kv.Key} is deprecated: {kv.Value}");
            }

            svc.Image = Str(m, "image");
            svc.Command = Command(m, "command");
            svc.Entrypoint = Command(m, "entrypoint");
            ReadEnvironment(svc, m);
            FillMap(svc.Labels, m, "labels");
            if (m.Has("deploy") && m.Get("deploy") != null) ReadDeploy(svc.Deploy, m.Get("deploy"), m.Sub("deploy"));
            if (m.Get("healthcheck") != null) svc.HealthCheck = ReadHealthCheck(m.Get("healthcheck"), m.Sub("healthcheck"));
            svc.Networks = ReadServiceNetworks(m);
            svc.Ports = ReadPorts(m);
            svc.Volumes = ReadMounts(m);
            svc.Secrets = ReadFileRefs(m, "secrets");
            svc.Configs = ReadFileRefs(m, "configs");
            svc.Hostname = Str(m, "hostname");
            svc.User = Str(m, "user");
            svc.WorkingDir = Str(m, "working_dir");
            svc.StopGracePeriod = Duration(m, "stop_grace_period");
            svc.StopSignal = Str(m, "stop_signal");
            svc.Tty = Bool(m, "tty") ?? false;
            svc.StdinOpen = Bool(m, "stdin_open") ?? false;
            svc.ReadOnly = Bool(m, "read_only") ?? false;
            svc.Init = Bool(m, "init");
            svc.Dns = StrList(m, "dns", stringOrList: true);
            svc.DnsSearch = StrList(m, "dns_search", stringOrList: true);
            svc.ExtraHosts = ExtraHosts(m);
            svc.CapAdd = StrList(m, "cap_add");
            svc.CapDrop = StrList(m, "cap_drop");
            FillMap(svc.Sysctls, m, "sysctls");
            ReadUlimits(svc, m);
            if (m.Get("logging") != null) svc.Logging = ReadLogging(m.Get("logging"), m.Sub("logging"));
            svc.Isolation = Str(m, "isolation");
            if (m.Get("credential_spec") != null)
            {
                Map c = Open(m.Get("credential_spec"), m.Sub("credential_spec"), "credential_spec", CredentialSpecKeys);
                if (c != null)
                {
                    svc.CredentialSpec = new ComposeCredentialSpec { Config = Str(c, "config"), File = Str(c, "file"), Registry = Str(c, "registry") };
                    var set = new[] { ("config", svc.CredentialSpec.Config), ("file", svc.CredentialSpec.File), ("registry", svc.CredentialSpec.Registry) }.Where(x => !string.IsNullOrEmpty(x.Item2)).Select(x => x.Item1).ToList();
                    if (set.Count > 1) Error(c.Node, c.Path, $"invalid credential spec: cannot specify both {string.Join(", ", set.Take(set.Count - 1))} and {set.Last()}");
                }
            }
            svc.OomScoreAdj = Int(m, "oom_score_adj", -1000, 1000);
            svc.Restart = Str(m, "restart");
            if (svc.Restart != null && !Regex.IsMatch(svc.Restart, @"^(no|always|unless-stopped|on-failure(:\d+)?)$"))
                Error(m.Get("restart"), m.Sub("restart"), $"invalid restart policy: unknown policy '{svc.Restart}' (must be one of 'no', 'always', 'on-failure', or 'unless-stopped')");
            svc.Tmpfs = StrList(m, "tmpfs", stringOrList: true);
            if (m.Entries.TryGetValue("tmpfs", out var tmpfsKey))
                Warn(tmpfsKey.Key, m.Sub("tmpfs"), $"{IgnoredPrefix}service-level tmpfs is parsed but never applied; use a long-syntax volume with type: tmpfs");
            svc.DependsOn = StrList(m, "depends_on");
            if (m.Entries.TryGetValue("depends_on", out var depKey))
                Warn(depKey.Key, m.Sub("depends_on"), $"{IgnoredPrefix}depends_on (swarm starts services in no particular order and does not wait for dependencies)");
            return svc;
        }

        private List<string> Command(Map m, string key)
        {
            YamlNode v = m.Get(key);
            if (v == null) return m.Has(key) ? null : null;
            string path = m.Sub(key);
            if (v is YamlScalarNode s)
            {
                string text = StrValue(s, path);
                if (text == null) return null;
                var words = ShellSplit(text, out string error);
                if (words == null) { Error(s, path, $"cannot split '{text}' into words: {error}"); return null; }
                return words;
            }
            if (v is YamlSequenceNode seq)
            {
                var list = new List<string>();
                for (int i = 0; i < seq.Children.Count; i++) { string w = StrValue(seq.Children[i], $"{path}[{i}]"); if (w != null) list.Add(w); }
                return list;
            }
            Error(v, path, $"must be a string or a list of strings, found {Describe(v)}");
            return null;
        }

        private void ReadEnvironment(ComposeService svc, Map m)
        {
            // loader.resolveEnvironment: env_file entries, then environment:, each "nil or empty" value filled from the lookup
            svc.EnvFiles.AddRange(StrList(m, "env_file", unique: true, stringOrList: true).Select(ResolvePath));
            if (m.Get("env_file") is YamlSequenceNode efSeq && efSeq.Children.OfType<YamlMappingNode>().Any())
                Error(efSeq, m.Sub("env_file"), "the long env_file syntax ({path, required}) is Compose Specification only; docker stack deploy wants a list of paths");
            var env = svc.Environment;
            YamlNode envFileNode = m.Get("env_file");
            for (int i = 0; i < svc.EnvFiles.Count; i++)
            {
                string file = svc.EnvFiles[i];
                IList<KeyValuePair<string, string>> vars;
                try { vars = ComposeEnvFile.ReadKeyValueFile(file, _lookup); }
                catch (ComposeEnvFileException ex)
                {
                    YamlNode at = envFileNode is YamlSequenceNode sq && i < sq.Children.Count ? sq.Children[i] : envFileNode;
                    Error(at, m.Sub("env_file"), ex.Message);
                    continue;
                }
                foreach (var kv in vars) Update(env, kv.Key, kv.Value);
            }
            foreach (var (k, v, _) in ListOrDict(m, "environment", allowNil: true)) Update(env, k, v);
        }

        private void Update(SortedDictionary<string, string> env, string key, string value)
        {
            if (string.IsNullOrEmpty(value))
            {
                var (found, fromLookup) = _lookup(key);
                if (found) { env[key] = fromLookup ?? string.Empty; return; }
            }
            env[key] = value;
        }

        private List<string> ExtraHosts(Map m)
        {
            // transformHostsList: list of host:ip / host=ip, or a mapping; "[::1]" brackets removed; "host ip" kept as host:ip
            var result = new List<string>();
            YamlNode v = m.Get("extra_hosts");
            if (v == null) return result;
            if (v is YamlMappingNode)
            {
                var pairs = ListOrDict(m, "extra_hosts", allowNil: true).Where(p => p.Value != null).Select(p => p.Key + ":" + p.Value).ToList();
                pairs.Sort(StringComparer.Ordinal);
                foreach (string p in pairs) result.Add(Unbracket(p));
                return result;
            }
            foreach (string item in StrList(m, "extra_hosts"))
            {
                int eq = item.IndexOf('='), colon = item.IndexOf(':');
                if (eq >= 0) result.Add(Unbracket(item.Substring(0, eq) + ":" + item.Substring(eq + 1)));
                else if (colon >= 0) result.Add(Unbracket(item));
                else Warn(v, m.Sub("extra_hosts"), $"{IgnoredPrefix}extra_hosts entry '{item}' has no ':' or '=' and is dropped");
            }
            return result;
        }

        private static string Unbracket(string hostIp)
        {
            int c = hostIp.IndexOf(':');
            string host = hostIp.Substring(0, c), ip = hostIp.Substring(c + 1);
            if (ip.Length > 2 && ip[0] == '[' && ip[ip.Length - 1] == ']') ip = ip.Substring(1, ip.Length - 2);
            return host + ":" + ip;
        }

        private void ReadUlimits(ComposeService svc, Map m)
        {
            YamlNode v = m.Get("ulimits");
            if (v == null) return;
            string path = m.Sub("ulimits");
            if (!(v is YamlMappingNode map)) { Error(v, path, $"must be a mapping of name: limit, found {Describe(v)}"); return; }
            foreach (var kv in map.Children)
            {
                string name = (kv.Key as YamlScalarNode)?.Value;
                if (name == null || !UlimitName.IsMatch(name)) { Error(kv.Key, path, $"'{name}' is not a ulimit name (lower-case letters, e.g. nofile, nproc)"); continue; }
                string sub = path + "." + name;
                if (kv.Value is YamlMappingNode)
                {
                    Map u = Open(kv.Value, sub, $"ulimit {name}", UlimitKeys);
                    if (u == null) continue;
                    long? soft = Int(u, "soft"), hard = Int(u, "hard");
                    if (!u.Has("soft") || !u.Has("hard")) { Error(kv.Value, sub, "needs both soft and hard"); continue; }
                    if (soft != null && hard != null)
                    {
                        if (soft > hard) Error(kv.Value, sub, $"soft limit {soft} is greater than the hard limit {hard}");
                        svc.Ulimits[name] = new ComposeUlimit { Soft = soft.Value, Hard = hard.Value };
                    }
                }
                else
                {
                    long? n = IntValue(kv.Value, sub);
                    if (n != null) svc.Ulimits[name] = new ComposeUlimit { Single = n.Value };
                }
            }
        }

        private ComposeLogging ReadLogging(YamlNode node, string path)
        {
            Map m = Open(node, path, "logging", LoggingKeys);
            if (m == null) return null;
            var l = new ComposeLogging { Driver = Str(m, "driver") };
            FillOptions(l.Options, m, "options", nullOk: true);
            return l;
        }

        // ------------------------------------------------------------------ deploy

        private void ReadDeploy(ComposeDeploy d, YamlNode node, string path)
        {
            Map m = Open(node, path, "deploy", DeployKeys);
            if (m == null) return;
            d.Mode = Str(m, "mode");
            if (d.Mode != null && d.Mode != "replicated" && d.Mode != "global" && d.Mode != "replicated-job" && d.Mode != "global-job")
            {
                string s = Suggest(d.Mode, new[] { "replicated", "global", "replicated-job", "global-job" });
                Error(m.Get("mode"), m.Sub("mode"), $"unknown mode: {d.Mode} (allowed: replicated, global, replicated-job, global-job)", s == null ? null : $"Use '{s}'.");
            }
            d.Replicas = UInt(m, "replicas");
            FillMap(d.Labels, m, "labels");
            if (m.Get("update_config") != null) d.UpdateConfig = ReadUpdate(m.Get("update_config"), m.Sub("update_config"), true);
            if (m.Get("rollback_config") != null) d.RollbackConfig = ReadUpdate(m.Get("rollback_config"), m.Sub("rollback_config"), false);
            if (m.Get("resources") != null)
            {
                Map r = Open(m.Get("resources"), m.Sub("resources"), "deploy.resources", ResourcesKeys);
                if (r != null)
                {
                    if (r.Get("limits") != null)
                    {
                        Map l = Open(r.Get("limits"), r.Sub("limits"), "resources.limits", LimitsKeys);
                        if (l != null) d.Resources.Limits = new ComposeResourceLimits { Cpus = Cpus(l, "cpus"), Memory = Bytes(l, "memory"), Pids = Int(l, "pids") };
                    }
                    if (r.Get("reservations") != null)
                    {
                        Map l = Open(r.Get("reservations"), r.Sub("reservations"), "resources.reservations", ReservationsKeys);
                        if (l != null)
                        {
                            d.Resources.Reservations = new ComposeResourceReservations { Cpus = Cpus(l, "cpus"), Memory = Bytes(l, "memory") };
                            YamlNode g = l.Get("generic_resources");
                            if (g != null && !(g is YamlSequenceNode)) Error(g, l.Sub("generic_resources"), $"must be a list, found {Describe(g)}");
                            if (g is YamlSequenceNode gs)
                            {
                                for (int i = 0; i < gs.Children.Count; i++)
                                {
                                    string gp = $"{l.Sub("generic_resources")}[{i}]";
                                    Map gm = Open(gs.Children[i], gp, "a generic resource", GenericResourceKeys);
                                    if (gm == null || gm.Get("discrete_resource_spec") == null) { if (gm != null) Error(gs.Children[i], gp, "needs discrete_resource_spec: {kind, value}"); continue; }
                                    Map dm = Open(gm.Get("discrete_resource_spec"), gm.Sub("discrete_resource_spec"), "discrete_resource_spec", DiscreteKeys);
                                    if (dm == null) continue;
                                    string kind = Str(dm, "kind");
                                    long? value = dm.Get("value") == null ? null : IntValue(dm.Get("value"), dm.Sub("value"), 0, long.MaxValue, numberOk: true);
                                    if (kind == null) { Error(dm.Node, dm.Path, "needs kind (e.g. GPU)"); continue; }
                                    d.Resources.Reservations.GenericResources.Add(new ComposeGenericResource { Kind = kind, Value = value ?? 0 });
                                }
                            }
                        }
                    }
                }
            }
            if (m.Get("restart_policy") != null)
            {
                Map r = Open(m.Get("restart_policy"), m.Sub("restart_policy"), "restart_policy", RestartKeys);
                if (r != null)
                {
                    d.RestartPolicy = new ComposeRestartPolicy { Condition = Str(r, "condition"), Delay = Duration(r, "delay"), MaxAttempts = UInt(r, "max_attempts"), Window = Duration(r, "window") };
                    if (d.RestartPolicy.Condition != null && !new[] { "none", "on-failure", "any" }.Contains(d.RestartPolicy.Condition))
                    {
                        string s = Suggest(d.RestartPolicy.Condition, new[] { "none", "on-failure", "any" });
                        Error(r.Get("condition"), r.Sub("condition"), $"'{d.RestartPolicy.Condition}' is not a restart condition (allowed: none, on-failure, any)", s == null ? null : $"Use '{s}'.");
                    }
                }
            }
            if (m.Get("placement") != null)
            {
                Map p = Open(m.Get("placement"), m.Sub("placement"), "placement", PlacementKeys);
                if (p != null)
                {
                    d.Placement.Constraints = StrList(p, "constraints", unique: false);
                    d.Placement.MaxReplicasPerNode = UInt(p, "max_replicas_per_node");
                    YamlNode prefs = p.Get("preferences");
                    if (prefs != null && !(prefs is YamlSequenceNode)) Error(prefs, p.Sub("preferences"), $"must be a list of {{spread: ...}}, found {Describe(prefs)}");
                    if (prefs is YamlSequenceNode ps)
                        for (int i = 0; i < ps.Children.Count; i++)
                        {
                            Map pm = Open(ps.Children[i], $"{p.Sub("preferences")}[{i}]", "a placement preference", PreferenceKeys);
                            if (pm == null) continue;
                            string spread = Str(pm, "spread");
                            if (spread == null) Error(ps.Children[i], pm.Path, "needs spread: <descriptor> (e.g. node.labels.zone)");
                            else d.Placement.Preferences.Add(spread);
                        }
                }
            }
            string endpoint = Str(m, "endpoint_mode");
            if (endpoint != null)
            {
                d.EndpointMode = endpoint.ToLowerInvariant();
                if (d.EndpointMode != "vip" && d.EndpointMode != "dnsrr") Error(m.Get("endpoint_mode"), m.Sub("endpoint_mode"), $"'{endpoint}' is not an endpoint mode (allowed: vip, dnsrr)");
            }
        }

        private ComposeUpdateConfig ReadUpdate(YamlNode node, string path, bool update)
        {
            Map m = Open(node, path, update ? "update_config" : "rollback_config", UpdateKeys);
            if (m == null) return null;
            var u = new ComposeUpdateConfig
            {
                Parallelism = UInt(m, "parallelism"),
                Delay = Duration(m, "delay"),
                FailureAction = Str(m, "failure_action"),
                Monitor = Duration(m, "monitor"),
                MaxFailureRatio = Number(m, "max_failure_ratio"),
                Order = Str(m, "order"),
            };
            string[] actions = update ? new[] { "pause", "continue", "rollback" } : new[] { "pause", "continue" };
            if (u.FailureAction != null && !actions.Contains(u.FailureAction))
                Error(m.Get("failure_action"), m.Sub("failure_action"), $"'{u.FailureAction}' is not a failure action (allowed: {string.Join(", ", actions)})");
            if (u.Order != null && u.Order != "start-first" && u.Order != "stop-first")
                Error(m.Get("order"), m.Sub("order"), $"must be one of start-first, stop-first; found '{u.Order}'");
            return u;
        }

        private ComposeHealthCheck ReadHealthCheck(YamlNode node, string path)
        {
            Map m = Open(node, path, "healthcheck", HealthKeys);
            if (m == null) return null;
            var h = new ComposeHealthCheck
            {
                Interval = Duration(m, "interval"),
                Timeout = Duration(m, "timeout"),
                StartPeriod = Duration(m, "start_period"),
                StartInterval = Duration(m, "start_interval"),
                Disable = Bool(m, "disable") ?? false,
            };
            if (m.Get("retries") != null) { long? r = IntValue(m.Get("retries"), m.Sub("retries"), 0, long.MaxValue, numberOk: true); if (r != null) h.Retries = (ulong)r.Value; }
            YamlNode t = m.Get("test");
            if (t is YamlScalarNode ts) { string s = StrValue(ts, m.Sub("test")); if (s != null) h.Test = new List<string> { "CMD-SHELL", s }; }
            else if (t is YamlSequenceNode tl)
            {
                h.Test = new List<string>();
                for (int i = 0; i < tl.Children.Count; i++) { string s = StrValue(tl.Children[i], $"{m.Sub("test")}[{i}]"); if (s != null) h.Test.Add(s); }
            }
            else if (t != null) Error(t, m.Sub("test"), $"must be a string or a list, found {Describe(t)}");
            return h;
        }

        // ------------------------------------------------------------------ networks, ports, volumes, secrets of a service

        private SortedDictionary<string, ComposeServiceNetwork> ReadServiceNetworks(Map m)
        {
            YamlNode v = m.Get("networks");
            if (v == null) return null;
            string path = m.Sub("networks");
            var result = new SortedDictionary<string, ComposeServiceNetwork>(StringComparer.Ordinal);
            if (v is YamlSequenceNode)
            {
                foreach (string n in StrList(m, "networks")) result[n] = null;
                return result;
            }
            if (!(v is YamlMappingNode map)) { Error(v, path, $"must be a list of network names or a mapping, found {Describe(v)}"); return null; }
            foreach (var kv in map.Children)
            {
                string name = (kv.Key as YamlScalarNode)?.Value;
                if (name == null || !ObjectName.IsMatch(name)) { Error(kv.Key, path, $"'{name}' is not a valid network name"); continue; }
                string sub = path + "." + name;
                if (IsNull(kv.Value)) { result[name] = null; continue; }
                Map n = Open(kv.Value, sub, $"network {name} of the service", ServiceNetworkKeys);
                if (n == null) continue;
                var cfg = new ComposeServiceNetwork { Aliases = StrList(n, "aliases"), Ipv4Address = Str(n, "ipv4_address"), Ipv6Address = Str(n, "ipv6_address") };
                FillOptions(cfg.DriverOpts, n, "driver_opts");
                foreach (string ip in new[] { "ipv4_address", "ipv6_address" })
                    if (n.Entries.TryGetValue(ip, out var e)) Warn(e.Key, n.Sub(ip), $"{IgnoredPrefix}{ip} is parsed but never sent to the engine (swarm assigns addresses)");
                result[name] = cfg;
            }
            return result;
        }

        private List<ComposePort> ReadPorts(Map m)
        {
            var ports = new List<ComposePort>();
            YamlNode v = m.Get("ports");
            if (v == null) return ports;
            string path = m.Sub("ports");
            if (!(v is YamlSequenceNode seq)) { Error(v, path, $"must be a list, found {Describe(v)}"); return ports; }
            for (int i = 0; i < seq.Children.Count; i++)
            {
                YamlNode item = seq.Children[i];
                string ip = $"{path}[{i}]";
                if (item is YamlMappingNode)
                {
                    Map p = Open(item, ip, "a port (long syntax)", PortKeys);
                    if (p == null) continue;
                    long? target = Int(p, "target", 0, 65535);
                    long? published = null;
                    if (p.Get("published") is YamlScalarNode ps && KindOf(ps) == Kind.String && Regex.IsMatch(ps.Value, @"^\d+-\d+$"))
                        Error(ps, p.Sub("published"), $"must be an integer, found '{ps.Value}' (port ranges are only allowed in the short syntax, e.g. \"{ps.Value}:80\")");
                    else published = Int(p, "published", 0, 65535);
                    var port = new ComposePort { Target = (uint)(target ?? 0), Published = (uint)(published ?? 0), Protocol = Str(p, "protocol"), Mode = Str(p, "mode"), Source = Pos(item) };
                    if (target == null && !p.Has("target")) Error(item, ip, "needs target (the container port)");
                    if (port.Protocol != null && port.Protocol != "tcp" && port.Protocol != "udp" && port.Protocol != "sctp")
                        Error(p.Get("protocol"), p.Sub("protocol"), $"'{port.Protocol}' is not a protocol (allowed: tcp, udp, sctp)");
                    if (port.Mode != null && port.Mode != "ingress" && port.Mode != "host")
                        Error(p.Get("mode"), p.Sub("mode"), $"'{port.Mode}' is not a publish mode (allowed: ingress, host)");
                    ports.Add(port);
                    continue;
                }
                if (!(item is YamlScalarNode s) || (KindOf(s) != Kind.String && KindOf(s) != Kind.Int))
                {
                    Error(item, ip, $"must be a port string such as \"8080:80\" or a mapping, found {Describe(item)}");
                    continue;
                }
                string spec = KindOf(s) == Kind.Int ? GoText(s) : s.Value;
                var parsed = ParsePortSpec(spec, out string error, out string ignoredIp);
                if (parsed == null) { Error(s, ip, error); continue; }
                if (ignoredIp != null) Warn(s, ip, $"{IgnoredPrefix}the host IP in '{spec}' (service will listen on 0.0.0.0)");
                foreach (var p in parsed) { p.Source = Pos(s); ports.Add(p); }
            }
            return ports;
        }

        /// <summary>nat.ParsePortSpec + swarmopts.ConvertPortToPortConfig: [ip:][host[-range]:]container[-range][/proto].</summary>
        internal static List<ComposePort> ParsePortSpec(string raw, out string error, out string ignoredIp)
        {
            error = null; ignoredIp = null;
            string proto = "tcp", rest = raw;
            int slash = raw.LastIndexOf('/');
            if (slash >= 0) { proto = raw.Substring(slash + 1).ToLowerInvariant(); rest = raw.Substring(0, slash); if (proto.Length == 0) proto = "tcp"; }
            string[] parts = rest.Split(':');
            string ip = "", host = "", container;
            int n = parts.Length;
            container = parts[n - 1];
            if (n == 2) host = parts[0];
            else if (n == 3) { ip = parts[0]; host = parts[1]; }
            else if (n > 3) { ip = string.Join(":", parts.Take(n - 2)); host = parts[n - 2]; }
            if (ip.StartsWith("[", StringComparison.Ordinal) && ip.EndsWith("]", StringComparison.Ordinal)) ip = ip.Substring(1, ip.Length - 2);
            if (ip.Length > 0)
            {
                if (!System.Net.IPAddress.TryParse(ip, out var addr)) { error = $"invalid IP address: {ip}"; return null; }
                if (!addr.Equals(System.Net.IPAddress.Any) && !addr.Equals(System.Net.IPAddress.IPv6Any)) ignoredIp = ip;
            }
            if (container.Length == 0) { error = $"no port specified: {raw}<empty>"; return null; }
            if (!PortRange(container, out uint start, out uint end)) { error = $"invalid containerPort: {container}"; return null; }
            uint hStart = 0, hEnd = 0;
            if (host.Length > 0 && !PortRange(host, out hStart, out hEnd)) { error = $"invalid hostPort: {host}"; return null; }
            if (host.Length > 0 && end - start != hEnd - hStart && end != start) { error = $"invalid ranges specified for container and host Ports: {container} and {host}"; return null; }
            if (proto != "tcp" && proto != "udp" && proto != "sctp") { error = $"invalid proto: {proto}"; return null; }
            var result = new List<ComposePort>();
            for (uint i = 0; i <= end - start; i++)
            {
                uint target = start + i;
                if (host.Length == 0) { result.Add(new ComposePort { Target = target, Published = 0, Protocol = proto, Mode = "ingress" }); continue; }
                if (start == end && hStart != hEnd)
                {
                    for (uint h = hStart; h <= hEnd; h++) result.Add(new ComposePort { Target = target, Published = h, Protocol = proto, Mode = "ingress" });
                    continue;
                }
                result.Add(new ComposePort { Target = target, Published = hStart + i, Protocol = proto, Mode = "ingress" });
            }
            return result;
        }

        private static bool PortRange(string s, out uint start, out uint end)
        {
            start = end = 0;
            int dash = s.IndexOf('-');
            string a = dash < 0 ? s : s.Substring(0, dash), b = dash < 0 ? s : s.Substring(dash + 1);
            if (!ushort.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out ushort x) || !ushort.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out ushort y)) return false;
            if (y < x) return false;
            start = x; end = y;
            return true;
        }

        private List<ComposeServiceVolume> ReadMounts(Map m)
        {
            var mounts = new List<ComposeServiceVolume>();
            YamlNode v = m.Get("volumes");
            if (v == null) return mounts;
            string path = m.Sub("volumes");
            if (!(v is YamlSequenceNode seq)) { Error(v, path, $"must be a list, found {Describe(v)}"); return mounts; }
            for (int i = 0; i < seq.Children.Count; i++)
            {
                YamlNode item = seq.Children[i];
                string ip = $"{path}[{i}]";
                ComposeServiceVolume vol;
                bool hasBind = false, hasVolume = false, hasTmpfs = false;
                if (item is YamlMappingNode)
                {
                    Map p = Open(item, ip, "a volume (long syntax)", VolumeMountKeys);
                    if (p == null) continue;
                    vol = new ComposeServiceVolume { Type = Str(p, "type"), Source = Str(p, "source"), Target = Str(p, "target"), ReadOnly = Bool(p, "read_only") ?? false, Consistency = Str(p, "consistency"), Position = Pos(item) };
                    if (!p.Has("type")) { Error(item, ip, "needs type (volume, bind, tmpfs, npipe, cluster or image)"); continue; }
                    if (p.Get("bind") != null) { hasBind = true; Map b = Open(p.Get("bind"), p.Sub("bind"), "bind options", BindKeys, open: true); if (b != null) vol.BindPropagation = Str(b, "propagation"); }
                    if (p.Get("volume") != null)
                    {
                        hasVolume = true;
                        Map b = Open(p.Get("volume"), p.Sub("volume"), "volume options", VolumeOptKeys, open: true);
                        if (b != null) { vol.NoCopy = Bool(b, "nocopy") ?? false; vol.VolumeSubpath = Str(b, "subpath"); }
                    }
                    if (p.Get("tmpfs") != null)
                    {
                        hasTmpfs = true;
                        Map b = Open(p.Get("tmpfs"), p.Sub("tmpfs"), "tmpfs options", TmpfsKeys, open: true);
                        if (b != null) vol.TmpfsSize = Int(b, "size", 0);
                    }
                    if (vol.Type != null && !new[] { "volume", "bind", "tmpfs", "npipe", "cluster", "image" }.Contains(vol.Type))
                    { Error(p.Get("type"), p.Sub("type"), $"'{vol.Type}' is not a mount type (allowed: volume, bind, tmpfs, npipe, cluster, image)"); continue; }
                    if (vol.Type == "bind" && vol.BindPropagation != null && !Propagations.Contains(vol.BindPropagation))
                        Error(item, p.Sub("bind.propagation"), $"'{vol.BindPropagation}' is not a propagation mode (allowed: {string.Join(", ", Propagations)})");
                }
                else
                {
                    string spec = StrValue(item, ip);
                    if (spec == null) continue;
                    vol = ParseVolumeSpec(spec, out string error);
                    if (vol == null) { Error(item, ip, error); continue; }
                    vol.Position = Pos(item);
                    hasBind = vol.BindPropagation != null; hasVolume = vol.NoCopy;
                }
                // convert/volume.go checks, done here with a position
                string type = vol.Type;
                string problem = null;
                if (type == "volume") problem = hasBind ? "bind options are incompatible with type volume" : hasTmpfs ? "tmpfs options are incompatible with type volume" : null;
                else if (type == "bind") problem = string.IsNullOrEmpty(vol.Source) ? "invalid bind source, source cannot be empty" : hasVolume ? "volume options are incompatible with type bind" : hasTmpfs ? "tmpfs options are incompatible with type bind" : null;
                else if (type == "tmpfs") problem = !string.IsNullOrEmpty(vol.Source) ? "invalid tmpfs source, source must be empty" : hasBind ? "bind options are incompatible with type tmpfs" : hasVolume ? "volume options are incompatible with type tmpfs" : null;
                else if (type == "npipe") problem = string.IsNullOrEmpty(vol.Source) ? "invalid npipe source, source cannot be empty" : hasVolume ? "volume options are incompatible with type npipe" : hasTmpfs ? "tmpfs options are incompatible with type npipe" : null;
                else if (type == "image") problem = string.IsNullOrEmpty(vol.Source) ? "invalid image source, source cannot be empty" : hasVolume ? "volume options are incompatible with type image" : hasBind ? "bind options are incompatible with type image" : hasTmpfs ? "tmpfs options are incompatible with type image" : null;
                if (problem != null) { Error(item, ip, problem); continue; }
                if (string.IsNullOrEmpty(vol.Target)) { Error(item, ip, "needs a target (the path in the container)"); continue; }
                if (type == "bind") vol.Source = ResolveBind(vol.Source);
                mounts.Add(vol);
            }
            return mounts;
        }

        internal static readonly string[] Propagations = { "rprivate", "private", "rshared", "shared", "rslave", "slave" };

        private string ResolveBind(string source)
        {
            // loader.resolveVolumePaths: ~ → HOME of the (CLI) environment; relative → working directory
            if (source.StartsWith("~", StringComparison.Ordinal))
            {
                var (found, home) = _lookup("HOME");
                if (!found) home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                source = home + source.Substring(1);
            }
            if (IsAbsoluteAnyOs(source)) return source;
            return Path.GetFullPath(Path.Combine(_workingDir, source));
        }

        /// <summary>internal/volumespec.Parse: [source:]target[:opts].</summary>
        internal static ComposeServiceVolume ParseVolumeSpec(string spec, out string error)
        {
            error = null;
            var v = new ComposeServiceVolume();
            if (spec.Length == 0) { error = "invalid empty volume spec"; return null; }
            if (spec.Length <= 2) { v.Target = spec; v.Type = "volume"; return v; }
            var buffer = new System.Text.StringBuilder();
            string text = spec + "\0";
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                bool drive = c == ':' && buffer.Length == 1 && char.IsLetter(buffer[0]);
                if (drive) { buffer.Append(c); continue; }
                if (c == ':' || c == '\0')
                {
                    string part = buffer.ToString();
                    buffer.Clear();
                    if (part.Length == 0) { error = $"invalid spec: {spec}: empty section between colons"; return null; }
                    if (v.Source == null && c == '\0') { v.Target = part; continue; }
                    if (v.Source == null) { v.Source = part; continue; }
                    if (v.Target == null) { v.Target = part; continue; }
                    if (c == ':') { error = $"invalid spec: {spec}: too many colons"; return null; }
                    foreach (string option in part.Split(','))
                    {
                        if (option == "ro") v.ReadOnly = true;
                        else if (option == "rw") v.ReadOnly = false;
                        else if (option == "nocopy") v.NoCopy = true;
                        else if (Propagations.Contains(option)) v.BindPropagation = option;
                        // other options (z, Z, cached, delegated...) are ignored silently, as in the CLI
                    }
                    continue;
                }
                buffer.Append(c);
            }
            if (v.Source == null) v.Type = "volume";
            else
            {
                char f = v.Source[0];
                bool file = f == '.' || f == '/' || f == '~' || (v.Source.Length > 1 && (v.Source.StartsWith(@"\\", StringComparison.Ordinal) || (char.IsLetter(f) && v.Source[1] == ':')));
                v.Type = file ? "bind" : "volume";
            }
            return v;
        }

        private List<ComposeFileReference> ReadFileRefs(Map m, string key)
        {
            var refs = new List<ComposeFileReference>();
            YamlNode v = m.Get(key);
            if (v == null) return refs;
            string path = m.Sub(key);
            if (!(v is YamlSequenceNode seq)) { Error(v, path, $"must be a list, found {Describe(v)}"); return refs; }
            string what = key.TrimEnd('s');
            for (int i = 0; i < seq.Children.Count; i++)
            {
                YamlNode item = seq.Children[i];
                string ip = $"{path}[{i}]";
                if (item is YamlMappingNode)
                {
                    Map p = Open(item, ip, $"a {what} reference", FileRefKeys, open: true);
                    if (p == null) continue;
                    var r = new ComposeFileReference { Source = Str(p, "source"), Target = Str(p, "target"), Uid = Str(p, "uid"), Gid = Str(p, "gid"), Position = Pos(item) };
                    if (p.Get("mode") != null) { long? mode = IntValue(p.Get("mode"), p.Sub("mode"), 0, uint.MaxValue, numberOk: true); if (mode != null) r.Mode = (uint)mode.Value; }
                    if (string.IsNullOrEmpty(r.Source)) { Error(item, ip, $"needs source (the {what} key)"); continue; }
                    refs.Add(r);
                    continue;
                }
                string s = StrValue(item, ip);
                if (s != null) refs.Add(new ComposeFileReference { Source = s, Position = Pos(item) });
            }
            return refs;
        }

        // ------------------------------------------------------------------ top-level objects

        private (bool External, string ExternalName, YamlNode At) External(Map m, string what, string key)
        {
            YamlNode v = m.Get("external");
            if (v == null) return (false, null, null);
            if (v is YamlMappingNode)
            {
                Map e = Open(v, m.Sub("external"), "external", ExternalKeys, open: what != "network" && what != "volume");
                return (true, e == null ? null : Str(e, "name"), v);
            }
            bool? b = Bool(m, "external");
            return (b ?? false, null, v);
        }

        private void ApplyExternalName(Map m, string what, string key, (bool External, string ExternalName, YamlNode At) ext, Func<string> getName, Action<string> setName, int deprecatedSince)
        {
            if (!ext.External) return;
            if (ext.ExternalName != null)
            {
                if (!string.IsNullOrEmpty(getName())) { Error(ext.At, m.Sub("external.name"), $"{what} {key}: {what}.external.name and {what}.name conflict; only use {what}.name"); return; }
                if (_minor >= deprecatedSince) Warn(ext.At, m.Sub("external.name"), $"{what} {key}: {what}.external.name is deprecated in favor of {what}.name");
                setName(ext.ExternalName);
            }
            else if (string.IsNullOrEmpty(getName())) setName(key);
        }

        private ComposeNetwork ReadNetwork(string key, YamlNode node, string path)
        {
            var n = new ComposeNetwork { Key = key, Source = Pos(_currentKey ?? node) };
            if (IsNull(node)) return n;
            Map m = Open(node, path, $"network {key}", NetworkKeys, extensionsSince: 7);
            if (m == null) return null;
            n.Name = Str(m, "name");
            n.Driver = Str(m, "driver");
            FillOptions(n.DriverOpts, m, "driver_opts");
            n.Internal = Bool(m, "internal") ?? false;
            n.Attachable = Bool(m, "attachable") ?? false;
            FillMap(n.Labels, m, "labels");
            if (m.Get("ipam") != null)
            {
                Map ipam = Open(m.Get("ipam"), m.Sub("ipam"), "ipam", IpamKeys);
                if (ipam != null)
                {
                    n.IpamDriver = Str(ipam, "driver");
                    YamlNode cfg = ipam.Get("config");
                    if (cfg != null && !(cfg is YamlSequenceNode)) Error(cfg, ipam.Sub("config"), $"must be a list of {{subnet: ...}}, found {Describe(cfg)}");
                    if (cfg is YamlSequenceNode cs)
                        for (int i = 0; i < cs.Children.Count; i++)
                        {
                            Map pool = Open(cs.Children[i], $"{ipam.Sub("config")}[{i}]", "an ipam pool (docker stack deploy supports only subnet)", IpamPoolKeys);
                            if (pool != null) n.IpamConfig.Add(new ComposeIpamPool { Subnet = Str(pool, "subnet") });
                        }
                }
            }
            var ext = External(m, "network", key);
            n.External = ext.External;
            ApplyExternalName(m, "network", key, ext, () => n.Name, s => n.Name = s, 5);
            if (n.External)
                foreach (string k in new[] { "driver", "driver_opts", "ipam", "internal", "attachable", "labels" })
                    if (m.Entries.TryGetValue(k, out var e)) Warn(e.Key, m.Sub(k), $"{IgnoredPrefix}{k} on an external network (the network must already exist)");
            return n;
        }

        private ComposeVolume ReadVolume(string key, YamlNode node, string path)
        {
            var v = new ComposeVolume { Key = key, Source = Pos(_currentKey ?? node) };
            if (IsNull(node)) return v;
            Map m = Open(node, path, $"volume {key}", VolumeKeys, extensionsSince: 7);
            if (m == null) return null;
            v.Name = Str(m, "name");
            v.Driver = Str(m, "driver");
            FillOptions(v.DriverOpts, m, "driver_opts");
            FillMap(v.Labels, m, "labels");
            if (m.Get("x-cluster-spec") != null)
            {
                if (!(m.Get("x-cluster-spec") is YamlMappingNode)) Error(m.Get("x-cluster-spec"), m.Sub("x-cluster-spec"), $"must be a mapping, found {Describe(m.Get("x-cluster-spec"))}");
                else v.ClusterSpec = Plain(m.Get("x-cluster-spec"));
            }
            var ext = External(m, "volume", key);
            v.External = ext.External;
            if (v.External)
            {
                foreach (string k in new[] { "driver", "driver_opts", "labels" })
                    if (m.Entries.TryGetValue(k, out var e) && !IsNull(e.Value)) { Error(e.Key, m.Sub(k), $"conflicting parameters \"external\" and \"{k}\" specified for volume \"{key}\""); }
            }
            ApplyExternalName(m, "volume", key, ext, () => v.Name, s => v.Name = s, 4);
            return v;
        }

        private bool ReadFileObject(ComposeFileObject o, string what, string key, YamlNode node, string path, string[] keys)
        {
            o.Key = key; o.Source = Pos(_currentKey ?? node);
            Map m = Open(node, path, $"{what} {key}", keys, extensionsSince: 7);
            if (m == null) return false;
            o.Name = Str(m, "name");
            string file = Str(m, "file");
            FillMap(o.Labels, m, "labels");
            o.TemplateDriver = Str(m, "template_driver");
            if (o is ComposeSecret secret)
            {
                secret.Driver = Str(m, "driver");
                FillOptions(secret.DriverOpts, m, "driver_opts");
            }
            var ext = External(m, what, key);
            o.External = ext.External;
            if (o.External) ApplyExternalName(m, what, key, ext, () => o.Name, s => o.Name = s, 5);
            else if (o is ComposeSecret s2 && !string.IsNullOrEmpty(s2.Driver))
            {
                if (!string.IsNullOrEmpty(file)) Error(m.Get("file"), m.Sub("file"), $"{what} {key}: {what}.driver and {what}.file conflict; only use {what}.driver");
            }
            else if (!string.IsNullOrEmpty(file)) o.File = ResolvePath(file);
            return true;
        }
    }
}
