using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Security;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Proxmox;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>One request as it left the client: what a Proxmox server would see on the wire.</summary>
    internal sealed class RecordedRequest
    {
        public string Method { get; set; }
        public Uri Uri { get; set; }
        public string PathAndQuery => Uri.PathAndQuery;
        public string Path => Uri.AbsolutePath;
        public string Query => Uri.Query.TrimStart('?');
        public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public byte[] Body { get; set; }
        public string BodyText => Body == null ? null : Encoding.ASCII.GetString(Body);
        public string ContentType { get; set; }
        public bool? ExpectContinue { get; set; }
        public string Header(string name) => Headers.TryGetValue(name, out string v) ? v : null;
    }

    /// <summary>An HttpMessageHandler that records requests and answers with a test-provided function.</summary>
    internal sealed class FakeProxmoxHandler : HttpMessageHandler
    {
        private readonly Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>> _respond;
        public ConcurrentQueue<RecordedRequest> Requests { get; } = new ConcurrentQueue<RecordedRequest>();
        public List<RecordedRequest> List => Requests.ToList();

        public FakeProxmoxHandler(Func<RecordedRequest, HttpResponseMessage> respond) : this((r, ct) => Task.FromResult(respond(r))) { }

        public FakeProxmoxHandler(Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>> respond) { _respond = respond; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var rec = new RecordedRequest { Method = request.Method.Method, Uri = request.RequestUri, ExpectContinue = request.Headers.ExpectContinue };
            foreach (var h in request.Headers) rec.Headers[h.Key] = string.Join(", ", h.Value);
            if (request.Content != null)
            {
                rec.Body = await request.Content.ReadAsByteArrayAsync();
                rec.ContentType = request.Content.Headers.ContentType?.ToString();
            }
            Requests.Enqueue(rec);
            HttpResponseMessage response = await _respond(rec, cancellationToken);
            response.RequestMessage = request;
            return response;
        }

        public static HttpResponseMessage Json(string body, int status = 200, string reason = null)
        {
            var r = new HttpResponseMessage((HttpStatusCode)status)
            {
                Content = new StringContent(body ?? string.Empty, Encoding.UTF8, "application/json"),
            };
            if (reason != null) r.ReasonPhrase = reason;
            return r;
        }

        public static HttpResponseMessage Empty(int status, string reason)
        {
            return new HttpResponseMessage((HttpStatusCode)status) { ReasonPhrase = reason, Content = new ByteArrayContent(Array.Empty<byte>()) };
        }
    }

    internal static class ProxmoxTestClients
    {
        public const string TokenId = "swarm@pve!admin";
        public const string TokenSecret = "2b7c5f0e-1111-4222-8333-944455556666";

        public static ProxmoxClient Token(FakeProxmoxHandler handler, ProxmoxClientOptions options = null) =>
            new ProxmoxClient(ProxmoxEndpoint.Parse("pve01"), ProxmoxCredential.FromToken(TokenId, TokenSecret), handler, options);
    }

    public class ProxmoxClientTests
    {
        private const string Secret = ProxmoxTestClients.TokenSecret;

        // ---------- endpoint ----------

        [Theory]
        [InlineData("pve01", "https://pve01:8006/api2/json/")]
        [InlineData("PVE01.lab.local", "https://pve01.lab.local:8006/api2/json/")]
        [InlineData("pve01:8443", "https://pve01:8443/api2/json/")]
        [InlineData("https://pve01", "https://pve01:8006/api2/json/")]
        [InlineData("https://pve01:443", "https://pve01/api2/json/")] // explicit 443 is kept (System.Uri just omits it)
        [InlineData("https://pve01:8006/", "https://pve01:8006/api2/json/")]
        [InlineData("https://pve01:8006/api2/json", "https://pve01:8006/api2/json/")]
        [InlineData("https://pve01:8006/#v1:0:18:4:::::::", "https://pve01:8006/api2/json/")]
        [InlineData("https://proxy.lab/pve/api2/json/", "https://proxy.lab:8006/pve/api2/json/")]
        [InlineData("192.168.4.10", "https://192.168.4.10:8006/api2/json/")]
        [InlineData("[fd00::10]:8006", "https://[fd00::10]:8006/api2/json/")]
        [InlineData("fd00::10", "https://[fd00::10]:8006/api2/json/")]
        public void Endpoint_parses_and_defaults_to_8006(string text, string expected)
        {
            var ep = ProxmoxEndpoint.Parse(text);
            Assert.Equal(expected, ep.BaseUri.AbsoluteUri);
        }

        [Theory]
        [InlineData("")]
        [InlineData("http://pve01:8006")]
        [InlineData("pve01:abc")]
        [InlineData("pve01:70000")]
        [InlineData("root@pve01")]
        [InlineData("https://pve01:8006/?x=1")]
        [InlineData("[fd00::1")]
        public void Endpoint_rejects_bad_input(string text)
        {
            Assert.False(ProxmoxEndpoint.TryParse(text, out _));
            var ex = Assert.Throws<FormatException>(() => ProxmoxEndpoint.Parse(text));
            Assert.Contains("8006", ex.Message);
        }

        [Fact]
        public void Endpoint_builds_uris_and_strips_leading_slash()
        {
            var ep = ProxmoxEndpoint.Parse("pve01");
            Assert.Equal("https://pve01:8006/api2/json/nodes/pve1/qemu", ep.BuildUri("/nodes/pve1/qemu", "").AbsoluteUri);
            Assert.Equal("https://pve01:8006/api2/json/cluster/resources?type=vm", ep.BuildUri("cluster/resources", "type=vm").AbsoluteUri);
            Assert.Equal("https://pve01:8006", ep.ToString());
            Assert.Equal(443, ProxmoxEndpoint.Parse("https://pve01:443").Port);
            Assert.Equal(8006, ProxmoxEndpoint.Parse("https://pve01").Port);
            Assert.Equal("fd00::10", ProxmoxEndpoint.Parse("[fd00::10]:8006").Host);
            Assert.Throws<ArgumentException>(() => ep.BuildUri("nodes/a b", ""));
        }

        // ---------- credentials ----------

        [Fact]
        public void Token_credential_validates_and_hides_secret()
        {
            var c = ProxmoxCredential.FromToken("swarm@pve!admin", Secret);
            Assert.Equal("swarm@pve", c.UserId);
            Assert.Equal("admin", c.TokenName);
            Assert.DoesNotContain(Secret, c.ToString());
            Assert.Equal("PVEAPIToken=swarm@pve!admin=" + Secret, c.AuthorizationHeaderValue());

            var secure = new SecureString();
            foreach (char ch in Secret) secure.AppendChar(ch);
            Assert.Equal("PVEAPIToken=swarm@pve!admin=" + Secret, ProxmoxCredential.FromToken("swarm@pve!admin", secure).AuthorizationHeaderValue());

            var parsed = ProxmoxCredential.ParseToken("swarm@pve!admin=" + Secret);
            Assert.Equal("swarm@pve!admin", parsed.TokenId);
            Assert.Equal(c.AuthorizationHeaderValue(), parsed.AuthorizationHeaderValue());

            var bad = Assert.Throws<ArgumentException>(() => ProxmoxCredential.FromToken("swarm@pve", Secret));
            Assert.Contains("user@realm!tokenname", bad.Message);
            Assert.Throws<ArgumentException>(() => ProxmoxCredential.FromToken("swarm@pve!1bad", Secret));
            Assert.Throws<ArgumentException>(() => ProxmoxCredential.FromPassword("root", "pw"));
            Assert.DoesNotContain("hunter2", ProxmoxCredential.FromPassword("root@pam", "hunter2").ToString());
        }

        [Fact]
        public async Task Token_auth_sends_exact_header_and_no_cookie_or_csrf()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":{\"version\":\"8.2.4\",\"release\":\"8.2\"}}"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                JsonElement v = await client.GetAsync("version");
                Assert.Equal("8.2.4", JsonRead.String(v, "version"));
                await client.PostAsync("nodes/pve1/qemu/101/status/start");
            }
            foreach (var r in handler.List)
            {
                Assert.Equal("PVEAPIToken=swarm@pve!admin=" + Secret, r.Header("Authorization"));
                Assert.Null(r.Header("Cookie"));
                Assert.Null(r.Header("CSRFPreventionToken"));
                Assert.False(r.ExpectContinue ?? false);
            }
            Assert.Equal("https://pve01:8006/api2/json/version", handler.List[0].Uri.AbsoluteUri);
        }

        // ---------- request encoding ----------

        [Fact]
        public async Task Post_form_encodes_booleans_numbers_and_reserved_characters()
        {
            CultureInfo saved = CultureInfo.CurrentCulture;
            CultureInfo.CurrentCulture = new CultureInfo("de-DE"); // a decimal comma must not leak onto the wire
            try
            {
                var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":\"UPID:pve1:0003A0B1:0125F4E2:66A1B2C3:qmconfig:101:swarm@pve!admin:\"}"));
                using (var client = ProxmoxTestClients.Token(handler))
                {
                    JsonElement upid = await client.PostAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object>
                    {
                        ["cores"] = 4,
                        ["memory"] = 4096L,
                        ["onboot"] = true,
                        ["protection"] = false,
                        ["cpuunits"] = 1.5,
                        ["description"] = null,
                        ["net0"] = "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,tag=4",
                        ["boot"] = "order=scsi0;ide2;net0",
                        ["name"] = "swarm m1+x",
                    });
                    Assert.StartsWith("UPID:", upid.GetString());
                }
                RecordedRequest r = handler.List.Single();
                Assert.Equal("POST", r.Method);
                Assert.Equal("/api2/json/nodes/pve1/qemu/101/config", r.PathAndQuery);
                Assert.Equal("application/x-www-form-urlencoded", r.ContentType);
                Assert.Equal(
                    "cores=4&memory=4096&onboot=1&protection=0&cpuunits=1.5"
                    + "&net0=virtio%3DBC%3A24%3A11%3A2A%3A3B%3A4C%2Cbridge%3Dvmbr0%2Ctag%3D4"
                    + "&boot=order%3Dscsi0%3Bide2%3Bnet0"
                    + "&name=swarm%20m1%2Bx",
                    r.BodyText);
            }
            finally
            {
                CultureInfo.CurrentCulture = saved;
            }
        }

        [Fact]
        public async Task Post_without_parameters_sends_an_empty_form()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null}"));
            using (var client = ProxmoxTestClients.Token(handler))
                await client.PostAsync("nodes/pve1/qemu/101/status/start");
            RecordedRequest r = handler.List.Single();
            Assert.Equal("", r.BodyText);
            Assert.Equal("", r.Query);
        }

        [Fact]
        public void Form_rejects_lists_and_formats_secure_strings()
        {
            Assert.Throws<ArgumentException>(() => ProxmoxForm.Encode(new Dictionary<string, object> { ["delete"] = new[] { "a", "b" } }));
            var ss = new SecureString();
            foreach (char c in "p@ss word") ss.AppendChar(c);
            Assert.Equal("cipassword=p%40ss%20word", ProxmoxForm.Encode(new Dictionary<string, object> { ["cipassword"] = ss }));
        }

        [Fact]
        public void Sshkeys_are_percent_encoded_once_with_uppercase_hex_and_percent20()
        {
            string keys = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+a/b= ops@host\r\nssh-rsa AAAAB3Nza cardno:000611\n\n";
            string encoded = ProxmoxSshKeys.Encode(keys);
            Assert.Equal(
                "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAI%2Ba%2Fb%3D%20ops%40host%0Assh-rsa%20AAAAB3Nza%20cardno%3A000611",
                encoded);
            // what the reference names as the correct encoder produces the same bytes
            Assert.Equal(Uri.EscapeDataString("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+a/b= ops@host\nssh-rsa AAAAB3Nza cardno:000611"), encoded);
            Assert.DoesNotContain("+", encoded);
            Assert.Matches("^[-%a-zA-Z0-9_.!~*'()]*$", encoded); // PVE's urlencoded format check

            Assert.Equal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+a/b= ops@host\nssh-rsa AAAAB3Nza cardno:000611", ProxmoxSshKeys.Decode(encoded));
            Assert.Equal(new[] { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+a/b= ops@host", "ssh-rsa AAAAB3Nza cardno:000611" }, ProxmoxSshKeys.DecodeKeys(encoded));
            Assert.Equal(encoded, ProxmoxSshKeys.Encode(new[] { "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI+a/b= ops@host", " ssh-rsa AAAAB3Nza cardno:000611 " }));
            Assert.Equal("a+b", ProxmoxSshKeys.Decode("a+b")); // '+' is not a space in PVE's uri_unescape
        }

        [Fact]
        public async Task Sshkeys_are_double_encoded_in_the_form_body()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null}"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                await client.PutAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object>
                {
                    ["sshkeys"] = ProxmoxSshKeys.Encode(new[] { "ssh-ed25519 AAAA+/= ops@host", "ssh-rsa BBBB x:y" }),
                    ["ciuser"] = "swarm",
                });
            }
            RecordedRequest r = handler.List.Single();
            Assert.Equal("PUT", r.Method);
            Assert.Equal(
                "sshkeys=ssh-ed25519%2520AAAA%252B%252F%253D%2520ops%2540host%250Assh-rsa%2520BBBB%2520x%253Ay&ciuser=swarm",
                r.BodyText);
            Assert.Equal("ssh-ed25519%2520AAAA%252B%252F%253D%2520ops%2540host%250Assh-rsa%2520BBBB%2520x%253Ay",
                ProxmoxSshKeys.EncodeForForm(ProxmoxSshKeys.Encode(new[] { "ssh-ed25519 AAAA+/= ops@host", "ssh-rsa BBBB x:y" })));
        }

        [Fact]
        public async Task Get_puts_parameters_in_the_query_and_sends_no_body()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":[]}"));
            using (var client = ProxmoxTestClients.Token(handler))
                await client.GetAsync("nodes/pve1/qemu", new Dictionary<string, object> { ["full"] = true, ["x"] = "a b;c" });
            RecordedRequest r = handler.List.Single();
            Assert.Equal("GET", r.Method);
            Assert.Equal("full=1&x=a%20b%3Bc", r.Query);
            Assert.Null(r.Body);
        }

        [Fact]
        public async Task Delete_puts_parameters_in_the_query_and_sends_no_body()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":\"UPID:pve1:0003A0B1:0125F4E2:66A1B2C3:qmdestroy:101:swarm@pve!admin:\"}"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                await client.DeleteAsync("/nodes/pve1/qemu/101", new Dictionary<string, object>
                {
                    ["purge"] = true,
                    ["destroy-unreferenced-disks"] = true,
                });
            }
            RecordedRequest r = handler.List.Single();
            Assert.Equal("DELETE", r.Method);
            Assert.Equal("/api2/json/nodes/pve1/qemu/101?purge=1&destroy-unreferenced-disks=1", r.PathAndQuery);
            Assert.Null(r.Body);
            Assert.Null(r.ContentType);
        }

        // ---------- envelope ----------

        [Fact]
        public async Task Returns_data_cloned_and_handles_null_and_string_numbers()
        {
            var responses = new Queue<string>(new[]
            {
                "{\"data\":{\"cores\":2,\"memory\":\"4096\",\"onboot\":1,\"name\":\"m1\"}}",
                "{\"data\":null}",
                "{\"data\":\"101\"}",
                "{\"data\":[{\"n\":1,\"t\":\"TASK OK\"}],\"total\":1}",
                "",
            });
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json(responses.Dequeue()));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                JsonElement config = await client.GetAsync("nodes/pve1/qemu/101/config");
                GC.Collect(); // the document behind the response is gone; the clone stays valid
                Assert.Equal(2, JsonRead.Int(config, "cores"));
                Assert.Equal(4096, JsonRead.Int(config, "memory"));
                Assert.True(JsonRead.Bool(config, "onboot"));

                Assert.Equal(JsonValueKind.Null, (await client.PutAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object> { ["cores"] = 2 })).ValueKind);
                Assert.Equal(101, JsonRead.AsInt(await client.GetAsync("cluster/nextid")));

                JsonElement envelope = await client.GetEnvelopeAsync("nodes/pve1/tasks/x/log", null, CancellationToken.None);
                Assert.Equal(1, JsonRead.Int(envelope, "total"));

                Assert.Equal(JsonValueKind.Null, (await client.GetAsync("version")).ValueKind); // empty 200 body
            }
        }

        [Fact]
        public async Task Non_json_success_body_is_a_protocol_error()
        {
            var handler = new FakeProxmoxHandler(r => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>login</html>", Encoding.UTF8, "text/html") });
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxProtocolException>(() => client.GetAsync("version"));
                Assert.Contains("not JSON", ex.Message);
            }
        }

        // ---------- errors ----------

        [Fact]
        public async Task Error_message_prefers_json_message_and_trims_newline()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null,\"message\":\"VM is locked (clone)\\n\"}", 500, "VM is locked (clone)"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.PutAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object> { ["cores"] = 2 }));
                Assert.Equal(500, ex.StatusCode);
                Assert.Equal("VM is locked (clone)", ex.Message);
                Assert.Equal("VM is locked (clone)", ex.ProxmoxMessage);
                Assert.Equal("VM is locked (clone)", ex.ReasonPhrase);
                Assert.Equal("PUT", ex.Method);
                Assert.Equal("nodes/pve1/qemu/101/config", ex.Path);
                Assert.True(ex.IsLockError);
                Assert.Empty(ex.ParameterErrors);
            }
        }

        [Fact]
        public async Task Error_message_falls_back_to_reason_phrase_for_legacy_bodies()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null}", 500,
                "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.GetAsync("nodes/pve1/qemu/101/status/current"));
                Assert.Equal("Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist", ex.Message);
                Assert.False(ex.IsLockError);
            }
        }

        [Fact]
        public async Task Parameter_errors_are_parsed()
        {
            const string body = "{\"errors\":{\"sshkeys\":\"invalid format - invalid urlencoded string: ssh-rsa AAAA\\n\",\"tag\":\"value must have a maximum value of 4094\\n\"},"
                + "\"data\":null,\"message\":\"Parameter verification failed.\\n\"}";
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json(body, 400, "Parameter verification failed."));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.PostAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object> { ["sshkeys"] = "ssh-rsa AAAA" }));
                Assert.Equal(400, ex.StatusCode);
                Assert.Equal("Parameter verification failed.", ex.ProxmoxMessage);
                Assert.Equal("invalid format - invalid urlencoded string: ssh-rsa AAAA", ex.ParameterErrors["sshkeys"]);
                Assert.Equal("value must have a maximum value of 4094", ex.ParameterErrors["tag"]);
                Assert.StartsWith("Parameter verification failed.", ex.Message);
                Assert.Contains("sshkeys: invalid format - invalid urlencoded string: ssh-rsa AAAA", ex.Message);
            }

            // legacy server: errors without message
            var legacy = ProxmoxApiException.FromResponse(400, "Parameter verification failed.", "{\"errors\":{\"vmid\":\"VM 218 already exists\\n\"},\"data\":null}", "GET", "cluster/nextid", null);
            Assert.Equal("VM 218 already exists", legacy.ParameterErrors["vmid"]);
            Assert.Equal("Parameter verification failed.", legacy.ProxmoxMessage);
        }

        [Fact]
        public async Task Empty_401_with_token_says_the_token_was_refused_without_the_secret()
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Empty(401, "Authentication failed!"));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.GetAsync("version"));
                Assert.Equal(401, ex.StatusCode);
                Assert.True(ex.IsAuthenticationFailure);
                Assert.Equal("Authentication failed!", ex.ProxmoxMessage);
                Assert.Contains("refused the API token swarm@pve!admin", ex.Message);
                Assert.Contains("Authentication failed!", ex.Message);
                Assert.DoesNotContain(Secret, ex.Message);
                Assert.DoesNotContain(Secret, ex.ToString());
            }
            Assert.Single(handler.List); // tokens are not retried
        }

        [Theory]
        [InlineData("Permission check failed (/vms/101, VM.Config.Disk)", "/vms/101", "VM.Config.Disk")]
        [InlineData("Permission check failed (/sdn/zones/localnetwork/vmbr0/4, SDN.Use)", "/sdn/zones/localnetwork/vmbr0/4", "SDN.Use")]
        [InlineData("Permission check failed (/vms/9000, VM.Clone)", "/vms/9000", "VM.Clone")]
        [InlineData("Permission check failed (/vms/101, VM.Monitor|VM.GuestAgent.Audit)", "/vms/101", "VM.Monitor|VM.GuestAgent.Audit")]
        [InlineData("Permission check failed (pool 'x' does not exist)", null, null)]
        [InlineData("Permission check failed (URI '/x' not available with API token, need proper ticket.)", null, null)]
        public async Task Forbidden_parses_path_and_privilege(string text, string path, string privilege)
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null,\"message\":\"" + text + "\\n\"}", 403, text));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.PostAsync("nodes/pve1/qemu/101/config"));
                Assert.True(ex.IsPermissionDenied);
                Assert.Equal(text, ex.Message);
                Assert.Equal(path, ex.PrivilegePath);
                Assert.Equal(privilege, ex.MissingPrivilege);
            }
        }

        [Fact]
        public void Forbidden_parse_works_from_reason_phrase_alone()
        {
            var ex = ProxmoxApiException.FromResponse(403, "Permission check failed (/vms/101, VM.Config.Network)", "", "POST", "nodes/pve1/qemu/101/config", null);
            Assert.Equal("VM.Config.Network", ex.MissingPrivilege);
            Assert.Equal("/vms/101", ex.PrivilegePath);
        }

        [Theory]
        [InlineData(595, "No route to host")]
        [InlineData(596, "Connection timed out")]
        public async Task Relay_errors_mean_node_unreachable(int status, string reason)
        {
            var handler = new FakeProxmoxHandler(r => FakeProxmoxHandler.Empty(status, reason));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.GetAsync("nodes/pve2/qemu"));
                Assert.True(ex.IsNodeUnreachable);
                Assert.Equal(reason, ex.ProxmoxMessage);
                Assert.Contains("could not reach the node", ex.Message);
                Assert.Contains(status + " " + reason, ex.Message);
            }
        }

        // ---------- ticket auth ----------

        private const string TicketJson =
            "{\"data\":{\"username\":\"root@pam\",\"ticket\":\"PVE:root@pam:66A1B2C3::c2lnbmF0dXJl+/=\",\"CSRFPreventionToken\":\"66A1B2C3:aG1hYw==\",\"cap\":{}}}";

        private static ProxmoxClient PasswordClient(FakeProxmoxHandler handler, ProxmoxClientOptions options = null) =>
            new ProxmoxClient(ProxmoxEndpoint.Parse("https://pve01:8006"), ProxmoxCredential.FromPassword("root@pam", "s3cret pw&x=1"), handler, options);

        [Fact]
        public async Task Ticket_login_then_cookie_on_all_and_csrf_only_on_writes()
        {
            var handler = new FakeProxmoxHandler(r => r.Path.EndsWith("/access/ticket")
                ? FakeProxmoxHandler.Json(TicketJson)
                : FakeProxmoxHandler.Json("{\"data\":null}"));
            using (var client = PasswordClient(handler))
            {
                await client.GetAsync("version");
                await client.PostAsync("nodes/pve1/qemu/101/status/start");
                await client.PutAsync("nodes/pve1/qemu/101/config", new Dictionary<string, object> { ["cores"] = 2 });
                await client.DeleteAsync("nodes/pve1/qemu/101", new Dictionary<string, object> { ["purge"] = 1 });
            }
            var reqs = handler.List;
            Assert.Equal(5, reqs.Count);

            RecordedRequest login = reqs[0];
            Assert.Equal("POST", login.Method);
            Assert.Equal("/api2/json/access/ticket", login.Path);
            Assert.Equal("username=root%40pam&password=s3cret%20pw%26x%3D1", login.BodyText);
            Assert.Null(login.Header("Cookie"));
            Assert.Null(login.Header("CSRFPreventionToken"));
            Assert.Null(login.Header("Authorization"));

            foreach (var r in reqs.Skip(1))
            {
                Assert.Equal("PVEAuthCookie=PVE:root@pam:66A1B2C3::c2lnbmF0dXJl+/=", r.Header("Cookie"));
                Assert.Null(r.Header("Authorization"));
            }
            Assert.Null(reqs[1].Header("CSRFPreventionToken")); // GET
            Assert.Equal("66A1B2C3:aG1hYw==", reqs[2].Header("CSRFPreventionToken")); // POST
            Assert.Equal("66A1B2C3:aG1hYw==", reqs[3].Header("CSRFPreventionToken")); // PUT
            Assert.Equal("66A1B2C3:aG1hYw==", reqs[4].Header("CSRFPreventionToken")); // DELETE
        }

        [Fact]
        public async Task Ticket_relogs_in_once_on_401_then_gives_up()
        {
            int apiCalls = 0;
            var handler = new FakeProxmoxHandler(r =>
            {
                if (r.Path.EndsWith("/access/ticket")) return FakeProxmoxHandler.Json(TicketJson);
                apiCalls++;
                return apiCalls == 1 ? FakeProxmoxHandler.Empty(401, "Authentication failed!") : FakeProxmoxHandler.Json("{\"data\":\"ok\"}");
            });
            using (var client = PasswordClient(handler))
                Assert.Equal("ok", (await client.PostAsync("nodes/pve1/qemu/101/status/start")).GetString());
            Assert.Equal(new[] { "/api2/json/access/ticket", "/api2/json/nodes/pve1/qemu/101/status/start", "/api2/json/access/ticket", "/api2/json/nodes/pve1/qemu/101/status/start" },
                handler.List.Select(r => r.Path).ToArray());

            var always401 = new FakeProxmoxHandler(r => r.Path.EndsWith("/access/ticket")
                ? FakeProxmoxHandler.Json(TicketJson)
                : FakeProxmoxHandler.Empty(401, "Authentication failed!"));
            using (var client = PasswordClient(always401))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.GetAsync("version"));
                Assert.Contains("refused the login ticket of root@pam", ex.Message);
                Assert.Contains("even after logging in again", ex.Message);
                Assert.DoesNotContain("s3cret", ex.ToString());
                Assert.DoesNotContain("c2lnbmF0dXJl", ex.ToString());
            }
            Assert.Equal(4, always401.List.Count);
        }

        [Fact]
        public async Task Ticket_is_renewed_before_it_expires()
        {
            DateTimeOffset now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var handler = new FakeProxmoxHandler(r => r.Path.EndsWith("/access/ticket") ? FakeProxmoxHandler.Json(TicketJson) : FakeProxmoxHandler.Json("{\"data\":1}"));
            using (var client = PasswordClient(handler, new ProxmoxClientOptions { Clock = () => now }))
            {
                await client.GetAsync("version");
                now = now.AddMinutes(60);
                await client.GetAsync("version");
                now = now.AddMinutes(55); // 115 min > 110 min renewal threshold
                await client.GetAsync("version");
            }
            Assert.Equal(2, handler.List.Count(r => r.Path.EndsWith("/access/ticket")));
        }

        [Fact]
        public async Task Bad_password_and_tfa_are_reported_without_secrets()
        {
            var bad = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":null,\"message\":\"authentication failure\\n\"}", 401, "authentication failure"));
            using (var client = PasswordClient(bad))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.GetAsync("version"));
                Assert.Contains("refused the user name or password for root@pam", ex.Message);
                Assert.Contains("authentication failure", ex.Message);
                Assert.DoesNotContain("s3cret", ex.ToString());
            }
            Assert.Single(bad.List); // no retry loop on a failed login

            var tfa = new FakeProxmoxHandler(r => FakeProxmoxHandler.Json("{\"data\":{\"username\":\"root@pam\",\"ticket\":\"PVE:!tfa!x\",\"CSRFPreventionToken\":\"a:b\",\"NeedTFA\":1}}"));
            using (var client = PasswordClient(tfa))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxApiException>(() => client.LoginAsync());
                Assert.Contains("two-factor", ex.Message);
            }
        }

        // ---------- timeouts and cancellation ----------

        [Fact]
        public async Task Per_call_timeout_and_cancellation()
        {
            var handler = new FakeProxmoxHandler(async (r, ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return FakeProxmoxHandler.Json("{}");
            });
            using (var client = ProxmoxTestClients.Token(handler))
            {
                client.Timeout = TimeSpan.FromMilliseconds(100);
                var ex = await Assert.ThrowsAsync<TimeoutException>(() => client.GetAsync("nodes/pve1/qemu"));
                Assert.Contains("GET /nodes/pve1/qemu", ex.Message);

                var ex2 = await Assert.ThrowsAsync<TimeoutException>(() => client.SendAsync(HttpMethod.Get, "version", null, TimeSpan.FromMilliseconds(50)));
                Assert.Contains("0.05 s", ex2.Message);

                client.Timeout = TimeSpan.FromSeconds(30);
                using (var cts = new CancellationTokenSource(50))
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("version", null, cts.Token));
            }
        }

        [Fact]
        public async Task Connection_errors_are_wrapped()
        {
            var handler = new FakeProxmoxHandler(r => throw new HttpRequestException("No such host is known.", new System.Net.Sockets.SocketException(11001)));
            using (var client = ProxmoxTestClients.Token(handler))
            {
                var ex = await Assert.ThrowsAsync<ProxmoxConnectionException>(() => client.GetAsync("version"));
                Assert.Contains("https://pve01:8006", ex.Message);
                Assert.Contains("No such host", ex.Message);
            }
        }
    }
}
