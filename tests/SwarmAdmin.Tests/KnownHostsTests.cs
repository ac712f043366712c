using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using SwarmAdmin.Ssh;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class KnownHostsTests : IDisposable
    {
        // Real keys generated with ssh-keygen (OpenSSH 9.2p1); fingerprints are what `ssh-keygen -lf` printed.
        private const string Ed25519Pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw2vF7dkf1HoWwM18QX3fmtp4hryA/mloLjoMT4c48q";
        private const string Ed25519Fp = "SHA256:Rt4r8/8hLFS/Ksi6p4uGVRpUfokQujnHrL56htU213U";

        private const string Ed25519BPub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGIIUi5ZcnB7cBawceK3Xa5RRj/zPDI3KapJn5NL+z0s";
        private const string Ed25519BFp = "SHA256:MpsvY+z4U4DS1jVqoJ5Vwjh6OQfW4ofGg9iQj99bkU0";

        private const string RsaPub = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCbfuuEJT+jaAw/Li+6A5Z5T/+4avrYx4kiSSSJ0msY8L1dYR50Txt6wiU7y+CZFOIIjyo+Dpqq2b4kQr0hyKvKArdNh9Eg0iMnoa3Vg+mlhyOBnv+yKfWln9qMhMmq6aSvJXKK50/Q8yAnzbe6NMeTrIrwJ3sE/+SiJl3yBmv+8uz9LPwPN+rCHO6JY3JA4pJS72Q75RqXbVmnnzLs/HZy7Ns1utfCPmFsrNFSlUVykj3kcFhisdPweaKVJ8NgYhaHlud9iMvZfwZTJNODXQvKQFgo1oD7BZHZznhttC8nlB9EFNX17WaElzI02fwj9BbcW4cTU43rncSxDEXxG9af";
        private const string RsaFp = "SHA256:PiYxGE5Wz1T5NcMWFqyPXQU1Kex2xkHfsh7evOagejw";

        private const string EcdsaPub = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMQvd2NQa7+v13hF5xoDNqq1n4G//udi3blkWrjeQ87fyk4s69dwh0X4aOQZ3DbpppAOhNxktnil9Z345ySa/Ew=";
        private const string EcdsaFp = "SHA256:AMSfm1TCcqwb/UqF3p/RjgmIDMbsbdwsaf6TCBCbqik";

        // Produced by `ssh-keygen -H -f file` from the plain lines
        //   swarm-node1.example.com <Ed25519Pub>
        //   [10.0.0.5]:2222 <RsaPub>
        //   [::1]:2222 <EcdsaPub>
        private const string HashedNode1 = "|1|w0AxGDFlOOzviVVimxiL6W6ek/8=|dqWeC2jhIh5wRicojvlWlE09hwE= " + Ed25519Pub;
        private const string HashedPort2222 = "|1|9V0Pbw7lqzjrbL0rqrrieiM3hps=|AvYDbzO0nk+KhuqzqS0DQW4MNyc= " + RsaPub;
        private const string HashedIpv6 = "|1|WZKx5XfJiMiDpeFnoR85Zy2aYOE=|SblDqzhIbR7RY2v7mdjzzZUPwME= " + EcdsaPub;

        private readonly string _tempDir;

        public KnownHostsTests()
        {
            _tempDir = Path.Combine(Path.GetTempPath(), "swarmadmin-kh-" + Guid.NewGuid().ToString("N"));
        }

        public void Dispose()
        {
            try
            {
                if (Directory.Exists(_tempDir))
                {
                    Directory.Delete(_tempDir, true);
                }
            }
            catch (IOException)
            {
            }
        }

        private static byte[] Blob(string publicKeyLine) => Convert.FromBase64String(publicKeyLine.Split(' ')[1]);

        private static KnownHostsFile P(params string[] lines) => KnownHostsFile.Parse(string.Join("\n", lines) + "\n", "/test/known_hosts");

        // ---------------------------------------------------------------- key helpers

        [Theory]
        [InlineData(Ed25519Pub, Ed25519Fp)]
        [InlineData(Ed25519BPub, Ed25519BFp)]
        [InlineData(RsaPub, RsaFp)]
        [InlineData(EcdsaPub, EcdsaFp)]
        public void Sha256Fingerprint_MatchesSshKeygen(string pub, string expected)
        {
            Assert.Equal(expected, KnownHostsFile.Sha256Fingerprint(Blob(pub)));
        }

        [Fact]
        public void Sha256Fingerprint_HasNoPadding()
        {
            string fp = KnownHostsFile.Sha256Fingerprint(new byte[] { 1, 2, 3 });
            Assert.StartsWith("SHA256:", fp);
            Assert.DoesNotContain("=", fp);
            Assert.Equal(7 + 43, fp.Length);
        }

        [Theory]
        [InlineData(Ed25519Pub, "ssh-ed25519")]
        [InlineData(RsaPub, "ssh-rsa")]
        [InlineData(EcdsaPub, "ecdsa-sha2-nistp256")]
        public void KeyTypeOf_ReadsTypeFromBlob(string pub, string expected)
        {
            Assert.Equal(expected, KnownHostsFile.KeyTypeOf(Blob(pub)));
        }

        [Fact]
        public void KeyTypeOf_RejectsGarbage()
        {
            Assert.Throws<FormatException>(() => KnownHostsFile.KeyTypeOf(new byte[] { 0, 0 }));
            Assert.Throws<FormatException>(() => KnownHostsFile.KeyTypeOf(new byte[] { 0, 0, 0, 50, 65, 66 })); // length beyond blob
            Assert.Throws<FormatException>(() => KnownHostsFile.KeyTypeOf(new byte[] { 0, 0, 0, 0 }));
            Assert.Throws<ArgumentNullException>(() => KnownHostsFile.KeyTypeOf(null));
        }

        [Theory]
        [InlineData("node1", 22, "node1")]
        [InlineData("node1", 2222, "[node1]:2222")]
        [InlineData("10.0.0.5", 2222, "[10.0.0.5]:2222")]
        [InlineData("::1", 22, "::1")]
        [InlineData("::1", 2222, "[::1]:2222")]
        [InlineData("[::1]", 2222, "[::1]:2222")]
        public void HostPattern_FollowsOpenSsh(string host, int port, string expected)
        {
            Assert.Equal(expected, KnownHostsFile.HostPattern(host, port));
        }

        [Fact]
        public void HostPattern_RejectsBadInput()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => KnownHostsFile.HostPattern("h", 0));
            Assert.Throws<ArgumentOutOfRangeException>(() => KnownHostsFile.HostPattern("h", 65536));
            Assert.Throws<ArgumentException>(() => KnownHostsFile.HostPattern(" ", 22));
        }

        // ---------------------------------------------------------------- parsing

        [Fact]
        public void Parse_PlainEntry_AllFields()
        {
            var file = P("node1.example.com,10.0.0.1 " + Ed25519Pub + " root@node1  extra words ");
            var e = Assert.Single(file.Entries);
            Assert.Equal(1, e.LineNumber);
            Assert.Equal(KnownHostMarker.None, e.Marker);
            Assert.False(e.IsHashed);
            Assert.Null(e.Salt);
            Assert.Null(e.Hash);
            Assert.Equal(new[] { "node1.example.com", "10.0.0.1" }, e.HostPatterns);
            Assert.Equal("ssh-ed25519", e.KeyType);
            Assert.Equal(Blob(Ed25519Pub), e.KeyBlob);
            Assert.Equal("root@node1  extra words", e.Comment);
            Assert.Equal(Ed25519Fp, e.Fingerprint);
            Assert.Equal("/test/known_hosts", file.Path);
            Assert.Empty(file.MalformedLines);
        }

        [Fact]
        public void Parse_NoComment_IsNull()
        {
            var e = Assert.Single(P("node1 " + Ed25519Pub).Entries);
            Assert.Null(e.Comment);
        }

        [Fact]
        public void Parse_SkipsBlankAndCommentLines_KeepsLineNumbers()
        {
            var file = KnownHostsFile.Parse(
                "# a comment\n\n   \n\t# indented comment\nnode1 " + Ed25519Pub + "\r\n\r\nnode2 " + RsaPub + "\r\n",
                "kh");
            Assert.Equal(new[] { 5, 7 }, file.Entries.Select(e => e.LineNumber).ToArray());
            Assert.Empty(file.MalformedLines);
            Assert.Equal("ssh-rsa", file.Entries[1].KeyType);
            Assert.Null(file.Entries[1].Comment); // the \r is not left over as a comment
        }

        [Fact]
        public void Parse_TabsAndLeadingWhitespace()
        {
            var e = Assert.Single(P("  \tnode1\t" + Ed25519Pub.Replace(' ', '\t') + "\tcomment").Entries);
            Assert.Equal(new[] { "node1" }, e.HostPatterns);
            Assert.Equal("comment", e.Comment);
        }

        [Fact]
        public void Parse_EmptyText()
        {
            var file = KnownHostsFile.Parse("", "kh");
            Assert.Empty(file.Entries);
            Assert.Empty(file.MalformedLines);
        }

        [Fact]
        public void Parse_MalformedLinesAreSkippedAndRecorded()
        {
            string ed64 = Ed25519Pub.Split(' ')[1];
            var file = P(
                "good1 " + Ed25519Pub,                             // 1 ok
                "bad-base64 ssh-ed25519 !!!notbase64!!!",          // 2
                "missing-key",                                      // 3
                "missing-blob ssh-ed25519",                         // 4
                "@foo node3 " + Ed25519Pub,                         // 5 unknown marker
                "mismatch ssh-rsa " + ed64,                         // 6 declared type != blob type
                "|1|AAAA|BBBB " + Ed25519Pub,                       // 7 salt/hash wrong length
                "|2|w0AxGDFlOOzviVVimxiL6W6ek/8=|dqWeC2jhIh5wRicojvlWlE09hwE= " + Ed25519Pub, // 8 unknown hash magic
                "notablob ssh-ed25519 AAAA",                        // 9 decodes but is no key blob
                "@revoked",                                         // 10 marker only
                "good2 " + RsaPub);                                 // 11 ok
            Assert.Equal(new[] { 2, 3, 4, 5, 6, 7, 8, 9, 10 }, file.MalformedLines.ToArray());
            Assert.Equal(new[] { 1, 11 }, file.Entries.Select(e => e.LineNumber).ToArray());
            Assert.Single(file.FindHostEntries("good2", 22));
        }

        [Fact]
        public void Parse_RsaSignatureAliasIsAcceptedAsSshRsa()
        {
            string rsa64 = RsaPub.Split(' ')[1];
            var e = Assert.Single(P("node1 rsa-sha2-512 " + rsa64).Entries);
            Assert.Equal("ssh-rsa", e.KeyType);
            Assert.Equal("rsa-sha2-512", e.DeclaredKeyType);
        }

        // ---------------------------------------------------------------- host matching

        [Fact]
        public void MultiplePatterns_EachMatches()
        {
            var file = P("node1,node1.example.com,10.0.0.1 " + Ed25519Pub);
            Assert.Single(file.FindHostEntries("node1", 22));
            Assert.Single(file.FindHostEntries("node1.example.com", 22));
            Assert.Single(file.FindHostEntries("10.0.0.1", 22));
            Assert.Empty(file.FindHostEntries("node2", 22));
            Assert.Empty(file.FindHostEntries("10.0.0.10", 22));
        }

        // Expectations cross-checked with `ssh-keygen -F host -f file` on the same lines.
        [Theory]
        [InlineData("a.example.com", 22, "l1")]
        [InlineData("bad.example.com", 22, "")]
        [InlineData("BAD.example.com", 22, "")]
        [InlineData("a.example.org", 2222, "l2")]
        [InlineData("a.example.org", 22, "")]
        [InlineData("node1", 22, "l3")]
        [InlineData("node12", 22, "")]
        [InlineData("mixed.case.net", 22, "l4")]
        [InlineData("MIXED.case.NET", 22, "l4")]
        [InlineData("x.wild", 2222, "")]
        [InlineData("x.wild", 22, "l5")]
        [InlineData("deep.sub.wild", 22, "l5")]
        public void Wildcards_Negation_Ports_Case(string host, int port, string expectedComments)
        {
            var file = P(
                "*.example.com,!bad.example.com " + Ed25519Pub + " l1",
                "[*.example.org]:2222 " + Ed25519Pub + " l2",
                "node? " + Ed25519Pub + " l3",
                "Mixed.CASE.net " + Ed25519Pub + " l4",
                "*.wild " + Ed25519Pub + " l5");
            string got = string.Join(" ", file.FindHostEntries(host, port).Select(e => e.Comment));
            Assert.Equal(expectedComments, got);
        }

        [Fact]
        public void Negation_RejectsLineEvenWhenAnotherPatternMatchesFirst()
        {
            var file = P("db1,!db1 " + Ed25519Pub);
            Assert.Empty(file.FindHostEntries("db1", 22));
            Assert.Equal(HostKeyStatus.Unknown, file.Check("db1", 22, Blob(Ed25519Pub)).Status);
        }

        [Fact]
        public void NegationOnly_NeverMatches()
        {
            var file = P("!db1 " + Ed25519Pub);
            Assert.Empty(file.FindHostEntries("db2", 22));
        }

        [Fact]
        public void StarMatchesBracketedForm()
        {
            var file = P("* " + Ed25519Pub);
            Assert.Single(file.FindHostEntries("anything", 22));
            Assert.Single(file.FindHostEntries("anything", 2222));
        }

        [Fact]
        public void NonDefaultPort_RequiresBracketedPattern()
        {
            var file = P(
                "node1 " + Ed25519Pub + " plain",
                "[node1]:2222 " + RsaPub + " bracketed",
                "[node1]:22 " + EcdsaPub + " bracketed22");
            Assert.Equal(new[] { "plain" }, file.FindHostEntries("node1", 22).Select(e => e.Comment));
            Assert.Equal(new[] { "bracketed" }, file.FindHostEntries("node1", 2222).Select(e => e.Comment));
            Assert.Empty(file.FindHostEntries("node1", 2200));
        }

        [Fact]
        public void QuestionMarkInBracketedPattern()
        {
            var file = P("[10.0.0.?]:2222 " + Ed25519Pub);
            Assert.Single(file.FindHostEntries("10.0.0.7", 2222));
            Assert.Empty(file.FindHostEntries("10.0.0.17", 2222));
        }

        [Fact]
        public void Ipv6_PlainAndBracketed()
        {
            var file = P("::1 " + Ed25519Pub + " p22", "[::1]:2222 " + RsaPub + " p2222");
            Assert.Equal("p22", Assert.Single(file.FindHostEntries("::1", 22)).Comment);
            Assert.Equal("p2222", Assert.Single(file.FindHostEntries("::1", 2222)).Comment);
        }

        // ---------------------------------------------------------------- hashed entries

        [Fact]
        public void HashedFixturesFromSshKeygen_Match()
        {
            var file = P(HashedNode1, HashedPort2222, HashedIpv6);
            Assert.Empty(file.MalformedLines);
            Assert.All(file.Entries, e =>
            {
                Assert.True(e.IsHashed);
                Assert.Null(e.HostPatterns);
                Assert.Equal(20, e.Salt.Length);
                Assert.Equal(20, e.Hash.Length);
            });

            Assert.Equal(HostKeyStatus.Trusted, file.Check("swarm-node1.example.com", 22, Blob(Ed25519Pub)).Status);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("SWARM-node1.example.com", 22, Blob(Ed25519Pub)).Status);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("10.0.0.5", 2222, Blob(RsaPub)).Status);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("::1", 2222, Blob(EcdsaPub)).Status);

            Assert.Equal(1, Assert.Single(file.FindHostEntries("swarm-node1.example.com", 22)).LineNumber);
            Assert.Empty(file.FindHostEntries("swarm-node1.example.com", 2222));
            Assert.Empty(file.FindHostEntries("swarm-node2.example.com", 22));
            Assert.Empty(file.FindHostEntries("10.0.0.5", 22));
            Assert.Empty(file.FindHostEntries("::1", 22));
            Assert.Equal(HostKeyStatus.Changed, file.Check("swarm-node1.example.com", 22, Blob(Ed25519BPub)).Status);
        }

        [Fact]
        public void HashedEntryComputedInTest_Matches()
        {
            byte[] salt = new byte[20];
            RandomNumberGenerator.Fill(salt);
            byte[] hash;
            using (var hmac = new HMACSHA1(salt))
            {
                hash = hmac.ComputeHash(Encoding.ASCII.GetBytes("[node7.internal]:2200"));
            }

            string line = "|1|" + Convert.ToBase64String(salt) + "|" + Convert.ToBase64String(hash) + " " + EcdsaPub + " hashed-by-test";
            var file = P(line);
            var e = Assert.Single(file.Entries);
            Assert.Equal(salt, e.Salt);
            Assert.Equal(hash, e.Hash);
            Assert.Equal("hashed-by-test", e.Comment);
            Assert.Single(file.FindHostEntries("node7.internal", 2200));
            Assert.Single(file.FindHostEntries("Node7.Internal", 2200));
            Assert.Empty(file.FindHostEntries("node7.internal", 22));
            Assert.Empty(file.FindHostEntries("node8.internal", 2200));
        }

        // ---------------------------------------------------------------- markers

        [Fact]
        public void Revoked_WinsOverTrustedEntry_AndIgnoresHost()
        {
            var file = P(
                "node1 " + Ed25519Pub,
                "@revoked some-other-host " + Ed25519Pub + " compromised");
            var result = file.Check("node1", 22, Blob(Ed25519Pub));
            Assert.Equal(HostKeyStatus.Revoked, result.Status);
            Assert.Equal(2, result.MatchedEntry.LineNumber);
            Assert.Equal(KnownHostMarker.Revoked, result.MatchedEntry.Marker);
            Assert.Equal("compromised", result.MatchedEntry.Comment);

            // A different key for the same host is not affected by the revocation.
            Assert.Equal(HostKeyStatus.Changed, file.Check("node1", 22, Blob(Ed25519BPub)).Status);
            // The revoked line is not a host entry.
            Assert.Equal(1, Assert.Single(file.FindHostEntries("node1", 22)).LineNumber);
            Assert.Empty(file.FindHostEntries("some-other-host", 22));
            Assert.Equal(HostKeyStatus.Revoked, file.Check("unrelated", 2222, Blob(Ed25519Pub)).Status);
        }

        [Fact]
        public void CertAuthority_IsIgnoredForHostMatching()
        {
            var file = P("@cert-authority *.example.com " + Ed25519Pub + " ca");
            var e = Assert.Single(file.Entries);
            Assert.Equal(KnownHostMarker.CertAuthority, e.Marker);
            Assert.Equal(new[] { "*.example.com" }, e.HostPatterns);
            Assert.Empty(file.FindHostEntries("a.example.com", 22));
            Assert.Empty(file.KeyTypesFor("a.example.com", 22));
            var result = file.Check("a.example.com", 22, Blob(Ed25519Pub));
            Assert.Equal(HostKeyStatus.Unknown, result.Status);
            Assert.Null(result.MatchedEntry);
        }

        // ---------------------------------------------------------------- Check

        [Fact]
        public void Check_Trusted()
        {
            var file = P("node0 " + Ed25519BPub, "node1 " + RsaPub, "node1 " + Ed25519Pub + " the-one");
            var result = file.Check("node1", 22, Blob(Ed25519Pub));
            Assert.Equal(HostKeyStatus.Trusted, result.Status);
            Assert.Equal("the-one", result.MatchedEntry.Comment);
            Assert.Equal(3, result.MatchedEntry.LineNumber);
            Assert.Empty(result.ConflictingEntries);
            Assert.Equal(2, result.HostEntries.Count);
        }

        [Fact]
        public void Check_TrustedWhenAnyEntryOfSameTypeMatches()
        {
            // OpenSSH accepts the key if any line for the host has it, even if another line of the same type differs.
            var file = P("node1 " + Ed25519BPub, "node1 " + Ed25519Pub);
            var result = file.Check("node1", 22, Blob(Ed25519Pub));
            Assert.Equal(HostKeyStatus.Trusted, result.Status);
            Assert.Equal(2, result.MatchedEntry.LineNumber);
        }

        [Fact]
        public void Check_Changed_ReportsFirstConflictAndAll()
        {
            var file = P(
                "node1 " + RsaPub,
                "node1,node2 " + Ed25519Pub + " first",
                "node? " + Ed25519Pub + " second");
            var result = file.Check("node1", 22, Blob(Ed25519BPub));
            Assert.Equal(HostKeyStatus.Changed, result.Status);
            Assert.Equal("first", result.MatchedEntry.Comment);
            Assert.Equal(new[] { 2, 3 }, result.ConflictingEntries.Select(e => e.LineNumber).ToArray());
            Assert.Equal(3, result.HostEntries.Count);
        }

        [Fact]
        public void Check_Changed_ViaRsaAlias()
        {
            // The line says rsa-sha2-512, the server's blob says ssh-rsa: same type, different key => Changed.
            var otherRsa = (byte[])Blob(RsaPub).Clone();
            otherRsa[otherRsa.Length - 1] ^= 0xFF;
            var file = P("node1 rsa-sha2-512 " + RsaPub.Split(' ')[1]);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("node1", 22, Blob(RsaPub)).Status);
            Assert.Equal(HostKeyStatus.Changed, file.Check("node1", 22, otherRsa).Status);
        }

        [Fact]
        public void Check_Unknown_WhenHostAbsent()
        {
            var file = P("node1 " + Ed25519Pub);
            var result = file.Check("node9", 22, Blob(Ed25519Pub));
            Assert.Equal(HostKeyStatus.Unknown, result.Status);
            Assert.Null(result.MatchedEntry);
            Assert.Empty(result.ConflictingEntries);
            Assert.Empty(result.HostEntries);
        }

        [Fact]
        public void Check_Unknown_WhenHostOnlyHasOtherKeyTypes()
        {
            var file = P("node1 " + Ed25519Pub, "node1 " + EcdsaPub);
            var result = file.Check("node1", 22, Blob(RsaPub));
            Assert.Equal(HostKeyStatus.Unknown, result.Status);
            Assert.Null(result.MatchedEntry);
            Assert.Empty(result.ConflictingEntries);
            Assert.Equal(2, result.HostEntries.Count);
        }

        [Fact]
        public void Check_Unknown_EmptyFile()
        {
            Assert.Equal(HostKeyStatus.Unknown, KnownHostsFile.Parse("", "kh").Check("h", 22, Blob(RsaPub)).Status);
        }

        [Fact]
        public void KeyTypesFor_DistinctInFileOrder()
        {
            var file = P(
                "node1 " + EcdsaPub,
                "node1 rsa-sha2-256 " + RsaPub.Split(' ')[1],
                "node? " + Ed25519Pub,
                "node1 " + Ed25519BPub,
                "@cert-authority node1 " + Ed25519Pub,
                "other " + RsaPub);
            Assert.Equal(new[] { "ecdsa-sha2-nistp256", "ssh-rsa", "ssh-ed25519" }, file.KeyTypesFor("node1", 22));
            Assert.Empty(file.KeyTypesFor("node1", 2222));
        }

        // ---------------------------------------------------------------- Load / Append

        [Fact]
        public void Load_MissingFileIsEmpty()
        {
            var file = KnownHostsFile.Load(Path.Combine(_tempDir, "no", "such", "known_hosts"));
            Assert.Empty(file.Entries);
            Assert.Empty(file.MalformedLines);
        }

        [Fact]
        public void Load_DirectoryThrowsKnownHostsException()
        {
            Directory.CreateDirectory(_tempDir);
            var ex = Assert.Throws<KnownHostsException>(() => KnownHostsFile.Load(_tempDir));
            Assert.Equal(_tempDir, ex.Path);
            Assert.Equal(0, ex.LineNumber);
            Assert.Contains(_tempDir, ex.Message);
            Assert.Contains("directory", ex.Message);
        }

        [Fact]
        public void Load_UnreadableFileThrowsKnownHostsException()
        {
            if (OperatingSystem.IsWindows())
            {
                return;
            }

            Directory.CreateDirectory(_tempDir);
            string path = Path.Combine(_tempDir, "known_hosts");
            File.WriteAllText(path, "node1 " + Ed25519Pub + "\n");
            File.SetUnixFileMode(path, UnixFileMode.None);
            bool readable;
            try
            {
                File.ReadAllBytes(path);
                readable = true; // running as root: permissions do not apply, nothing to test
            }
            catch (UnauthorizedAccessException)
            {
                readable = false;
            }

            if (readable)
            {
                return;
            }

            var ex = Assert.Throws<KnownHostsException>(() => KnownHostsFile.Load(path));
            Assert.Equal(path, ex.Path);
            Assert.Contains(path, ex.Message);
            Assert.IsType<UnauthorizedAccessException>(ex.InnerException);
        }

        [Fact]
        public void Load_ReadsFileWithHashedAndPlainLines()
        {
            Directory.CreateDirectory(_tempDir);
            string path = Path.Combine(_tempDir, "known_hosts");
            File.WriteAllText(path, HashedNode1 + "\n# c\nbroken\n[node1]:2222 " + RsaPub + "\n");
            var file = KnownHostsFile.Load(path);
            Assert.Equal(path, file.Path);
            Assert.Equal(2, file.Entries.Count);
            Assert.Equal(new[] { 3 }, file.MalformedLines.ToArray());
            Assert.Equal(HostKeyStatus.Trusted, file.Check("swarm-node1.example.com", 22, Blob(Ed25519Pub)).Status);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("node1", 2222, Blob(RsaPub)).Status);
        }

        [Fact]
        public void Append_CreatesFileAndDirectory_ThenMatches()
        {
            string path = Path.Combine(_tempDir, "ssh", "known_hosts");
            KnownHostsFile.Append(path, "Node1.Example.com", 22, Blob(Ed25519Pub));
            KnownHostsFile.Append(path, "::1", 2222, Blob(RsaPub), "added by test");

            Assert.Equal(
                "node1.example.com " + Ed25519Pub + "\n[::1]:2222 " + RsaPub + " added by test\n",
                File.ReadAllText(path));

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
                    File.GetUnixFileMode(Path.GetDirectoryName(path)));
            }

            var file = KnownHostsFile.Load(path);
            Assert.Empty(file.MalformedLines);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("node1.example.com", 22, Blob(Ed25519Pub)).Status);
            Assert.Equal(HostKeyStatus.Trusted, file.Check("::1", 2222, Blob(RsaPub)).Status);
            Assert.Equal("added by test", file.Entries[1].Comment);
            Assert.Equal(HostKeyStatus.Unknown, file.Check("::1", 22, Blob(RsaPub)).Status);
        }

        [Fact]
        public void Append_AddsMissingFinalNewline()
        {
            Directory.CreateDirectory(_tempDir);
            string path = Path.Combine(_tempDir, "known_hosts");
            File.WriteAllText(path, "node0 " + EcdsaPub); // no trailing newline
            KnownHostsFile.Append(path, "node1", 22, Blob(Ed25519Pub));
            Assert.Equal("node0 " + EcdsaPub + "\nnode1 " + Ed25519Pub + "\n", File.ReadAllText(path));
            var file = KnownHostsFile.Load(path);
            Assert.Equal(2, file.Entries.Count);
            Assert.Empty(file.MalformedLines);
        }

        [Fact]
        public void Append_KeepsExistingNewline()
        {
            Directory.CreateDirectory(_tempDir);
            string path = Path.Combine(_tempDir, "known_hosts");
            File.WriteAllText(path, "node0 " + EcdsaPub + "\n");
            KnownHostsFile.Append(path, "node1", 22, Blob(Ed25519Pub));
            Assert.Equal("node0 " + EcdsaPub + "\nnode1 " + Ed25519Pub + "\n", File.ReadAllText(path));
        }

        [Fact]
        public void Append_RejectsBadInput()
        {
            string path = Path.Combine(_tempDir, "known_hosts");
            Assert.Throws<FormatException>(() => KnownHostsFile.Append(path, "h", 22, new byte[] { 1, 2, 3 }));
            Assert.Throws<ArgumentException>(() => KnownHostsFile.Append(path, "h", 22, Blob(RsaPub), "two\nlines"));
            Assert.False(File.Exists(path));
            Directory.CreateDirectory(path);
            var ex = Assert.Throws<KnownHostsException>(() => KnownHostsFile.Append(path, "h", 22, Blob(RsaPub)));
            Assert.Contains(path, ex.Message);
        }
    }
}
