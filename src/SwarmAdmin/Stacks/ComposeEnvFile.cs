using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace SwarmAdmin.Stacks
{
    /// <summary>An env file that cannot be read or parsed. <see cref="Line"/> is 0 when no line applies.</summary>
    public sealed class ComposeEnvFileException : Exception
    {
        public ComposeEnvFileException(string fileName, int line, string message, Exception inner = null)
            : base(message, inner)
        {
            FileName = fileName;
            Line = line;
        }

        public string FileName { get; }
        public int Line { get; }
    }

    /// <summary>
    /// Env files, with two distinct rule sets:
    /// <list type="bullet">
    /// <item><b><c>env_file:</c> of a service</b> — what <c>docker stack deploy</c> does: docker/cli
    /// <c>pkg/kvfile/kvfile.go</c> (via <c>cli/compose/loader/envfile.go</c>). Values are taken VERBATIM: no quote
    /// removal, no escapes, no <c>export</c>, no inline comments, no interpolation, trailing whitespace kept.
    /// Use <see cref="ParseKeyValueFile(byte[],string,Func{string,ValueTuple{bool,string}})"/>.</item>
    /// <item><b><c>.env</c></b> — <c>docker stack deploy</c> never reads one (variables come from the process
    /// environment only). For SwarmAdmin's opt-in <c>-EnvFile</c> we follow <c>docker compose</c>
    /// (compose-go <c>dotenv/parser.go</c>): quotes are removed, double quotes process escapes and
    /// <c>${VAR}</c> interpolation, single quotes are literal, <c>export</c> is allowed, <c>#</c> starts an inline
    /// comment after a space in unquoted values, values may span lines inside quotes.
    /// Use <see cref="ParseDotEnv"/>.</item>
    /// </list>
    /// So <c>A="x y"</c> is <c>x y</c> in a .env but <c>"x y"</c> (with the quotes) in an <c>env_file:</c> for
    /// <c>docker stack deploy</c> (docker compose v2 would strip them there too).
    /// </summary>
    internal static class ComposeEnvFile
    {
        private const int MaxScanTokenSize = 64 * 1024; // bufio.MaxScanTokenSize

        /// <summary>Reads and parses an <c>env_file:</c> with the kvfile rules. Errors name the file
        /// (<c>invalid env file (PATH): ...</c>) and the line.</summary>
        public static List<KeyValuePair<string, string>> ReadKeyValueFile(string path, Func<string, (bool Found, string Value)> lookup)
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                throw new ComposeEnvFileException(path, 0, $"open {path}: no such file or directory", ex);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new ComposeEnvFileException(path, 0, $"open {path}: {ex.Message}", ex);
            }
            return ParseKeyValueFile(bytes, path, lookup);
        }

        /// <summary>
        /// kvfile rules, line by line (LF or CRLF): the bytes must be valid UTF-8; a UTF-8 BOM on line 1 is removed;
        /// leading whitespace (Unicode White_Space) is trimmed; empty lines and lines starting with <c>#</c> are
        /// skipped; <c>KEY=VALUE</c> is split at the first '=' and the value kept as-is; a key may not be empty nor
        /// contain a space or tab; a bare <c>KEY</c> takes its value from <paramref name="lookup"/> (the CLI uses its
        /// process environment) and is dropped if not found (found-but-empty gives <c>KEY=</c>). Lines of 64 KiB or
        /// more fail as in Go's bufio.Scanner. Pairs are returned in file order (duplicates kept; later wins when
        /// merged).
        /// </summary>
        public static List<KeyValuePair<string, string>> ParseKeyValueFile(byte[] content, string fileName, Func<string, (bool Found, string Value)> lookup)
        {
            var result = new List<KeyValuePair<string, string>>();
            var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
            int pos = 0;
            int lineNo = 0;
            while (pos < content.Length)
            {
                lineNo++;
                int nl = Array.IndexOf(content, (byte)'\n', pos);
                int end = nl < 0 ? content.Length : nl;
                int tokenLen = nl < 0 ? end - pos : end - pos + 1;
                if (tokenLen >= MaxScanTokenSize + (nl < 0 ? 0 : 1))
                    throw Fail(fileName, lineNo, "bufio.Scanner: token too long");
                int lineEnd = end;
                if (lineEnd > pos && content[lineEnd - 1] == '\r') lineEnd--; // bufio.ScanLines drops one CR
                int start = pos;
                pos = nl < 0 ? content.Length : nl + 1;

                string raw;
                try
                {
                    raw = utf8.GetString(content, start, lineEnd - start);
                }
                catch (DecoderFallbackException)
                {
                    var shown = string.Join(" ", content.Skip(start).Take(lineEnd - start).Select(b => b.ToString()));
                    throw Fail(fileName, lineNo, $"invalid utf8 bytes at line {lineNo}: [{shown}]", withLine: false);
                }
                if (lineNo == 1 && raw.Length > 0 && raw[0] == '\uFEFF') raw = raw.Substring(1);

                string line = raw.TrimStart(); // char.IsWhiteSpace == Go unicode.IsSpace
                if (line.Length == 0 || line[0] == '#') continue;

                int eq = line.IndexOf('=');
                string key = eq < 0 ? line : line.Substring(0, eq);
                if (key.Length == 0) throw Fail(fileName, lineNo, $"no variable name on line '{line}'");
                if (key.IndexOf(' ') >= 0 || key.IndexOf('\t') >= 0) throw Fail(fileName, lineNo, $"variable '{key}' contains whitespaces");

                if (eq >= 0)
                {
                    result.Add(new KeyValuePair<string, string>(key, line.Substring(eq + 1)));
                    continue;
                }
                if (lookup != null)
                {
                    var (found, value) = lookup(line);
                    if (found) result.Add(new KeyValuePair<string, string>(key, value ?? string.Empty));
                }
            }
            return result;
        }

        private static ComposeEnvFileException Fail(string fileName, int line, string message, bool withLine = true) =>
            new ComposeEnvFileException(fileName, line,
                withLine ? $"invalid env file ({fileName}): line {line}: {message}" : $"invalid env file ({fileName}): {message}");

        /// <summary>
        /// Service environment as <c>docker stack deploy</c> builds it (docker/cli <c>loader.resolveEnvironment</c> +
        /// <c>updateEnvironment</c> + <c>convert.convertEnvironment</c>):
        /// all <paramref name="envFiles"/> pairs in order (later wins), then <paramref name="environment"/> entries
        /// (null value = bare <c>KEY</c>); at each step a key whose value is null OR EMPTY takes the value of
        /// <paramref name="lookup"/> when that defines it. Result: <c>KEY=VALUE</c> (or bare <c>KEY</c> for a
        /// remaining null), sorted by UTF-8 byte order like Go's sort.Strings.
        /// </summary>
        public static List<string> ResolveEnvironment(
            IEnumerable<KeyValuePair<string, string>> envFiles,
            IEnumerable<KeyValuePair<string, string>> environment,
            Func<string, (bool Found, string Value)> lookup)
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal);
            void Update(IEnumerable<KeyValuePair<string, string>> vars)
            {
                if (vars == null) return;
                // The CLI first folds the list into a map (later duplicate wins), then applies the lookup rule.
                var folded = new Dictionary<string, string>(StringComparer.Ordinal);
                var order = new List<string>();
                foreach (var kv in vars)
                {
                    if (!folded.ContainsKey(kv.Key)) order.Add(kv.Key);
                    folded[kv.Key] = kv.Value;
                }
                foreach (var k in order)
                {
                    string v = folded[k];
                    if (string.IsNullOrEmpty(v) && lookup != null)
                    {
                        var (found, value) = lookup(k);
                        if (found) { env[k] = value ?? string.Empty; continue; }
                    }
                    env[k] = v;
                }
            }
            Update(envFiles);
            Update(environment);
            var output = env.Select(kv => kv.Value == null ? kv.Key : kv.Key + "=" + kv.Value).ToList();
            output.Sort(CompareUtf8);
            return output;
        }

        /// <summary>
        /// A service's <c>environment:</c> node (mapping or list) as pairs, like docker/cli
        /// <c>transformMappingOrList(..., "=", allowNil: true)</c>: list item <c>K=V</c> splits at the first '=',
        /// a bare <c>K</c> (list) or a null mapping value gives a null value.
        /// </summary>
        public static List<KeyValuePair<string, string>> EnvironmentEntries(object node)
        {
            var result = new List<KeyValuePair<string, string>>();
            switch (node)
            {
                case null:
                    break;
                case System.Collections.IDictionary map:
                    foreach (System.Collections.DictionaryEntry e in map)
                        result.Add(new KeyValuePair<string, string>(Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture),
                            e.Value == null ? null : Convert.ToString(e.Value, System.Globalization.CultureInfo.InvariantCulture)));
                    break;
                case System.Collections.IList list:
                    foreach (var item in list)
                    {
                        string s = Convert.ToString(item, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
                        int eq = s.IndexOf('=');
                        result.Add(eq < 0 ? new KeyValuePair<string, string>(s, null) : new KeyValuePair<string, string>(s.Substring(0, eq), s.Substring(eq + 1)));
                    }
                    break;
                default:
                    throw new ArgumentException("environment must be a mapping or a list", nameof(node));
            }
            return result;
        }

        /// <summary>Ordinal comparison by code point, i.e. Go's byte-wise order of UTF-8 strings.</summary>
        internal static int CompareUtf8(string a, string b)
        {
            int n = Math.Min(a.Length, b.Length);
            for (int i = 0; i < n; i++)
            {
                char x = a[i], y = b[i];
                if (x == y) continue;
                // surrogates (U+D800..DFFF) encode code points above U+FFFF: sort them after U+E000..U+FFFF
                bool sx = char.IsSurrogate(x), sy = char.IsSurrogate(y);
                if (sx != sy) return sx ? 1 : -1;
                return x < y ? -1 : 1;
            }
            return a.Length.CompareTo(b.Length);
        }

        // ------------------------------------------------------------------------------------------------
        // .env (docker compose / compose-go dotenv rules) — opt-in only, docker stack deploy never reads .env
        // ------------------------------------------------------------------------------------------------

        /// <summary>
        /// compose-go <c>dotenv</c> parser: BOM skipped; blank lines and <c>#</c> comment lines skipped; optional
        /// <c>export </c> prefix; key chars are letters, digits and <c>_ . - [ ]</c>; separator <c>=</c> or <c>:</c>;
        /// a bare key (no separator before the line end) takes the value of <paramref name="lookup"/> or is dropped;
        /// whitespace around the separator is ignored. Values: unquoted — up to the end of line, cut at the first
        /// <c>" #"</c>, right-trimmed, interpolated; <c>'single'</c> — literal (a <c>\'</c> gives <c>'</c>), may span
        /// lines; <c>"double"</c> — escapes <c>\n \t \r \a \b \f \v \\ \" \$</c> and octal <c>\0NNN</c> processed, then
        /// interpolated, may span lines. Interpolation uses <see cref="ComposeInterpolation.Interpolate"/> syntax
        /// and looks names up first in <paramref name="lookup"/> and then in variables defined earlier in the file
        /// (compose-go's order). Returns the variables in first-definition order (later definitions win).
        /// Deviation: compose-go's own template engine also supports <c>${VAR:+x}</c> and nesting; we use the
        /// docker-stack syntax so one set of rules applies everywhere.
        /// </summary>
        public static List<KeyValuePair<string, string>> ParseDotEnv(string text, string fileName, Func<string, (bool Found, string Value)> lookup)
        {
            text = text ?? string.Empty;
            if (text.Length > 0 && text[0] == '\uFEFF') text = text.Substring(1);
            var vars = new Dictionary<string, string>(StringComparer.Ordinal);
            var order = new List<string>();
            lookup = lookup ?? (_ => (false, null));
            (bool, string) Combined(string name)
            {
                var r = lookup(name);
                if (r.Found) return (true, r.Value ?? string.Empty);
                return vars.TryGetValue(name, out var v) ? (true, v) : (false, null);
            }
            void Set(string k, string v)
            {
                if (!vars.ContainsKey(k)) order.Add(k);
                vars[k] = v;
            }

            int line = 1;
            int pos = 0;
            while (true)
            {
                // statement start: skip whitespace (counting lines) and comment lines
                while (true)
                {
                    while (pos < text.Length && char.IsWhiteSpace(text[pos]))
                    {
                        if (text[pos] == '\n') line++;
                        pos++;
                    }
                    if (pos < text.Length && text[pos] == '#')
                    {
                        int nl = text.IndexOf('\n', pos);
                        if (nl < 0) { pos = text.Length; break; }
                        pos = nl;
                        continue;
                    }
                    break;
                }
                if (pos >= text.Length) break;

                // "export" prefix (followed by whitespace)
                if (string.CompareOrdinal(text, pos, "export", 0, 6) == 0 && pos + 6 < text.Length && char.IsWhiteSpace(text[pos + 6]))
                {
                    pos += 6;
                    while (pos < text.Length && IsDotEnvSpace(text[pos])) pos++;
                }

                // key
                int keyStart = pos;
                int sepAt = -1;
                char sep = '\0';
                for (int i = pos; i < text.Length; i++)
                {
                    char c = text[i];
                    if (IsDotEnvSpace(c)) continue;
                    if (c == '=' || c == ':' || c == '\n') { sepAt = i; sep = c; break; }
                    if (c == '_' || c == '.' || c == '-' || c == '[' || c == ']' || char.IsLetter(c) || char.IsNumber(c)) continue;
                    if (char.IsSurrogate(c)) continue;
                    int eol = text.IndexOf('\n', keyStart);
                    string shown = eol < 0 ? text.Substring(keyStart) : text.Substring(keyStart, eol - keyStart);
                    throw new ComposeEnvFileException(fileName, line,
                        $"invalid env file ({fileName}): line {line}: unexpected character {ComposeInterpolation.GoQuote(c.ToString())} in variable name {ComposeInterpolation.GoQuote(shown)}");
                }
                bool inherited;
                string key;
                if (sepAt < 0)
                {
                    // end of text without separator: bare key
                    key = text.Substring(keyStart).TrimEnd();
                    inherited = true;
                    pos = text.Length;
                }
                else
                {
                    key = text.Substring(keyStart, sepAt - keyStart).TrimEnd();
                    inherited = sep == '\n';
                    pos = sepAt + 1;
                }
                if (key.IndexOf(' ') >= 0)
                    throw new ComposeEnvFileException(fileName, line, $"invalid env file ({fileName}): line {line}: key cannot contain a space");
                if (key.Length == 0)
                    throw new ComposeEnvFileException(fileName, line, $"invalid env file ({fileName}): line {line}: no variable name");

                if (inherited)
                {
                    if (sep == '\n') line++;
                    var (found, value) = lookup(key);
                    if (found) Set(key, value ?? string.Empty);
                    continue;
                }

                while (pos < text.Length && IsDotEnvSpace(text[pos])) pos++;

                if (pos < text.Length && (text[pos] == '"' || text[pos] == '\''))
                {
                    char quote = text[pos];
                    int valueLine = line;
                    var sb = new StringBuilder();
                    bool escape = false;
                    int i = pos + 1;
                    bool closed = false;
                    for (; i < text.Length; i++)
                    {
                        char c = text[i];
                        if (c == '\n') line++;
                        if (c != quote)
                        {
                            if (!escape && c == '\\') { escape = true; continue; }
                            if (escape) { escape = false; sb.Append('\\'); }
                            sb.Append(c);
                            continue;
                        }
                        if (escape) { escape = false; sb.Append(c); continue; }
                        closed = true;
                        break;
                    }
                    if (!closed)
                    {
                        int eol = text.IndexOf('\n', pos);
                        string shown = eol < 0 ? text.Substring(pos) : text.Substring(pos, eol - pos);
                        throw new ComposeEnvFileException(fileName, valueLine, $"invalid env file ({fileName}): line {valueLine}: unterminated quoted value {shown}");
                    }
                    string value = sb.ToString();
                    if (quote == '"')
                        value = InterpolateDotEnv(ExpandEscapes(value), Combined, fileName, valueLine, key);
                    Set(key, value);
                    pos = i + 1;
                    continue;
                }

                {
                    int valueLine = line;
                    int nl = text.IndexOf('\n', pos);
                    string value = nl < 0 ? text.Substring(pos) : text.Substring(pos, nl - pos);
                    pos = nl < 0 ? text.Length : nl + 1;
                    line++;
                    int hash = value.IndexOf(" #", StringComparison.Ordinal);
                    if (hash >= 0) value = value.Substring(0, hash);
                    value = value.TrimEnd();
                    Set(key, InterpolateDotEnv(value, Combined, fileName, valueLine, key));
                }
            }
            return order.Select(k => new KeyValuePair<string, string>(k, vars[k])).ToList();
        }

        private static bool IsDotEnvSpace(char c) =>
            c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ' || c == '\u0085' || c == '\u00A0';

        private static string InterpolateDotEnv(string value, Func<string, (bool, string)> lookup, string fileName, int line, string key)
        {
            try
            {
                return ComposeInterpolation.Interpolate(value, name => lookup(name), key);
            }
            catch (ComposeInterpolationException ex)
            {
                throw new ComposeEnvFileException(fileName, line, $"invalid env file ({fileName}): line {line}: {ex.Message}", ex);
            }
        }

        /// <summary>compose-go <c>expandEscapes</c>: <c>\a \b \c? \f \n \r \t \v \" \\</c>, <c>\$</c> (kept as <c>$$</c>
        /// so interpolation yields a literal $), and octal <c>\0</c> + up to 3 digits; anything else stays as written.</summary>
        private static string ExpandEscapes(string s)
        {
            if (s.IndexOf('\\') < 0) return s;
            var sb = new StringBuilder(s.Length);
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c != '\\' || i + 1 >= s.Length) { sb.Append(c); continue; }
                char n = s[i + 1];
                switch (n)
                {
                    case 'a': sb.Append('\a'); i++; continue;
                    case 'b': sb.Append('\b'); i++; continue;
                    case 'f': sb.Append('\f'); i++; continue;
                    case 'n': sb.Append('\n'); i++; continue;
                    case 'r': sb.Append('\r'); i++; continue;
                    case 't': sb.Append('\t'); i++; continue;
                    case 'v': sb.Append('\v'); i++; continue;
                    case '"': sb.Append('"'); i++; continue;
                    case '\\': sb.Append('\\'); i++; continue;
                    case '$': sb.Append("$$"); i++; continue;
                    case 'c': sb.Append("\\c"); i++; continue; // in the regex, but not a Go escape: left as is
                    case '0':
                        {
                            int j = i + 2;
                            while (j < s.Length && j < i + 5 && s[j] >= '0' && s[j] <= '9') j++;
                            string digits = s.Substring(i + 2, j - (i + 2));
                            // Go UnquoteChar needs exactly 3 octal digits after the rewritten "\" (i.e. "\0NNN" -> "\NNN")
                            if (digits.Length == 3 && digits.All(d => d <= '7'))
                            {
                                int v = Convert.ToInt32(digits, 8);
                                if (v <= 255) { sb.Append((char)v); i = j - 1; continue; }
                            }
                            sb.Append(s, i, j - i);
                            i = j - 1;
                            continue;
                        }
                    default:
                        sb.Append(c);
                        continue;
                }
            }
            return sb.ToString();
        }
    }
}
