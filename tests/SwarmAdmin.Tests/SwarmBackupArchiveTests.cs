using System;
using System.Collections.Generic;
using System.Formats.Tar;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Recovery;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>
    /// The encrypted file Backup-SwarmManager writes (SwarmBackupArchive): round trip, metadata without the password,
    /// authentication of every byte, PBKDF2-HMAC-SHA256 against RFC 7914's vectors, and the file names the cmdlet picks.
    /// </summary>
    public class SwarmBackupArchiveTests
    {
        // the reader refuses fewer than 1000 iterations (a header that asks for less is damaged), so tests use the minimum
        private const int FastIterations = 1000;
        private static readonly byte[] Password = Encoding.UTF8.GetBytes("correct horse battery staple");

        private static SwarmBackupMetadata Meta() => new SwarmBackupMetadata
        {
            CreatedAt = new DateTime(2024, 5, 17, 2, 30, 0, DateTimeKind.Utc),
            ClusterId = "k3q9x8r2m1lz0p7w5y4t6v3b1",
            NodeId = "x1y2z3a4b5c6d7e8f9g0h1i2j",
            NodeHostname = "docker-app-2",
            NodeAddress = "192.168.4.31",
            EngineVersion = "27.3.1",
            RaftIndex = 48213,
            DataRoot = "/var/lib/docker",
            Autolocked = true,
            Managers = new[] { "docker-app-1 (192.168.4.30:2377)", "docker-app-2 (192.168.4.31:2377)", "docker-app-3 (192.168.4.32:2377)" },
            Nodes = 7,
            Services = 23,
            Secrets = 9,
            Configs = 4,
        };

        private static byte[] RandomBytes(int n, int seed)
        {
            var b = new byte[n];
            new Random(seed).NextBytes(b);
            return b;
        }

        /// <summary>Writes a backup of <paramref name="payload"/>, fed to the archive in uneven chunks as ssh's stdout would.</summary>
        private static byte[] WriteBackup(byte[] payload, SwarmBackupMetadata meta = null, byte[] password = null, int iterations = FastIterations)
        {
            using (var file = new MemoryStream())
            {
                SwarmBackupArchive.Write(file, meta ?? Meta(), password ?? Password, tar =>
                {
                    int offset = 0, chunk = 1;
                    while (offset < payload.Length)
                    {
                        int n = Math.Min(chunk, payload.Length - offset);
                        tar.Write(payload, offset, n);
                        offset += n;
                        chunk = chunk * 3 + 7;
                        if (chunk > 200_000) chunk = 4093;
                    }
                }, iterations);
                return file.ToArray();
            }
        }

        private static (SwarmBackupMetadata Meta, byte[] Tar) ReadBackup(byte[] file, byte[] password = null)
        {
            using (var input = new MemoryStream(file, writable: false))
            {
                var (meta, tar) = SwarmBackupArchive.Open(input, password ?? Password);
                using (tar)
                using (var plain = new MemoryStream())
                {
                    tar.CopyTo(plain);
                    return (meta, plain.ToArray());
                }
            }
        }

        private static int BodyStart(byte[] file)
        {
            int m = SwarmBackupArchive.Magic.Length;
            int length = (file[m] << 24) | (file[m + 1] << 16) | (file[m + 2] << 8) | file[m + 3];
            return m + 4 + length;
        }

        private static byte[] Flip(byte[] file, int index, byte mask = 0x01)
        {
            var copy = (byte[])file.Clone();
            copy[index] ^= mask;
            return copy;
        }

        /// <summary>A small tar such as `tar -cf - swarm` writes (ustar entries for a raft log, a snapshot and a certificate).</summary>
        private static byte[] SwarmTar(int walBytes)
        {
            using (var ms = new MemoryStream())
            {
                using (var writer = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
                {
                    void Dir(string name) => writer.WriteEntry(new UstarTarEntry(TarEntryType.Directory, name));
                    void File(string name, byte[] data)
                    {
                        var e = new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) };
                        writer.WriteEntry(e);
                    }
                    Dir("swarm/");
                    Dir("swarm/certificates/");
                    File("swarm/certificates/swarm-node.crt", Encoding.ASCII.GetBytes("-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"));
                    Dir("swarm/raft/");
                    Dir("swarm/raft/wal-v3-encrypted/");
                    File("swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal", RandomBytes(walBytes, 7));
                    Dir("swarm/raft/snap-v3-encrypted/");
                    File("swarm/raft/snap-v3-encrypted/0000000000000002-000000000000bc55.snap", RandomBytes(4096, 8));
                    File("swarm/state.json", Encoding.UTF8.GetBytes("[{\"node_id\":\"x1y2z3a4b5c6d7e8f9g0h1i2j\",\"addr\":\"192.168.4.31:2377\"}]"));
                }
                return ms.ToArray();
            }
        }

        // --- round trip ---

        [Theory]
        [InlineData(0)]
        [InlineData(1)]
        [InlineData(15)]
        [InlineData(16)]
        [InlineData(512)]
        [InlineData(10_240)]
        [InlineData(81_921)]
        [InlineData(1_048_577)]
        [InlineData(3_000_001)]
        public void RoundTrip_ReturnsTheSameBytesAndMetadata(int size)
        {
            byte[] payload = RandomBytes(size, size);
            byte[] file = WriteBackup(payload);

            var (meta, tar) = ReadBackup(file);

            Assert.Equal(payload, tar);
            AssertSameMetadata(Meta(), meta);
        }

        [Fact]
        public void RoundTrip_OfARealTar_GivesBackEveryEntry()
        {
            byte[] tarBytes = SwarmTar(walBytes: 1_500_000);
            Assert.True(tarBytes.Length > 1_048_576);
            byte[] file = WriteBackup(tarBytes);

            var (_, plain) = ReadBackup(file);

            Assert.Equal(tarBytes, plain);
            var names = new List<string>();
            using (var reader = new TarReader(new MemoryStream(plain)))
            {
                TarEntry e;
                while ((e = reader.GetNextEntry()) != null) names.Add(e.Name);
            }
            Assert.Contains("swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal", names);
            Assert.Contains("swarm/raft/snap-v3-encrypted/0000000000000002-000000000000bc55.snap", names);
            Assert.Contains("swarm/certificates/swarm-node.crt", names);
        }

        [Fact]
        public void RoundTrip_ToAFileOnDisk_Works()
        {
            string path = Path.Combine(Path.GetTempPath(), "swarmadmin-backup-" + Guid.NewGuid().ToString("N") + ".swarmbackup");
            try
            {
                byte[] payload = SwarmTar(walBytes: 20_000);
                File.WriteAllBytes(path, WriteBackup(payload));
                using (var f = new FileStream(path, FileMode.Open, FileAccess.Read))
                {
                    var (meta, tar) = SwarmBackupArchive.Open(f, Password);
                    using (tar)
                    using (var plain = new MemoryStream())
                    {
                        tar.CopyTo(plain);
                        Assert.Equal(payload, plain.ToArray());
                    }
                    Assert.Equal("docker-app-2", meta.NodeHostname);
                }
            }
            finally { File.Delete(path); }
        }

        [Fact]
        public void RoundTrip_WithANonAsciiPassword_FromASecureString()
        {
            var secure = new SecureString();
            foreach (char c in "Pässwörd-€-密码") secure.AppendChar(c);
            byte[] password = SwarmBackupArchive.PasswordBytes(secure);
            Assert.Equal(Encoding.UTF8.GetBytes("Pässwörd-€-密码"), password);

            byte[] payload = RandomBytes(5000, 3);
            byte[] file = WriteBackup(payload, password: password);

            Assert.Equal(payload, ReadBackup(file, password).Tar);
            Assert.Throws<CryptographicException>(() => ReadBackup(file, Encoding.UTF8.GetBytes("Passwort-€-密码")));
        }

        [Fact]
        public void PasswordBytes_RefusesAnEmptyPassword()
        {
            Assert.Throws<ArgumentException>(() => SwarmBackupArchive.PasswordBytes(new SecureString()));
            Assert.Throws<ArgumentException>(() => SwarmBackupArchive.PasswordBytes(null));
        }

        [Fact]
        public void Write_UsesTheDefaultIterations_WhenNoneAreGiven()
        {
            using (var file = new MemoryStream())
            {
                SwarmBackupArchive.Write(file, Meta(), Password, tar => tar.Write(new byte[] { 1, 2, 3 }, 0, 3));
                string header = HeaderJson(file.ToArray());
                Assert.Contains($"\"Iterations\":{SwarmBackupArchive.DefaultIterations}", header);
                Assert.True(SwarmBackupArchive.DefaultIterations >= 100_000);
            }
        }

        // --- metadata without the password ---

        [Fact]
        public void ReadMetadata_NeedsNoPassword()
        {
            byte[] file = WriteBackup(RandomBytes(2000, 1));
            using (var input = new MemoryStream(file))
            {
                SwarmBackupMetadata meta = SwarmBackupArchive.ReadMetadata(input);
                AssertSameMetadata(Meta(), meta);
            }
        }

        [Fact]
        public void ReadMetadata_WorksOnAStreamThatCannotSeek()
        {
            byte[] file = WriteBackup(RandomBytes(2000, 1));
            using (var input = new ForwardOnlyStream(new MemoryStream(file)))
            {
                Assert.Equal("docker-app-2", SwarmBackupArchive.ReadMetadata(input).NodeHostname);
            }
        }

        [Fact]
        public void TheFile_HoldsNoPlaintextAndNoPassword()
        {
            byte[] marker = Encoding.ASCII.GetBytes("SECRET-MARKER-0123456789-never-in-clear-text");
            var payload = new List<byte>();
            for (int i = 0; i < 200; i++) payload.AddRange(marker);
            byte[] file = WriteBackup(payload.ToArray());

            Assert.Equal(-1, IndexOf(file, marker));
            Assert.Equal(-1, IndexOf(file, Encoding.ASCII.GetBytes("SECRET-MARKER")));
            Assert.Equal(-1, IndexOf(file, Password));
            Assert.Equal(0, IndexOf(file, SwarmBackupArchive.Magic));
            // the metadata is clear text on purpose
            Assert.NotEqual(-1, IndexOf(file, Encoding.UTF8.GetBytes("docker-app-2")));
        }

        [Fact]
        public void TwoWritesOfTheSameInput_Differ()
        {
            byte[] payload = RandomBytes(50_000, 42);
            byte[] a = WriteBackup(payload), b = WriteBackup(payload);

            Assert.NotEqual(a, b);
            string ha = HeaderJson(a), hb = HeaderJson(b);
            Assert.NotEqual(Field(ha, "Salt"), Field(hb, "Salt"));
            Assert.NotEqual(Field(ha, "Iv"), Field(hb, "Iv"));
            Assert.Equal(16, Convert.FromBase64String(Field(ha, "Salt")).Length);
            Assert.Equal(16, Convert.FromBase64String(Field(ha, "Iv")).Length);
            // the ciphertexts share no 16-byte block
            var blocksA = new HashSet<string>(Blocks(a, BodyStart(a)));
            Assert.DoesNotContain(Blocks(b, BodyStart(b)), blocksA.Contains);
            Assert.Equal(payload, ReadBackup(a).Tar);
            Assert.Equal(payload, ReadBackup(b).Tar);
        }

        // --- the password and every byte are checked before anything is decrypted ---

        [Fact]
        public void WrongPassword_ThrowsCryptographicException_BeforeAnyPlaintext()
        {
            byte[] file = WriteBackup(SwarmTar(walBytes: 100_000));
            using (var input = new ReadCountingStream(new MemoryStream(file)))
            {
                var ex = Assert.Throws<CryptographicException>(() => SwarmBackupArchive.Open(input, Encoding.UTF8.GetBytes("correct horse battery stapler")));
                Assert.Contains("password", ex.Message, StringComparison.OrdinalIgnoreCase);
                // Open returned no stream: nothing could be decrypted. It only read the file to check the tag.
                Assert.DoesNotContain("swarm/", ex.Message);
            }
        }

        [Fact]
        public void EmptyPassword_DoesNotOpenABackupMadeWithAPassword()
        {
            byte[] file = WriteBackup(RandomBytes(100, 5));
            Assert.Throws<CryptographicException>(() => ReadBackup(file, Array.Empty<byte>()));
        }

        [Theory]
        [InlineData("hostname")]
        [InlineData("clusterid")]
        [InlineData("raftindex")]
        [InlineData("managers")]
        public void OneFlippedByteInTheHeader_ThrowsCryptographicException(string where)
        {
            byte[] file = WriteBackup(RandomBytes(20_000, 11));
            string needle;
            switch (where)
            {
                case "hostname": needle = "docker-app-2"; break;
                case "clusterid": needle = "k3q9x8r2m1lz0p7w5y4t6v3b1"; break;
                case "raftindex": needle = "48213"; break;
                default: needle = "192.168.4.30:2377"; break;
            }
            int at = IndexOf(file, Encoding.UTF8.GetBytes(needle));
            Assert.True(at > 0 && at < BodyStart(file));
            byte[] bad = Flip(file, at + 2);

            // ReadMetadata does not authenticate (it needs no password): it shows the changed value ...
            using (var input = new MemoryStream(bad)) Assert.NotNull(SwarmBackupArchive.ReadMetadata(input));
            // ... but Open refuses the file
            Assert.Throws<CryptographicException>(() => ReadBackup(bad));
        }

        [Fact]
        public void FlippedBytesAnywhereInTheMetadataJson_AreRefused()
        {
            byte[] file = WriteBackup(RandomBytes(3000, 12));
            string json = HeaderJson(file);
            int headerStart = SwarmBackupArchive.Magic.Length + 4;
            int metaStart = headerStart + json.IndexOf("\"Metadata\"", StringComparison.Ordinal);
            int metaEnd = headerStart + json.IndexOf("\"Salt\"", StringComparison.Ordinal);
            for (int i = metaStart; i < metaEnd; i++)
            {
                var ex = Record.Exception(() => ReadBackup(Flip(file, i)));
                Assert.True(ex is CryptographicException || ex is InvalidDataException, $"byte {i}: {ex?.GetType().Name ?? "no exception"}");
            }
        }

        [Fact]
        public void ADamagedSaltOrIv_ThrowsInvalidDataOrCryptographicException()
        {
            byte[] file = WriteBackup(RandomBytes(3000, 20));
            string json = HeaderJson(file);
            int headerStart = SwarmBackupArchive.Magic.Length + 4;
            foreach (string field in new[] { "Salt", "Iv" })
            {
                int at = headerStart + json.IndexOf("\"" + field + "\":\"", StringComparison.Ordinal) + field.Length + 4;
                var bad = (byte[])file.Clone();
                bad[at] = (byte)'!';
                var ex = Record.Exception(() => ReadBackup(bad));
                Assert.True(ex is CryptographicException || ex is InvalidDataException, $"{field}: {ex?.GetType().Name ?? "no exception"}");
            }
        }

        [Theory]
        [InlineData(0.0)]
        [InlineData(0.5)]
        [InlineData(1.0)]
        public void OneFlippedByteInTheBody_ThrowsCryptographicException(double where)
        {
            byte[] file = WriteBackup(RandomBytes(200_000, 13));
            int start = BodyStart(file), end = file.Length - 32 - 1;
            int index = start + (int)((end - start) * where);
            Assert.Throws<CryptographicException>(() => ReadBackup(Flip(file, index, 0x80)));
        }

        [Theory]
        [InlineData(1)]
        [InlineData(16)]
        [InlineData(32)]
        public void OneFlippedByteInTheTag_ThrowsCryptographicException(int fromEnd)
        {
            byte[] file = WriteBackup(RandomBytes(5000, 14));
            Assert.Throws<CryptographicException>(() => ReadBackup(Flip(file, file.Length - fromEnd)));
        }

        [Fact]
        public void AnAppendedByte_IsRefused()
        {
            byte[] file = WriteBackup(RandomBytes(5000, 15));
            byte[] longer = file.Concat(new byte[] { 0 }).ToArray();
            Assert.Throws<CryptographicException>(() => ReadBackup(longer));
        }

        [Fact]
        public void ATruncatedFile_ThrowsInvalidDataOrCryptographicException()
        {
            byte[] file = WriteBackup(RandomBytes(100_000, 16));
            int body = BodyStart(file);
            var cuts = new[] { 0, 1, 5, SwarmBackupArchive.Magic.Length, SwarmBackupArchive.Magic.Length + 2, SwarmBackupArchive.Magic.Length + 4,
                               body - 10, body - 1, body, body + 1, body + 31, body + 32, body + 33, body + 1000, file.Length / 2, file.Length - 33, file.Length - 32, file.Length - 1 };
            foreach (int cut in cuts)
            {
                byte[] shorter = file.Take(cut).ToArray();
                var ex = Record.Exception(() => ReadBackup(shorter));
                Assert.True(ex is InvalidDataException || ex is CryptographicException, $"cut at {cut} of {file.Length}: {ex?.GetType().Name ?? "no exception"}");
            }
        }

        [Fact]
        public void ATruncatedHeader_ThrowsInvalidDataException_FromReadMetadata()
        {
            byte[] file = WriteBackup(RandomBytes(100, 17));
            foreach (int cut in new[] { 0, 10, SwarmBackupArchive.Magic.Length + 3, BodyStart(file) - 1 })
            {
                using (var input = new MemoryStream(file.Take(cut).ToArray()))
                    Assert.Throws<InvalidDataException>(() => SwarmBackupArchive.ReadMetadata(input));
            }
        }

        // --- not a backup ---

        public static IEnumerable<object[]> NotBackups()
        {
            yield return new object[] { "empty", Array.Empty<byte>() };
            yield return new object[] { "text", Encoding.UTF8.GetBytes("just some text\nthat is long enough to be read\n") };
            yield return new object[] { "random", RandomBytes(4096, 99) };
            yield return new object[] { "tar", SwarmTar(walBytes: 1000) };
            yield return new object[] { "gzip", new byte[] { 0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };
            yield return new object[] { "other magic", Encoding.ASCII.GetBytes("SWARMADMIN-BACKUP2\n\0\0\0\x02{}").Concat(new byte[64]).ToArray() };
            yield return new object[] { "magic only", (byte[])SwarmBackupArchive.Magic.Clone() };
            yield return new object[] { "zero header length", SwarmBackupArchive.Magic.Concat(new byte[] { 0, 0, 0, 0 }).Concat(new byte[64]).ToArray() };
            yield return new object[] { "huge header length", SwarmBackupArchive.Magic.Concat(new byte[] { 0x7f, 0xff, 0xff, 0xff }).Concat(new byte[64]).ToArray() };
            yield return new object[] { "header not JSON", Header(Encoding.UTF8.GetBytes("this is not json")) };
            yield return new object[] { "header without metadata", Header(Encoding.UTF8.GetBytes("{\"Salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"Iv\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"Iterations\":150000}")) };
            yield return new object[] { "header without salt", Header(Encoding.UTF8.GetBytes("{\"Metadata\":{},\"Iv\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"Iterations\":150000}")) };
            yield return new object[] { "too few iterations", Header(Encoding.UTF8.GetBytes("{\"Metadata\":{},\"Salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"Iv\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"Iterations\":1}")) };
        }

        private static byte[] Header(byte[] json)
        {
            var len = new[] { (byte)(json.Length >> 24), (byte)(json.Length >> 16), (byte)(json.Length >> 8), (byte)json.Length };
            return SwarmBackupArchive.Magic.Concat(len).Concat(json).Concat(new byte[80]).ToArray();
        }

        [Theory]
        [MemberData(nameof(NotBackups))]
        public void NotABackup_ThrowsInvalidDataException(string what, byte[] content)
        {
            Assert.NotNull(what);
            using (var input = new MemoryStream(content)) Assert.Throws<InvalidDataException>(() => SwarmBackupArchive.ReadMetadata(input));
            using (var input = new MemoryStream(content)) Assert.Throws<InvalidDataException>(() => SwarmBackupArchive.Open(input, Password));
        }

        [Fact]
        public void NotABackup_SaysWhatItIs()
        {
            using (var input = new MemoryStream(Encoding.UTF8.GetBytes("version: '3.8'\nservices: {}\n")))
            {
                var ex = Assert.Throws<InvalidDataException>(() => SwarmBackupArchive.Open(input, Password));
                Assert.Contains("not a SwarmAdmin backup", ex.Message);
            }
        }

        [Fact]
        public void Open_NeedsASeekableStream()
        {
            byte[] file = WriteBackup(RandomBytes(100, 18));
            Assert.Throws<ArgumentException>(() => SwarmBackupArchive.Open(new ForwardOnlyStream(new MemoryStream(file)), Password));
        }

        // --- the errors Restore-SwarmManager turns them into ---

        [Fact]
        public void OpenBackup_MapsAWrongPasswordAndADamagedFileToTheirErrorIds()
        {
            byte[] file = WriteBackup(RandomBytes(100, 19));
            using (var input = new MemoryStream(file))
            {
                var ex = Assert.Throws<SwarmException>(() => OpenBackup(input, Encoding.UTF8.GetBytes("nope"), "/backups/x.swarmbackup"));
                Assert.Equal("SwarmBackupPasswordWrong", ex.ErrorId);
                Assert.IsType<CryptographicException>(ex.InnerException);
            }
            using (var input = new MemoryStream(file.Take(10).ToArray()))
            {
                var ex = Assert.Throws<SwarmException>(() => OpenBackup(input, Password, "/backups/x.swarmbackup"));
                Assert.Equal("SwarmBackupUnreadable", ex.ErrorId);
                Assert.IsType<InvalidDataException>(ex.InnerException);
            }
        }

        // --- PBKDF2-HMAC-SHA256 (RFC 7914 section 11) ---

        [Fact]
        public void Pbkdf2_MatchesRfc7914_Passwd_Salt_1()
        {
            byte[] dk = SwarmBackupArchive.Pbkdf2(Encoding.ASCII.GetBytes("passwd"), Encoding.ASCII.GetBytes("salt"), 1, 64);
            Assert.Equal(Hex(
                "55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05" +
                "f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc" +
                "49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31" +
                "7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83"), dk);
        }

        [Fact]
        public void Pbkdf2_MatchesRfc7914_Password_NaCl_80000()
        {
            byte[] dk = SwarmBackupArchive.Pbkdf2(Encoding.ASCII.GetBytes("Password"), Encoding.ASCII.GetBytes("NaCl"), 80000, 64);
            Assert.Equal(Hex(
                "4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9" +
                "64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56" +
                "a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17" +
                "6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d"), dk);
        }

        [Theory]
        [InlineData(1, 1)]
        [InlineData(2, 31)]
        [InlineData(3, 32)]
        [InlineData(1000, 33)]
        [InlineData(1000, 64)]
        [InlineData(4096, 100)]
        public void Pbkdf2_AgreesWithTheFrameworks(int iterations, int length)
        {
            byte[] password = Encoding.UTF8.GetBytes("swarm-backup-pässword"), salt = RandomBytes(16, iterations);
            byte[] expected = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, length);
            Assert.Equal(expected, SwarmBackupArchive.Pbkdf2(password, salt, iterations, length));
        }

        [Fact]
        public void Pbkdf2_WithAPasswordLongerThanTheHmacBlock_IsStillPbkdf2()
        {
            byte[] password = RandomBytes(200, 1), salt = RandomBytes(16, 2);
            Assert.Equal(Rfc2898DeriveBytes.Pbkdf2(password, salt, 10, HashAlgorithmName.SHA256, 64), SwarmBackupArchive.Pbkdf2(password, salt, 10, 64));
        }

        // --- the name Backup-SwarmManager gives a file in a folder ---

        [Theory]
        [InlineData("docker-app-1", "swarm-docker-app-1-20240517-023000.swarmbackup")]
        [InlineData("docker_app.example.com", "swarm-docker_app.example.com-20240517-023000.swarmbackup")]
        [InlineData("host/with/slashes", "swarm-host_with_slashes-20240517-023000.swarmbackup")]
        [InlineData("..\\..\\evil", "swarm-.._.._evil-20240517-023000.swarmbackup")]
        [InlineData("../../etc/passwd", "swarm-.._.._etc_passwd-20240517-023000.swarmbackup")]
        [InlineData("a b:c*d?e\"f<g>h|i", "swarm-a_b_c_d_e_f_g_h_i-20240517-023000.swarmbackup")]
        [InlineData("tab\there\nnewline", "swarm-tab_here_newline-20240517-023000.swarmbackup")]
        [InlineData("$(rm -rf ~)", "swarm-__rm_-rf___-20240517-023000.swarmbackup")]
        [InlineData("", "swarm--20240517-023000.swarmbackup")]
        [InlineData(null, "swarm-manager-20240517-023000.swarmbackup")]
        public void BackupFileName_IsOneSafeFileName(string host, string expected)
        {
            var when = new DateTime(2024, 5, 17, 2, 30, 0, DateTimeKind.Utc);
            string name = BackupFileName(host, when);
            Assert.Equal(expected, name);
            Assert.Equal(name, Path.GetFileName(name));
            Assert.DoesNotContain('/', name);
            Assert.DoesNotContain('\\', name);
            Assert.True(name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0);
            Assert.True(name.IndexOfAny(new[] { ':', '*', '?', '"', '<', '>', '|', '$', '(', ')', '~', ' ' }) < 0);
        }

        [Fact]
        public void BackupFileName_KeepsLettersOfOtherScripts()
        {
            string name = BackupFileName("knoten-über-δ", new DateTime(2024, 12, 31, 23, 59, 59, DateTimeKind.Utc));
            Assert.Equal("swarm-knoten-über-δ-20241231-235959.swarmbackup", name);
        }

        [Fact]
        public void BackupFileName_SortsByTime()
        {
            var names = new[] { new DateTime(2024, 1, 2, 3, 4, 5), new DateTime(2023, 12, 31, 23, 0, 0), new DateTime(2024, 1, 2, 3, 4, 6) }
                .Select(t => BackupFileName("docker-app-1", t)).ToArray();
            Assert.Equal(new[] { names[1], names[0], names[2] }, names.OrderBy(n => n, StringComparer.Ordinal).ToArray());
        }

        [Fact]
        public void BackupFileName_DoesNotDependOnTheCulture()
        {
            var before = CultureInfo.CurrentCulture;
            try
            {
                CultureInfo.CurrentCulture = new CultureInfo("th-TH");
                Assert.Equal("swarm-docker-app-1-20240517-023000.swarmbackup",
                    BackupFileName("docker-app-1", new DateTime(2024, 5, 17, 2, 30, 0, DateTimeKind.Utc)));
            }
            finally { CultureInfo.CurrentCulture = before; }
        }

        // --- helpers ---

        // The cmdlet classes derive from PSCmdlet (System.Management.Automation), which this project does not compile
        // against: their internal statics are reached by reflection, with SMA resolved from the pinned pwsh tool package.
        private static string BackupFileName(string host, DateTime utc) =>
            (string)Internal("SwarmAdmin.Commands.BackupSwarmManagerCommand", "BackupFileName", host, utc);

        private static void OpenBackup(Stream file, byte[] password, string path)
        {
            var result = Internal("SwarmAdmin.Commands.RestoreSwarmManagerCommand", "OpenBackup", file, password, path);
            (((ValueTuple<SwarmBackupMetadata, Stream>)result).Item2)?.Dispose();
        }

        private static object Internal(string type, string method, params object[] args)
        {
            PowerShellAssembly.EnsureResolvable();
            var m = typeof(SwarmBackupArchive).Assembly.GetType(type, throwOnError: true)
                .GetMethod(method, System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public);
            Assert.NotNull(m);
            try { return m.Invoke(null, args); }
            catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException != null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
                throw;
            }
        }

        private static void AssertSameMetadata(SwarmBackupMetadata expected, SwarmBackupMetadata actual)
        {
            Assert.Equal(expected.FormatVersion, actual.FormatVersion);
            Assert.Equal(expected.CreatedAt, actual.CreatedAt.ToUniversalTime());
            Assert.Equal(expected.ClusterId, actual.ClusterId);
            Assert.Equal(expected.NodeId, actual.NodeId);
            Assert.Equal(expected.NodeHostname, actual.NodeHostname);
            Assert.Equal(expected.NodeAddress, actual.NodeAddress);
            Assert.Equal(expected.EngineVersion, actual.EngineVersion);
            Assert.Equal(expected.RaftIndex, actual.RaftIndex);
            Assert.Equal(expected.DataRoot, actual.DataRoot);
            Assert.Equal(expected.Autolocked, actual.Autolocked);
            Assert.Equal(expected.Managers, actual.Managers);
            Assert.Equal(expected.Nodes, actual.Nodes);
            Assert.Equal(expected.Services, actual.Services);
            Assert.Equal(expected.Secrets, actual.Secrets);
            Assert.Equal(expected.Configs, actual.Configs);
        }

        private static string HeaderJson(byte[] file)
        {
            int start = SwarmBackupArchive.Magic.Length + 4;
            return Encoding.UTF8.GetString(file, start, BodyStart(file) - start);
        }

        private static string Field(string json, string name)
        {
            using (var doc = System.Text.Json.JsonDocument.Parse(json)) return doc.RootElement.GetProperty(name).ToString();
        }

        private static IEnumerable<string> Blocks(byte[] file, int start)
        {
            for (int i = start; i + 16 <= file.Length - 32; i += 16) yield return Convert.ToBase64String(file, i, 16);
        }

        private static int IndexOf(byte[] haystack, byte[] needle)
        {
            for (int i = 0; i + needle.Length <= haystack.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && haystack[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        private static byte[] Hex(string s)
        {
            s = s.Replace(" ", string.Empty);
            var b = new byte[s.Length / 2];
            for (int i = 0; i < b.Length; i++) b[i] = Convert.ToByte(s.Substring(i * 2, 2), 16);
            return b;
        }

        private sealed class ForwardOnlyStream : Stream
        {
            private readonly Stream _inner;
            public ForwardOnlyStream(Stream inner) { _inner = inner; }
            public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
            public override bool CanRead => true; public override bool CanSeek => false; public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        private sealed class ReadCountingStream : Stream
        {
            private readonly Stream _inner;
            public ReadCountingStream(Stream inner) { _inner = inner; }
            public long BytesRead;
            public override int Read(byte[] buffer, int offset, int count) { int n = _inner.Read(buffer, offset, count); Interlocked.Add(ref BytesRead, n); return n; }
            public override bool CanRead => true; public override bool CanSeek => true; public override bool CanWrite => false;
            public override long Length => _inner.Length;
            public override long Position { get => _inner.Position; set => _inner.Position = value; }
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }
    }

    /// <summary>Lets the test host load System.Management.Automation from the pwsh tool package (.config/dotnet-tools.json).</summary>
    internal static class PowerShellAssembly
    {
        private static int _hooked;

        public static void EnsureResolvable()
        {
            if (Interlocked.Exchange(ref _hooked, 1) == 1) return;
            System.Runtime.Loader.AssemblyLoadContext.Default.Resolving += (ctx, name) =>
            {
                if (name.Name != "System.Management.Automation") return null;
                string path = Find();
                return path != null ? ctx.LoadFromAssemblyPath(path) : null;
            };
        }

        private static string Find()
        {
            string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                              ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            string root = Path.Combine(packages, "powershell");
            if (!Directory.Exists(root)) return null;
            string os = OperatingSystem.IsWindows() ? "win" : "unix";
            return Directory.GetDirectories(root).OrderByDescending(d => d, StringComparer.Ordinal)
                .SelectMany(v => Directory.GetFiles(Path.Combine(v, "tools"), "System.Management.Automation.dll", SearchOption.AllDirectories))
                .Where(f => f.Replace('\\', '/').Contains("/" + os + "/"))
                .FirstOrDefault();
        }
    }
}
