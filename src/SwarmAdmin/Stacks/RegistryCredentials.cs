using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace SwarmAdmin.Stacks
{
    /// <summary>Registry credentials as the docker CLI sends them with <c>--with-registry-auth</c>.</summary>
    internal sealed class RegistryCredential
    {
        public string Username { get; set; }
        public string Password { get; set; }
        public string ServerAddress { get; set; }
        public string IdentityToken { get; set; }
        public string RegistryToken { get; set; }

        /// <summary>Never shows the password or a token.</summary>
        public override string ToString() => $"{Username}@{ServerAddress}";
    }

    /// <summary>
    /// The credentials the docker CLI would attach to a service for an image (<c>command.RetrieveAuthTokenFromImage</c>):
    /// the image's registry domain → the config key (<c>https://index.docker.io/v1/</c> for Docker Hub) → the
    /// <c>credHelpers</c> entry for that key, else <c>credsStore</c>, through <c>docker-credential-&lt;name&gt; get</c>;
    /// without a helper the <c>auths</c> entry of <c>config.json</c> (exact key, else a legacy key whose
    /// <c>ConvertToHostname</c> is the domain). Platform default stores (used by the CLI when config.json has no
    /// credentials at all) and <c>DOCKER_AUTH_CONFIG</c> are the caller's business.
    /// </summary>
    internal static class RegistryCredentials
    {
        public const string ConfigFileName = "config.json";
        private const string TokenUsername = "<token>";
        private const string HelperPrefix = "docker-credential-";

        /// <summary>
        /// Credentials for <paramref name="image"/> from <c>configDir/config.json</c>, or null (anonymous) when the file
        /// does not exist, has no entry, or the helper has nothing. <paramref name="runHelper"/> gets
        /// (helper name, server address) and returns the helper's stdout or null on failure (see <see cref="RunHelper"/>).
        /// Throws <see cref="ArgumentException"/> for an invalid image reference and <see cref="InvalidDataException"/>
        /// for a malformed config file (the message names the file, never a credential).
        /// </summary>
        public static RegistryCredential Resolve(string image, string configDir, Func<string, string, string> runHelper)
        {
            if (configDir == null) throw new ArgumentNullException(nameof(configDir));
            string domain = ImageReferences.Domain(image);
            if (domain == null)
                throw new ArgumentException($"invalid image reference \"{image}\": {ImageReferences.ParseError(image)}", nameof(image));
            string key = ImageReferences.AuthKeyForDomain(domain);

            string path = Path.Combine(configDir, ConfigFileName);
            if (!File.Exists(path)) return null;
            var config = ConfigFile.Load(path);
            return config.GetAuthConfig(key, runHelper);
        }

        /// <summary>
        /// The <c>X-Registry-Auth</c> header value: Go <c>base64.URLEncoding</c> (URL-safe alphabet, with '=' padding) of
        /// the JSON <c>{"username","password","serveraddress","identitytoken","registrytoken"}</c> with empty fields
        /// omitted. Null encodes <c>{}</c> ("e30="), which is what the CLI sends for anonymous pulls.
        /// </summary>
        public static string EncodeHeader(RegistryCredential c)
        {
            var sb = new StringBuilder("{");
            void Field(string name, string value)
            {
                if (string.IsNullOrEmpty(value)) return;
                if (sb.Length > 1) sb.Append(',');
                sb.Append('"').Append(name).Append("\":");
                AppendGoJsonString(sb, value);
            }
            if (c != null)
            {
                Field("username", c.Username);
                Field("password", c.Password);
                Field("serveraddress", c.ServerAddress);
                Field("identitytoken", c.IdentityToken);
                Field("registrytoken", c.RegistryToken);
            }
            sb.Append('}');
            return Convert.ToBase64String(new UTF8Encoding(false).GetBytes(sb.ToString())).Replace('+', '-').Replace('/', '_');
        }

        /// <summary>
        /// Runs <c>docker-credential-&lt;helper&gt; get</c> with <paramref name="server"/> on stdin (never in argv) and
        /// returns its stdout, or null when the helper is missing, exits non-zero (e.g. "credentials not found"), or
        /// does not finish within <paramref name="timeout"/> (it is then killed).
        /// </summary>
        public static string RunHelper(string helper, string server, TimeSpan timeout)
        {
            if (!IsSafeHelperName(helper) || server == null) return null;
            int ms = timeout <= TimeSpan.Zero ? 0 : timeout.TotalMilliseconds >= int.MaxValue ? int.MaxValue : (int)timeout.TotalMilliseconds;
            var psi = new ProcessStartInfo(HelperPrefix + helper, "get")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
                StandardOutputEncoding = new UTF8Encoding(false),
                StandardErrorEncoding = new UTF8Encoding(false),
            };
            Process p = null;
            try
            {
                p = Process.Start(psi);
                if (p == null) return null;
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync(); // drained so the helper never blocks on a full pipe
                try
                {
                    byte[] input = new UTF8Encoding(false).GetBytes(server);
                    p.StandardInput.BaseStream.Write(input, 0, input.Length);
                    p.StandardInput.BaseStream.Flush();
                    p.StandardInput.Close();
                }
                catch (IOException)
                {
                    // the helper exited without reading its input; its exit code decides
                }
                if (!p.WaitForExit(ms))
                {
                    try { p.Kill(); } catch (InvalidOperationException) { } catch (Win32Exception) { }
                    return null;
                }
                p.WaitForExit();
                if (p.ExitCode != 0) return null;
                return stdout.Wait(ms) ? stdout.Result : null;
            }
            catch (Exception e) when (e is Win32Exception || e is InvalidOperationException || e is IOException
                                      || e is UnauthorizedAccessException || e is AggregateException || e is PlatformNotSupportedException)
            {
                return null;
            }
            finally
            {
                p?.Dispose();
            }
        }

        /// <summary>The default runner (<see cref="RunHelper"/> with a 30 second timeout) for <see cref="Resolve"/>.</summary>
        public static string RunHelperDefault(string helper, string server) => RunHelper(helper, server, TimeSpan.FromSeconds(30));

        /// <summary>
        /// credentials.ConvertToHostname: "https://registry.example.com/v1/" → "registry.example.com",
        /// "http://host:5000/v2/" → "host:5000", "host/path" → "host".
        /// </summary>
        internal static string ConvertToHostname(string maybeUrl)
        {
            string stripped = maybeUrl ?? "";
            int schemeEnd = stripped.IndexOf("://", StringComparison.Ordinal);
            if (schemeEnd >= 0)
            {
                string rest = stripped.Substring(schemeEnd + 3);
                int end = rest.IndexOfAny(new[] { '/', '?', '#' });
                string authority = end < 0 ? rest : rest.Substring(0, end);
                int at = authority.LastIndexOf('@');
                string hostPort = at < 0 ? authority : authority.Substring(at + 1);
                string parsed = UrlHostPort(hostPort);
                if (parsed != null) return parsed;
                string fallback = HostFromUrlFallback(rest);
                if (fallback != "") return fallback;
            }
            int slash = stripped.IndexOf('/');
            return slash < 0 ? stripped : stripped.Substring(0, slash);
        }

        // ------------------------------------------------------------------------------------------------------------

        private static bool IsSafeHelperName(string helper)
        {
            if (string.IsNullOrEmpty(helper) || helper[0] == '.' || helper[0] == '-') return false;
            return helper.All(ch => (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-');
        }

        /// <summary>What Go's url.Parse + Hostname()/Port() + JoinHostPort give for an authority; null when url.Parse
        /// would fail or the host is empty.</summary>
        private static string UrlHostPort(string hostPort)
        {
            string host, port;
            if (hostPort.StartsWith("[", StringComparison.Ordinal))
            {
                int close = hostPort.IndexOf(']');
                if (close < 0) return null;
                host = hostPort.Substring(1, close - 1);
                string after = hostPort.Substring(close + 1);
                if (after.Length == 0) port = "";
                else if (after[0] == ':' && after.Skip(1).All(char.IsDigit)) port = after.Substring(1);
                else return null;
            }
            else
            {
                int colons = hostPort.Count(ch => ch == ':');
                if (colons > 1) return null; // unbracketed IPv6: rejected by net/url
                int colon = hostPort.IndexOf(':');
                host = colon < 0 ? hostPort : hostPort.Substring(0, colon);
                port = colon < 0 ? "" : hostPort.Substring(colon + 1);
                if (!port.All(ch => ch >= '0' && ch <= '9')) return null;
            }
            if (host.Length == 0) return null;
            if (port.Length == 0) return host;
            return (host.IndexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }

        private static string HostFromUrlFallback(string rest)
        {
            int slash = rest.IndexOf('/');
            string hostName = slash < 0 ? rest : rest.Substring(0, slash);
            if (hostName.Length == 0) return "";
            if (hostName.Count(ch => ch == ':') > 1 && !hostName.StartsWith("[", StringComparison.Ordinal))
            {
                int portStart = hostName.LastIndexOf(':');
                string addr = hostName.Substring(0, portStart), port = hostName.Substring(portStart + 1);
                if (addr.Length > 0 && port.Length > 0 && port.All(ch => ch >= '0' && ch <= '9'))
                    return "[" + addr + "]:" + port;
            }
            return hostName;
        }

        /// <summary>Go encoding/json string encoding (HTML-safe: &lt; &gt; &amp; U+2028 U+2029 escaped).</summary>
        private static void AppendGoJsonString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char ch in s)
            {
                switch (ch)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    case '<': case '>': case '&': case '\u2028': case '\u2029':
                        sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                        break;
                    default:
                        if (ch < 0x20) sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                        else sb.Append(ch);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>The parts of ~/.docker/config.json that credentials come from (configfile.ConfigFile).</summary>
        private sealed class ConfigFile
        {
            private sealed class AuthEntry
            {
                public string Username, Password, ServerAddress, IdentityToken, RegistryToken;
            }

            private readonly Dictionary<string, AuthEntry> _auths = new Dictionary<string, AuthEntry>(StringComparer.Ordinal);
            private Dictionary<string, string> _credHelpers;
            private string _credsStore = "";

            public static ConfigFile Load(string path)
            {
                byte[] bytes = File.ReadAllBytes(path);
                var config = new ConfigFile();
                int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
                if (bytes.Skip(start).All(b => b == ' ' || b == '\t' || b == '\r' || b == '\n')) return config; // io.EOF: empty config

                JsonDocument doc;
                try
                {
                    doc = JsonDocument.Parse(new ReadOnlyMemory<byte>(bytes, start, bytes.Length - start));
                }
                catch (JsonException e)
                {
                    // The exception text can quote input; report the position only.
                    string where = e.LineNumber.HasValue
                        ? $" at line {e.LineNumber.Value + 1}, byte {(e.BytePositionInLine ?? 0) + 1}"
                        : "";
                    throw new InvalidDataException($"parsing config file ({path}): invalid JSON{where}");
                }
                using (doc)
                {
                    var root = doc.RootElement;
                    if (root.ValueKind == JsonValueKind.Null) return config;
                    if (root.ValueKind != JsonValueKind.Object)
                        throw Bad(path, $"the top level is {Kind(root)}, not an object");

                    foreach (var prop in root.EnumerateObject())
                    {
                        // encoding/json matches field names case-insensitively; a repeated key decodes again on top.
                        if (Is(prop.Name, "auths")) config.ReadAuths(path, prop.Value);
                        else if (Is(prop.Name, "credsStore")) config._credsStore = String(path, prop.Value, "credsStore") ?? "";
                        else if (Is(prop.Name, "credHelpers")) config.ReadCredHelpers(path, prop.Value);
                    }
                }
                foreach (var kv in config._auths) kv.Value.ServerAddress = kv.Key;
                return config;
            }

            private void ReadAuths(string path, JsonElement auths)
            {
                if (auths.ValueKind == JsonValueKind.Null) return;
                if (auths.ValueKind != JsonValueKind.Object) throw Bad(path, $"\"auths\" is {Kind(auths)}, not an object");
                foreach (var entry in auths.EnumerateObject())
                {
                    var a = new AuthEntry();
                    string auth = null;
                    if (entry.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var f in entry.Value.EnumerateObject())
                        {
                            string where = $"auths[\"{entry.Name}\"].{f.Name}";
                            if (Is(f.Name, "username")) a.Username = String(path, f.Value, where);
                            else if (Is(f.Name, "password")) a.Password = String(path, f.Value, where);
                            else if (Is(f.Name, "auth")) auth = String(path, f.Value, where);
                            else if (Is(f.Name, "identitytoken")) a.IdentityToken = String(path, f.Value, where);
                            else if (Is(f.Name, "registrytoken")) a.RegistryToken = String(path, f.Value, where);
                            else if (Is(f.Name, "serveraddress") || Is(f.Name, "email")) String(path, f.Value, where);
                        }
                    }
                    else if (entry.Value.ValueKind != JsonValueKind.Null)
                    {
                        throw Bad(path, $"auths[\"{entry.Name}\"] is {Kind(entry.Value)}, not an object");
                    }
                    if (!string.IsNullOrEmpty(auth))
                    {
                        if (!DecodeAuth(auth, out string user, out string password))
                            throw Bad(path, $"auths[\"{entry.Name}\"].auth is not base64 of \"username:password\"");
                        a.Username = user;
                        a.Password = password;
                    }
                    _auths[entry.Name] = a;
                }
            }

            private void ReadCredHelpers(string path, JsonElement helpers)
            {
                if (helpers.ValueKind == JsonValueKind.Null) return;
                if (helpers.ValueKind != JsonValueKind.Object) throw Bad(path, $"\"credHelpers\" is {Kind(helpers)}, not an object");
                if (_credHelpers == null) _credHelpers = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var h in helpers.EnumerateObject())
                    _credHelpers[h.Name] = String(path, h.Value, $"credHelpers[\"{h.Name}\"]") ?? "";
            }

            /// <summary>configfile.decodeAuth.</summary>
            private static bool DecodeAuth(string authStr, out string user, out string password)
            {
                user = password = null;
                byte[] decoded;
                try
                {
                    decoded = Convert.FromBase64String(authStr);
                }
                catch (FormatException)
                {
                    return false;
                }
                string text = new UTF8Encoding(false, false).GetString(decoded);
                int colon = text.IndexOf(':');
                if (colon <= 0) return false; // no ':' or empty user name: "invalid auth configuration file"
                user = text.Substring(0, colon);
                password = text.Substring(colon + 1).Trim('\0');
                return true;
            }

            /// <summary>configfile.GetAuthConfig(key): the configured helper, else the file store.</summary>
            public RegistryCredential GetAuthConfig(string key, Func<string, string, string> runHelper)
            {
                string helper = _credsStore;
                if (_credHelpers != null && key != "" && _credHelpers.TryGetValue(key, out string h)) helper = h;

                AuthEntry file = FileStoreGet(key);
                if (string.IsNullOrEmpty(helper))
                {
                    if (file == null) return null;
                    return NullIfEmpty(new RegistryCredential
                    {
                        Username = file.Username,
                        Password = file.Password,
                        ServerAddress = file.ServerAddress,
                        IdentityToken = file.IdentityToken,
                        RegistryToken = file.RegistryToken,
                    });
                }

                // nativeStore.Get: the file entry (e-mail, registry token) overlaid with what the helper returns.
                var result = new RegistryCredential { RegistryToken = file?.RegistryToken };
                string output = runHelper?.Invoke(helper, key);
                if (output != null && TryParseHelperOutput(output, out string user, out string secret))
                {
                    if (user == TokenUsername) result.IdentityToken = secret;
                    else
                    {
                        result.Username = user;
                        result.Password = secret;
                    }
                    result.ServerAddress = key;
                }
                return NullIfEmpty(result);
            }

            /// <summary>fileStore.Get: the exact key, else a (legacy) key whose hostname is the server address.</summary>
            private AuthEntry FileStoreGet(string serverAddress)
            {
                if (_auths.TryGetValue(serverAddress, out var a)) return a;
                foreach (var k in _auths.Keys.OrderBy(k => k, StringComparer.Ordinal))
                    if (serverAddress == ConvertToHostname(k)) return _auths[k];
                return null;
            }

            private static bool TryParseHelperOutput(string output, out string user, out string secret)
            {
                user = secret = null;
                try
                {
                    using (var doc = JsonDocument.Parse(output))
                    {
                        if (doc.RootElement.ValueKind != JsonValueKind.Object) return false;
                        foreach (var p in doc.RootElement.EnumerateObject())
                        {
                            if (p.Value.ValueKind != JsonValueKind.String && p.Value.ValueKind != JsonValueKind.Null) continue;
                            string v = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
                            if (Is(p.Name, "Username")) user = v;
                            else if (Is(p.Name, "Secret")) secret = v;
                        }
                        return true;
                    }
                }
                catch (JsonException)
                {
                    return false;
                }
            }

            private static RegistryCredential NullIfEmpty(RegistryCredential c)
                => string.IsNullOrEmpty(c.Username) && string.IsNullOrEmpty(c.Password)
                   && string.IsNullOrEmpty(c.IdentityToken) && string.IsNullOrEmpty(c.RegistryToken) ? null : c;

            private static bool Is(string name, string field) => string.Equals(name, field, StringComparison.OrdinalIgnoreCase);

            private static string String(string path, JsonElement v, string where)
            {
                if (v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind != JsonValueKind.String) throw Bad(path, $"{where} is {Kind(v)}, not a string");
                return v.GetString();
            }

            private static string Kind(JsonElement v)
            {
                switch (v.ValueKind)
                {
                    case JsonValueKind.Object: return "an object";
                    case JsonValueKind.Array: return "an array";
                    case JsonValueKind.String: return "a string";
                    case JsonValueKind.Number: return "a number";
                    case JsonValueKind.True:
                    case JsonValueKind.False: return "a boolean";
                    default: return "null";
                }
            }

            private static InvalidDataException Bad(string path, string what)
                => new InvalidDataException($"parsing config file ({path}): {what}");
        }
    }
}
