using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SwarmAdmin.Connection
{
    public enum EndpointScheme
    {
        Ssh,
        Unix,
        Tcp,
    }

    /// <summary>
    /// Where to reach a Docker engine: <c>ssh://[user@]host[:port]</c>, <c>unix:///path</c> or <c>tcp://host[:port]</c>.
    /// </summary>
    public sealed class SwarmEndpoint : IEquatable<SwarmEndpoint>
    {
        public const int DefaultSshPort = 22;
        public const int DefaultTcpPort = 2375;

        private static readonly char[] PathChars = { '/', '?', '#' };

        private const string ExpectedForms =
            "Expected ssh://[user@]host[:port], [user@]host[:port], unix:///absolute/path or tcp://host[:port]";

        private SwarmEndpoint(EndpointScheme scheme, string user, string host, int port, string socketPath, string original)
        {
            Scheme = scheme;
            User = user;
            Host = host;
            Port = port;
            SocketPath = socketPath;
            Original = original;
        }

        public EndpointScheme Scheme { get; }

        /// <summary>SSH user name; null for unix and tcp endpoints.</summary>
        public string User { get; }

        /// <summary>Host name or IP address (IPv6 without brackets), lower-cased; null for unix endpoints.</summary>
        public string Host { get; }

        /// <summary>TCP port; 0 for unix endpoints.</summary>
        public int Port { get; }

        /// <summary>Absolute socket path for unix endpoints; null otherwise.</summary>
        public string SocketPath { get; }

        /// <summary>The text this endpoint was parsed from.</summary>
        public string Original { get; }

        public override string ToString()
        {
            switch (Scheme)
            {
                case EndpointScheme.Unix:
                    return "unix://" + SocketPath;
                case EndpointScheme.Tcp:
                    return "tcp://" + HostForUri(Host) + ":" + Port.ToString(CultureInfo.InvariantCulture);
                default:
                    return "ssh://" + User + "@" + HostForUri(Host) + ":" + Port.ToString(CultureInfo.InvariantCulture);
            }
        }

        public bool Equals(SwarmEndpoint other) =>
            other != null && string.Equals(ToString(), other.ToString(), StringComparison.Ordinal);

        public override bool Equals(object obj) => Equals(obj as SwarmEndpoint);

        public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());

        private static string HostForUri(string host) => host.IndexOf(':') >= 0 ? "[" + host + "]" : host;

        /// <summary>
        /// Parses one endpoint. Throws <see cref="FormatException"/> naming the input and the expected form.
        /// </summary>
        /// <param name="text">The endpoint text.</param>
        /// <param name="defaultUser">SSH user when the text has none; falls back to the current user name.</param>
        internal static SwarmEndpoint Parse(string text, string defaultUser = null)
        {
            if (text == null || text.Trim().Length == 0)
            {
                throw new FormatException("The endpoint is empty. " + ExpectedForms + ".");
            }

            string original = text;
            string s = text.Trim();
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsWhiteSpace(s[i]))
                {
                    throw Error(s, "it contains whitespace. Remove the spaces (separate several endpoints with commas)");
                }

                if (char.IsControl(s[i]))
                {
                    throw Error(s, "it contains a control character");
                }
            }

            int sep = s.IndexOf("://", StringComparison.Ordinal);
            if (sep >= 0)
            {
                string scheme = s.Substring(0, sep);
                string rest = s.Substring(sep + 3);
                switch (scheme.ToLowerInvariant())
                {
                    case "ssh":
                        return ParseSsh(s, rest, defaultUser, original);
                    case "unix":
                        return ParseUnix(s, rest, original);
                    case "tcp":
                        return ParseTcp(s, rest, original);
                    case "":
                        throw Error(s, "the scheme before '://' is missing");
                    default:
                        throw Error(s, "the scheme '" + scheme + "' is not supported (only ssh, unix and tcp are)");
                }
            }

            // No "://": either "scheme:/..." typed with too few slashes, or ssh shorthand.
            int colon = s.IndexOf(':');
            if (colon > 0 && colon + 1 < s.Length && s[colon + 1] == '/' && IsSchemeName(s.Substring(0, colon)))
            {
                throw Error(s, "it looks like a URL but lacks '://' after the scheme (for a socket use unix:///var/run/docker.sock)");
            }

            return ParseSsh(s, s, defaultUser, original);
        }

        /// <summary>
        /// Parses several endpoints; each item may itself be a comma-separated list
        /// (so <c>-Endpoint 'ssh://a,ssh://b'</c> works). Items are trimmed; empty entries are errors.
        /// </summary>
        internal static IReadOnlyList<SwarmEndpoint> ParseList(IEnumerable<string> items, string defaultUser)
        {
            if (items == null)
            {
                throw new ArgumentNullException(nameof(items));
            }

            var result = new List<SwarmEndpoint>();
            foreach (string item in items)
            {
                if (item == null || item.Trim().Length == 0)
                {
                    throw new FormatException("An endpoint is empty. " + ExpectedForms + ".");
                }

                foreach (string piece in item.Split(','))
                {
                    string trimmed = piece.Trim();
                    if (trimmed.Length == 0)
                    {
                        throw new FormatException(
                            $"The endpoint list '{Redact(item.Trim())}' contains an empty entry (check for doubled or trailing commas). " +
                            ExpectedForms + ".");
                    }

                    result.Add(Parse(trimmed, defaultUser));
                }
            }

            if (result.Count == 0)
            {
                throw new FormatException("No endpoint was given. " + ExpectedForms + ".");
            }

            return result.AsReadOnly();
        }

        private static SwarmEndpoint ParseSsh(string input, string rest, string defaultUser, string original)
        {
            SplitUserInfo(input, rest, "ssh://[user@]host[:port]", out string userInfo, out string hostPort);
            string user = null;
            if (userInfo != null)
            {
                if (userInfo.Length == 0)
                {
                    throw Error(input, "the user name before '@' is empty");
                }

                ValidateUser(input, userInfo);
                user = userInfo;
            }

            ParseHostPort(input, hostPort, DefaultSshPort, out string host, out int port);
            if (user == null)
            {
                user = string.IsNullOrEmpty(defaultUser) ? Environment.UserName : defaultUser;
            }

            return new SwarmEndpoint(EndpointScheme.Ssh, user, host, port, null, original);
        }

        private static SwarmEndpoint ParseTcp(string input, string rest, string original)
        {
            SplitUserInfo(input, rest, "tcp://host[:port]", out string userInfo, out string hostPort);
            if (userInfo != null)
            {
                throw Error(input, "a tcp endpoint does not take a user name; use tcp://host[:port]");
            }

            ParseHostPort(input, hostPort, DefaultTcpPort, out string host, out int port);
            return new SwarmEndpoint(EndpointScheme.Tcp, null, host, port, null, original);
        }

        /// <summary>
        /// Splits "[userinfo@]hostport", refusing passwords and anything after the host. The password check comes
        /// first so that no error message repeats part of a password.
        /// </summary>
        private static void SplitUserInfo(string input, string rest, string form, out string userInfo, out string hostPort)
        {
            userInfo = null;
            hostPort = rest;
            int at = rest.LastIndexOf('@');
            if (at >= 0)
            {
                userInfo = rest.Substring(0, at);
                hostPort = rest.Substring(at + 1);
                if (userInfo.IndexOf(':') >= 0)
                {
                    throw Error(input,
                        "passwords are not accepted in endpoints; use SSH key authentication (Connect-SwarmCluster -KeyFile) and write ssh://user@host");
                }

                if (userInfo.IndexOfAny(PathChars) >= 0)
                {
                    throw Error(input, "it has a path, query or fragment; use " + form + " only");
                }

                if (userInfo.IndexOf('@') >= 0)
                {
                    throw Error(input, "it contains more than one '@'");
                }
            }

            int extra = hostPort.IndexOfAny(PathChars);
            if (extra >= 0)
            {
                throw Error(input,
                    "it has a path, query or fragment after the host ('" + hostPort.Substring(extra) + "'); use " + form + " only");
            }
        }

        private static SwarmEndpoint ParseUnix(string input, string path, string original)
        {
            if (path.Length == 0)
            {
                throw Error(input, "the socket path is missing; use unix:///var/run/docker.sock (three slashes)");
            }

            if (path[0] != '/')
            {
                throw Error(input,
                    "the socket path must be absolute; write unix:// followed by the absolute path, e.g. unix:///var/run/docker.sock (three slashes)");
            }

            if (path.EndsWith("/", StringComparison.Ordinal))
            {
                throw Error(input, "the socket path ends with '/', which names a directory, not a socket");
            }

            if (path.IndexOfAny(new[] { '?', '#' }) >= 0)
            {
                throw Error(input, "a unix endpoint cannot have a query or fragment");
            }

            return new SwarmEndpoint(EndpointScheme.Unix, null, null, 0, path, original);
        }

        private static void ParseHostPort(string input, string hostPort, int defaultPort, out string host, out int port)
        {
            string portText = null;
            if (hostPort.StartsWith("[", StringComparison.Ordinal))
            {
                int close = hostPort.IndexOf(']');
                if (close < 0)
                {
                    throw Error(input, "the '[' before an IPv6 address has no matching ']'");
                }

                host = hostPort.Substring(1, close - 1);
                string after = hostPort.Substring(close + 1);
                if (after.Length > 0)
                {
                    if (after[0] != ':')
                    {
                        throw Error(input, "unexpected text '" + after + "' after ']'; expected ':port' or nothing");
                    }

                    portText = after.Substring(1);
                }

                if (host.Length == 0)
                {
                    throw Error(input, "the host is empty");
                }

                if (!IPAddress.TryParse(host, out IPAddress address) || address.AddressFamily != AddressFamily.InterNetworkV6)
                {
                    throw Error(input, "'[" + host + "]' is not an IPv6 address; brackets are only for IPv6 literals such as [::1]");
                }
            }
            else
            {
                int first = hostPort.IndexOf(':');
                if (first >= 0 && hostPort.IndexOf(':', first + 1) >= 0)
                {
                    throw Error(input, "IPv6 addresses must be written in brackets, e.g. ssh://root@[::1]:22");
                }

                if (first >= 0)
                {
                    host = hostPort.Substring(0, first);
                    portText = hostPort.Substring(first + 1);
                }
                else
                {
                    host = hostPort;
                }

                if (host.Length == 0)
                {
                    throw Error(input, "the host is empty");
                }

                ValidateHostName(input, host);
            }

            if (portText == null)
            {
                port = defaultPort;
            }
            else
            {
                port = ParsePort(input, portText);
            }

            host = host.ToLowerInvariant();
        }

        private static int ParsePort(string input, string portText)
        {
            if (portText.Length == 0)
            {
                throw Error(input, "the port after ':' is empty; give a number from 1 to 65535 or leave out the ':'");
            }

            foreach (char c in portText)
            {
                if (c < '0' || c > '9')
                {
                    throw Error(input, "the port '" + portText + "' is not a number; give a number from 1 to 65535");
                }
            }

            if (portText.Length > 5 ||
                !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) ||
                port < 1 || port > 65535)
            {
                throw Error(input, "the port " + portText + " is out of range; give a number from 1 to 65535");
            }

            return port;
        }

        private static void ValidateHostName(string input, string host)
        {
            if (host[0] == '-' || host[0] == '.')
            {
                throw Error(input, "the host '" + host + "' cannot start with '" + host[0] + "'");
            }

            foreach (char c in host)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '-' || c == '.' || c == '_';
                if (!ok)
                {
                    throw Error(input, "the host '" + host + "' contains the character '" + c +
                                       "'; use a DNS name, an IPv4 address or a bracketed IPv6 address");
                }
            }
        }

        private static void ValidateUser(string input, string user)
        {
            if (user[0] == '-')
            {
                throw Error(input, "the user name cannot start with '-'");
            }

            foreach (char c in user)
            {
                if (c == '[' || c == ']' || c == '/' || c == '\\' || c == '"' || c == '\'' || c == '`' || c == ';')
                {
                    throw Error(input, "the user name contains the character '" + c + "'");
                }
            }
        }

        private static bool IsSchemeName(string s)
        {
            if (s.Length == 0 || !char.IsLetter(s[0]))
            {
                return false;
            }

            foreach (char c in s)
            {
                if (!(char.IsLetterOrDigit(c) || c == '+' || c == '-' || c == '.'))
                {
                    return false;
                }
            }

            return true;
        }

        private static FormatException Error(string input, string reason) =>
            new FormatException("Invalid endpoint '" + Redact(input) + "': " + reason + ". " + ExpectedForms + ".");

        /// <summary>Replaces any password in "scheme://user:password@host" or "user:password@host" (also inside comma lists) with "***".</summary>
        private static string Redact(string input)
        {
            string[] pieces = input.Split(',');
            for (int i = 0; i < pieces.Length; i++)
            {
                string piece = pieces[i];
                int start = piece.IndexOf("://", StringComparison.Ordinal);
                start = start < 0 ? 0 : start + 3;
                int at = piece.LastIndexOf('@');
                if (at < start)
                {
                    continue;
                }

                int colon = piece.IndexOf(':', start);
                if (colon >= 0 && colon < at)
                {
                    pieces[i] = piece.Substring(0, colon + 1) + "***" + piece.Substring(at);
                }
            }

            return string.Join(",", pieces);
        }
    }
}
