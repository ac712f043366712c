using System;
using System.IO;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SwarmAdmin.Recovery
{
    /// <summary>
    /// The file Backup-SwarmManager writes: a manager's swarm state directory as a tar, gzip-compressed and encrypted
    /// with a key derived from the user's password, behind a clear-text metadata header that is authenticated too.
    /// A manager's state holds everything needed to read the swarm's secrets (the raft key sits beside the raft log
    /// unless the swarm is autolocked), so the archive is never written in clear text.
    ///
    /// Layout: "SWARMADMIN-BACKUP1\n" | uint32 big-endian header length | header (UTF-8 JSON: metadata, salt, iv,
    /// iterations) | AES-256-CBC(PKCS7) of gzip(tar) | HMAC-SHA256 over everything before it.
    /// Keys: PBKDF2-HMAC-SHA256(password, salt, iterations) -> 64 bytes = encryption key | MAC key.
    /// </summary>
    internal static class SwarmBackupArchive
    {
        internal static readonly byte[] Magic = Encoding.ASCII.GetBytes("SWARMADMIN-BACKUP1\n");
        internal const int DefaultIterations = 150_000;
        private const int TagLength = 32;
        private const int MaxHeader = 1 << 20;
        /// <summary>A file cannot make opening it take forever: far above what we write, far below a hang.</summary>
        private const int MaxIterations = 5_000_000;

        /// <summary>Writes the archive: the header, then whatever <paramref name="writeTar"/> writes (the plain tar) encrypted.</summary>
        public static void Write(Stream output, SwarmBackupMetadata metadata, byte[] password, Action<Stream> writeTar, int iterations = DefaultIterations)
        {
            byte[] salt = Random(16), iv = Random(16);
            byte[] keys = Pbkdf2(password, salt, iterations, 64);
            try
            {
                var header = new BackupHeader { Metadata = metadata, Salt = Convert.ToBase64String(salt), Iv = Convert.ToBase64String(iv), Iterations = iterations };
                byte[] headerBytes = JsonSerializer.SerializeToUtf8Bytes(header);
                using (var mac = new HMACSHA256(Slice(keys, 32, 32)))
                using (var macStream = new MacWriteStream(output, mac))
                {
                    macStream.Write(Magic, 0, Magic.Length);
                    macStream.Write(BigEndian(headerBytes.Length), 0, 4);
                    macStream.Write(headerBytes, 0, headerBytes.Length);
                    using (var aes = Aes.Create())
                    {
                        aes.Key = Slice(keys, 0, 32); aes.IV = iv; aes.Mode = CipherMode.CBC; aes.Padding = PaddingMode.PKCS7;
                        using (var crypto = new CryptoStream(new NonClosing(macStream), aes.CreateEncryptor(), CryptoStreamMode.Write))
                        {
                            using (var gzip = new GZipStream(crypto, CompressionLevel.Optimal, leaveOpen: true)) writeTar(gzip);
                            crypto.FlushFinalBlock();
                        }
                    }
                    mac.TransformFinalBlock(Array.Empty<byte>(), 0, 0);
                    output.Write(mac.Hash, 0, TagLength);
                }
            }
            finally { Array.Clear(keys, 0, keys.Length); }
        }

        /// <summary>Reads the metadata without the password (it is not secret; its integrity is checked by <see cref="Open"/>).</summary>
        public static SwarmBackupMetadata ReadMetadata(Stream input) => ReadHeader(input, out _).Metadata;

        /// <summary>
        /// Checks the whole file against the password (a wrong password or any changed byte fails here, before anything
        /// is decrypted) and returns the metadata and a stream of the plain tar.
        /// </summary>
        public static (SwarmBackupMetadata Metadata, Stream Tar) Open(Stream input, byte[] password)
        {
            if (!input.CanSeek) throw new ArgumentException("The backup stream must be seekable.", nameof(input));
            input.Position = 0;
            BackupHeader header = ReadHeader(input, out long bodyStart);
            long end = input.Length - TagLength;
            if (end < bodyStart) throw new InvalidDataException("The backup file is cut short (no authentication tag).");
            byte[] keys = Pbkdf2(password, Convert.FromBase64String(header.Salt), header.Iterations, 64);
            try
            {
                byte[] expected;
                using (var mac = new HMACSHA256(Slice(keys, 32, 32)))
                {
                    input.Position = 0;
                    var buffer = new byte[81920];
                    long left = end;
                    while (left > 0)
                    {
                        int n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                        if (n <= 0) throw new InvalidDataException("The backup file is cut short.");
                        mac.TransformBlock(buffer, 0, n, null, 0);
                        left -= n;
                    }
                    mac.TransformFinalBlock(Array.Empty<byte>(), 0, 0);
                    expected = mac.Hash;
                }
                var tag = new byte[TagLength];
                input.Position = end;
                ReadExactly(input, tag);
                if (!FixedTimeEquals(tag, expected))
                    throw new CryptographicException("The password does not open this backup, or the file was changed after it was written.");

                input.Position = bodyStart;
                ICryptoTransform decryptor;
                using (var aes = Aes.Create())
                {
                    aes.Key = Slice(keys, 0, 32); aes.IV = Convert.FromBase64String(header.Iv); aes.Mode = CipherMode.CBC; aes.Padding = PaddingMode.PKCS7;
                    decryptor = aes.CreateDecryptor();
                }
                var body = new BoundedStream(input, end - bodyStart);
                var crypto = new CryptoStream(body, decryptor, CryptoStreamMode.Read);
                return (header.Metadata, new GZipStream(crypto, CompressionMode.Decompress));
            }
            finally { Array.Clear(keys, 0, keys.Length); }
        }

        private static BackupHeader ReadHeader(Stream input, out long bodyStart)
        {
            var magic = new byte[Magic.Length];
            if (ReadUpTo(input, magic) != magic.Length || !FixedTimeEquals(magic, Magic))
                throw new InvalidDataException("This is not a SwarmAdmin backup file (made by Backup-SwarmManager).");
            var len = new byte[4];
            ReadExactly(input, len);
            int length = (len[0] << 24) | (len[1] << 16) | (len[2] << 8) | len[3];
            if (length <= 0 || length > MaxHeader) throw new InvalidDataException("The backup file's header is damaged.");
            var headerBytes = new byte[length];
            ReadExactly(input, headerBytes);
            bodyStart = Magic.Length + 4 + length;
            BackupHeader header;
            try { header = JsonSerializer.Deserialize<BackupHeader>(headerBytes); }
            catch (JsonException ex) { throw new InvalidDataException("The backup file's header is damaged: " + ex.Message, ex); }
            if (header?.Metadata == null || string.IsNullOrEmpty(header.Salt) || string.IsNullOrEmpty(header.Iv) || header.Iterations < 1000 || header.Iterations > MaxIterations)
                throw new InvalidDataException("The backup file's header is incomplete or damaged.");
            try
            {
                if (Convert.FromBase64String(header.Salt).Length < 8 || Convert.FromBase64String(header.Iv).Length != 16)
                    throw new InvalidDataException("The backup file's header is damaged (salt or IV).");
            }
            catch (FormatException ex) { throw new InvalidDataException("The backup file's header is damaged (salt or IV).", ex); }
            return header;
        }

        /// <summary>The password as UTF-8 bytes (the caller clears them).</summary>
        public static byte[] PasswordBytes(SecureString password)
        {
            if (password == null || password.Length == 0) throw new ArgumentException("The backup password is empty.");
            return Infrastructure.SecureStrings.ToUtf8(password);
        }

        /// <summary>PBKDF2 with HMAC-SHA256 (RFC 8018); netstandard2.0's Rfc2898DeriveBytes only offers SHA-1.</summary>
        internal static byte[] Pbkdf2(byte[] password, byte[] salt, int iterations, int length)
        {
            var result = new byte[length];
            using (var hmac = new HMACSHA256(password))
            {
                int blocks = (length + 31) / 32;
                var input = new byte[salt.Length + 4];
                Buffer.BlockCopy(salt, 0, input, 0, salt.Length);
                for (int block = 1; block <= blocks; block++)
                {
                    input[salt.Length] = (byte)(block >> 24); input[salt.Length + 1] = (byte)(block >> 16);
                    input[salt.Length + 2] = (byte)(block >> 8); input[salt.Length + 3] = (byte)block;
                    byte[] u = hmac.ComputeHash(input);
                    byte[] t = (byte[])u.Clone();
                    for (int i = 1; i < iterations; i++)
                    {
                        u = hmac.ComputeHash(u);
                        for (int j = 0; j < t.Length; j++) t[j] ^= u[j];
                    }
                    int offset = (block - 1) * 32;
                    Buffer.BlockCopy(t, 0, result, offset, Math.Min(32, length - offset));
                }
            }
            return result;
        }

        private static byte[] Random(int n)
        {
            var b = new byte[n];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(b);
            return b;
        }

        private static byte[] Slice(byte[] a, int offset, int count)
        {
            var r = new byte[count];
            Buffer.BlockCopy(a, offset, r, 0, count);
            return r;
        }

        private static byte[] BigEndian(int v) => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v };

        private static bool FixedTimeEquals(byte[] a, byte[] b)
        {
            if (a.Length != b.Length) return false;
            int diff = 0;
            for (int i = 0; i < a.Length; i++) diff |= a[i] ^ b[i];
            return diff == 0;
        }

        private static int ReadUpTo(Stream s, byte[] buffer)
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = s.Read(buffer, total, buffer.Length - total);
                if (n <= 0) break;
                total += n;
            }
            return total;
        }

        private static void ReadExactly(Stream s, byte[] buffer)
        {
            if (ReadUpTo(s, buffer) != buffer.Length) throw new InvalidDataException("The backup file is cut short.");
        }

        private sealed class BackupHeader
        {
            public SwarmBackupMetadata Metadata { get; set; }
            public string Salt { get; set; }
            public string Iv { get; set; }
            public int Iterations { get; set; }
        }

        /// <summary>Writes through to the file and feeds every byte to the MAC.</summary>
        private sealed class MacWriteStream : Stream
        {
            private readonly Stream _inner; private readonly HMACSHA256 _mac;
            public MacWriteStream(Stream inner, HMACSHA256 mac) { _inner = inner; _mac = mac; }
            public override void Write(byte[] buffer, int offset, int count)
            {
                if (count == 0) return;
                _mac.TransformBlock(buffer, offset, count, null, 0);
                _inner.Write(buffer, offset, count);
            }
            public override void Flush() => _inner.Flush();
            public override bool CanRead => false; public override bool CanSeek => false; public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            protected override void Dispose(bool disposing) { /* the caller owns the file */ }
        }

        private sealed class NonClosing : Stream
        {
            private readonly Stream _inner;
            public NonClosing(Stream inner) { _inner = inner; }
            public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);
            public override void Flush() => _inner.Flush();
            public override bool CanRead => false; public override bool CanSeek => false; public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
        }

        /// <summary>Reads at most <c>length</c> bytes of the inner stream (the ciphertext, without the tag).</summary>
        private sealed class BoundedStream : Stream
        {
            private readonly Stream _inner; private long _left;
            public BoundedStream(Stream inner, long length) { _inner = inner; _left = length; }
            public override int Read(byte[] buffer, int offset, int count)
            {
                if (_left <= 0) return 0;
                int n = _inner.Read(buffer, offset, (int)Math.Min(count, _left));
                _left -= n;
                return n;
            }
            public override bool CanRead => true; public override bool CanSeek => false; public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }
    }

    /// <summary>What a backup holds, readable without its password.</summary>
    public sealed class SwarmBackupMetadata
    {
        public int FormatVersion { get; set; } = 1;
        public DateTime CreatedAt { get; set; }
        public string ClusterId { get; set; }
        public string NodeId { get; set; }
        public string NodeHostname { get; set; }
        public string NodeAddress { get; set; }
        public string EngineVersion { get; set; }
        public ulong RaftIndex { get; set; }
        public string DataRoot { get; set; }
        public bool Autolocked { get; set; }
        public string[] Managers { get; set; } = Array.Empty<string>();
        public int Nodes { get; set; }
        public int Services { get; set; }
        public int Secrets { get; set; }
        public int Configs { get; set; }
    }
}
