using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Stacks
{
    /// <summary>One difference between a live spec and the spec a deploy would send.</summary>
    internal sealed class SpecChange
    {
        public SpecChange(string path, string live, string desired) { Path = path; Live = live; Desired = desired; }
        /// <summary>Dotted path, e.g. TaskTemplate.ContainerSpec.Env[2] or Labels.com.example.team.</summary>
        public string Path { get; }
        /// <summary>The live value, null when the live spec does not have it.</summary>
        public string Live { get; }
        /// <summary>The desired value, null when the deploy removes it.</summary>
        public string Desired { get; }
        public override string ToString() => Live == null ? $"{Path}: + {Desired}" : Desired == null ? $"{Path}: - {Live}" : $"{Path}: {Live} -> {Desired}";
    }

    /// <summary>
    /// Compares Engine API specs the way an idempotent deploy needs: both sides are serialised with the same options,
    /// flattened to path → value, nulls and empty lists/maps dropped (the engine does not keep them), and values the
    /// engine fills in by itself (Runtime "container", Isolation "default", ForceUpdate 0, ...) count as equal to "not
    /// set". Environment values whose key looks like a secret are masked in the change text.
    /// </summary>
    internal static class SpecDiff
    {
        private static readonly JsonSerializerOptions Options = new JsonSerializerOptions
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };

        /// <summary>Paths (exact) whose value the engine fills in when the client sends nothing.</summary>
        private static readonly Dictionary<string, string> EngineDefaults = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["TaskTemplate.Runtime"] = "container",
            ["TaskTemplate.ForceUpdate"] = "0",
            ["TaskTemplate.ContainerSpec.Isolation"] = "default",
            ["EndpointSpec.Mode"] = "vip",
            ["Mode.Replicated.Replicas"] = "1",
            // the engine turns "" into these when it converts the spec (daemon/cluster/convert/service.go)
            ["UpdateConfig.FailureAction"] = "pause",
            ["UpdateConfig.Order"] = "stop-first",
            ["RollbackConfig.FailureAction"] = "pause",
            ["RollbackConfig.Order"] = "stop-first",
            ["TaskTemplate.RestartPolicy.MaxAttempts"] = "0",
            ["TaskTemplate.RestartPolicy.Delay"] = "00:00:05",
            ["TaskTemplate.RestartPolicy.Window"] = "00:00:00",
        };

        // anywhere in the name: DBPASSWORD, ApiToken, SECRETKEY; as a word of the name only: KEY (not MONKEY), PASS, PWD
        private static readonly Regex SecretLikeAnywhere = new Regex("PASSWORD|PASSWD|TOKEN|SECRET|APIKEY|CREDENTIAL|PRIVATEKEY", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        private static readonly Regex SecretLikeWord = new Regex(@"(^|_)(KEY|PASS|PWD|AUTH)(_|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        /// <summary>True when an environment variable name looks like it holds a secret (and is not a *_FILE pointer).</summary>
        internal static bool IsSecretLikeKey(string key)
        {
            if (string.IsNullOrEmpty(key)) return false;
            if (key.EndsWith("_FILE", StringComparison.OrdinalIgnoreCase) || key.EndsWith(".file", StringComparison.OrdinalIgnoreCase)) return false;
            // words: split camelCase and '-', '.' into '_'-separated parts
            string words = Regex.Replace(key, "([a-z0-9])([A-Z])", "$1_$2").Replace('-', '_').Replace('.', '_');
            return SecretLikeAnywhere.IsMatch(words.Replace("_", string.Empty)) || SecretLikeWord.IsMatch(words);
        }

        internal static SortedDictionary<string, string> Flatten<T>(T spec)
        {
            var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (spec == null) return result;
            using (var doc = JsonDocument.Parse(JsonSerializer.Serialize(spec, Options)))
                Walk(doc.RootElement, string.Empty, result);
            foreach (var kv in EngineDefaults)
                if (result.TryGetValue(kv.Key, out string v) && v == kv.Value) result.Remove(kv.Key);
            return result;
        }

        private static void Walk(JsonElement e, string path, SortedDictionary<string, string> into)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject())
                        Walk(p.Value, path.Length == 0 ? p.Name : path + "." + p.Name, into);
                    break;
                case JsonValueKind.Array:
                    if (e.EnumerateArray().All(x => x.ValueKind != JsonValueKind.Object && x.ValueKind != JsonValueKind.Array))
                    {
                        // a list of scalars (Env, Args, Constraints...) is one value: an insertion shows as one change
                        var items = e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString() : x.GetRawText()).ToList();
                        if (items.Count > 0) into[path] = ListMark + string.Join(ItemSeparator, items);
                        break;
                    }
                    int i = 0;
                    foreach (var item in e.EnumerateArray()) Walk(item, $"{path}[{i++}]", into);
                    break;
                case JsonValueKind.Null:
                case JsonValueKind.Undefined:
                    break;
                case JsonValueKind.String:
                    string text = e.GetString();
                    // "" is "not set" for a spec field (Go omitempty), but a real value in a map (a label "flag": "")
                    if (text.Length == 0 && !InMap(path)) break;
                    into[path] = text;
                    break;
                default:
                    into[path] = e.GetRawText();
                    break;
            }
        }

        private static bool InMap(string path) =>
            path.StartsWith("Labels.", StringComparison.Ordinal) || path.Contains(".Labels.") || path.Contains(".Options.")
            || path.Contains(".Sysctls.") || path.Contains(".DriverOpts.");

        /// <summary>The differences from <paramref name="live"/> to <paramref name="desired"/>, sorted by path; empty when
        /// a deploy would change nothing.</summary>
        internal static List<SpecChange> Compare<T>(T live, T desired)
        {
            var a = Flatten(live);
            var b = Flatten(desired);
            var changes = new List<SpecChange>();
            foreach (string path in a.Keys.Union(b.Keys).OrderBy(k => k, StringComparer.Ordinal))
            {
                a.TryGetValue(path, out string x);
                b.TryGetValue(path, out string y);
                if (string.Equals(x, y, StringComparison.Ordinal)) continue;
                changes.Add(new SpecChange(path, Mask(path, x), Mask(path, y)));
            }
            // a reference that now names another secret/config version: its new ID says nothing more
            var paths = new HashSet<string>(changes.Select(c => c.Path), StringComparer.Ordinal);
            changes.RemoveAll(c => (c.Path.EndsWith(".SecretID", StringComparison.Ordinal) && paths.Contains(c.Path.Substring(0, c.Path.Length - 2) + "Name"))
                                || (c.Path.EndsWith(".ConfigID", StringComparison.Ordinal) && paths.Contains(c.Path.Substring(0, c.Path.Length - 2) + "Name")));
            return changes;
        }

        private const string ListMark = "\u001E";
        private const string ItemSeparator = "\u001F";

        /// <summary>The display form of a flattened value: lists as [a, b], Env items whose KEY looks like a secret as
        /// KEY=*** (diffs go to the console and to logs; the comparison itself uses the real values).</summary>
        internal static string Mask(string path, string value)
        {
            if (value == null || !value.StartsWith(ListMark, StringComparison.Ordinal)) return value;
            bool env = path.EndsWith(".Env", StringComparison.Ordinal);
            var items = value.Substring(ListMark.Length).Split(new[] { ItemSeparator }, StringSplitOptions.None).Select(item =>
            {
                int eq = item.IndexOf('=');
                if (env && eq > 0 && IsSecretLikeKey(item.Substring(0, eq))) item = item.Substring(0, eq + 1) + "***";
                return item.IndexOf(',') >= 0 || item.IndexOf(' ') >= 0 ? "'" + item + "'" : item;
            });
            return "[" + string.Join(", ", items) + "]";
        }

        /// <summary>A short summary: "Env, Image (+2 more)" — the top-level-ish field names that change.</summary>
        internal static string Summarize(IReadOnlyList<SpecChange> changes)
        {
            var names = changes.Select(c => Leaf(c.Path)).Distinct(StringComparer.Ordinal).ToList();
            return names.Count <= 4 ? string.Join(", ", names) : string.Join(", ", names.Take(4)) + $" (+{(names.Count - 4).ToString(CultureInfo.InvariantCulture)} more)";
        }

        private static string Leaf(string path)
        {
            string p = Regex.Replace(path, @"\[\d+\].*$", string.Empty);
            foreach (string prefix in new[] { "TaskTemplate.ContainerSpec.", "TaskTemplate.", "" })
                if (p.StartsWith(prefix, StringComparison.Ordinal) && p.Length > prefix.Length)
                {
                    string rest = p.Substring(prefix.Length);
                    if (rest.StartsWith("Labels.", StringComparison.Ordinal)) return prefix.Length == 0 ? "Labels" : "ContainerLabels";
                    int dot = rest.IndexOf('.');
                    return dot < 0 ? rest : rest.Substring(0, dot);
                }
            return p;
        }
    }
}
