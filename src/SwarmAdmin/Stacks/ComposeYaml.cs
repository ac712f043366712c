using System;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Globalization;
using System.Linq;
using SwarmAdmin.Infrastructure;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// YAML helpers of the compose loader: how yaml.v3 (the CLI's parser) types a plain scalar, Go's fmt.Sprint of
    /// such a value, and the key suggestion used in "unknown key" errors (same approach as ClusterConfigReader:
    /// case, squashed separators, synonyms, then edit distance).
    /// </summary>
    internal static class ComposeYaml
    {
        internal enum Kind { Null, Bool, Int, Float, String, Mapping, Sequence, Other }

        private static readonly Regex YamlFloat = new Regex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant);

        /// <summary>The type yaml.v3 resolves a node to (YAML 1.2 core schema: yes/no/on/off are strings).</summary>
        public static Kind KindOf(YamlNode node)
        {
            switch (node)
            {
                case null: return Kind.Null;
                case YamlMappingNode _: return Kind.Mapping;
                case YamlSequenceNode _: return Kind.Sequence;
                case YamlScalarNode s:
                    if (s.Style != ScalarStyle.Plain) return Kind.String;
                    if (s.Tag.IsEmpty == false)
                    {
                        string tag = s.Tag.Value;
                        if (tag == "tag:yaml.org,2002:str" || tag == "!!str") return Kind.String;
                    }
                    string v = s.Value ?? string.Empty;
                    switch (v)
                    {
                        case "": case "~": case "null": case "Null": case "NULL": return Kind.Null;
                        case "true": case "True": case "TRUE": case "false": case "False": case "FALSE": return Kind.Bool;
                        case ".inf": case ".Inf": case ".INF": case "+.inf": case "+.Inf": case "+.INF":
                        case "-.inf": case "-.Inf": case "-.INF": case ".nan": case ".NaN": case ".NAN": return Kind.Float;
                    }
                    char c = v[0];
                    if (!(char.IsDigit(c) || c == '-' || c == '+' || c == '.')) return Kind.String;
                    if (ComposeUnits.TryParseYamlInt(v, out _)) return Kind.Int;
                    string plain = v.Replace("_", string.Empty);
                    if (YamlFloat.IsMatch(plain)) return Kind.Float;
                    return Kind.String;
                default: return Kind.Other;
            }
        }

        public static bool IsNull(YamlNode node) => KindOf(node) == Kind.Null;

        /// <summary>Go fmt.Sprint of the scalar as yaml.v3 decoded it ("0x1F" → "31", "1.10" → "1.1", "True" → "true").</summary>
        public static string GoText(YamlScalarNode s)
        {
            switch (KindOf(s))
            {
                case Kind.Null: return null;
                case Kind.Bool: return s.Value.ToLowerInvariant();
                case Kind.Int:
                    ComposeUnits.TryParseYamlInt(s.Value, out long l);
                    return l.ToString(CultureInfo.InvariantCulture);
                case Kind.Float:
                    string v = s.Value.Replace("_", string.Empty).ToLowerInvariant();
                    if (v.EndsWith(".inf", StringComparison.Ordinal)) return v.StartsWith("-", StringComparison.Ordinal) ? "-Inf" : "+Inf";
                    if (v == ".nan") return "NaN";
                    return GoFloat(double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture));
                default: return s.Value;
            }
        }

        /// <summary>Go's %v of a float64: shortest representation, exponent form below 1e-4 and from 1e21.</summary>
        public static string GoFloat(double d)
        {
            double a = Math.Abs(d);
            if (a != 0 && (a < 1e-4 || a >= 1e21))
            {
                string e = d.ToString("E16", CultureInfo.InvariantCulture);
                // shortest mantissa
                string r = d.ToString("R", CultureInfo.InvariantCulture);
                int ei = r.IndexOfAny(new[] { 'E', 'e' });
                string mant, exp;
                if (ei >= 0) { mant = r.Substring(0, ei); exp = r.Substring(ei + 1); }
                else
                {
                    ei = e.IndexOf('E');
                    mant = e.Substring(0, ei).TrimEnd('0').TrimEnd('.'); exp = e.Substring(ei + 1);
                }
                int n = int.Parse(exp, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                return mant + "e" + (n < 0 ? "-" : "+") + Math.Abs(n).ToString("00", CultureInfo.InvariantCulture);
            }
            return d.ToString("R", CultureInfo.InvariantCulture);
        }

        public static string Describe(YamlNode node)
        {
            switch (KindOf(node))
            {
                case Kind.Mapping: return "a mapping";
                case Kind.Sequence: return "a list";
                case Kind.Null: return "nothing";
                case Kind.Bool: return $"the boolean {((YamlScalarNode)node).Value}";
                case Kind.Int:
                case Kind.Float: return $"the number {((YamlScalarNode)node).Value}";
                case Kind.String: return $"'{((YamlScalarNode)node).Value}'";
                default: return "something else";
            }
        }

        /// <summary>A YamlNode tree as plain data (ordered dictionaries, object arrays, strings), for opaque sections.</summary>
        public static object Plain(YamlNode node)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    var dict = new OrderedDictionary(StringComparer.Ordinal);
                    foreach (var kv in map.Children) dict[(kv.Key as YamlScalarNode)?.Value ?? kv.Key.ToString()] = Plain(kv.Value);
                    return dict;
                case YamlSequenceNode seq:
                    return seq.Children.Select(Plain).ToArray();
                case YamlScalarNode s:
                    return GoText(s);
                default:
                    return null;
            }
        }

        private static readonly Dictionary<string, string[]> Synonyms = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase)
        {
            ["env"] = new[] { "environment" }, ["envs"] = new[] { "environment" }, ["variables"] = new[] { "environment" }, ["envfile"] = new[] { "env_file" },
            ["cmd"] = new[] { "command" }, ["args"] = new[] { "command" }, ["entry"] = new[] { "entrypoint" },
            ["replica"] = new[] { "replicas" }, ["instances"] = new[] { "replicas" }, ["scale"] = new[] { "replicas" },
            ["constraint"] = new[] { "constraints" }, ["preference"] = new[] { "preferences" },
            ["cpu"] = new[] { "cpus" }, ["mem"] = new[] { "memory" }, ["ram"] = new[] { "memory" }, ["limit"] = new[] { "limits" }, ["reservation"] = new[] { "reservations" },
            ["port"] = new[] { "ports" }, ["volume"] = new[] { "volumes" }, ["label"] = new[] { "labels" }, ["network"] = new[] { "networks" },
            ["secret"] = new[] { "secrets" }, ["config"] = new[] { "configs" }, ["workdir"] = new[] { "working_dir" }, ["cwd"] = new[] { "working_dir" },
            ["health"] = new[] { "healthcheck" }, ["log"] = new[] { "logging" }, ["restartpolicy"] = new[] { "restart_policy" },
            ["updateconfig"] = new[] { "update_config" }, ["rollbackconfig"] = new[] { "rollback_config" }, ["alias"] = new[] { "aliases" },
            ["ro"] = new[] { "read_only" }, ["readonly"] = new[] { "read_only" }, ["path"] = new[] { "file", "target" },
        };

        /// <summary>The allowed key closest to <paramref name="key"/>, or null.</summary>
        public static string Suggest(string key, IEnumerable<string> allowedKeys) => KeySuggestion.Closest(key, allowedKeys, Synonyms);

        /// <summary>google/shlex Split as the CLI uses it for string command/entrypoint (no shell, # starts a comment).</summary>
        public static List<string> ShellSplit(string s, out string error)
        {
            error = null;
            var words = new List<string>();
            var cur = new System.Text.StringBuilder();
            bool inWord = false;
            int i = 0;
            while (i < s.Length)
            {
                char c = s[i];
                if (!inWord)
                {
                    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { i++; continue; }
                    if (c == '#') { while (i < s.Length && s[i] != '\n') i++; continue; }
                    inWord = true;
                }
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { words.Add(cur.ToString()); cur.Clear(); inWord = false; i++; continue; }
                if (c == '\\')
                {
                    if (i + 1 >= s.Length) { error = "EOF found after escape character"; return null; }
                    cur.Append(s[i + 1]); i += 2; continue;
                }
                if (c == '\'')
                {
                    int end = s.IndexOf('\'', i + 1);
                    if (end < 0) { error = "EOF found when expecting closing quote"; return null; }
                    cur.Append(s, i + 1, end - i - 1); i = end + 1; continue;
                }
                if (c == '"')
                {
                    i++;
                    bool closed = false;
                    while (i < s.Length)
                    {
                        char q = s[i];
                        if (q == '"') { closed = true; i++; break; }
                        if (q == '\\')
                        {
                            if (i + 1 >= s.Length) { error = "EOF found when expecting closing quote"; return null; }
                            cur.Append(s[i + 1]); i += 2; continue;
                        }
                        cur.Append(q); i++;
                    }
                    if (!closed) { error = "EOF found when expecting closing quote"; return null; }
                    continue;
                }
                cur.Append(c); i++;
            }
            if (inWord) words.Add(cur.ToString());
            return words;
        }
    }

    /// <summary>Reference equality for YAML nodes (YamlNode.Equals compares content).</summary>
    internal sealed class NodeIdentity : IEqualityComparer<YamlNode>
    {
        public static readonly NodeIdentity Instance = new NodeIdentity();
        public bool Equals(YamlNode x, YamlNode y) => ReferenceEquals(x, y);
        public int GetHashCode(YamlNode obj) => RuntimeHelpers.GetHashCode(obj);
    }

    /// <summary>Follows the parser so a failure without a mark still gets a position (as ClusterConfigReader does).</summary>
    internal sealed class ComposeTrackingParser : IParser
    {
        private readonly IParser _inner;
        public ComposeTrackingParser(IParser inner) { _inner = inner; }
        public Mark LastEnd { get; private set; } = Mark.Empty;
        public ParsingEvent Current => _inner.Current;
        public bool MoveNext()
        {
            bool more = _inner.MoveNext();
            if (_inner.Current != null) LastEnd = _inner.Current.End;
            return more;
        }
    }
}
