using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SwarmAdmin.Ssh
{
    /// <summary>Marker that may precede a known_hosts line.</summary>
    internal enum KnownHostMarker
    {
        None,
        /// <summary><c>@cert-authority</c>: the key is a CA for host certificates, not a host key.</summary>
        CertAuthority,
        /// <summary><c>@revoked</c>: the key must never be accepted.</summary>
        Revoked,
    }

    /// <summary>One parsed, well-formed line of an OpenSSH known_hosts file.</summary>
    internal sealed class KnownHostEntry
    {
        internal KnownHostEntry(
            int lineNumber,
            KnownHostMarker marker,
            string[] hostPatterns,
            byte[] salt,
            byte[] hash,
            string keyType,
            string declaredKeyType,
            byte[] keyBlob,
            string comment,
            string rawLine)
        {
            LineNumber = lineNumber;
            Marker = marker;
            HostPatterns = hostPatterns;
            Salt = salt;
            Hash = hash;
            KeyType = keyType;
            DeclaredKeyType = declaredKeyType;
            KeyBlob = keyBlob;
            Comment = comment;
            RawLine = rawLine;
        }

        /// <summary>1-based line number in the file.</summary>
        public int LineNumber { get; }

        public KnownHostMarker Marker { get; }

        /// <summary>The comma-separated host patterns exactly as written (including any leading '!'); null for hashed entries.</summary>
        public string[] HostPatterns { get; }

        public bool IsHashed => Salt != null;

        /// <summary>HMAC-SHA1 salt of a hashed (<c>|1|salt|hash</c>) entry; null otherwise.</summary>
        public byte[] Salt { get; }

        /// <summary>HMAC-SHA1 of the host name of a hashed entry; null otherwise.</summary>
        public byte[] Hash { get; }

        /// <summary>
        /// The key type embedded in the key blob (e.g. <c>ssh-rsa</c>, <c>ssh-ed25519</c>, <c>ecdsa-sha2-nistp256</c>).
        /// This equals the line's key-type field except when the line uses a signature alias
        /// such as <c>rsa-sha2-512</c> for an RSA key (see <see cref="DeclaredKeyType"/>).
        /// </summary>
        public string KeyType { get; }

        /// <summary>The key-type field as written on the line.</summary>
        public string DeclaredKeyType { get; }

        /// <summary>The decoded public key blob (SSH wire format).</summary>
        public byte[] KeyBlob { get; }

        /// <summary>Whatever followed the key on the line (trimmed), or null.</summary>
        public string Comment { get; }

        /// <summary>The line as it appeared in the file (without line terminator).</summary>
        public string RawLine { get; }

        /// <summary>SHA256 fingerprint of <see cref="KeyBlob"/>, as <c>ssh-keygen -l</c> prints it.</summary>
        public string Fingerprint => KnownHostsFile.Sha256Fingerprint(KeyBlob);

        /// <summary>
        /// True when this line's host field matches <paramref name="hostPattern"/>, which must already be in
        /// known_hosts form (see <see cref="KnownHostsFile.HostPattern"/>) and lower-cased.
        /// </summary>
        internal bool MatchesHost(string hostPattern)
        {
            if (IsHashed)
            {
                using (var hmac = new HMACSHA1(Salt))
                {
                    byte[] computed = hmac.ComputeHash(Encoding.UTF8.GetBytes(hostPattern));
                    return FixedTimeEquals(computed, Hash);
                }
            }

            return KnownHostsFile.MatchPatternList(hostPattern, HostPatterns) > 0;
        }

        private static bool FixedTimeEquals(byte[] a, byte[] b)
        {
            if (a.Length != b.Length)
            {
                return false;
            }

            int diff = 0;
            for (int i = 0; i < a.Length; i++)
            {
                diff |= a[i] ^ b[i];
            }

            return diff == 0;
        }

        public override string ToString() => RawLine ?? base.ToString();
    }

    internal enum HostKeyStatus
    {
        /// <summary>A known_hosts entry for the host has exactly this key.</summary>
        Trusted,
        /// <summary>No entry for the host has a key of this type (the host may be absent, or known only with other key types).</summary>
        Unknown,
        /// <summary>The host is known with a key of the same type but different bytes: possible man-in-the-middle or a reinstalled host.</summary>
        Changed,
        /// <summary>The key is listed on an <c>@revoked</c> line.</summary>
        Revoked,
    }

    internal sealed class HostKeyCheckResult
    {
        private static readonly IReadOnlyList<KnownHostEntry> NoEntries = new KnownHostEntry[0];

        internal HostKeyCheckResult(
            HostKeyStatus status,
            KnownHostEntry matchedEntry,
            IReadOnlyList<KnownHostEntry> conflictingEntries,
            IReadOnlyList<KnownHostEntry> hostEntries)
        {
            Status = status;
            MatchedEntry = matchedEntry;
            ConflictingEntries = conflictingEntries ?? NoEntries;
            HostEntries = hostEntries ?? NoEntries;
        }

        public HostKeyStatus Status { get; }

        /// <summary>
        /// Trusted: the entry holding the key. Revoked: the <c>@revoked</c> entry. Changed: the first entry for
        /// the host with the same key type but a different key. Unknown: null.
        /// </summary>
        public KnownHostEntry MatchedEntry { get; }

        /// <summary>For <see cref="HostKeyStatus.Changed"/>: every entry for the host with the same key type but a different key. Empty otherwise.</summary>
        public IReadOnlyList<KnownHostEntry> ConflictingEntries { get; }

        /// <summary>All (non-CA, non-revoked) entries whose host field matched, whatever their key type.</summary>
        public IReadOnlyList<KnownHostEntry> HostEntries { get; }
    }

    internal sealed class KnownHostsException : Exception
    {
        public KnownHostsException(string message, string path, int lineNumber = 0, Exception innerException = null)
            : base(message, innerException)
        {
            Path = path;
            LineNumber = lineNumber;
        }

        public string Path { get; }

        /// <summary>1-based line number the problem relates to, or 0 when not applicable.</summary>
        public int LineNumber { get; }
    }

    /// <summary>
    /// Reader, matcher and writer for OpenSSH <c>known_hosts</c> files, following the rules of sshd(8)
    /// "SSH_KNOWN_HOSTS FILE FORMAT" and OpenSSH's hostfile.c.
    /// </summary>
    internal sealed class KnownHostsFile
    {
        private const int DefaultSshPort = 22;
        private const string HashMagic = "|1|";
        private const int Sha1Length = 20;

        private KnownHostsFile(string path, IReadOnlyList<KnownHostEntry> entries, IReadOnlyList<int> malformedLines)
        {
            Path = path;
            Entries = entries;
            MalformedLines = malformedLines;
        }

        public string Path { get; }

        /// <summary>Well-formed entries, in file order (including @cert-authority and @revoked lines).</summary>
        public IReadOnlyList<KnownHostEntry> Entries { get; }

        /// <summary>1-based numbers of lines that were skipped because they could not be parsed.</summary>
        public IReadOnlyList<int> MalformedLines { get; }

        /// <summary>
        /// Reads a known_hosts file. A missing file (or missing directory) yields an empty file object;
        /// a path that cannot be read throws <see cref="KnownHostsException"/>.
        /// </summary>
        public static KnownHostsFile Load(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new ArgumentException("A known_hosts path is required.", nameof(path));
            }

            if (Directory.Exists(path))
            {
                throw new KnownHostsException(
                    $"The known_hosts path '{path}' is a directory, not a file. " +
                    "Pass the path of a known_hosts file (for example ~/.ssh/known_hosts), or remove the directory so the file can be created.",
                    path);
            }

            if (!File.Exists(path))
            {
                return Parse(string.Empty, path);
            }

            string text;
            try
            {
                text = File.ReadAllText(path, new UTF8Encoding(false));
            }
            catch (FileNotFoundException)
            {
                return Parse(string.Empty, path); // deleted between the check and the read
            }
            catch (DirectoryNotFoundException)
            {
                return Parse(string.Empty, path);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new KnownHostsException(
                    $"The known_hosts file '{path}' cannot be read: access denied. " +
                    "Check its owner and permissions (it should be readable by you, e.g. chmod 600), or pass a different known_hosts file.",
                    path, 0, ex);
            }
            catch (IOException ex)
            {
                throw new KnownHostsException(
                    $"The known_hosts file '{path}' cannot be read: {ex.Message} " +
                    "Make sure it is a regular, readable file, or pass a different known_hosts file.",
                    path, 0, ex);
            }

            return Parse(text, path);
        }

        /// <summary>Parses known_hosts text. Malformed lines are skipped and listed in <see cref="MalformedLines"/>.</summary>
        public static KnownHostsFile Parse(string text, string path)
        {
            var entries = new List<KnownHostEntry>();
            var malformed = new List<int>();
            text = text ?? string.Empty;
            if (text.Length > 0 && text[0] == '\uFEFF')
            {
                text = text.Substring(1);
            }

            string[] lines = text.Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                string line = lines[i];
                if (line.Length > 0 && line[line.Length - 1] == '\r')
                {
                    line = line.Substring(0, line.Length - 1);
                }

                string trimmed = line.Trim(' ', '\t');
                if (trimmed.Length == 0 || trimmed[0] == '#')
                {
                    continue;
                }

                KnownHostEntry entry = ParseLine(trimmed, i + 1, line);
                if (entry == null)
                {
                    malformed.Add(i + 1);
                }
                else
                {
                    entries.Add(entry);
                }
            }

            return new KnownHostsFile(path, entries.AsReadOnly(), malformed.AsReadOnly());
        }

        private static KnownHostEntry ParseLine(string line, int lineNumber, string rawLine)
        {
            int pos = 0;
            string token = NextField(line, ref pos);
            KnownHostMarker marker = KnownHostMarker.None;
            if (token.StartsWith("@", StringComparison.Ordinal))
            {
                if (token == "@cert-authority")
                {
                    marker = KnownHostMarker.CertAuthority;
                }
                else if (token == "@revoked")
                {
                    marker = KnownHostMarker.Revoked;
                }
                else
                {
                    return null; // unknown marker: OpenSSH skips the line
                }

                token = NextField(line, ref pos);
            }

            string hostField = token;
            string declaredType = NextField(line, ref pos);
            string base64 = NextField(line, ref pos);
            if (hostField.Length == 0 || declaredType.Length == 0 || base64.Length == 0)
            {
                return null;
            }

            string comment = pos < line.Length ? line.Substring(pos).Trim(' ', '\t') : null;
            if (comment != null && comment.Length == 0)
            {
                comment = null;
            }

            string[] patterns = null;
            byte[] salt = null;
            byte[] hash = null;
            if (hostField[0] == '|')
            {
                if (!TryParseHashedHost(hostField, out salt, out hash))
                {
                    return null;
                }
            }
            else
            {
                patterns = hostField.Split(',');
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(base64);
            }
            catch (FormatException)
            {
                return null;
            }

            if (!TryReadKeyType(blob, out string blobType))
            {
                return null;
            }

            if (!KeyTypesAgree(declaredType, blobType))
            {
                return null; // OpenSSH: SSH_ERR_KEY_TYPE_MISMATCH, line skipped
            }

            return new KnownHostEntry(lineNumber, marker, patterns, salt, hash, blobType, declaredType, blob, comment, rawLine);
        }

        private static bool KeyTypesAgree(string declared, string blobType)
        {
            if (string.Equals(declared, blobType, StringComparison.Ordinal))
            {
                return true;
            }

            // OpenSSH accepts the RSA signature algorithm names as aliases of ssh-rsa.
            return blobType == "ssh-rsa" && (declared == "rsa-sha2-256" || declared == "rsa-sha2-512");
        }

        private static bool TryParseHashedHost(string field, out byte[] salt, out byte[] hash)
        {
            salt = null;
            hash = null;
            if (!field.StartsWith(HashMagic, StringComparison.Ordinal))
            {
                return false;
            }

            string rest = field.Substring(HashMagic.Length);
            int bar = rest.IndexOf('|');
            if (bar <= 0 || bar == rest.Length - 1 || rest.IndexOf('|', bar + 1) >= 0)
            {
                return false;
            }

            try
            {
                salt = Convert.FromBase64String(rest.Substring(0, bar));
                hash = Convert.FromBase64String(rest.Substring(bar + 1));
            }
            catch (FormatException)
            {
                salt = hash = null;
                return false;
            }

            if (salt.Length != Sha1Length || hash.Length != Sha1Length)
            {
                salt = hash = null;
                return false;
            }

            return true;
        }

        private static string NextField(string line, ref int pos)
        {
            while (pos < line.Length && (line[pos] == ' ' || line[pos] == '\t'))
            {
                pos++;
            }

            int start = pos;
            while (pos < line.Length && line[pos] != ' ' && line[pos] != '\t')
            {
                pos++;
            }

            return line.Substring(start, pos - start);
        }

        /// <summary>Plain (non-@cert-authority, non-@revoked) entries whose host field matches host:port.</summary>
        public IReadOnlyList<KnownHostEntry> FindHostEntries(string host, int port)
        {
            string lookup = LookupName(host, port);
            var result = new List<KnownHostEntry>();
            foreach (KnownHostEntry entry in Entries)
            {
                if (entry.Marker == KnownHostMarker.None && entry.MatchesHost(lookup))
                {
                    result.Add(entry);
                }
            }

            return result.AsReadOnly();
        }

        /// <summary>Decides whether <paramref name="keyBlob"/> is an acceptable host key for host:port.</summary>
        public HostKeyCheckResult Check(string host, int port, byte[] keyBlob)
        {
            if (keyBlob == null)
            {
                throw new ArgumentNullException(nameof(keyBlob));
            }

            string keyType = KeyTypeOf(keyBlob);

            // A revoked key is refused whatever host it is presented by.
            foreach (KnownHostEntry entry in Entries)
            {
                if (entry.Marker == KnownHostMarker.Revoked && BytesEqual(entry.KeyBlob, keyBlob))
                {
                    return new HostKeyCheckResult(HostKeyStatus.Revoked, entry, null, null);
                }
            }

            IReadOnlyList<KnownHostEntry> hostEntries = FindHostEntries(host, port);
            foreach (KnownHostEntry entry in hostEntries)
            {
                if (BytesEqual(entry.KeyBlob, keyBlob))
                {
                    return new HostKeyCheckResult(HostKeyStatus.Trusted, entry, null, hostEntries);
                }
            }

            var conflicts = new List<KnownHostEntry>();
            foreach (KnownHostEntry entry in hostEntries)
            {
                if (string.Equals(entry.KeyType, keyType, StringComparison.Ordinal))
                {
                    conflicts.Add(entry);
                }
            }

            if (conflicts.Count > 0)
            {
                return new HostKeyCheckResult(HostKeyStatus.Changed, conflicts[0], conflicts.AsReadOnly(), hostEntries);
            }

            // Unknown also covers a host that is known only with keys of OTHER types (e.g. the file has its
            // ssh-ed25519 key and the server offered ssh-rsa): like OpenSSH, that is not a "changed" key.
            // Callers can tell the two cases apart through HostEntries, and can avoid the situation by
            // preferring the algorithms from KeyTypesFor().
            return new HostKeyCheckResult(HostKeyStatus.Unknown, null, null, hostEntries);
        }

        /// <summary>Distinct key types (as embedded in the blobs) recorded for host:port, in file order.</summary>
        public IReadOnlyList<string> KeyTypesFor(string host, int port)
        {
            var types = new List<string>();
            foreach (KnownHostEntry entry in FindHostEntries(host, port))
            {
                if (!types.Contains(entry.KeyType))
                {
                    types.Add(entry.KeyType);
                }
            }

            return types.AsReadOnly();
        }

        /// <summary>
        /// Appends <c>pattern keytype base64 [comment]</c> for host:port to the file, creating the file (mode 600)
        /// and its directory (mode 700) when missing. The host is lower-cased, as ssh does.
        /// </summary>
        public static void Append(string path, string host, int port, byte[] keyBlob, string comment = null)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                throw new ArgumentException("A known_hosts path is required.", nameof(path));
            }

            if (keyBlob == null)
            {
                throw new ArgumentNullException(nameof(keyBlob));
            }

            string keyType = KeyTypeOf(keyBlob);
            string pattern = HostPattern(host, port).ToLowerInvariant();
            var line = new StringBuilder();
            line.Append(pattern).Append(' ').Append(keyType).Append(' ').Append(Convert.ToBase64String(keyBlob));
            if (!string.IsNullOrWhiteSpace(comment))
            {
                if (comment.IndexOf('\n') >= 0 || comment.IndexOf('\r') >= 0)
                {
                    throw new ArgumentException("A known_hosts comment cannot contain line breaks.", nameof(comment));
                }

                line.Append(' ').Append(comment.Trim());
            }

            line.Append('\n');
            byte[] bytes = Encoding.UTF8.GetBytes(line.ToString());

            try
            {
                string fullPath = System.IO.Path.GetFullPath(path);
                if (Directory.Exists(fullPath))
                {
                    throw new KnownHostsException(
                        $"Cannot add a host key to '{path}': it is a directory, not a file. Pass the path of a known_hosts file.",
                        path);
                }

                string dir = System.IO.Path.GetDirectoryName(fullPath);
                if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
                {
                    Directory.CreateDirectory(dir);
                    TryChmod(dir, Convert.ToInt32("700", 8));
                }

                bool created = !File.Exists(fullPath);
                using (var stream = new FileStream(fullPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read))
                {
                    if (created)
                    {
                        TryChmod(fullPath, Convert.ToInt32("600", 8));
                    }

                    if (stream.Length > 0)
                    {
                        stream.Seek(-1, SeekOrigin.End);
                        int last = stream.ReadByte();
                        stream.Seek(0, SeekOrigin.End);
                        if (last != '\n')
                        {
                            stream.WriteByte((byte)'\n');
                        }
                    }

                    stream.Write(bytes, 0, bytes.Length);
                    stream.Flush();
                }
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new KnownHostsException(
                    $"Cannot add a host key to '{path}': access denied. Check the owner and permissions of the file and its directory, or pass a different known_hosts file.",
                    path, 0, ex);
            }
            catch (IOException ex)
            {
                throw new KnownHostsException(
                    $"Cannot add a host key to '{path}': {ex.Message} Make sure the path is a writable regular file, or pass a different known_hosts file.",
                    path, 0, ex);
            }
        }

        /// <summary>
        /// The host name as it appears in known_hosts: <c>host</c> for port 22, <c>[host]:port</c> otherwise.
        /// IPv6 literals are given without brackets (<c>::1</c>); brackets, if supplied, are removed first.
        /// </summary>
        public static string HostPattern(string host, int port)
        {
            if (string.IsNullOrWhiteSpace(host))
            {
                throw new ArgumentException("A host name is required.", nameof(host));
            }

            if (port < 1 || port > 65535)
            {
                throw new ArgumentOutOfRangeException(nameof(port), port, "Port must be between 1 and 65535.");
            }

            if (host.Length > 2 && host[0] == '[' && host[host.Length - 1] == ']')
            {
                host = host.Substring(1, host.Length - 2);
            }

            return port == DefaultSshPort ? host : "[" + host + "]:" + port.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>Reads the key type string at the start of an SSH public key blob.</summary>
        public static string KeyTypeOf(byte[] keyBlob)
        {
            if (keyBlob == null)
            {
                throw new ArgumentNullException(nameof(keyBlob));
            }

            if (!TryReadKeyType(keyBlob, out string type))
            {
                throw new FormatException("The data is not an SSH public key blob (it does not start with a valid key type string).");
            }

            return type;
        }

        /// <summary><c>SHA256:</c> + unpadded base64 of SHA-256(blob), exactly as <c>ssh-keygen -l</c> prints.</summary>
        public static string Sha256Fingerprint(byte[] keyBlob)
        {
            if (keyBlob == null)
            {
                throw new ArgumentNullException(nameof(keyBlob));
            }

            using (SHA256 sha = SHA256.Create())
            {
                return "SHA256:" + Convert.ToBase64String(sha.ComputeHash(keyBlob)).TrimEnd('=');
            }
        }

        private static bool TryReadKeyType(byte[] blob, out string type)
        {
            type = null;
            if (blob.Length < 4)
            {
                return false;
            }

            uint len = ((uint)blob[0] << 24) | ((uint)blob[1] << 16) | ((uint)blob[2] << 8) | blob[3];
            if (len == 0 || len > 256 || len > (uint)(blob.Length - 4))
            {
                return false;
            }

            for (int i = 4; i < 4 + (int)len; i++)
            {
                byte c = blob[i];
                if (c <= 0x20 || c >= 0x7f)
                {
                    return false; // key type names are printable ASCII without spaces
                }
            }

            type = Encoding.ASCII.GetString(blob, 4, (int)len);
            return true;
        }

        private static string LookupName(string host, int port)
        {
            // ssh lower-cases the host name before looking it up (and before hashing it).
            return HostPattern(host, port).ToLowerInvariant();
        }

        private static bool BytesEqual(byte[] a, byte[] b)
        {
            if (a.Length != b.Length)
            {
                return false;
            }

            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i])
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>
        /// OpenSSH match_pattern_list: 1 if some positive pattern matches and no negated pattern does,
        /// -1 if a negated pattern matches, 0 otherwise. <paramref name="name"/> must be lower-case.
        /// </summary>
        internal static int MatchPatternList(string name, string[] patterns)
        {
            bool positive = false;
            foreach (string raw in patterns)
            {
                bool negated = raw.Length > 0 && raw[0] == '!';
                string pattern = (negated ? raw.Substring(1) : raw).ToLowerInvariant();
                if (GlobMatch(name, pattern))
                {
                    if (negated)
                    {
                        return -1;
                    }

                    positive = true;
                }
            }

            return positive ? 1 : 0;
        }

        /// <summary>Glob match where '*' matches any run of characters and '?' exactly one.</summary>
        internal static bool GlobMatch(string text, string pattern)
        {
            int t = 0, p = 0, starP = -1, starT = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
                {
                    t++;
                    p++;
                }
                else if (p < pattern.Length && pattern[p] == '*')
                {
                    starP = p++;
                    starT = t;
                }
                else if (starP >= 0)
                {
                    p = starP + 1;
                    t = ++starT;
                }
                else
                {
                    return false;
                }
            }

            while (p < pattern.Length && pattern[p] == '*')
            {
                p++;
            }

            return p == pattern.Length;
        }

        private static void TryChmod(string path, int mode)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                return;
            }

            try
            {
                NativeMethods.chmod(path, (uint)mode);
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }
        }

        private static class NativeMethods
        {
            [DllImport("libc", SetLastError = true)]
#pragma warning disable IDE1006 // libc name
            internal static extern int chmod(string pathname, uint mode);
#pragma warning restore IDE1006
        }
    }
}
