using System;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Proxmox;
using Xunit;

namespace SwarmAdmin.Tests
{
    public class ProxmoxTlsTests
    {
        private const string Canonical = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

        [Theory]
        [InlineData(Canonical)]
        [InlineData("ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89")]
        [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
        [InlineData("  abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789 ")]
        [InlineData("AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89")]
        [InlineData("sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
        [InlineData("SHA256 Fingerprint=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89")]
        public void Fingerprints_normalise_case_and_separators(string input)
        {
            Assert.Equal(Canonical, ProxmoxTls.NormalizeFingerprint(input));
            Assert.True(ProxmoxTls.TryNormalizeFingerprint(input, out string n));
            Assert.Equal(Canonical, n);
        }

        [Theory]
        [InlineData("", "empty")]
        [InlineData("AB:CD", "32")]
        [InlineData("AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:8G", "not a hex digit")]
        [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF01", "SHA-1")]
        public void Bad_fingerprints_are_rejected(string input, string expected)
        {
            var ex = Assert.Throws<FormatException>(() => ProxmoxTls.NormalizeFingerprint(input));
            Assert.Contains(expected, ex.Message);
            Assert.Throws<ArgumentException>(() => ProxmoxTls.Pinned());
        }

        [Fact]
        public void Validator_accepts_pins_despite_errors_and_rejects_the_rest()
        {
            using (X509Certificate2 cert = SelfSigned("CN=pve01"))
            using (X509Certificate2 other = SelfSigned("CN=evil"))
            {
                string fp = ProxmoxTls.ComputeFingerprint(cert);
                Assert.Equal(Convert.ToHexString(SHA256.HashData(cert.RawData)), fp.Replace(":", ""));

                var pinned = new ProxmoxCertificateValidator(ProxmoxTls.Pinned(fp.ToLowerInvariant()), "pve01:8006");
                Assert.True(pinned.Validate(cert, null, SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch));
                Assert.Null(pinned.LastRejection);
                Assert.False(pinned.Validate(other, null, SslPolicyErrors.None)); // even a "valid" other cert: pins are strict
                Assert.Equal(ProxmoxTls.ComputeFingerprint(other), pinned.LastRejection.Fingerprint);
                Assert.False(pinned.Validate(null, null, SslPolicyErrors.RemoteCertificateNotAvailable));

                var system = new ProxmoxCertificateValidator(ProxmoxTls.SystemTrust(), "pve01:8006");
                Assert.True(system.Validate(cert, null, SslPolicyErrors.None));
                Assert.False(system.Validate(cert, null, SslPolicyErrors.RemoteCertificateChainErrors));
                Assert.False(system.Validate(cert, null, SslPolicyErrors.RemoteCertificateNameMismatch));
                Assert.Equal(fp, system.LastRejection.Fingerprint);

                var either = new ProxmoxCertificateValidator(ProxmoxTls.Pinned(new[] { fp }, alsoTrustSystemStore: true), "pve01:8006");
                Assert.True(either.Validate(other, null, SslPolicyErrors.None));
                Assert.False(either.Validate(other, null, SslPolicyErrors.RemoteCertificateChainErrors));
            }
        }

        [Fact]
        public void Certificate_exception_names_the_fingerprint_and_how_to_pin_it()
        {
            var untrusted = new ProxmoxCertificateException("pve01:8006", Canonical, SslPolicyErrors.RemoteCertificateChainErrors, false, "CN=pve01", null);
            Assert.Equal(Canonical, untrusted.Fingerprint);
            Assert.Contains("is not trusted", untrusted.Message);
            Assert.Contains("Its SHA-256 fingerprint is " + Canonical, untrusted.Message);
            Assert.Contains("-CertificateFingerprint " + Canonical, untrusted.Message);
            Assert.Contains("pvenode cert info", untrusted.Message);

            var mismatch = new ProxmoxCertificateException("pve01:8006", Canonical, SslPolicyErrors.None, true, null, null);
            Assert.True(mismatch.WasPinned);
            Assert.Contains("does not match the pinned", mismatch.Message);
            Assert.Contains("-CertificateFingerprint " + Canonical, mismatch.Message);
        }

        [Fact]
        public void Default_handler_drops_idle_connections_before_pveproxy_does()
        {
            var validator = new ProxmoxCertificateValidator(ProxmoxTls.SystemTrust(), "pve01:8006");
            using (var handler = ProxmoxClient.CreateHandler(validator, new ProxmoxClientOptions()))
            {
                var sockets = Assert.IsType<SocketsHttpHandler>(handler);
                Assert.Equal(TimeSpan.FromSeconds(3), sockets.PooledConnectionIdleTimeout); // pveproxy closes idle keep-alives after 5 s
                Assert.False(sockets.UseCookies);
                Assert.Equal(4, sockets.MaxConnectionsPerServer);
                Assert.NotNull(sockets.SslOptions.RemoteCertificateValidationCallback);
            }
        }

        // ---------- end to end against a loopback TLS server ----------

        [Fact]
        public async Task Pinned_fingerprint_connects_over_real_tls()
        {
            using (X509Certificate2 cert = SelfSigned("CN=pve-test"))
            using (var server = new TinyTlsServer(cert))
            {
                string fp = ProxmoxTls.ComputeFingerprint(cert);
                using (var client = new ProxmoxClient(ProxmoxEndpoint.Parse("127.0.0.1:" + server.Port), ProxmoxCredential.FromToken("swarm@pve!admin", "s3cret"),
                    new ProxmoxClientOptions { Tls = ProxmoxTls.Pinned(fp.Replace(":", "").ToLowerInvariant()) }))
                {
                    var data = await client.GetAsync("version");
                    Assert.Equal("8.2.4", JsonRead.String(data, "version"));
                }
                Assert.Contains("GET /api2/json/version HTTP/1.1", server.LastRequest);
                Assert.Contains("Authorization: PVEAPIToken=swarm@pve!admin=s3cret", server.LastRequest);
            }
        }

        [Fact]
        public async Task Unknown_certificate_fails_with_its_fingerprint()
        {
            using (X509Certificate2 cert = SelfSigned("CN=pve-test"))
            using (var server = new TinyTlsServer(cert))
            {
                string fp = ProxmoxTls.ComputeFingerprint(cert);
                using (var client = new ProxmoxClient(ProxmoxEndpoint.Parse("https://127.0.0.1:" + server.Port), ProxmoxCredential.FromToken("swarm@pve!admin", "s3cret")))
                {
                    var ex = await Assert.ThrowsAsync<ProxmoxCertificateException>(() => client.GetAsync("version"));
                    Assert.Equal(fp, ex.Fingerprint);
                    Assert.False(ex.WasPinned);
                    Assert.Contains("-CertificateFingerprint " + fp, ex.Message);
                    Assert.DoesNotContain("s3cret", ex.ToString());
                }

                using (var client = new ProxmoxClient(ProxmoxEndpoint.Parse("https://127.0.0.1:" + server.Port), ProxmoxCredential.FromToken("swarm@pve!admin", "s3cret"),
                    new ProxmoxClientOptions { Tls = ProxmoxTls.Pinned(Canonical) }))
                {
                    var ex = await Assert.ThrowsAsync<ProxmoxCertificateException>(() => client.GetAsync("version"));
                    Assert.Equal(fp, ex.Fingerprint);
                    Assert.True(ex.WasPinned);
                    Assert.Contains("does not match the pinned certificate fingerprint", ex.Message);
                }
                Assert.Null(server.LastRequest); // nothing (no token) was ever sent to the untrusted server
            }
        }

        [Fact]
        public async Task Refused_connection_is_a_connection_error_not_a_certificate_error()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            using (var client = new ProxmoxClient(ProxmoxEndpoint.Parse("127.0.0.1:" + port), ProxmoxCredential.FromToken("swarm@pve!admin", "s3cret")))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxConnectionException>(() => client.GetAsync("version"));
                Assert.Contains("127.0.0.1:" + port, ex.Message);
            }
        }

        internal static X509Certificate2 SelfSigned(string subject)
        {
            using (ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
                var san = new SubjectAlternativeNameBuilder();
                san.AddIpAddress(IPAddress.Loopback);
                san.AddDnsName("localhost");
                request.CertificateExtensions.Add(san.Build());
                using (X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)))
                    return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
            }
        }

