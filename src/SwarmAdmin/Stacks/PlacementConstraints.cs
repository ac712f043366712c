using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Stacks
{
    /// <summary>A node as the swarm scheduler sees it when it evaluates placement constraints.</summary>
    internal sealed class PlacementNode
    {
        public string Id { get; set; }
        public string Hostname { get; set; }
        /// <summary>"manager" or "worker" (compared case-insensitively, like swarmkit's <c>NodeRole.String()</c>).</summary>
        public string Role { get; set; }
        public string Os { get; set; }
        public string Arch { get; set; }
        /// <summary>The node's address as the managers see it (<c>Node.Status.Addr</c>).</summary>
        public string Address { get; set; }
        /// <summary>Node (spec) labels; looked up with ordinal, case-sensitive keys.</summary>
        public IDictionary<string, string> NodeLabels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);
        /// <summary>Engine (daemon) labels; looked up with ordinal, case-sensitive keys.</summary>
        public IDictionary<string, string> EngineLabels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

        public override string ToString() => PlacementConstraints.NodeName(this);
    }

    /// <summary>One parsed placement constraint (<c>key == value</c> or <c>key != value</c>).</summary>
    internal sealed class PlacementConstraint
    {
        /// <summary>The key, trimmed, as written (its case is kept; matching ignores it).</summary>
        public string Key { get; set; }
        /// <summary>True for <c>==</c>, false for <c>!=</c>.</summary>
        public bool Equal { get; set; }
        /// <summary>The value, trimmed.</summary>
        public string Value { get; set; }
        /// <summary>The expression exactly as written.</summary>
        public string Text { get; set; }

        public override string ToString() => Text ?? (Key + (Equal ? "==" : "!=") + Value);
    }

    /// <summary>
    /// Swarm placement constraints with the exact rules of swarmkit <c>manager/constraint/constraint.go</c>
    /// (<c>Parse</c>, <c>Constraint.Match</c>, <c>NodeMatches</c>), plus a human explanation of why no node fits.
    /// </summary>
    internal static class PlacementConstraints
    {
        private const string NodeLabelPrefix = "node.labels.";
        private const string EngineLabelPrefix = "engine.labels.";

        // Go's `(?i)[a-z]` also matches U+017F (folds with s) and U+212A (Kelvin sign, folds with k); Go's `\s` is
        // ASCII [\t\n\f\r ]; Go's `$` is end of text (\z), not "before a final newline".
        private const string GoLetters = "a-zA-Z\u017F\u212A";
        private static readonly Regex AlphaNumeric = new Regex(
            "^[" + GoLetters + "_][" + GoLetters + @"0-9\-_.]+\z", RegexOptions.CultureInvariant);
        private static readonly Regex ValuePattern = new Regex(
            "^[" + GoLetters + @"0-9:\-_\t\n\f\r \.\*\(\)\?\+\[\]\\\^\$\|/]+\z", RegexOptions.CultureInvariant);

        private static readonly string[] Operators = { "==", "!=" };

        /// <summary>
        /// swarmkit <c>constraint.Parse</c> for one expression. The first operator of <c>==</c>, <c>!=</c> (in that order)
        /// that the text contains splits it once; key and value are trimmed; the key must match
        /// <c>^(?i)[a-z_][a-z0-9\-_.]+$</c> and the value <c>^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$</c>.
        /// On failure <paramref name="error"/> is swarmkit's error text (what the engine answers to a service create).
        /// </summary>
        public static bool TryParse(string expression, out PlacementConstraint constraint, out string error)
        {
            constraint = null;
            error = null;
            string e = expression ?? "";
            for (int i = 0; i < Operators.Length; i++)
            {
                string op = Operators[i];
                int at = e.IndexOf(op, StringComparison.Ordinal);
                if (at < 0) continue;

                string key = e.Substring(0, at).Trim();
                if (!AlphaNumeric.IsMatch(key))
                {
                    error = $"key '{key}' is invalid";
                    return false;
                }
                string value = e.Substring(at + op.Length).Trim();
                if (!ValuePattern.IsMatch(value))
                {
                    error = $"value '{value}' is invalid";
                    return false;
                }
                constraint = new PlacementConstraint { Key = key, Equal = i == 0, Value = value, Text = expression };
                return true;
            }
            error = "constraint expected one operator from " + string.Join(", ", Operators);
            return false;
        }

        /// <summary>
        /// swarmkit <c>NodeMatches</c> for one constraint. Keys are case-insensitive; label names after
        /// <c>node.labels.</c> / <c>engine.labels.</c> are case-sensitive and a missing label (or missing attribute)
        /// counts as the empty string; values compare with Go <c>strings.EqualFold</c>. <c>node.ip</c> takes an IP
        /// or a CIDR and a malformed one matches nothing (for <c>!=</c> too). Unknown keys never match.
        /// </summary>
        public static bool Matches(PlacementConstraint c, PlacementNode n)
        {
            if (c == null) throw new ArgumentNullException(nameof(c));
            if (n == null) throw new ArgumentNullException(nameof(n));
            string key = c.Key ?? "";

            if (EqualFold(key, "node.id")) return Match(c, n.Id);
            if (EqualFold(key, "node.hostname")) return Match(c, n.Hostname);
            if (EqualFold(key, "node.ip")) return MatchIp(c, n.Address);
            if (EqualFold(key, "node.role")) return Match(c, n.Role);
            if (EqualFold(key, "node.platform.os")) return Match(c, n.Os);
            if (EqualFold(key, "node.platform.arch")) return Match(c, n.Arch);
            if (key.Length > NodeLabelPrefix.Length && EqualFold(key.Substring(0, NodeLabelPrefix.Length), NodeLabelPrefix))
                return Match(c, Label(n.NodeLabels, key.Substring(NodeLabelPrefix.Length)));
            if (key.Length > EngineLabelPrefix.Length && EqualFold(key.Substring(0, EngineLabelPrefix.Length), EngineLabelPrefix))
                return Match(c, Label(n.EngineLabels, key.Substring(EngineLabelPrefix.Length)));
            // key doesn't match predefined syntax
            return false;
        }

        /// <summary>True when the node satisfies every constraint (an empty list is satisfied by any node).</summary>
        public static bool MatchesAll(IEnumerable<PlacementConstraint> cs, PlacementNode n)
        {
            if (cs == null) return true;
            foreach (var c in cs)
                if (!Matches(c, n)) return false;
            return true;
        }

        /// <summary>
        /// Null when the constraint list is empty or at least one of <paramref name="nodes"/> satisfies all of them.
        /// Otherwise one sentence: the constraints no node satisfies on its own (or, when each alone is satisfiable,
        /// that no single node satisfies them together), followed by what the nodes do have: their roles (when a
        /// <c>node.role</c> constraint fails), hostnames / platforms / addresses / engine labels (when a constraint on
        /// those fails) and always their node labels. Unparsable constraints give an "invalid constraint" message.
        /// </summary>
        public static string Explain(IReadOnlyList<string> constraints, IReadOnlyList<PlacementNode> nodes)
        {
            if (constraints == null || constraints.Count == 0) return null;
            nodes = nodes ?? Array.Empty<PlacementNode>();

            var parsed = new List<PlacementConstraint>();
            var invalid = new List<string>();
            foreach (string text in constraints)
            {
                if (TryParse(text, out var c, out string error)) parsed.Add(c);
                else invalid.Add($"invalid constraint \"{text}\": {error}");
            }
            if (invalid.Count > 0) return string.Join("; ", invalid);
            if (nodes.Any(n => n != null && MatchesAll(parsed, n))) return null;

            var live = nodes.Where(n => n != null).ToList();
            if (live.Count == 0)
                return $"no node satisfies {QuoteList(parsed, "and")}: there are no ready nodes";

            var alone = parsed.Where(c => !live.Any(n => Matches(c, n))).ToList();
            string head;
            List<PlacementConstraint> failing;
            if (alone.Count > 0)
            {
                head = "no node satisfies " + QuoteList(alone, "or");
                failing = alone;
            }
            else
            {
                head = $"no single node satisfies {QuoteList(parsed, "and")} together";
                failing = parsed;
            }

            var details = new List<string>();
            bool Fails(Func<string, bool> keyTest) => failing.Any(c => keyTest(c.Key ?? ""));
            if (Fails(k => EqualFold(k, "node.role")))
                details.Add("roles on the ready nodes: " + Group(live, n => Lower(n.Role)));
            if (Fails(k => EqualFold(k, "node.hostname") || EqualFold(k, "node.id")))
                details.Add("ready nodes: " + string.Join(", ", live
                    .Select(n => string.IsNullOrEmpty(n.Id) || NodeName(n) == n.Id ? NodeName(n) : $"{NodeName(n)} ({n.Id})")
                    .OrderBy(s => s, StringComparer.Ordinal)));
            if (Fails(k => EqualFold(k, "node.platform.os") || EqualFold(k, "node.platform.arch")))
                details.Add("platforms on the ready nodes: " + Group(live, n => (n.Os ?? "") + "/" + (n.Arch ?? "")));
            if (Fails(k => EqualFold(k, "node.ip")))
                details.Add("addresses of the ready nodes: " + Group(live, n => string.IsNullOrEmpty(n.Address) ? "(none)" : n.Address));
            if (Fails(k => k.Length > EngineLabelPrefix.Length && EqualFold(k.Substring(0, EngineLabelPrefix.Length), EngineLabelPrefix)))
                details.Add(LabelList(live, n => n.EngineLabels, "engine labels on the ready nodes: ", "no node has engine labels"));
            details.Add(LabelList(live, n => n.NodeLabels, "labels on the ready nodes: ", "no node has labels"));

            return head + "; " + string.Join("; ", details);
        }

        // ---------------------------------------------------------------------------------------------------------

        internal static string NodeName(PlacementNode n)
            => !string.IsNullOrEmpty(n.Hostname) ? n.Hostname : !string.IsNullOrEmpty(n.Id) ? n.Id : "(unnamed node)";

        private static string Lower(string s) => string.IsNullOrEmpty(s) ? "(unknown)" : s.ToLowerInvariant();

        private static string QuoteList(IEnumerable<PlacementConstraint> cs, string conjunction)
        {
            var quoted = cs.Select(c => "\"" + c + "\"").Distinct(StringComparer.Ordinal).ToList();
            if (quoted.Count == 1) return quoted[0];
            return string.Join(", ", quoted.Take(quoted.Count - 1)) + " " + conjunction + " " + quoted[quoted.Count - 1];
        }

        /// <summary>"value (node, node), value (node)" grouped by value; values and node names in ordinal order.</summary>
        private static string Group(IEnumerable<PlacementNode> nodes, Func<PlacementNode, string> value)
            => string.Join(", ", nodes
                .GroupBy(value, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} ({string.Join(", ", g.Select(NodeName).OrderBy(s => s, StringComparer.Ordinal))})"));

        private static string LabelList(IEnumerable<PlacementNode> nodes, Func<PlacementNode, IDictionary<string, string>> labels, string prefix, string none)
        {
            var pairs = new List<KeyValuePair<string, string>>(); // "k=v" → node name
            foreach (var n in nodes)
            {
                var d = labels(n);
                if (d == null) continue;
                foreach (var kv in d)
                    pairs.Add(new KeyValuePair<string, string>(kv.Key + "=" + (kv.Value ?? ""), NodeName(n)));
            }
            if (pairs.Count == 0) return none;
            return prefix + string.Join(", ", pairs
                .GroupBy(p => p.Key, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} ({string.Join(", ", g.Select(p => p.Value).Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal))})"));
        }

        /// <summary>Label lookup with ordinal (case-sensitive) key comparison whatever the dictionary's comparer; missing = "".</summary>
        private static string Label(IDictionary<string, string> labels, string name)
        {
            if (labels == null) return "";
            foreach (var kv in labels)
                if (string.Equals(kv.Key, name, StringComparison.Ordinal)) return kv.Value ?? "";
            return "";
        }

        /// <summary>swarmkit <c>Constraint.Match</c> for one value (a null attribute is the empty string).</summary>
        private static bool Match(PlacementConstraint c, string what)
        {
            bool match = EqualFold(c.Value ?? "", what ?? "");
            return c.Equal ? match : !match;
        }

        private static bool MatchIp(PlacementConstraint c, string address)
        {
            byte[] nodeIp = GoIp.Parse(address); // null when absent/unparsable: equal to nothing, within nothing
            byte[] ip = GoIp.Parse(c.Value);
            if (ip != null)
            {
                bool ipEq = nodeIp != null && ip.SequenceEqual(nodeIp);
                return c.Equal ? ipEq : !ipEq;
            }
            if (GoIp.TryParseCidr(c.Value, out byte[] network, out int bits, out bool v4Network))
            {
                bool within = GoIp.Contains(network, bits, v4Network, nodeIp);
                return c.Equal ? within : !within;
            }
            // reject constraint with malformed address/network
            return false;
        }

        /// <summary>Go <c>strings.EqualFold</c> (Unicode simple case folding, approximated per UTF-16 unit).</summary>
        internal static bool EqualFold(string a, string b)
        {
            if (a.Length != b.Length)
            {
                // Folding pairs of different UTF-16 length do not exist in the BMP cases we care about; fall back.
                return string.Equals(a, b, StringComparison.OrdinalIgnoreCase);
            }
            for (int i = 0; i < a.Length; i++)
            {
                char x = a[i], y = b[i];
                if (x == y) continue;
                if (char.ToUpperInvariant(x) == char.ToUpperInvariant(y)) continue;
                if (char.ToLowerInvariant(x) == char.ToLowerInvariant(y)) continue;
                return false;
            }
            return true;
        }

        /// <summary>Go <c>net.ParseIP</c> / <c>net.ParseCIDR</c> / <c>IPNet.Contains</c> semantics (addresses as 16 bytes).</summary>
        private static class GoIp
        {
            /// <summary>16-byte form (IPv4 as ::ffff:a.b.c.d) or null. Strict: no leading zeros, no zones, no brackets.</summary>
            public static byte[] Parse(string s)
            {
                if (string.IsNullOrEmpty(s)) return null;
                if (s.IndexOf(':') < 0) return ParseV4(s);
                foreach (char ch in s)
                    if (!(ch == ':' || ch == '.' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
                        return null; // zones (%eth0), brackets, ports, prefixes
                int lastColon = s.LastIndexOf(':');
                string tail = s.Substring(lastColon + 1);
                if (tail.IndexOf('.') >= 0 && ParseV4(tail) == null) return null; // embedded IPv4 must be strict too
                if (!IPAddress.TryParse(s, out var addr) || addr.AddressFamily != AddressFamily.InterNetworkV6) return null;
                return addr.GetAddressBytes();
            }

            private static byte[] ParseV4(string s)
            {
                string[] parts = s.Split('.');
                if (parts.Length != 4) return null;
                var bytes = new byte[16];
                bytes[10] = 0xff;
                bytes[11] = 0xff;
                for (int i = 0; i < 4; i++)
                {
                    string p = parts[i];
                    if (p.Length == 0 || p.Length > 3 || (p.Length > 1 && p[0] == '0')) return null;
                    int v = 0;
                    foreach (char ch in p)
                    {
                        if (ch < '0' || ch > '9') return null;
                        v = v * 10 + (ch - '0');
                    }
                    if (v > 255) return null;
                    bytes[12 + i] = (byte)v;
                }
                return bytes;
            }

            public static bool IsV4(byte[] ip)
            {
                for (int i = 0; i < 10; i++) if (ip[i] != 0) return false;
                return ip[10] == 0xff && ip[11] == 0xff;
            }

            public static bool TryParseCidr(string s, out byte[] network, out int bits, out bool v4)
            {
                network = null;
                bits = 0;
                v4 = false;
                if (string.IsNullOrEmpty(s)) return false;
                int slash = s.IndexOf('/');
                if (slash < 0) return false;
                string addr = s.Substring(0, slash), mask = s.Substring(slash + 1);
                byte[] ip = Parse(addr);
                if (ip == null) return false;
                v4 = addr.IndexOf(':') < 0; // netip: Is4() only for dotted IPv4, an IPv4-mapped IPv6 prefix stays IPv6
                // Go dtoi: decimal digits only (leading zeros allowed)
                if (mask.Length == 0 || mask.Any(ch => ch < '0' || ch > '9')) return false;
                string digits = mask.TrimStart('0');
                if (digits.Length > 3) return false;
                int n = digits.Length == 0 ? 0 : int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
                if (n > (v4 ? 32 : 128)) return false;
                bits = n;
                network = ip;
                return true;
            }

            public static bool Contains(byte[] network, int bits, bool v4Network, byte[] ip)
            {
                if (ip == null) return false;
                // IPNet.Contains: a node address that is IPv4 (or IPv4-mapped) is compared as 4 bytes, so it can only
                // fall in an IPv4 network; anything else only in an IPv6 network.
                if (IsV4(ip) != v4Network) return false;
                int offset = v4Network ? 12 : 0;
                for (int i = 0; i < bits; i++)
                {
                    int b = offset + i / 8, mask = 0x80 >> (i % 8);
                    if ((network[b] & mask) != (ip[b] & mask)) return false;
                }
                return true;
            }
        }
    }
}
