using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Security;
using System.Text;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// Percent-encoding exactly as Proxmox expects it: UTF-8, upper-case hex, everything except the RFC 3986
    /// unreserved characters <c>A-Z a-z 0-9 - _ . ~</c> escaped (so a space is <c>%20</c>, never <c>+</c>).
    /// Our own implementation, so the bytes on the wire are the same on .NET Framework and .NET (Core).
    /// </summary>
    internal static class ProxmoxPercent
    {
        private const string Hex = "0123456789ABCDEF";

        public static bool IsUnreserved(char c) =>
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';

        public static string Encode(string value)
        {
            if (string.IsNullOrEmpty(value)) return value ?? string.Empty;
            byte[] bytes = new UTF8Encoding(false, true).GetBytes(value);
            var sb = new StringBuilder(bytes.Length * 3);
            foreach (byte b in bytes)
            {
                char c = (char)b;
                if (b < 0x80 && IsUnreserved(c)) sb.Append(c);
                else sb.Append('%').Append(Hex[b >> 4]).Append(Hex[b & 0xF]);
            }
            return sb.ToString();
        }

        /// <summary>Decodes %XX sequences (UTF-8). A '+' stays a '+' (Perl's uri_unescape does not turn it into a space).</summary>
        public static string Decode(string value)
        {
            if (string.IsNullOrEmpty(value) || value.IndexOf('%') < 0) return value ?? string.Empty;
            var bytes = new List<byte>(value.Length);
            for (int i = 0; i < value.Length; i++)
            {
                char c = value[i];
                if (c == '%' && i + 2 < value.Length && TryHex(value[i + 1], out int hi) && TryHex(value[i + 2], out int lo))
                {
                    bytes.Add((byte)((hi << 4) | lo));
                    i += 2;
                }
                else if (char.IsHighSurrogate(c) && i + 1 < value.Length)
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(value.Substring(i, 2)));
                    i++;
                }
                else
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                }
            }
            return Encoding.UTF8.GetString(bytes.ToArray());
        }

        private static bool TryHex(char c, out int v)
        {
            if (c >= '0' && c <= '9') { v = c - '0'; return true; }
            if (c >= 'A' && c <= 'F') { v = c - 'A' + 10; return true; }
            if (c >= 'a' && c <= 'f') { v = c - 'a' + 10; return true; }
            v = 0;
            return false;
        }
    }

    /// <summary>
    /// application/x-www-form-urlencoded bodies and query strings for Proxmox:
    /// booleans as <c>1</c>/<c>0</c> (PVE rejects <c>true</c>), numbers in the invariant culture, null values omitted,
    /// and every reserved character escaped (a literal <c>;</c> or <c>=</c> in a value would otherwise split or truncate it).
    /// </summary>
    internal static class ProxmoxForm
    {
        public const string ContentType = "application/x-www-form-urlencoded";

        /// <summary>Encodes the pairs as <c>k=v&amp;k2=v2</c> in their enumeration order. Null values are left out.</summary>
        public static string Encode(IEnumerable<KeyValuePair<string, object>> parameters)
        {
            if (parameters == null) return string.Empty;
            var sb = new StringBuilder();
            foreach (var kv in parameters)
            {
                if (string.IsNullOrEmpty(kv.Key)) throw new ArgumentException("A Proxmox parameter name must not be empty.", nameof(parameters));
                string value = FormatValue(kv.Key, kv.Value);
                if (value == null) continue;
                if (sb.Length > 0) sb.Append('&');
                sb.Append(ProxmoxPercent.Encode(kv.Key)).Append('=').Append(ProxmoxPercent.Encode(value));
            }
            return sb.ToString();
        }

        /// <summary>The text Proxmox gets for one parameter value, or null to leave the parameter out.</summary>
        public static string FormatValue(string name, object value)
        {
            switch (value)
            {
                case null: return null;
                case string s: return s;
                case bool b: return b ? "1" : "0";
                case char c: return c.ToString();
                case SecureString ss: return Infrastructure.SecureStrings.ToPlain(ss);
                case Enum e: return e.ToString().ToLowerInvariant();
                case DateTimeOffset dto: return dto.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                case DateTime dt: return new DateTimeOffset(dt.ToUniversalTime()).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
                case float f: return f.ToString("R", CultureInfo.InvariantCulture);
                case double d: return d.ToString("R", CultureInfo.InvariantCulture);
                case IFormattable f: return f.ToString(null, CultureInfo.InvariantCulture);
                case IEnumerable _:
                    throw new ArgumentException(
                        "Proxmox parameter '" + name + "' is a list; join it into the string form the API expects (for example a comma list for 'delete').");
                default: return value.ToString();
            }
        }
    }

    /// <summary>
    /// The <c>sshkeys</c> quirk (reference §3.4/§4.3): the value itself must be percent-encoded (space → <c>%20</c>,
    /// newline → <c>%0A</c>, <c>+ / = @ :</c> escaped), and a form body then encodes it a second time
    /// (<c>%</c> → <c>%25</c>, so the wire reads <c>sshkeys=ssh-ed25519%2520AAAA…</c>). Proxmox stores and returns
    /// the single-encoded form; <see cref="Decode"/> turns it back into key lines.
    /// </summary>
    internal static class ProxmoxSshKeys
    {
        /// <summary>Joins the keys with <c>\n</c> (trimmed, empty lines and CRs dropped) and percent-encodes the result once.</summary>
        public static string Encode(IEnumerable<string> keys)
        {
            if (keys == null) throw new ArgumentNullException(nameof(keys));
            var lines = new List<string>();
            foreach (string k in keys)
            {
                if (k == null) continue;
                foreach (string line in k.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n'))
                {
                    string t = line.Trim();
                    if (t.Length > 0) lines.Add(t);
                }
            }
            return ProxmoxPercent.Encode(string.Join("\n", lines));
        }

        /// <summary>Encodes the text of an authorized_keys file (one key per line).</summary>
        public static string Encode(string keysText) => Encode(new[] { keysText ?? string.Empty });

        /// <summary>The form-body text of an already single-encoded value: what goes on the wire after <c>sshkeys=</c>.</summary>
        public static string EncodeForForm(string encodedValue) => ProxmoxPercent.Encode(encodedValue);

        /// <summary>Decodes the stored form (as returned by GET config) into the key text, lines joined by <c>\n</c>.</summary>
        public static string Decode(string encoded) => ProxmoxPercent.Decode(encoded ?? string.Empty);

        /// <summary>Decodes the stored form into the individual key lines.</summary>
        public static IReadOnlyList<string> DecodeKeys(string encoded)
        {
            var result = new List<string>();
            foreach (string line in Decode(encoded).Split('\n'))
            {
                string t = line.Trim();
                if (t.Length > 0) result.Add(t);
            }
            return result;
        }
    }
}