        /// <summary>A loopback HTTPS server answering every request with a fixed /version body.</summary>
        private sealed class TinyTlsServer : IDisposable
        {
            private readonly TcpListener _listener;
            private readonly X509Certificate2 _cert;
            private readonly CancellationTokenSource _cts = new CancellationTokenSource();

            public TinyTlsServer(X509Certificate2 cert)
            {
                _cert = cert;
                _listener = new TcpListener(IPAddress.Loopback, 0);
                _listener.Start();
                Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
                _ = Task.Run(AcceptLoop);
            }

            public int Port { get; }

            public volatile string LastRequest;

            private async Task AcceptLoop()
            {
                while (!_cts.IsCancellationRequested)
                {
                    TcpClient tcp;
                    try { tcp = await _listener.AcceptTcpClientAsync(_cts.Token); }
                    catch { return; }
                    _ = Task.Run(() => Serve(tcp));
                }
            }

            private async Task Serve(TcpClient tcp)
            {
                using (tcp)
                using (var ssl = new SslStream(tcp.GetStream()))
                {
                    try
                    {
                        await ssl.AuthenticateAsServerAsync(_cert);
                        var buffer = new byte[8192];
                        var sb = new StringBuilder();
                        while (!sb.ToString().Contains("\r\n\r\n"))
                        {
                            int n = await ssl.ReadAsync(buffer, 0, buffer.Length);
                            if (n == 0) return;
                            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
                        }
                        LastRequest = sb.ToString();
                        byte[] body = Encoding.UTF8.GetBytes("{\"data\":{\"version\":\"8.2.4\",\"release\":\"8.2\",\"repoid\":\"faa83925\"}}");
                        byte[] head = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nServer: pve-api-daemon/3.0\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: "
                            + body.Length + "\r\nConnection: close\r\n\r\n");
                        await ssl.WriteAsync(head, 0, head.Length);
                        await ssl.WriteAsync(body, 0, body.Length);
                        await ssl.FlushAsync();
                    }
                    catch (Exception)
                    {
                        // handshake refused by the client: expected in the failure tests
                    }
                }
            }

            public void Dispose()
            {
                _cts.Cancel();
                _listener.Stop();
            }
        }
    }
}
