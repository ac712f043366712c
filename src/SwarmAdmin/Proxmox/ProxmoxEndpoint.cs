using System;
using System.Globalization;
using System.Text;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// Where a Proxmox VE API lives: <c>https://host:8006/api2/json/</c>. Accepts <c>host</c>, <c>host:port</c>,
    /// <c>[v6]:port</c>, a bare IPv6 address, <c>https://host[:port][/prefix][/api2/json]</c>, and a URL copied from
    /// the browser (<c>https://pve:8006/#v1:…</c>; the fragment is ignored). The port defaults to 8006.
    /// Plain <c>http://</c> is refused: pveproxy only speaks HTTPS and we never downgrade.
    /// </summary>
    internal sealed class ProxmoxEndpoint : IEquatable<ProxmoxEndpoint>
    {
        public const int DefaultPort = 8006;
        public const string ApiPath = "/api2/json";

        private ProxmoxEndpoint(string host, int port, string prefix)
        {
            Host = host;
            Port = port;
            PathPrefix = prefix;
            string authorityHost = host.IndexOf(':') >= 0 ? "[" + host + "]" : host;
            Authority = authorityHost + ":" + port.ToString(CultureInfo.InvariantCulture);
            BaseUri = new Uri("https://" + Authority + prefix + ApiPath + "/");
        }

        /// <summary>Host name or IP address, lower-cased; IPv6 without brackets.</summary>
        public string Host { get; }

        public int Port { get; }

        /// <summary>Path before <c>/api2/json</c> (a reverse proxy's sub-path), normally empty.</summary>
        public string PathPrefix { get; }

        /// <summary><c>host:port</c> (IPv6 in brackets).</summary>
        public string Authority { get; }

        /// <summary><c>https://host:port[/prefix]/api2/json/</c>, ending in a slash.</summary>
        public Uri BaseUri { get; }

        public static ProxmoxEndpoint Parse(string text)
        {
            if (!TryParse(text, out ProxmoxEndpoint ep, out string error)) throw new FormatException(error);
            return ep;
        }

        public static bool TryParse(string text, out ProxmoxEndpoint endpoint) => TryParse(text, out endpoint, out _);

        public static bool TryParse(string text, out ProxmoxEndpoint endpoint, out string error)
        {
            endpoint = null;
            const string expected = "Expected host, host:port or https://host[:port] (the port defaults to 8006).";
            if (string.IsNullOrWhiteSpace(text)) { error = "The Proxmox endpoint is empty. " + expected; return false; }
            string s = text.Trim();

            int schemeEnd = s.IndexOf("://", StringComparison.Ordinal);
            if (schemeEnd >= 0)
            {
                string scheme = s.Substring(0, schemeEnd);
                if (!scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
                {
                    error = "The Proxmox endpoint '" + text + "' uses " + scheme + "://; the Proxmox VE API is served over https only. " + expected;
                    return false;
                }
                s = s.Substring(schemeEnd + 3);
            }

            int frag = s.IndexOf('#');
            if (frag >= 0) s = s.Substring(0, frag);
            if (s.IndexOf('?') >= 0) { error = "The Proxmox endpoint '" + text + "' must not contain a query string. " + expected; return false; }
            if (s.IndexOf('@') >= 0) { error = "The Proxmox endpoint '" + text + "' must not contain a user name; pass credentials separately. " + expected; return false; }

            string authority = s, path = string.Empty;
            int slash = s.IndexOf('/');
            if (slash >= 0) { authority = s.Substring(0, slash); path = s.Substring(slash); }

            string host;
            int port = DefaultPort;
            if (authority.StartsWith("[", StringComparison.Ordinal))
            {
                int close = authority.IndexOf(']');
                if (close < 0) { error = "The Proxmox endpoint '" + text + "' has an unterminated IPv6 address. " + expected; return false; }
                host = authority.Substring(1, close - 1);
                string rest = authority.Substring(close + 1);
                if (rest.Length > 0)
                {
                    if (rest[0] != ':' || !TryPort(rest.Substring(1), out port)) { error = "The Proxmox endpoint '" + text + "' has an invalid port. " + expected; return false; }
                }
            }
            else
            {
                int colons = 0;
                foreach (char c in authority) if (c == ':') colons++;
                if (colons > 1)
                {
                    host = authority; // a bare IPv6 address
                }
                else if (colons == 1)
                {
                    int i = authority.IndexOf(':');
                    host = authority.Substring(0, i);
                    if (!TryPort(authority.Substring(i + 1), out port)) { error = "The Proxmox endpoint '" + text + "' has an invalid port. " + expected; return false; }
                }
                else host = authority;
            }

            if (host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
            {
                error = "The Proxmox endpoint '" + text + "' has no valid host name. " + expected;
                return false;
            }

            path = path.TrimEnd('/');
            if (path.EndsWith(ApiPath, StringComparison.OrdinalIgnoreCase)) path = path.Substring(0, path.Length - ApiPath.Length).TrimEnd('/');
            foreach (char c in path)
            {
                if (!(ProxmoxPercent.IsUnreserved(c) || c == '/'))
                {
                    error = "The Proxmox endpoint '" + text + "' has an invalid path. " + expected;
                    return false;
                }
            }

            endpoint = new ProxmoxEndpoint(host.ToLowerInvariant(), port, path);
            error = null;
            return true;
        }

        private static bool TryPort(string s, out int port) =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port > 0 && port <= 65535;

        /// <summary>
        /// The absolute URI of an API path (<c>nodes/pve1/qemu</c> or <c>/nodes/pve1/qemu</c>) plus an already encoded
        /// query string (may be empty). The path is used as given (callers pass node names, VMIDs and UPIDs, which need no escaping).
        /// </summary>
        public Uri BuildUri(string path, string encodedQuery)
        {
            var sb = new StringBuilder(BaseUri.AbsoluteUri);
            sb.Append(NormalizePath(path));
            if (!string.IsNullOrEmpty(encodedQuery))
            {
                sb.Append(sb.ToString().IndexOf('?') >= 0 ? '&' : '?');
                sb.Append(encodedQuery);
            }
            return new Uri(sb.ToString());
        }

        /// <summary><c>/nodes/x</c> → <c>nodes/x</c>; rejects empty paths, whitespace, fragments and <c>..</c>.</summary>
        public static string NormalizePath(string path)
        {
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("A Proxmox API path is required (for example 'version').", nameof(path));
            string p = path.Trim().TrimStart('/');
            if (p.StartsWith("api2/json/", StringComparison.OrdinalIgnoreCase)) p = p.Substring("api2/json/".Length);
            foreach (char c in p)
            {
                if (char.IsWhiteSpace(c) || c == '#' || char.IsControl(c))
                    throw new ArgumentException("The Proxmox API path '" + path + "' contains a character that must be escaped.", nameof(path));
            }
            if (p.Contains("/../") || p.StartsWith("../", StringComparison.Ordinal) || p.EndsWith("/..", StringComparison.Ordinal))
                throw new ArgumentException("The Proxmox API path '" + path + "' must not contain '..'.", nameof(path));
            return p;
        }

        public override string ToString() => "https://" + Authority + PathPrefix;

        public bool Equals(ProxmoxEndpoint other) =>
            other != null && Host == other.Host && Port == other.Port && string.Equals(PathPrefix, other.PathPrefix, StringComparison.Ordinal);

        public override bool Equals(object obj) => Equals(obj as ProxmoxEndpoint);

        public override int GetHashCode() => (Host.GetHashCode() * 397) ^ Port ^ PathPrefix.GetHashCode();
    }
}
