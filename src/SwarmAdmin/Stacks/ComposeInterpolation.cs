using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Globalization;
using System.Text;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// A compose-file interpolation failure: bad <c>$</c> syntax, a missing required variable
    /// (<c>${VAR?msg}</c> / <c>${VAR:?msg}</c>), or a substituted value that does not cast to the type its key needs.
    /// </summary>
    public sealed class ComposeInterpolationException : Exception
    {
        public ComposeInterpolationException(string path, string template, string message)
            : base(message)
        {
            Path = path;
            Template = template;
        }

        /// <summary>Dotted key path of the value, docker/cli style: <c>services.web.environment.FOO</c>;
        /// list items are written <c>[]</c> (<c>services.web.command.[]</c>), as the CLI does.</summary>
        public string Path { get; }

        /// <summary>For syntax errors the whole offending value; for a missing required variable the text
        /// <c>required variable NAME is missing a value: MESSAGE</c>; for cast errors the substituted value.</summary>
        public string Template { get; }
    }

    /// <summary>
    /// Compose-file variable substitution with exactly the syntax of <c>docker stack deploy</c>
    /// (docker/cli <c>cli/compose/template/template.go</c> + <c>cli/compose/interpolation/interpolation.go</c> +
    /// <c>cli/compose/loader/interpolate.go</c>). Supported: <c>$$</c>, <c>$VAR</c>, <c>${VAR}</c>,
    /// <c>${VAR:-def}</c>, <c>${VAR-def}</c>, <c>${VAR:?msg}</c>, <c>${VAR?msg}</c>. NOT supported (as in the CLI):
    /// <c>${VAR:+x}</c>, <c>${VAR+x}</c> (invalid-format error) and nesting (<c>${A:-${B}}</c> gives the literal
    /// <c>${B}</c>).
    /// </summary>
    internal static class ComposeInterpolation
    {
        /// <summary>Substitutes variables in one value. <paramref name="path"/> is only used in error messages.</summary>
        public static string Interpolate(string text, Func<string, (bool Found, string Value)> lookup, string path)
        {
            if (text == null) return null;
            if (lookup == null) throw new ArgumentNullException(nameof(lookup));
            int dollar = text.IndexOf('$');
            if (dollar < 0) return text;

            var sb = new StringBuilder(text.Length + 16);
            sb.Append(text, 0, dollar);
            int i = dollar;
            while (i < text.Length)
            {
                char c = text[i];
                if (c != '$')
                {
                    sb.Append(c);
                    i++;
                    continue;
                }

                // Alternatives in the regex's order (leftmost-first): escaped | named | {braced} | invalid.
                if (i + 1 < text.Length && text[i + 1] == '$')
                {
                    sb.Append('$');
                    i += 2;
                    continue;
                }

                int end;
                if ((end = MatchSubst(text, i + 1, braced: false)) > i + 1)
                {
                    sb.Append(Substitute(text.Substring(i + 1, end - (i + 1)), lookup, text, path));
                    i = end;
                    continue;
                }

                if (i + 1 < text.Length && text[i + 1] == '{')
                {
                    end = MatchSubst(text, i + 2, braced: true);
                    if (end > i + 2 && end < text.Length && text[end] == '}')
                    {
                        sb.Append(Substitute(text.Substring(i + 2, end - (i + 2)), lookup, text, path));
                        i = end + 1;
                        continue;
                    }
                }

                // "invalid" alternative: a lone '$' (end of text, "${", "${}", "$1", "$ ", "${foo!}", "${VAR:+x}" ...).
                throw InvalidFormat(path, text);
            }
            return sb.ToString();
        }

        /// <summary>
        /// Interpolates every string value (never mapping keys) of a plain tree as returned by
        /// <see cref="SwarmAdmin.Yaml.YamlText.Parse"/>: <see cref="IDictionary"/> (returned as a new
        /// <see cref="OrderedDictionary"/>, key order kept), lists (returned as <c>object[]</c>), strings, null and
        /// other scalars (returned unchanged). Paths start at the root keys (<paramref name="rootPath"/> prefixes them
        /// if given). As in docker/cli, a value that changed and sits at a typed path (<c>deploy.replicas</c>,
        /// <c>privileged</c>, ...) is cast: the result stays a string but in canonical form (<c>"yes"</c> becomes
        /// <c>"true"</c>, <c>"+05"</c> becomes <c>"5"</c>), and a bad value raises
        /// <c>error while interpolating PATH: failed to cast to expected type: ...</c>.
        /// </summary>
        public static object InterpolateTree(object node, Func<string, (bool Found, string Value)> lookup, string rootPath = null)
        {
            if (lookup == null) throw new ArgumentNullException(nameof(lookup));
            return Walk(node, rootPath, lookup);
        }

        /// <summary>A lookup over a dictionary (case-sensitive unless the dictionary says otherwise).</summary>
        public static Func<string, (bool Found, string Value)> LookupFrom(IDictionary<string, string> variables)
        {
            return name => variables != null && name != null && variables.TryGetValue(name, out var v) ? (true, v ?? string.Empty) : (false, null);
        }

        /// <summary>
        /// The CLI's variable source: the process environment only (docker/cli <c>stack/loader.go buildEnvironment</c>).
        /// Names starting with '=' (cmd.exe's per-drive <c>=C:</c> entries) are skipped as the CLI does on Windows.
        /// Lookups are case-sensitive, also on Windows, like Go's map lookup.
        /// </summary>
        public static Dictionary<string, string> ProcessEnvironment()
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                var k = e.Key as string;
                if (string.IsNullOrEmpty(k) || k[0] == '=') continue;
                result[k] = e.Value as string ?? string.Empty;
            }
            return result;
        }

        /// <summary>Type a value at <paramref name="path"/> is cast to after substitution
        /// (docker/cli <c>loader/interpolate.go interpolateTypeCastMapping</c>).</summary>
        internal enum CastKind { None, Int, Float, Bool }

        private static readonly (string[] Pattern, CastKind Kind)[] CastPaths = BuildCastPaths();

        private static (string[], CastKind)[] BuildCastPaths()
        {
            var list = new List<(string[], CastKind)>();
            void S(CastKind k, params string[] parts)
            {
                var p = new string[parts.Length + 2];
                p[0] = "services"; p[1] = "*";
                Array.Copy(parts, 0, p, 2, parts.Length);
                list.Add((p, k));
            }
            void T(CastKind k, params string[] parts) => list.Add((parts, k));

            S(CastKind.Int, "configs", "[]", "mode");
            S(CastKind.Int, "secrets", "[]", "mode");
            S(CastKind.Int, "healthcheck", "retries");
            S(CastKind.Bool, "healthcheck", "disable");
            S(CastKind.Int, "deploy", "replicas");
            S(CastKind.Int, "deploy", "update_config", "parallelism");
            S(CastKind.Float, "deploy", "update_config", "max_failure_ratio");
            S(CastKind.Int, "deploy", "rollback_config", "parallelism");
            S(CastKind.Float, "deploy", "rollback_config", "max_failure_ratio");
            S(CastKind.Int, "deploy", "restart_policy", "max_attempts");
            S(CastKind.Int, "deploy", "placement", "max_replicas_per_node");
            S(CastKind.Int, "ports", "[]", "target");
            S(CastKind.Int, "ports", "[]", "published");
            S(CastKind.Int, "ulimits", "*");
            S(CastKind.Int, "ulimits", "*", "hard");
            S(CastKind.Int, "ulimits", "*", "soft");
            S(CastKind.Bool, "privileged");
            S(CastKind.Int, "oom_score_adj");
            S(CastKind.Bool, "read_only");
            S(CastKind.Bool, "stdin_open");
            S(CastKind.Bool, "tty");
            S(CastKind.Bool, "volumes", "[]", "read_only");
            S(CastKind.Bool, "volumes", "[]", "volume", "nocopy");
            T(CastKind.Bool, "networks", "*", "external");
            T(CastKind.Bool, "networks", "*", "internal");
            T(CastKind.Bool, "networks", "*", "attachable");
            T(CastKind.Bool, "volumes", "*", "external");
            T(CastKind.Bool, "secrets", "*", "external");
            T(CastKind.Bool, "configs", "*", "external");
            return list.ToArray();
        }

        /// <summary>Which cast docker/cli applies to a substituted value at <paramref name="path"/>
        /// (pattern match per dot-separated part; <c>*</c> matches any one part).</summary>
        internal static CastKind GetCastKind(string path)
        {
            if (string.IsNullOrEmpty(path)) return CastKind.None;
            var parts = path.Split('.');
            foreach (var (pattern, kind) in CastPaths)
            {
                if (pattern.Length != parts.Length) continue;
                bool ok = true;
                for (int i = 0; i < parts.Length && ok; i++)
                    ok = pattern[i] == "*" || pattern[i] == parts[i];
                if (ok) return kind;
            }
            return CastKind.None;
        }

        private static object Walk(object node, string path, Func<string, (bool Found, string Value)> lookup)
        {
            switch (node)
            {
                case null:
                    return null;
                case string s:
                    {
                        string result = Interpolate(s, lookup, path);
                        if (result == s) return s; // the CLI casts only values that changed
                        return Cast(result, path);
                    }
                case IDictionary dict:
                    {
                        var outDict = new OrderedDictionary(StringComparer.Ordinal);
                        foreach (DictionaryEntry e in dict)
                        {
                            string key = Convert.ToString(e.Key, CultureInfo.InvariantCulture);
                            outDict[key] = Walk(e.Value, path == null ? key : path + "." + key, lookup);
                        }
                        return outDict;
                    }
                case IList list:
                    {
                        var arr = new object[list.Count];
                        string itemPath = path == null ? "[]" : path + ".[]";
                        for (int i = 0; i < arr.Length; i++) arr[i] = Walk(list[i], itemPath, lookup);
                        return arr;
                    }
                default:
                    return node;
            }
        }

        private static string Cast(string value, string path)
        {
            switch (GetCastKind(path))
            {
                case CastKind.Int:
                    if (!ComposeUnits.TryParseGoAtoi(value, out long l, out string intError)) throw CastError(path, value, intError);
                    return l.ToString(CultureInfo.InvariantCulture);
                case CastKind.Float:
                    if (!ComposeUnits.TryParseGoFloat(value, out double d, out string floatError)) throw CastError(path, value, floatError);
                    return ComposeUnits.FormatFloat(d);
                case CastKind.Bool:
                    if (!ComposeUnits.TryParseComposeBool(value, out bool b)) throw CastError(path, value, "invalid boolean: " + value);
                    return b ? "true" : "false";
                default:
                    return value;
            }
        }

        private static ComposeInterpolationException CastError(string path, string value, string detail) =>
            new ComposeInterpolationException(path, value,
                $"error while interpolating {path}: failed to cast to expected type: {detail}");

        private static ComposeInterpolationException InvalidFormat(string path, string template) =>
            new ComposeInterpolationException(path, template,
                $"invalid interpolation format for {path}: {GoQuote(template)}; you may need to escape any $ with another $");

        // Go: (?i)[_a-z] — case folding also admits U+017F (long s) and U+212A (Kelvin sign).
        private static bool IsNameStart(char c) =>
            c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '\u017F' || c == '\u212A';

        private static bool IsNameChar(char c) => IsNameStart(c) || (c >= '0' && c <= '9');

        /// <summary>
        /// Matches <c>[_a-z][_a-z0-9]*(?::?[-?][^}]*)?</c> at <paramref name="start"/>; returns the end index
        /// (== start when nothing matched). The optional suffix runs up to the first '}' or the end of the text,
        /// also in the unbraced form (<c>$FOO-bar baz</c> is all one substitution, as in the CLI).
        /// </summary>
        private static int MatchSubst(string text, int start, bool braced)
        {
            int i = start;
            if (i >= text.Length || !IsNameStart(text[i])) return start;
            i++;
            while (i < text.Length && IsNameChar(text[i])) i++;
            int j = i;
            if (j < text.Length && text[j] == ':') j++;
            if (j < text.Length && (text[j] == '-' || text[j] == '?'))
            {
                j++;
                while (j < text.Length && text[j] != '}') j++;
                return j;
            }
            return i;
        }

        /// <summary>The CLI's substitute functions, in its order: soft default (":-"), hard default ("-"),
        /// required non-empty (":?"), required ("?"). Each one tests whether its separator occurs anywhere in the
        /// substitution and splits at its first occurrence.</summary>
        private static string Substitute(string substitution, Func<string, (bool Found, string Value)> lookup, string template, string path)
        {
            string name, rest;
            if (Cut(substitution, ":-", out name, out rest))
            {
                var (found, value) = lookup(name);
                return !found || string.IsNullOrEmpty(value) ? rest : value;
            }
            if (Cut(substitution, "-", out name, out rest))
            {
                var (found, value) = lookup(name);
                return !found ? rest : value ?? string.Empty;
            }
            if (Cut(substitution, ":?", out name, out rest))
            {
                var (found, value) = lookup(name);
                if (!found || string.IsNullOrEmpty(value)) throw Required(path, name, rest);
                return value;
            }
            if (Cut(substitution, "?", out name, out rest))
            {
                var (found, value) = lookup(name);
                if (!found) throw Required(path, name, rest);
                return value ?? string.Empty;
            }
            var (_, plain) = lookup(substitution);
            return plain ?? string.Empty;
        }

        private static ComposeInterpolationException Required(string path, string name, string message)
        {
            string template = $"required variable {name} is missing a value: {message}";
            return new ComposeInterpolationException(path, template,
                $"invalid interpolation format for {path}: {GoQuote(template)}; you may need to escape any $ with another $");
        }

        private static bool Cut(string s, string sep, out string before, out string after)
        {
            int idx = s.IndexOf(sep, StringComparison.Ordinal);
            if (idx < 0) { before = s; after = string.Empty; return false; }
            before = s.Substring(0, idx);
            after = s.Substring(idx + sep.Length);
            return true;
        }

        /// <summary>Go's <c>%#v</c> of a string (strconv.Quote): double quotes, backslash escapes for
        /// <c>"</c>, <c>\</c>, control characters and non-printable runes.</summary>
        internal static string GoQuote(string s)
        {
            var sb = new StringBuilder(s.Length + 2);
            sb.Append('"');
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                switch (c)
                {
                    case '"': sb.Append("\\\""); continue;
                    case '\\': sb.Append("\\\\"); continue;
                    case '\a': sb.Append("\\a"); continue;
                    case '\b': sb.Append("\\b"); continue;
                    case '\f': sb.Append("\\f"); continue;
                    case '\n': sb.Append("\\n"); continue;
                    case '\r': sb.Append("\\r"); continue;
                    case '\t': sb.Append("\\t"); continue;
                    case '\v': sb.Append("\\v"); continue;
                }
                if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                {
                    sb.Append(c).Append(s[i + 1]);
                    i++;
                    continue;
                }
                if (c < 0x20 || c == 0x7F) { sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); continue; }
                var cat = CharUnicodeInfo.GetUnicodeCategory(c);
                bool printable = c == ' ' || !(cat == UnicodeCategory.Control || cat == UnicodeCategory.Format
                    || cat == UnicodeCategory.LineSeparator || cat == UnicodeCategory.ParagraphSeparator
                    || cat == UnicodeCategory.SpaceSeparator || cat == UnicodeCategory.Surrogate
                    || cat == UnicodeCategory.OtherNotAssigned || cat == UnicodeCategory.PrivateUse);
                if (printable) sb.Append(c);
                else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            sb.Append('"');
            return sb.ToString();
        }
    }
}
