using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>What docker --with-registry-auth sends: config.json auths, credHelpers, credsStore, X-Registry-Auth encoding.</summary>
    public class RegistryCredentialsTests : IDisposable
    {
        private readonly string _tmp = Path.Combine(Path.GetTempPath(), "swarmadmin-creds-" + Guid.NewGuid().ToString("N"));
        private readonly List<(string Helper, string Server)> _calls = new List<(string, string)>();

        public RegistryCredentialsTests() { Directory.CreateDirectory(_tmp); }
        public void Dispose() { try { Directory.Delete(_tmp, true); } catch (IOException) { } }

        private void Config(string json) => File.WriteAllText(Path.Combine(_tmp, "config.json"), json);

        private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

        private RegistryCredential Resolve(string image, Func<string, string, string> helper = null)
            => RegistryCredentials.Resolve(image, _tmp, helper ?? NoHelper);

        private string NoHelper(string helper, string server)
        {
            _calls.Add((helper, server));
            return null;
        }

        private Func<string, string, string> Helper(string output)
            => (helper, server) =>
            {
                _calls.Add((helper, server));
                return output;
            };

        private static string DecodeHeader(string header)
            => Encoding.UTF8.GetString(Convert.FromBase64String(header.Replace('-', '+').Replace('_', '/')));

        // ------------------------------------------------------------------ no file / no entry

        [Fact]
        public void Missing_config_file_is_anonymous()
        {
            Assert.Null(Resolve("busybox"));
            Assert.Null(RegistryCredentials.Resolve("busybox", Path.Combine(_tmp, "nope"), NoHelper));
            Assert.Empty(_calls);
        }

        [Fact]
        public void Empty_file_or_no_entry_is_anonymous()
        {
            Config("");
            Assert.Null(Resolve("busybox"));
            Config("  \n");
            Assert.Null(Resolve("busybox"));
            Config("{}");
            Assert.Null(Resolve("busybox"));
            Config("{\"auths\":{\"other.example.com\":{\"auth\":\"" + B64("u:p") + "\"}}}");
            Assert.Null(Resolve("registry.example.com/app"));
            Config("{\"auths\":{\"registry.example.com\":{}}}");
            Assert.Null(Resolve("registry.example.com/app"));   // an entry without credentials
        }

        // ------------------------------------------------------------------ auths

        [Fact]
        public void Docker_hub_auth_entry()
        {
            Config("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" + B64("hubuser:hub:pass") + "\"}}}");
            foreach (string image in new[] { "busybox", "user/app:1", "docker.io/library/busybox", "index.docker.io/user/app" })
            {
                var c = Resolve(image);
                Assert.Equal("hubuser", c.Username);
                Assert.Equal("hub:pass", c.Password);                 // split at the first ':'
                Assert.Equal("https://index.docker.io/v1/", c.ServerAddress);
            }
            Assert.Null(Resolve("registry.example.com/app"));
        }

        [Fact]
        public void Docker_hub_is_only_found_under_the_index_key()
        {
            Config("{\"auths\":{\"docker.io\":{\"auth\":\"" + B64("u:p") + "\"},\"index.docker.io\":{\"auth\":\"" + B64("u:p") + "\"}}}");
            Assert.Null(Resolve("busybox"));                          // the CLI looks up "https://index.docker.io/v1/" only
        }

        [Fact]
        public void Plain_hostname_key_with_separate_fields()
        {
            Config(@"{""auths"":{""registry.example.com:5000"":{""username"":""ci"",""password"":""s3cret"",""email"":""x@example.com""}}}");
            var c = Resolve("registry.example.com:5000/shop/web:1");
            Assert.Equal("ci", c.Username);
            Assert.Equal("s3cret", c.Password);
            Assert.Equal("registry.example.com:5000", c.ServerAddress);
            Assert.Null(Resolve("registry.example.com/shop/web"));     // another port is another registry
        }

        [Fact]
        public void Auth_field_wins_over_username_and_password_and_nul_padding_is_trimmed()
        {
            Config("{\"auths\":{\"registry.example.com\":{\"username\":\"old\",\"password\":\"old\",\"auth\":\"" + B64("new:pw\0\0") + "\"}}}");
            var c = Resolve("registry.example.com/app");
            Assert.Equal("new", c.Username);
            Assert.Equal("pw", c.Password);
        }

        [Theory]
        [InlineData("https://registry.example.com", "registry.example.com/app")]
        [InlineData("http://registry.example.com/v2/", "registry.example.com/app")]
        [InlineData("https://registry.example.com/v1/", "registry.example.com/app")]
        [InlineData("registry.example.com/v2/", "registry.example.com/app")]
        [InlineData("http://registry.example.com:5000/v2/", "registry.example.com:5000/app")]
        [InlineData("https://[fc00::1]:5000", "[fc00::1]:5000/app")]
        public void Legacy_url_keys_match_by_hostname(string key, string image)
        {
            Config("{\"auths\":{\"" + key + "\":{\"auth\":\"" + B64("legacy:pw") + "\"}}}");
            var c = Resolve(image);
            Assert.NotNull(c);
            Assert.Equal("legacy", c.Username);
            Assert.Equal("pw", c.Password);
            Assert.Equal(key, c.ServerAddress);                        // fileStore returns the entry under its own key
        }

        [Fact]
        public void Exact_key_is_preferred_over_a_legacy_key()
        {
            Config("{\"auths\":{\"https://registry.example.com\":{\"auth\":\"" + B64("legacy:pw") + "\"},\"registry.example.com\":{\"auth\":\"" + B64("exact:pw") + "\"}}}");
            Assert.Equal("exact", Resolve("registry.example.com/app").Username);
        }

        [Fact]
        public void Identity_and_registry_tokens_from_auths()
        {
            Config(@"{""auths"":{""registry.example.com"":{""identitytoken"":""idtok"",""registrytoken"":""regtok""}}}");
            var c = Resolve("registry.example.com/app");
            Assert.Null(c.Username);
            Assert.Equal("idtok", c.IdentityToken);
            Assert.Equal("regtok", c.RegistryToken);
            Assert.Equal("registry.example.com", c.ServerAddress);
        }

        [Fact]
        public void Field_names_match_case_insensitively_like_encoding_json()
        {
            Config("{\"Auths\":{\"registry.example.com\":{\"Auth\":\"" + B64("u:p") + "\"}}}");
            Assert.Equal("u", Resolve("registry.example.com/app").Username);
        }

        // ------------------------------------------------------------------ helpers

        [Fact]
        public void CredHelpers_entry_runs_that_helper_with_the_key()
        {
            Config(@"{""auths"":{""registry.example.com"":{""auth"":""" + B64("file:pw") + @"""}},""credHelpers"":{""registry.example.com"":""ecr-login""},""credsStore"":""desktop""}");
            var c = Resolve("registry.example.com/app", Helper(@"{""ServerURL"":""registry.example.com"",""Username"":""AWS"",""Secret"":""ecr-token""}"));
            Assert.Equal(new[] { ("ecr-login", "registry.example.com") }, _calls);
            Assert.Equal("AWS", c.Username);
            Assert.Equal("ecr-token", c.Password);
            Assert.Equal("registry.example.com", c.ServerAddress);
        }

        [Fact]
        public void CredsStore_is_used_for_registries_without_a_credHelper()
        {
            Config(@"{""credHelpers"":{""registry.example.com"":""ecr-login""},""credsStore"":""desktop""}");
            var c = Resolve("busybox", Helper(@"{""ServerURL"":""https://index.docker.io/v1/"",""Username"":""hubuser"",""Secret"":""pat""}"));
            Assert.Equal(new[] { ("desktop", "https://index.docker.io/v1/") }, _calls);
            Assert.Equal("hubuser", c.Username);
            Assert.Equal("pat", c.Password);
            Assert.Equal("https://index.docker.io/v1/", c.ServerAddress);
        }

        [Fact]
        public void Token_username_means_identity_token()
        {
            Config(@"{""credsStore"":""desktop""}");
            var c = Resolve("registry.example.com/app", Helper(@"{""ServerURL"":""registry.example.com"",""Username"":""<token>"",""Secret"":""refresh-token""}"));
            Assert.Null(c.Username);
            Assert.Null(c.Password);
            Assert.Equal("refresh-token", c.IdentityToken);
            Assert.Equal("registry.example.com", c.ServerAddress);
        }

        [Fact]
        public void Helper_without_credentials_means_anonymous_even_with_an_auths_entry()
        {
            // nativeStore.Get overlays the helper's answer on the file entry; with no answer the credentials are empty.
            Config(@"{""auths"":{""registry.example.com"":{""auth"":""" + B64("file:pw") + @"""}},""credsStore"":""desktop""}");
            Assert.Null(Resolve("registry.example.com/app"));
            Assert.Equal(new[] { ("desktop", "registry.example.com") }, _calls);
            Assert.Null(Resolve("registry.example.com/app", Helper("not json")));
            Assert.Null(Resolve("registry.example.com/app", Helper(@"{""Username"":"""",""Secret"":""""}")));
        }

        [Fact]
        public void Empty_credHelper_entry_falls_back_to_the_file_not_to_credsStore()
        {
            Config(@"{""auths"":{""registry.example.com"":{""auth"":""" + B64("file:pw") + @"""}},""credHelpers"":{""registry.example.com"":""""},""credsStore"":""desktop""}");
            var c = Resolve("registry.example.com/app");
            Assert.Equal("file", c.Username);
            Assert.Empty(_calls);
        }

        [Fact]
        public void Registry_token_from_the_file_survives_a_helper()
        {
            Config(@"{""auths"":{""registry.example.com"":{""registrytoken"":""regtok""}},""credsStore"":""desktop""}");
            var c = Resolve("registry.example.com/app", Helper(@"{""Username"":""u"",""Secret"":""s""}"));
            Assert.Equal("u", c.Username);
            Assert.Equal("regtok", c.RegistryToken);
        }

        // ------------------------------------------------------------------ errors

        [Theory]
        [InlineData("{\"auths\":{\"registry.example.com\":{\"auth\":\"SECRETVALUE\" ")]          // truncated
        [InlineData("{\"auths\":{\"registry.example.com\":{\"password\":SECRETVALUE}}}")]        // bare word
        [InlineData("{\"auths\":{\"registry.example.com\":{\"password\":[\"SECRETVALUE\"]}}}")]  // not a string
        [InlineData("{\"auths\":[\"SECRETVALUE\"]}")]
        [InlineData("[\"SECRETVALUE\"]")]
        [InlineData("{\"auths\":{\"registry.example.com\":{\"auth\":\"SECRETVALUE!\"}}}")]      // not base64
        [InlineData("{\"auths\":{\"registry.example.com\":{\"auth\":\"U0VDUkVUVkFMVUU=\"}}}")]   // base64 of "SECRETVALUE": no ':'
        [InlineData("{\"auths\":{\"registry.example.com\":{\"auth\":\"OlNFQ1JFVFZBTFVF\"}}}")]   // ":SECRETVALUE": empty user
        [InlineData("{\"credHelpers\":{\"registry.example.com\":7}}")]
        public void Malformed_config_names_the_file_but_no_credential(string json)
        {
            Config(json);
            var e = Assert.Throws<InvalidDataException>(() => Resolve("registry.example.com/app"));
            Assert.Contains(Path.Combine(_tmp, "config.json"), e.Message);
            Assert.DoesNotContain("SECRETVALUE", e.Message);
            Assert.DoesNotContain("U0VDUkVU", e.Message);
            Assert.Null(e.InnerException);
        }

        [Fact]
        public void Invalid_image_reference_is_an_argument_error()
        {
            Config("{}");
            var e = Assert.Throws<ArgumentException>(() => Resolve("Registry.example.com/App"));
            Assert.Contains("must be lowercase", e.Message);
        }

        [Fact]
        public void ToString_never_shows_secrets()
        {
            var c = new RegistryCredential { Username = "ci", Password = "pw-secret", ServerAddress = "registry.example.com", IdentityToken = "id-secret", RegistryToken = "reg-secret" };
            Assert.Equal("ci@registry.example.com", c.ToString());
        }

        // ------------------------------------------------------------------ X-Registry-Auth

        [Fact]
        public void Header_round_trip_in_go_field_order_without_empty_fields()
        {
            var c = new RegistryCredential { Username = "ci", Password = "pw", ServerAddress = "registry.example.com" };
            string h = RegistryCredentials.EncodeHeader(c);
            Assert.Equal("{\"username\":\"ci\",\"password\":\"pw\",\"serveraddress\":\"registry.example.com\"}", DecodeHeader(h));
            Assert.Equal(0, h.Length % 4);

            var all = new RegistryCredential { Username = "u", Password = "p", ServerAddress = "s", IdentityToken = "i", RegistryToken = "r" };
            Assert.Equal("{\"username\":\"u\",\"password\":\"p\",\"serveraddress\":\"s\",\"identitytoken\":\"i\",\"registrytoken\":\"r\"}",
                DecodeHeader(RegistryCredentials.EncodeHeader(all)));

            var token = new RegistryCredential { IdentityToken = "tok", ServerAddress = "https://index.docker.io/v1/" };
            Assert.Equal("{\"serveraddress\":\"https://index.docker.io/v1/\",\"identitytoken\":\"tok\"}",
                DecodeHeader(RegistryCredentials.EncodeHeader(token)));
        }

        [Fact]
        public void Header_for_anonymous_is_an_empty_object()
        {
            Assert.Equal("e30=", RegistryCredentials.EncodeHeader(null));
            Assert.Equal("e30=", RegistryCredentials.EncodeHeader(new RegistryCredential()));
        }

        [Fact]
        public void Header_uses_the_url_safe_alphabet_with_padding()
        {
            // "?>" and "??" give '/' and '+' in the standard alphabet
            var c = new RegistryCredential { Username = "a", Password = "??>>~~~?" };
            string h = RegistryCredentials.EncodeHeader(c);
            Assert.DoesNotContain("+", h);
            Assert.DoesNotContain("/", h);
            Assert.True(h.Contains("-") || h.Contains("_"));
            for (int n = 1; n <= 3; n++)
            {
                string padded = RegistryCredentials.EncodeHeader(new RegistryCredential { Username = new string('u', n) });
                Assert.Equal(0, padded.Length % 4);
                Assert.Equal("{\"username\":\"" + new string('u', n) + "\"}", DecodeHeader(padded));
            }
            Assert.EndsWith("=", RegistryCredentials.EncodeHeader(new RegistryCredential { Username = "u" }));
        }

        [Fact]
        public void Header_json_escapes_like_go()
        {
            var c = new RegistryCredential { Username = "a\"b\\c", Password = "<&>\n\u0001é" };
            string json = DecodeHeader(RegistryCredentials.EncodeHeader(c));
            Assert.Equal("{\"username\":\"a\\\"b\\\\c\",\"password\":\"\\u003c\\u0026\\u003e\\n\\u0001é\"}", json);
            using (var doc = JsonDocument.Parse(json))
            {
                Assert.Equal("a\"b\\c", doc.RootElement.GetProperty("username").GetString());
                Assert.Equal("<&>\n\u0001é", doc.RootElement.GetProperty("password").GetString());
            }
        }

        // ------------------------------------------------------------------ ConvertToHostname

        [Theory]
        [InlineData("https://index.docker.io/v1/", "index.docker.io")]
        [InlineData("registry.example.com", "registry.example.com")]
        [InlineData("https://registry.example.com", "registry.example.com")]
        [InlineData("http://registry.example.com/v2/", "registry.example.com")]
        [InlineData("http://registry.example.com:5000/v2/", "registry.example.com:5000")]
        [InlineData("registry.example.com:5000/v2/", "registry.example.com:5000")]
        [InlineData("https://user@registry.example.com", "registry.example.com")]
        [InlineData("https://[fc00::1]:5000/v2/", "[fc00::1]:5000")]
        [InlineData("https://[fc00::1]/v2/", "fc00::1")]
        [InlineData("https://fc00::1:5000/v2/", "[fc00::1]:5000")]
        public void ConvertToHostname_table(string input, string expected)
            => Assert.Equal(expected, RegistryCredentials.ConvertToHostname(input));

        // ------------------------------------------------------------------ the real helper runner

        [Fact]
        public void RunHelper_missing_or_unsafe_helper_is_null()
        {
            Assert.Null(RegistryCredentials.RunHelper("swarmadmin-test-does-not-exist-" + Guid.NewGuid().ToString("N"), "registry.example.com", TimeSpan.FromSeconds(5)));
            Assert.Null(RegistryCredentials.RunHelper("../../bin/sh", "registry.example.com", TimeSpan.FromSeconds(5)));
            Assert.Null(RegistryCredentials.RunHelper("", "registry.example.com", TimeSpan.FromSeconds(5)));
            Assert.Null(RegistryCredentials.RunHelper(null, "registry.example.com", TimeSpan.FromSeconds(5)));
        }

        [Fact]
        public void RunHelper_passes_the_server_on_stdin_and_handles_failure_and_timeout()
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            string bin = Path.Combine(_tmp, "bin");
            Directory.CreateDirectory(bin);
            string id = Guid.NewGuid().ToString("N").Substring(0, 8);
            Script(bin, "ok" + id, "#!/bin/sh\nserver=$(cat)\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"u\",\"Secret\":\"args=%s:%s\"}' \"$server\" \"$#\" \"$1\"\n");
            Script(bin, "fail" + id, "#!/bin/sh\ncat >/dev/null\necho 'credentials not found in native keychain'\nexit 1\n");
            Script(bin, "slow" + id, "#!/bin/sh\nexec sleep 30\n");

            string oldPath = Environment.GetEnvironmentVariable("PATH");
            Environment.SetEnvironmentVariable("PATH", bin + Path.PathSeparator + oldPath);
            try
            {
                Assert.Equal("{\"ServerURL\":\"registry.example.com:5000\",\"Username\":\"u\",\"Secret\":\"args=1:get\"}",
                    RegistryCredentials.RunHelper("ok" + id, "registry.example.com:5000", TimeSpan.FromSeconds(20)));
                Assert.Null(RegistryCredentials.RunHelper("fail" + id, "registry.example.com", TimeSpan.FromSeconds(20)));
                var sw = Stopwatch.StartNew();
                Assert.Null(RegistryCredentials.RunHelper("slow" + id, "registry.example.com", TimeSpan.FromMilliseconds(500)));
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), sw.Elapsed.ToString());

                // the default runner plugs into Resolve
                Config("{\"credsStore\":\"ok" + id + "\"}");
                var c = RegistryCredentials.Resolve("registry.example.com/app", _tmp, RegistryCredentials.RunHelperDefault);
                Assert.Equal("u", c.Username);
                Assert.Equal("args=1:get", c.Password);
                Assert.Equal("registry.example.com", c.ServerAddress);
            }
            finally
            {
                Environment.SetEnvironmentVariable("PATH", oldPath);
            }
        }

        private static void Script(string dir, string name, string body)
        {
            string path = Path.Combine(dir, "docker-credential-" + name);
            File.WriteAllText(path, body);
            using (var chmod = Process.Start(new ProcessStartInfo("chmod", "+x \"" + path + "\"") { UseShellExecute = false }))
                chmod.WaitForExit();
        }
    }
}
