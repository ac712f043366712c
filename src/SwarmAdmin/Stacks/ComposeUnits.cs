using System;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// Compose value parsers with the exact rules <c>docker stack deploy</c> uses. All failures are
    /// <see cref="FormatException"/>s whose message is the Go error text the CLI prints.
    /// </summary>
    internal static class ComposeUnits
    {
        // ------------------------------------------------------------------------------------------------
        // Durations: Go time.ParseDuration (compose schema "format: duration" + loader transformStringToDuration)
        // ------------------------------------------------------------------------------------------------

        /// <summary>
        /// Go <c>time.ParseDuration</c>: optional sign, then one or more <c>&lt;decimal&gt;&lt;unit&gt;</c> groups
        /// (units ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h; fractions allowed; no d/w); <c>"0"</c> (optionally
        /// signed) is the only unit-less value. Returns nanoseconds (what the Engine API wants).
        /// </summary>
        public static long ParseDurationNanoseconds(string s)
        {
            if (s == null) throw new ArgumentNullException(nameof(s));
            string orig = s;
            const ulong Max = 1UL << 63;
            ulong d = 0;
            bool neg = false;
            int pos = 0;
            if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
            {
                neg = s[0] == '-';
                pos = 1;
            }
            if (s.Length - pos == 1 && s[pos] == '0') return 0;
            if (pos == s.Length) throw new FormatException("time: invalid duration " + TimeQuote(orig));

            while (pos < s.Length)
            {
                ulong v = 0, f = 0;
                double scale = 1;
                char c = s[pos];
                if (!(c == '.' || (c >= '0' && c <= '9'))) throw new FormatException("time: invalid duration " + TimeQuote(orig));

                // leading int
                int start = pos;
                while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9')
                {
                    if (v > Max / 10) throw new FormatException("time: invalid duration " + TimeQuote(orig));
                    v = v * 10 + (ulong)(s[pos] - '0');
                    if (v > Max) throw new FormatException("time: invalid duration " + TimeQuote(orig));
                    pos++;
                }
                bool pre = pos != start;

                bool post = false;
                if (pos < s.Length && s[pos] == '.')
                {
                    pos++;
                    int fstart = pos;
                    bool overflow = false;
                    while (pos < s.Length && s[pos] >= '0' && s[pos] <= '9')
                    {
                        if (!overflow)
                        {
                            if (f > (Max - 1) / 10) overflow = true;
                            else
                            {
                                ulong y = f * 10 + (ulong)(s[pos] - '0');
                                if (y > Max) overflow = true;
                                else { f = y; scale *= 10; }
                            }
                        }
                        pos++;
                    }
                    post = pos != fstart;
                }
                if (!pre && !post) throw new FormatException("time: invalid duration " + TimeQuote(orig));

                int ustart = pos;
                while (pos < s.Length && !(s[pos] == '.' || (s[pos] >= '0' && s[pos] <= '9'))) pos++;
                if (pos == ustart) throw new FormatException("time: missing unit in duration " + TimeQuote(orig));
                string u = s.Substring(ustart, pos - ustart);
                ulong unit;
                switch (u)
                {
                    case "ns": unit = 1; break;
                    case "us": case "\u00B5s": case "\u03BCs": unit = 1000; break;
                    case "ms": unit = 1000000; break;
                    case "s": unit = 1000000000; break;
                    case "m": unit = 60UL * 1000000000; break;
                    case "h": unit = 3600UL * 1000000000; break;
                    default: throw new FormatException("time: unknown unit " + TimeQuote(u) + " in duration " + TimeQuote(orig));
                }
                if (v > Max / unit) throw new FormatException("time: invalid duration " + TimeQuote(orig));
                v *= unit;
                if (f > 0)
                {
                    v += (ulong)((double)f * ((double)unit / scale));
                    if (v > Max) throw new FormatException("time: invalid duration " + TimeQuote(orig));
                }
                d += v;
                if (d > Max) throw new FormatException("time: invalid duration " + TimeQuote(orig));
            }
            if (neg) return d == Max ? long.MinValue : -(long)d;
            if (d > Max - 1) throw new FormatException("time: invalid duration " + TimeQuote(orig));
            return (long)d;
        }

        /// <summary><see cref="ParseDurationNanoseconds"/> as a <see cref="TimeSpan"/>; sub-100ns parts are
        /// truncated toward zero (TimeSpan's resolution is one tick = 100ns; use the nanosecond variant for the API).</summary>
        public static TimeSpan ParseDuration(string s) => TimeSpan.FromTicks(ParseDurationNanoseconds(s) / 100);

        /// <summary>Go's time-package quoting used in duration errors: non-ASCII and control bytes as <c>\xNN</c>
        /// (per UTF-8 byte), <c>"</c> and <c>\</c> escaped.</summary>
        private static string TimeQuote(string s)
        {
            var sb = new StringBuilder(s.Length + 2).Append('"');
            foreach (byte b in Encoding.UTF8.GetBytes(s))
            {
                if (b >= 0x80 || b < 0x20) sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
                else
                {
                    if (b == '"' || b == '\\') sb.Append('\\');
                    sb.Append((char)b);
                }
            }
            return sb.Append('"').ToString();
        }

        // ------------------------------------------------------------------------------------------------
        // Byte sizes: go-units RAMInBytes (loader transformSize for deploy.resources.*.memory)
        // ------------------------------------------------------------------------------------------------

        /// <summary>
        /// go-units <c>RAMInBytes</c>: <c>&lt;number&gt;[ ]&lt;unit&gt;</c>, the number is a Go float
        /// (<c>1.5</c>, <c>.5</c>, <c>1e3</c>, <c>1_000</c>), units are case-insensitive and always binary:
        /// b, k/kb/kib, m/mb/mib, g/gb/gib, t/tb/tib, p/pb/pib; no unit = bytes; the result is truncated.
        /// Errors: <c>invalid size: 'X'</c> (no digit, negative), <c>invalid suffix: 'x'</c>, and
        /// <c>strconv.ParseFloat: parsing "X": invalid syntax</c>.
        /// Deviation: a value that does not fit in int64 (or inf/nan) is rejected with <c>invalid size: 'X'</c>
        /// (Go's float-&gt;int64 conversion gives a platform-dependent garbage value there).
        /// </summary>
        public static long ParseByteSize(string sizeStr)
        {
            if (sizeStr == null) throw new ArgumentNullException(nameof(sizeStr));
            int sep = sizeStr.LastIndexOfAny("01234567890. ".ToCharArray());
            if (sep == -1) throw new FormatException($"invalid size: '{sizeStr}'");
            string num, sfx;
            if (sizeStr[sep] != ' ')
            {
                num = sizeStr.Substring(0, sep + 1);
                sfx = sizeStr.Substring(sep + 1);
            }
            else
            {
                num = sizeStr.Substring(0, sep);
                sfx = sizeStr.Substring(sep + 1);
            }

            if (!TryParseGoFloat(num, out double size, out string error)) throw new FormatException(error);
            if (size < 0) throw new FormatException($"invalid size: '{sizeStr}'");

            if (sfx.Length > 0)
            {
                if (Encoding.UTF8.GetByteCount(sfx) > 3) throw new FormatException($"invalid suffix: '{sfx}'");
                sfx = sfx.ToLowerInvariant();
                if (sfx[0] == 'b')
                {
                    if (sfx.Length > 1) throw new FormatException($"invalid suffix: '{sfx}'");
                }
                else
                {
                    long mul;
                    switch (sfx[0])
                    {
                        case 'k': mul = 1L << 10; break;
                        case 'm': mul = 1L << 20; break;
                        case 'g': mul = 1L << 30; break;
                        case 't': mul = 1L << 40; break;
                        case 'p': mul = 1L << 50; break;
                        default: throw new FormatException($"invalid suffix: '{sfx}'");
                    }
                    size *= mul;
                    if ((sfx.Length == 2 && sfx[1] != 'b') || (sfx.Length == 3 && sfx.Substring(1) != "ib"))
                        throw new FormatException($"invalid suffix: '{sfx}'");
                }
            }

            if (double.IsNaN(size) || size >= 9223372036854775808.0) throw new FormatException($"invalid size: '{sizeStr}'");
            return (long)size; // truncation toward zero, like Go's int64(float64)
        }

        // ------------------------------------------------------------------------------------------------
        // CPUs: opts.ParseCPUs (convert/service.go convertResources, deploy.resources.*.cpus)
        // ------------------------------------------------------------------------------------------------

        /// <summary>
        /// docker/cli <c>opts.ParseCPUs</c>: the text is read exactly as a rational number (Go <c>big.Rat.SetString</c>:
        /// decimal <c>0.5</c>, exponent <c>5e-1</c>/<c>1p-1</c>, fraction <c>1/4</c>, base prefixes 0x/0o/0b, '_' digit
        /// separators, optional sign), multiplied by 1e9, and must then be an integer.
        /// Errors: <c>failed to parse X as a rational number</c>, <c>value is too precise</c>.
        /// Deviation: a result outside int64 is rejected (<c>value out of range</c>) instead of Go's wrapped bits.
        /// Note the CLI itself does not reject negative values (the Engine does).
        /// </summary>
        public static long ParseNanoCpus(string value)
        {
            if (value == null) throw new ArgumentNullException(nameof(value));
            if (!TryParseRational(value, out BigInteger num, out BigInteger den))
                throw new FormatException($"failed to parse {value} as a rational number");
            BigInteger nano = num * 1000000000;
            BigInteger q = BigInteger.DivRem(nano, den, out BigInteger rem);
            if (!rem.IsZero) throw new FormatException("value is too precise");
            if (q > long.MaxValue || q < long.MinValue) throw new FormatException("value out of range");
            return (long)q;
        }

        private const int MaxRatExponent = 1000000;

        /// <summary>Go <c>big.Rat.SetString</c> (den &gt; 0 on success).</summary>
        internal static bool TryParseRational(string s, out BigInteger num, out BigInteger den)
        {
            num = BigInteger.Zero; den = BigInteger.One;
            if (string.IsNullOrEmpty(s)) return false;

            int slash = s.IndexOf('/');
            if (slash >= 0)
            {
                int p = 0;
                bool negA = false;
                string a = s.Substring(0, slash);
                if (a.Length > 0 && (a[0] == '+' || a[0] == '-')) { negA = a[0] == '-'; p = 1; }
                if (!ScanNat(a, ref p, fracOk: false, out BigInteger an, out _, out _) || p != a.Length) return false;
                string b = s.Substring(slash + 1);
                int q = 0;
                if (!ScanNat(b, ref q, fracOk: false, out BigInteger bn, out _, out _) || q != b.Length) return false;
                if (bn.IsZero) return false;
                num = negA ? -an : an;
                den = bn;
                return true;
            }

            int pos = 0;
            bool neg = false;
            if (s[0] == '+' || s[0] == '-') { neg = s[0] == '-'; pos = 1; }
            if (!ScanNat(s, ref pos, fracOk: true, out BigInteger mant, out int mbase, out int fcount)) return false;

            long exp = 0;
            int ebase = 10;
            if (pos < s.Length && (s[pos] == 'e' || s[pos] == 'E' || s[pos] == 'p' || s[pos] == 'P'))
            {
                ebase = s[pos] == 'p' || s[pos] == 'P' ? 2 : 10;
                pos++;
                bool eneg = false;
                if (pos < s.Length && (s[pos] == '+' || s[pos] == '-')) { eneg = s[pos] == '-'; pos++; }
                int dstart = pos;
                char prev = '.';
                bool sepOk = true;
                while (pos < s.Length && ((s[pos] >= '0' && s[pos] <= '9') || s[pos] == '_'))
                {
                    if (s[pos] == '_') { if (prev == '_' || pos == dstart) sepOk = false; }
                    else if (exp < 100000000) exp = exp * 10 + (s[pos] - '0');
                    prev = s[pos];
                    pos++;
                }
                if (pos == dstart || prev == '_' || !sepOk) return false;
                if (eneg) exp = -exp;
            }
            if (pos != s.Length) return false;

            if (mant.IsZero) { num = BigInteger.Zero; den = BigInteger.One; return true; }

            long exp2 = 0, exp5 = 0;
            if (fcount < 0)
            {
                long d = fcount;
                switch (mbase)
                {
                    case 10: exp5 = d; exp2 = d; break;
                    case 2: exp2 = d; break;
                    case 8: exp2 = d * 3; break;
                    case 16: exp2 = d * 4; break;
                }
            }
            if (ebase == 10) { exp5 += exp; exp2 += exp; } else exp2 += exp;
            if (Math.Abs(exp5) > MaxRatExponent || Math.Abs(exp2) > MaxRatExponent) return false;

            num = mant; den = BigInteger.One;
            if (exp5 > 0) num *= BigInteger.Pow(5, (int)exp5);
            else if (exp5 < 0) den *= BigInteger.Pow(5, (int)-exp5);
            if (exp2 > 0) num <<= (int)exp2;
            else if (exp2 < 0) den <<= (int)-exp2;
            if (neg) num = -num;
            return true;
        }

        /// <summary>Go <c>nat.scan</c> with base 0: optional 0b/0o/0x prefix (and, without fracOk, a plain leading 0
        /// meaning octal), digits with '_' separators, and with <paramref name="fracOk"/> one '.'.
        /// <paramref name="fcount"/> is minus the number of fractional digits.</summary>
        private static bool ScanNat(string s, ref int pos, bool fracOk, out BigInteger value, out int numBase, out int fcount)
        {
            value = BigInteger.Zero; numBase = 10; fcount = 0;
            int i = pos;
            if (i >= s.Length) return false;
            int b = 10;
            char prefix = '\0';
            int count = 0;
            char prev = '.'; // '.' = start/after-dot, '0' = digit or prefix, '_' = separator
            bool invalSep = false;
            if (s[i] == '0')
            {
                if (i + 1 >= s.Length) { pos = i + 1; numBase = 10; return true; }
                char ch = s[i + 1];
                switch (ch)
                {
                    case 'b': case 'B': b = 2; prefix = 'b'; break;
                    case 'o': case 'O': b = 8; prefix = 'o'; break;
                    case 'x': case 'X': b = 16; prefix = 'x'; break;
                    default:
                        if (!fracOk) { b = 8; prefix = '0'; }
                        break;
                }
                if (prefix != '\0')
                {
                    prev = '0';
                    i += prefix == '0' ? 1 : 2;
                }
            }

            int dp = -1;
            var digits = BigInteger.Zero;
            for (; i < s.Length; i++)
            {
                char ch = s[i];
                if (ch == '.' && fracOk && dp < 0)
                {
                    dp = count;
                    prev = '.';
                    continue;
                }
                if (ch == '_')
                {
                    if (prev != '0') invalSep = true;
                    prev = '_';
                    continue;
                }
                int d1;
                if (ch >= '0' && ch <= '9') d1 = ch - '0';
                else if (ch >= 'a' && ch <= 'z') d1 = ch - 'a' + 10;
                else if (ch >= 'A' && ch <= 'Z') d1 = ch - 'A' + 10;
                else break;
                if (d1 >= b) break;
                digits = digits * b + d1;
                count++;
                prev = '0';
            }

            if (count == 0)
            {
                if (prefix == '0') { count = 1; b = 10; }
                else return false;
            }
            if (invalSep || prev == '_') return false;
            value = digits;
            numBase = b;
            fcount = dp >= 0 ? dp - count : 0;
            pos = i;
            return true;
        }

        // ------------------------------------------------------------------------------------------------
        // Scalars: casts applied by loader/interpolate.go, and Go number syntax
        // ------------------------------------------------------------------------------------------------

        /// <summary>loader/interpolate.go <c>toBoolean</c> (YAML 1.1 booleans), used for values that came from
        /// interpolation: y/yes/true/on and n/no/false/off, case-insensitive.</summary>
        public static bool TryParseComposeBool(string value, out bool result)
        {
            switch ((value ?? string.Empty).ToLowerInvariant())
            {
                case "y": case "yes": case "true": case "on": result = true; return true;
                case "n": case "no": case "false": case "off": result = false; return true;
                default: result = false; return false;
            }
        }

        /// <summary>Go <c>strconv.Atoi</c> (64-bit): optional +/- sign and decimal digits only (no '_', no prefix).</summary>
        public static bool TryParseGoAtoi(string s, out long value, out string error)
        {
            value = 0; error = null;
            s = s ?? string.Empty;
            int i = 0;
            bool neg = false;
            if (s.Length > 0 && (s[0] == '+' || s[0] == '-')) { neg = s[0] == '-'; i = 1; }
            if (i >= s.Length) { error = $"strconv.Atoi: parsing {ComposeInterpolation.GoQuote(s)}: invalid syntax"; return false; }
            ulong acc = 0;
            bool range = false;
            for (; i < s.Length; i++)
            {
                char c = s[i];
                if (c < '0' || c > '9') { error = $"strconv.Atoi: parsing {ComposeInterpolation.GoQuote(s)}: invalid syntax"; return false; }
                if (!range)
                {
                    if (acc > (ulong.MaxValue - 9) / 10) range = true;
                    else acc = acc * 10 + (ulong)(c - '0');
                }
            }
            ulong cutoff = neg ? 1UL << 63 : (1UL << 63) - 1;
            if (range || acc > cutoff) { error = $"strconv.Atoi: parsing {ComposeInterpolation.GoQuote(s)}: value out of range"; return false; }
            value = neg ? (acc == 1UL << 63 ? long.MinValue : -(long)acc) : (long)acc;
            return true;
        }

        /// <summary>
        /// How yaml.v3 (the CLI's YAML parser) reads a plain scalar as an integer: '_' removed, then
        /// <c>strconv.ParseInt(s, 0, 64)</c>: optional sign, 0x/0o/0b prefixes and a leading 0 meaning OCTAL
        /// (<c>0440</c> = 288, the classic secret <c>mode</c> trap). Only meaningful for unquoted YAML scalars:
        /// a quoted <c>"3"</c> is a string and fails integer schema fields in the CLI.
        /// </summary>
        public static bool TryParseYamlInt(string s, out long value)
        {
            value = 0;
            if (string.IsNullOrEmpty(s)) return false;
            string plain = s.Replace("_", string.Empty);
            int i = 0;
            bool neg = false;
            if (plain.Length > 0 && (plain[0] == '+' || plain[0] == '-')) { neg = plain[0] == '-'; i = 1; }
            if (i >= plain.Length) return false;
            int b = 10;
            if (plain[i] == '0' && i + 1 < plain.Length)
            {
                char p = plain[i + 1];
                if (p == 'x' || p == 'X') { b = 16; i += 2; }
                else if (p == 'o' || p == 'O') { b = 8; i += 2; }
                else if (p == 'b' || p == 'B') { b = 2; i += 2; }
                else { b = 8; i += 1; }
                if (i >= plain.Length) return false;
            }
            BigInteger acc = BigInteger.Zero;
            for (; i < plain.Length; i++)
            {
                char c = plain[i];
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
                if (d >= b) return false;
                acc = acc * b + d;
            }
            if (neg) acc = -acc;
            if (acc > long.MaxValue || acc < long.MinValue) return false;
            value = (long)acc;
            return true;
        }

        /// <summary>
        /// Go <c>strconv.ParseFloat(s, 64)</c>: decimal (<c>1</c>, <c>1.5</c>, <c>.5</c>, <c>5.</c>, <c>1e3</c>,
        /// '_' between digits), hexadecimal with a mandatory p exponent (<c>0x1p-2</c>), and inf/infinity/nan
        /// (any case). Error texts are Go's (<c>strconv.ParseFloat: parsing "x": invalid syntax</c> / <c>value out of range</c>).
        /// </summary>
        public static bool TryParseGoFloat(string s, out double value, out string error)
        {
            value = 0; error = null;
            s = s ?? string.Empty;
            string syntax = $"strconv.ParseFloat: parsing {ComposeInterpolation.GoQuote(s)}: invalid syntax";

            // specials
            {
                int k = 0;
                bool neg = false;
                if (s.Length > 0 && (s[0] == '+' || s[0] == '-')) { neg = s[0] == '-'; k = 1; }
                string rest = s.Substring(k).ToLowerInvariant();
                if (rest == "inf" || rest == "infinity") { value = neg ? double.NegativeInfinity : double.PositiveInfinity; return true; }
                if (k == 0 && rest == "nan") { value = double.NaN; return true; }
            }

            int i = 0;
            bool negative = false;
            if (s.Length > 0 && (s[0] == '+' || s[0] == '-')) { negative = s[0] == '-'; i = 1; }
            bool hex = false;
            if (i + 2 < s.Length && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) { hex = true; i += 2; }
            bool sawDot = false, sawDigits = false, underscores = false;
            var mant = new StringBuilder();
            int fracDigits = 0;
            for (; i < s.Length; i++)
            {
                char c = s[i];
                if (c == '_') { underscores = true; continue; }
                if (c == '.') { if (sawDot) break; sawDot = true; continue; }
                bool digit = c >= '0' && c <= '9';
                bool hexDigit = hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
                if (!digit && !hexDigit) break;
                sawDigits = true;
                mant.Append(c);
                if (sawDot) fracDigits++;
            }
            if (!sawDigits) { error = syntax; return false; }
            long exp = 0;
            char expChar = hex ? 'p' : 'e';
            if (i < s.Length && char.ToLowerInvariant(s[i]) == expChar)
            {
                i++;
                if (i >= s.Length) { error = syntax; return false; }
                bool eneg = false;
                if (s[i] == '+' || s[i] == '-') { eneg = s[i] == '-'; i++; }
                if (i >= s.Length || s[i] < '0' || s[i] > '9') { error = syntax; return false; }
                for (; i < s.Length && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'); i++)
                {
                    if (s[i] == '_') { underscores = true; continue; }
                    if (exp < 10000) exp = exp * 10 + (s[i] - '0');
                }
                if (eneg) exp = -exp;
            }
            else if (hex) { error = syntax; return false; }
            if (i != s.Length) { error = syntax; return false; }
            if (underscores && !UnderscoreOk(s)) { error = syntax; return false; }

            if (hex)
            {
                BigInteger m = BigInteger.Parse("0" + mant, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                long e2 = exp - 4L * fracDigits;
                double r = (double)m * Math.Pow(2, Math.Max(-1100, Math.Min(1100, e2)));
                value = negative ? -r : r;
            }
            else
            {
                string clean = s.Replace("_", string.Empty);
                try
                {
                    value = double.Parse(clean, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
                        CultureInfo.InvariantCulture);
                }
                catch (OverflowException)
                {
                    value = negative ? double.NegativeInfinity : double.PositiveInfinity;
                }
            }
            if (double.IsInfinity(value))
            {
                error = $"strconv.ParseFloat: parsing {ComposeInterpolation.GoQuote(s)}: value out of range";
                return false;
            }
            return true;
        }

        /// <summary>Go strconv <c>underscoreOK</c>: '_' only between digits or between a base prefix and a digit.</summary>
        private static bool UnderscoreOk(string s)
        {
            char saw = '^';
            int i = 0;
            if (s.Length >= 1 && (s[0] == '-' || s[0] == '+')) s = s.Substring(1);
            bool hex = false;
            if (s.Length >= 2 && s[0] == '0' && "bBoOxX".IndexOf(s[1]) >= 0)
            {
                i = 2;
                saw = '0';
                hex = s[1] == 'x' || s[1] == 'X';
            }
            for (; i < s.Length; i++)
            {
                char c = s[i];
                if ((c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))) { saw = '0'; continue; }
                if (c == '_')
                {
                    if (saw != '0') return false;
                    saw = '_';
                    continue;
                }
                if (saw == '_') return false;
                saw = '!';
            }
            return saw != '_';
        }

        /// <summary>Shortest round-trip text of a double (canonical form of a cast float value).</summary>
        public static string FormatFloat(double d) => d.ToString("R", CultureInfo.InvariantCulture);
    }
}
