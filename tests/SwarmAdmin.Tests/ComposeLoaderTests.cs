using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>The compose loader of Deploy-SwarmStack: kitchen-sink file, syntax equivalences, merge rules, errors with positions, warnings.</summary>
    public class ComposeLoaderTests : IDisposable
    {
        private readonly string _tmp = Path.Combine(Path.GetTempPath(), "swarmadmin-compose-" + Guid.NewGuid().ToString("N"));

        public ComposeLoaderTests() { Directory.CreateDirectory(_tmp); }
        public void Dispose() { try { Directory.Delete(_tmp, true); } catch (IOException) { } }

        private static string Fixture(string relative) => FixtureNear(relative);

        /// <summary>tests/fixtures/compose/RELATIVE, found above the test binaries or, failing that, above this source file.</summary>
        private static string FixtureNear(string relative, [System.Runtime.CompilerServices.CallerFilePath] string source = "")
        {
            foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(source) })
                for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                {
                    string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "compose", relative);
                    if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "SwarmAdmin.psd1"))) return candidate;
                }
            throw new FileNotFoundException($"fixture {relative} not found above {AppContext.BaseDirectory}");
        }

        private static Func<string, (bool, string)> Env(params (string Key, string Value)[] vars)
        {
            var d = vars.ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal);
            return name => d.TryGetValue(name, out string v) ? (true, v) : (false, null);
        }

        private string Write(string name, string yaml)
        {
            string path = Path.Combine(_tmp, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path));
            File.WriteAllText(path, yaml.Replace("\r\n", "\n"));
            return path;
        }

        private ComposeProject LoadText(string yaml, List<ComposeWarning> warnings = null, Func<string, (bool, string)> env = null)
            => ComposeLoader.Load(new[] { Write("docker-compose.yml", yaml) }, null, env ?? Env(), warnings ?? new List<ComposeWarning>());

        private ComposeFileException Fails(string yaml, Func<string, (bool, string)> env = null)
            => Assert.Throws<ComposeFileException>(() => LoadText(yaml, env: env));

        private static ComposeProject Kitchen(List<ComposeWarning> warnings = null)
            => ComposeLoader.Load(new[] { Fixture("kitchen/kitchen-sink.yml") }, null, Env(("FROM_SHELL", "shell"), ("HOME", "/home/u")), warnings ?? new List<ComposeWarning>());

        private static string KitchenDir => Path.GetDirectoryName(Fixture("kitchen/kitchen-sink.yml"));

        // ------------------------------------------------------------------ kitchen sink

        [Fact]
        public void Kitchen_sink_top_level()
        {
            var p = Kitchen();
            Assert.Equal("3.13", p.Version);
            Assert.Equal(KitchenDir, p.WorkingDirectory);
            Assert.Equal(Path.Combine(KitchenDir, ".env"), p.EnvFile);
            Assert.Equal(new[] { "job", "legacy", "web", "worker" }, p.Services.Keys);
            Assert.Equal(new[] { "back", "front", "legacy_ext", "outside" }, p.Networks.Keys);
            Assert.Equal(new[] { "cache", "csi", "shared", "static" }, p.Volumes.Keys);
            Assert.Equal(new[] { "api_key", "db_password", "vault_token" }, p.Secrets.Keys);
            Assert.Equal(new[] { "cred_spec", "nginx_conf", "site_conf" }, p.Configs.Keys);
        }

        [Fact]
        public void Kitchen_sink_web_basics()
        {
            var w = Kitchen().Services["web"];
            Assert.Equal("registry.example.com:5000/shop/web:from-dotenv", w.Image);
            Assert.Equal(new[] { "nginx", "-g", "daemon off;" }, w.Command);
            Assert.Equal(new[] { "/docker-entrypoint.sh", "--verbose" }, w.Entrypoint);
            Assert.Equal(new Dictionary<string, string>
            {
                ["EMPTY"] = null, ["FROM_FILE"] = "file value", ["FROM_SHELL"] = "shell", ["MODE"] = "production", ["RATIO"] = "1.1", ["REPLICA_HINT"] = "3",
            }, w.Environment);
            Assert.Equal(new[] { Path.Combine(KitchenDir, "web.env") }, w.EnvFiles);
            Assert.Equal(new Dictionary<string, string> { ["com.example.flag"] = "", ["com.example.team"] = "shop" }, w.Labels);
            Assert.Equal("json-file", w.Logging.Driver);
            Assert.Equal(new Dictionary<string, string> { ["max-file"] = "3", ["max-size"] = "10m" }, w.Logging.Options);
            Assert.Equal("{{.Service.Name}}-{{.Task.Slot}}", w.Hostname);
            Assert.Equal("101:101", w.User);
            Assert.Equal("/srv", w.WorkingDir);
            Assert.Equal("1m30s", w.StopGracePeriod.Text);
            Assert.Equal(90_000_000_000L, w.StopGracePeriod.Nanoseconds);
            Assert.Equal("SIGQUIT", w.StopSignal);
            Assert.True(w.Tty); Assert.True(w.StdinOpen); Assert.True(w.ReadOnly); Assert.True(w.Init);
            Assert.Equal(new[] { "1.1.1.1", "8.8.8.8" }, w.Dns);
            Assert.Equal(new[] { "example.com" }, w.DnsSearch);
            Assert.Equal(new[] { "db.local:10.0.0.5", "v6.local:::1" }, w.ExtraHosts);
            Assert.Equal(new[] { "NET_ADMIN" }, w.CapAdd);
            Assert.Equal(new[] { "ALL" }, w.CapDrop);
            Assert.Equal(new Dictionary<string, string> { ["net.core.somaxconn"] = "1024", ["net.ipv4.tcp_syncookies"] = "0" }, w.Sysctls);
            Assert.Equal(65535, w.Ulimits["nproc"].Single);
            Assert.Equal((0L, 20000L, 40000L), (w.Ulimits["nofile"].Single, w.Ulimits["nofile"].Soft, w.Ulimits["nofile"].Hard));
            Assert.Equal("default", w.Isolation);
            Assert.Equal(-500, w.OomScoreAdj);
            Assert.Empty(w.IgnoredKeys);
        }

        [Fact]
        public void Kitchen_sink_web_deploy()
        {
            var d = Kitchen().Services["web"].Deploy;
            Assert.Equal("replicated", d.Mode);
            Assert.Equal(3UL, d.Replicas);
            Assert.Equal(new Dictionary<string, string> { ["traefik.enable"] = "true", ["traefik.port"] = "80" }, d.Labels);
            Assert.Equal(new[] { "node.role == worker", "node.labels.zone != dmz" }, d.Placement.Constraints);
            Assert.Equal(new[] { "node.labels.zone" }, d.Placement.Preferences);
            Assert.Equal(2UL, d.Placement.MaxReplicasPerNode);
            Assert.Equal(("0.5", 500_000_000L), (d.Resources.Limits.Cpus.Text, d.Resources.Limits.Cpus.NanoCpus));
            Assert.Equal(("512M", 536_870_912L), (d.Resources.Limits.Memory.Text, d.Resources.Limits.Memory.Bytes));
            Assert.Equal(200, d.Resources.Limits.Pids);
            Assert.Equal(250_000_000L, d.Resources.Reservations.Cpus.NanoCpus);
            Assert.Equal(134_217_728L, d.Resources.Reservations.Memory.Bytes);
            var gpu = Assert.Single(d.Resources.Reservations.GenericResources);
            Assert.Equal(("GPU", 2L), (gpu.Kind, gpu.Value));
            Assert.Equal("on-failure", d.RestartPolicy.Condition);
            Assert.Equal(5_000_000_000L, d.RestartPolicy.Delay.Nanoseconds);
            Assert.Equal(3UL, d.RestartPolicy.MaxAttempts);
            Assert.Equal(120_000_000_000L, d.RestartPolicy.Window.Nanoseconds);
            var u = d.UpdateConfig;
            Assert.Equal((2UL, 10_000_000_000L, "rollback", 90_000_000_000L, 0.25, "start-first"), (u.Parallelism.Value, u.Delay.Nanoseconds, u.FailureAction, u.Monitor.Nanoseconds, u.MaxFailureRatio.Value, u.Order));
            var r = d.RollbackConfig;
            Assert.Equal((0UL, 0L, "pause", 30_000_000_000L, 0.0, "stop-first"), (r.Parallelism.Value, r.Delay.Nanoseconds, r.FailureAction, r.Monitor.Nanoseconds, r.MaxFailureRatio.Value, r.Order));
            Assert.Equal("vip", d.EndpointMode);
        }

        [Fact]
        public void Kitchen_sink_web_healthcheck_and_networks()
        {
            var w = Kitchen().Services["web"];
            var h = w.HealthCheck;
            Assert.Equal(new[] { "CMD", "curl", "-f", "http://localhost/health" }, h.Test);
            Assert.Equal(30_000_000_000L, h.Interval.Nanoseconds);
            Assert.Equal(5_000_000_000L, h.Timeout.Nanoseconds);
            Assert.Equal(3UL, h.Retries);
            Assert.Equal(40_000_000_000L, h.StartPeriod.Nanoseconds);
            Assert.Equal(2_000_000_000L, h.StartInterval.Nanoseconds);
            Assert.False(h.Disable);
            Assert.Equal(new[] { "back", "front" }, w.Networks.Keys);
            Assert.Null(w.Networks["back"]);
            Assert.Equal(new[] { "shop", "www" }, w.Networks["front"].Aliases);
            Assert.Equal("10.10.0.10", w.Networks["front"].Ipv4Address);
            Assert.Equal("1400", w.Networks["front"].DriverOpts["com.example.mtu"]);
        }

        [Fact]
        public void Kitchen_sink_web_ports()
        {
            var ports = Kitchen().Services["web"].Ports.Select(p => (p.Published, p.Target, p.Protocol, p.Mode)).ToArray();
            Assert.Equal(new[]
            {
                (80u, 8080u, "tcp", "ingress"),
                (8443u, 443u, "udp", "ingress"),
                (8444u, 444u, "udp", "ingress"),
                (9000u, 9000u, "tcp", "host"),
                (0u, 9100u, "tcp", "ingress"),
            }, ports);
        }

        [Fact]
        public void Kitchen_sink_web_volumes()
        {
            var v = Kitchen().Services["web"].Volumes;
            Assert.Equal(6, v.Count);
            Assert.Equal(("volume", "static", "/usr/share/nginx/html", true), (v[0].Type, v[0].Source, v[0].Target, v[0].ReadOnly));
            Assert.Equal(("bind", Path.Combine(KitchenDir, "conf"), "/etc/nginx/conf.d", true, "rshared"), (v[1].Type, v[1].Source, v[1].Target, v[1].ReadOnly, v[1].BindPropagation));
            Assert.Equal(("bind", Path.Combine(KitchenDir, "certs"), "/certs", true, "cached", "rprivate"), (v[2].Type, v[2].Source, v[2].Target, v[2].ReadOnly, v[2].Consistency, v[2].BindPropagation));
            Assert.Equal(("volume", "cache", "/var/cache/nginx", true), (v[3].Type, v[3].Source, v[3].Target, v[3].NoCopy));
            Assert.Equal(("tmpfs", null, "/tmp", 10485760L), (v[4].Type, v[4].Source, v[4].Target, v[4].TmpfsSize));
            Assert.Equal(("volume", null, "/anonymous"), (v[5].Type, v[5].Source, v[5].Target));
        }

        [Fact]
        public void Kitchen_sink_web_secrets_and_configs()
        {
            var w = Kitchen().Services["web"];
            Assert.Equal(2, w.Secrets.Count);
            Assert.Equal(("db_password", null, null, null, (uint?)null), (w.Secrets[0].Source, w.Secrets[0].Target, w.Secrets[0].Uid, w.Secrets[0].Gid, w.Secrets[0].Mode));
            Assert.Equal(("api_key", "api.key", "101", "101", (uint?)288), (w.Secrets[1].Source, w.Secrets[1].Target, w.Secrets[1].Uid, w.Secrets[1].Gid, w.Secrets[1].Mode));
            Assert.Equal("nginx_conf", w.Configs[0].Source);
            Assert.Equal(("site_conf", "/etc/nginx/site.conf", (uint?)292), (w.Configs[1].Source, w.Configs[1].Target, w.Configs[1].Mode));
        }

        [Fact]
        public void Kitchen_sink_other_services()
        {
            var p = Kitchen();
            var worker = p.Services["worker"];
            Assert.Equal("shop/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", worker.Image);
            Assert.Equal(new[] { "python", "-m", "worker" }, worker.Command);
            Assert.Null(worker.Entrypoint);
            Assert.Equal(new Dictionary<string, string> { ["BARE"] = null, ["QUEUE"] = "jobs" }, worker.Environment);
            Assert.Equal("global", worker.Deploy.Mode);
            Assert.Null(worker.Deploy.Replicas);
            Assert.Equal("any", worker.Deploy.RestartPolicy.Condition);
            Assert.Equal("cred_spec", worker.CredentialSpec.Config);
            Assert.Equal("syslog", worker.Logging.Driver);
            Assert.Equal(new[] { "back" }, worker.Networks.Keys);
            Assert.True(worker.HealthCheck.Disable);
            Assert.Null(worker.HealthCheck.Test);
            Assert.Equal(0L, worker.StopGracePeriod.Nanoseconds);
            Assert.False(worker.ReadOnly);
            Assert.Null(worker.Init);

            var job = p.Services["job"];
            Assert.Equal(("replicated-job", 4UL), (job.Deploy.Mode, job.Deploy.Replicas.Value));
            Assert.Equal(new[] { "CMD-SHELL", "wget -q -O- http://localhost/ || exit 1" }, job.HealthCheck.Test);

            var legacy = p.Services["legacy"];
            Assert.Equal(new[] { "build", "container_name", "expose", "links", "privileged", "restart" }, legacy.IgnoredKeys);
            Assert.Equal("on-failure:5", legacy.Restart);
            Assert.Equal(new[] { "web" }, legacy.DependsOn);
            Assert.Equal(new[] { "/run" }, legacy.Tmpfs);
            Assert.Equal(new[] { "default" }, legacy.Networks.Keys);
        }

        [Fact]
        public void Kitchen_sink_networks_volumes_secrets_configs()
        {
            var p = Kitchen();
            var front = p.Networks["front"];
            Assert.Equal(("overlay", true, false, false, "default"), (front.Driver, front.Attachable, front.Internal, front.External, front.IpamDriver));
            Assert.Equal("", front.DriverOpts["encrypted"]);
            Assert.Equal("10.10.0.0/24", Assert.Single(front.IpamConfig).Subnet);
            Assert.Equal("front", front.Labels["com.example.net"]);
            Assert.Null(front.Name);
            Assert.Equal(("shop-backend", true), (p.Networks["back"].Name, p.Networks["back"].Internal));
            Assert.Equal(("proxy-net", true), (p.Networks["outside"].Name, p.Networks["outside"].External));
            Assert.Equal(("old-net", true), (p.Networks["legacy_ext"].Name, p.Networks["legacy_ext"].External));

            Assert.Null(p.Volumes["static"].Driver);
            var cache = p.Volumes["cache"];
            Assert.Equal(("local", "shop-cache", "tmpfs", "cache"), (cache.Driver, cache.Name, cache.DriverOpts["type"], cache.Labels["com.example.vol"]));
            Assert.Equal(("shared", true), (p.Volumes["shared"].Name, p.Volumes["shared"].External));
            var spec = Assert.IsType<System.Collections.Specialized.OrderedDictionary>(p.Volumes["csi"].ClusterSpec);
            Assert.Equal("fast", spec["group"]);

            var db = p.Secrets["db_password"];
            Assert.Equal((Path.Combine(KitchenDir, "secrets", "db_password.txt"), false, "db"), (db.File, db.External, db.Labels["com.example.secret"]));
            Assert.Equal(("api_key", true), (p.Secrets["api_key"].Name, p.Secrets["api_key"].External));
            var vault = p.Secrets["vault_token"];
            Assert.Equal(("vault", "secret/token", "golang", "vault_token_7", null), (vault.Driver, vault.DriverOpts["path"], vault.TemplateDriver, vault.Name, vault.File));

            Assert.Equal((Path.Combine(KitchenDir, "conf", "nginx.conf"), "golang"), (p.Configs["nginx_conf"].File, p.Configs["nginx_conf"].TemplateDriver));
            Assert.Equal(("site_conf_v2", "site"), (p.Configs["site_conf"].Name, p.Configs["site_conf"].Labels["com.example.config"]));
            Assert.Equal(("cred_spec", true), (p.Configs["cred_spec"].Name, p.Configs["cred_spec"].External));
        }

        [Fact]
        public void Kitchen_sink_warnings()
        {
            var warnings = new List<ComposeWarning>();
            Kitchen(warnings);
            string Of(string key) => Assert.Single(warnings, w => w.KeyPath == key).Message;
            foreach (string key in new[] { "build", "links", "privileged", "restart" })
                Assert.StartsWith("ignored by docker stack deploy: " + key + " is not supported in swarm mode", Of("services.legacy." + key));
            Assert.Contains("used as the restart policy only when deploy.restart_policy is absent", Of("services.legacy.restart"));
            Assert.Equal("ignored by docker stack deploy: container_name is deprecated: Setting the container name is not supported.", Of("services.legacy.container_name"));
            Assert.StartsWith("ignored by docker stack deploy: expose is deprecated", Of("services.legacy.expose"));
            Assert.StartsWith("ignored by docker stack deploy: depends_on", Of("services.legacy.depends_on"));
            Assert.StartsWith("ignored by docker stack deploy: service-level tmpfs", Of("services.legacy.tmpfs"));
            Assert.StartsWith("ignored by docker stack deploy: ipv4_address", Of("services.web.networks.front.ipv4_address"));
            Assert.Equal("network legacy_ext: network.external.name is deprecated in favor of network.name", Of("networks.legacy_ext.external.name"));
            Assert.Contains("docker stack deploy itself ignores .env files", Assert.Single(warnings, w => w.File.EndsWith(".env", StringComparison.Ordinal)).Message);
            var build = warnings.Single(w => w.KeyPath == "services.legacy.build");
            Assert.Equal((Fixture("kitchen/kitchen-sink.yml"), 186, 5), (build.File, build.Line, build.Column));
        }

        [Fact]
        public void Shell_environment_wins_over_dotenv()
        {
            var p = ComposeLoader.Load(new[] { Fixture("kitchen/kitchen-sink.yml") }, null, Env(("WEB_TAG", "from-shell"), ("SECRET_VERSION", "9")), new List<ComposeWarning>());
            Assert.Equal("registry.example.com:5000/shop/web:from-shell", p.Services["web"].Image);
            Assert.Equal("vault_token_9", p.Secrets["vault_token"].Name);
        }

        [Fact]
        public void Explicit_env_file_replaces_the_implicit_one()
        {
            string env = Write("custom.env", "WEB_TAG=custom\nSECRET_VERSION=1\n");
            var warnings = new List<ComposeWarning>();
            var p = ComposeLoader.Load(new[] { Fixture("kitchen/kitchen-sink.yml") }, env, Env(), warnings);
            Assert.Equal("registry.example.com:5000/shop/web:custom", p.Services["web"].Image);
            Assert.Equal(env, p.EnvFile);
            Assert.DoesNotContain(warnings, w => w.Message.Contains(".env files"));
            var missing = Assert.Throws<ComposeFileException>(() => ComposeLoader.Load(new[] { Fixture("kitchen/kitchen-sink.yml") }, Path.Combine(_tmp, "nope.env"), Env(), new List<ComposeWarning>()));
            Assert.Contains("not found", missing.Message);
        }

        // ------------------------------------------------------------------ equivalences

        private ComposeService Svc(string body, Func<string, (bool, string)> env = null, string extraTop = "")
            => LoadText("version: \"3.8\"\nservices:\n  s:\n    image: nginx\n" + body + extraTop, env: env).Services["s"];

        [Theory]
        [InlineData("\"8080:80\"", "{target: 80, published: 8080, protocol: tcp, mode: ingress}")]
        [InlineData("\"8080:80/udp\"", "{target: 80, published: 8080, protocol: udp, mode: ingress}")]
        [InlineData("\"0.0.0.0:8080:80\"", "{target: 80, published: 8080, protocol: tcp, mode: ingress}")]
        [InlineData("\"80\"", "{target: 80, protocol: tcp, mode: ingress}")]
        [InlineData("80", "{target: 80, protocol: tcp, mode: ingress}")]
        public void Ports_short_and_long_are_equivalent(string shortForm, string longForm)
        {
            var a = Svc($"    ports:\n      - {shortForm}\n").Ports.Single();
            var b = Svc($"    ports:\n      - {longForm}\n").Ports.Single();
            Assert.Equal((a.Published, a.Target, a.Protocol, a.Mode), (b.Published, b.Target, b.Protocol, b.Mode));
        }

        [Fact]
        public void Port_ranges_expand()
        {
            var host = Svc("    ports:\n      - \"9000-9002:80\"\n").Ports;
            Assert.Equal(new uint[] { 9000, 9001, 9002 }, host.Select(p => p.Published));
            Assert.All(host, p => Assert.Equal(80u, p.Target));
            var both = Svc("    ports:\n      - \"7000-7001:8000-8001/sctp\"\n").Ports;
            Assert.Equal(new[] { (7000u, 8000u, "sctp"), (7001u, 8001u, "sctp") }, both.Select(p => (p.Published, p.Target, p.Protocol)));
            var warnings = new List<ComposeWarning>();
            LoadText("services:\n  s:\n    image: nginx\n    ports:\n      - \"127.0.0.1:80:80\"\n", warnings);
            Assert.Contains(warnings, w => w.KeyPath == "services.s.ports[0]" && w.Message.Contains("0.0.0.0"));
        }

        [Theory]
        [InlineData("data:/data:ro", "{type: volume, source: data, target: /data, read_only: true}")]
        [InlineData("data:/data:nocopy", "{type: volume, source: data, target: /data, volume: {nocopy: true}}")]
        [InlineData("/srv/x:/x:rw,rslave", "{type: bind, source: /srv/x, target: /x, bind: {propagation: rslave}}")]
        [InlineData("/anon", "{type: volume, target: /anon}")]
        public void Volumes_short_and_long_are_equivalent(string shortForm, string longForm)
        {
            const string top = "volumes:\n  data:\n";
            var a = Svc($"    volumes:\n      - {shortForm}\n", extraTop: top).Volumes.Single();
            var b = Svc($"    volumes:\n      - {longForm}\n", extraTop: top).Volumes.Single();
            Assert.Equal((a.Type, a.Source, a.Target, a.ReadOnly, a.NoCopy, a.BindPropagation), (b.Type, b.Source, b.Target, b.ReadOnly, b.NoCopy, b.BindPropagation));
        }

        [Fact]
        public void Relative_and_home_bind_sources_are_absolutised()
        {
            var v = Svc("    volumes:\n      - ./data:/data\n      - ~/cfg:/cfg\n      - type: bind\n        source: sub/dir\n        target: /sub\n", Env(("HOME", "/home/tester"))).Volumes;
            Assert.Equal(Path.Combine(_tmp, "data"), v[0].Source);
            Assert.Equal("/home/tester/cfg", v[1].Source);
            Assert.Equal(Path.Combine(_tmp, "sub", "dir"), v[2].Source);
        }

        [Fact]
        public void Secrets_short_and_long_are_equivalent()
        {
            const string top = "secrets:\n  k:\n    external: true\n";
            var a = Svc("    secrets:\n      - k\n", extraTop: top).Secrets.Single();
            var b = Svc("    secrets:\n      - source: k\n", extraTop: top).Secrets.Single();
            Assert.Equal((a.Source, a.Target, a.Uid, a.Gid, a.Mode), (b.Source, b.Target, b.Uid, b.Gid, b.Mode));
            var octal = Svc("    secrets:\n      - source: k\n        mode: 0o440\n", extraTop: top).Secrets.Single();
            Assert.Equal(288u, octal.Mode);
        }

        [Fact]
        public void Environment_list_and_map_are_equivalent()
        {
            var env = Env(("FROM_SHELL", "x"), ("SHELL_EMPTY", ""));
            var a = Svc("    environment:\n      A: \"1\"\n      B: ''\n      C:\n      FROM_SHELL:\n      N: 1.50\n", env).Environment;
            var b = Svc("    environment:\n      - A=1\n      - B=\n      - C\n      - FROM_SHELL\n      - N=1.5\n", env).Environment;
            Assert.Equal(a, b);
            Assert.Equal(new Dictionary<string, string> { ["A"] = "1", ["B"] = "", ["C"] = null, ["FROM_SHELL"] = "x", ["N"] = "1.5" }, a);
        }

        [Fact]
        public void Labels_list_and_map_are_equivalent()
        {
            var a = Svc("    labels:\n      a: \"1\"\n      b:\n      c: x=y\n").Labels;
            var b = Svc("    labels:\n      - a=1\n      - b\n      - c=x=y\n").Labels;
            Assert.Equal(a, b);
            Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "", ["c"] = "x=y" }, a);
        }

        [Fact]
        public void Extra_hosts_map_form_is_sorted()
        {
            Assert.Equal(new[] { "a.local:10.0.0.1", "b.local:::1" }, Svc("    extra_hosts:\n      b.local: \"[::1]\"\n      a.local: 10.0.0.1\n").ExtraHosts);
        }

        [Fact]
        public void Yaml_anchors_and_merge_keys_work()
        {
            var p = LoadText("x-base: &base\n  image: nginx\n  environment: &env\n    A: \"1\"\nservices:\n  a:\n    <<: *base\n  b:\n    image: busybox\n    environment: *env\n");
            Assert.Equal("nginx", p.Services["a"].Image);
            Assert.Equal("1", p.Services["b"].Environment["A"]);
        }

        [Fact]
        public void Interpolated_values_are_cast_where_the_cli_casts()
        {
            var s = Svc("    read_only: ${RO}\n    deploy:\n      replicas: ${N}\n    ports:\n      - target: ${PORT}\n        published: 8080\n", Env(("RO", "yes"), ("N", "4"), ("PORT", "80")));
            Assert.True(s.ReadOnly);
            Assert.Equal(4UL, s.Deploy.Replicas);
            Assert.Equal(80u, s.Ports[0].Target);
            var escaped = Svc("    command: echo $$HOME ${X:-d} $X-suffix\n", Env(("X", "x")));
            Assert.Equal(new[] { "echo", "$HOME", "x", "x" }, escaped.Command);
        }

        [Fact]
        public void Version_three_and_missing_mean_3_13()
        {
            Assert.Equal("3.13", LoadText("services:\n  s:\n    image: nginx\n").Version);
            Assert.Equal("3.13", LoadText("version: '3'\nservices:\n  s:\n    image: nginx\n").Version);
            Assert.Equal("3.2", LoadText("version: '3.2'\nservices:\n  s:\n    image: nginx\n").Version);
        }

        [Fact]
        public void Extension_fields_are_ignored_where_allowed()
        {
            var p = LoadText("version: '3.7'\nx-top: 1\nservices:\n  s:\n    image: nginx\n    x-svc: {a: 1}\nnetworks:\n  n:\n    x-n: 1\n");
            Assert.Equal("nginx", p.Services["s"].Image);
            var e = Fails("version: '3.4'\nservices:\n  s:\n    image: nginx\n    x-svc: 1\n");
            Assert.Equal(("services.s.x-svc", 5, 5), (e.KeyPath, e.Line, e.Column));
            Assert.Contains("3.7", e.Reason);
        }

        [Fact]
        public void Numeric_cpus_and_memory_are_accepted_with_a_warning()
        {
            var warnings = new List<ComposeWarning>();
            var p = LoadText("services:\n  s:\n    image: nginx\n    deploy:\n      resources:\n        limits:\n          cpus: 0.5\n          memory: 1073741824\n", warnings);
            Assert.Equal(500_000_000L, p.Services["s"].Deploy.Resources.Limits.Cpus.NanoCpus);
            Assert.Equal(1073741824L, p.Services["s"].Deploy.Resources.Limits.Memory.Bytes);
            Assert.Equal(2, warnings.Count(w => w.Message.Contains("docker stack deploy rejects a number here")));
        }

        // ------------------------------------------------------------------ merge

        private static ComposeProject Merged(List<ComposeWarning> warnings, params string[] files)
            => ComposeLoader.Load(files.Select(f => Fixture("merge/" + f)).ToList(), null, Env(), warnings);

        [Fact]
        public void Merge_two_files_scalars_maps_and_lists()
        {
            var warnings = new List<ComposeWarning>();
            var p = Merged(warnings, "base.yml", "override.yml");
            Assert.Equal(new[] { "app", "db", "worker" }, p.Services.Keys);
            var app = p.Services["app"];
            Assert.Equal("shop/app:2.0", app.Image);
            Assert.Equal(new[] { "serve", "--port", "8080" }, app.Command);                  // empty override does not replace
            Assert.Equal(new Dictionary<string, string>
            {
                ["EMPTY_OVERRIDE"] = "base", ["FILLED_LATER"] = "now", ["KEEP"] = "base", ["LEVEL"] = "debug", ["NEW"] = "yes",
            }, app.Environment);                                                                  // '' does not override (docker/cli#4417)
            Assert.Equal(new Dictionary<string, string> { ["owner"] = "", ["tier"] = "override" }, app.Labels); // labels: "" does override
            Assert.True(app.ReadOnly);                                                            // false cannot reset true
            Assert.Equal(new[] { "NET_ADMIN", "SYS_TIME" }, app.CapAdd);                          // appended
            Assert.Equal(new[] { "1.1.1.1", "8.8.8.8" }, app.Dns);
            Assert.Equal(0UL, app.Deploy.Replicas);                                               // *uint64: 0 overrides
            Assert.Equal(new Dictionary<string, string> { ["stage"] = "override" }, app.Deploy.Labels);
            Assert.Equal(new[] { "node.role == worker", "node.labels.ssd == true" }, app.Deploy.Placement.Constraints);
            Assert.Equal("1", app.Deploy.Resources.Limits.Cpus.Text);                            // field-wise
            Assert.Equal(2L * 1024 * 1024 * 1024, app.Deploy.Resources.Limits.Memory.Bytes);
            Assert.Equal(2UL, app.Deploy.UpdateConfig.Parallelism);
            Assert.Equal(10_000_000_000L, app.Deploy.UpdateConfig.Delay.Nanoseconds);            // 0s cannot override
            Assert.Equal("start-first", app.Deploy.UpdateConfig.Order);
            Assert.Equal(("on-failure", 0UL), (app.Deploy.RestartPolicy.Condition, app.Deploy.RestartPolicy.MaxAttempts.Value));
            Assert.Equal(new[] { "CMD", "true", "CMD", "false" }, app.HealthCheck.Test);           // the CLI appends (mergo)
            Assert.Contains(warnings, w => w.KeyPath == "services.app.healthcheck" && w.Message.Contains("APPENDED"));
            Assert.Equal(10_000_000_000L, app.HealthCheck.Interval.Nanoseconds);
            Assert.Equal("json-file", app.Logging.Driver);
            Assert.Equal(new Dictionary<string, string> { ["max-file"] = "3", ["max-size"] = "10m" }, app.Logging.Options);
            Assert.Equal((0L, 100L, 200L), (app.Ulimits["nofile"].Single, app.Ulimits["nofile"].Soft, app.Ulimits["nofile"].Hard));
            Assert.Equal(new[] { "app-override" }, app.Networks["front"].Aliases);
            Assert.Equal("10.0.0.2", app.Networks["front"].Ipv4Address);
        }

        [Fact]
        public void Merge_keyed_lists_ports_volumes_secrets()
        {
            var warnings = new List<ComposeWarning>();
            var app = Merged(warnings, "base.yml", "override.yml").Services["app"];
            // ports keyed by published port: 53/tcp + 53/udp collapse (docker/cli#2407), 8080 replaced by the long entry
            Assert.Equal(new[] { (53u, 53u, "udp", "ingress"), (8080u, 81u, (string)null, (string)null) }, app.Ports.Select(x => (x.Published, x.Target, x.Protocol, x.Mode)));
            Assert.Contains(warnings, w => w.KeyPath == "services.app.ports" && w.Message.Contains("53:53/tcp is dropped"));
            // volumes keyed by target, sorted
            Assert.Equal(new[] { ("data2", "/data"), (Path.Combine(Path.GetDirectoryName(Fixture("merge/base.yml")), "logs"), "/logs") }, app.Volumes.Select(v => (v.Source, v.Target)));
            // secrets keyed by source: the long entry replaces the short one
            var token = Assert.Single(app.Secrets);
            Assert.Equal(("token", "app.token"), (token.Source, token.Target));
        }

        [Fact]
        public void Merge_top_level_entries_are_replaced_whole()
        {
            var p = Merged(new List<ComposeWarning>(), "base.yml", "override.yml");
            var front = p.Networks["front"];
            Assert.Equal(("shop-front", null, 0), (front.Name, front.Driver, front.Labels.Count)); // driver and labels are gone (docker/cli#7264)
            Assert.Equal(new[] { "data", "data2" }, p.Volumes.Keys);
        }

        [Fact]
        public void Merge_three_files_in_order()
        {
            var p = Merged(new List<ComposeWarning>(), "base.yml", "override.yml", "third.yml");
            var app = p.Services["app"];
            Assert.Equal("shop/app:3.0", app.Image);
            Assert.Equal(5UL, app.Deploy.Replicas);
            Assert.Equal("replicated", app.Deploy.Mode);
            Assert.Equal("syslog", app.Logging.Driver);                                            // other driver: replaced whole
            Assert.Empty(app.Logging.Options);
            Assert.Equal("shop", p.Services["db"].Environment["POSTGRES_DB"]);
            Assert.Equal("postgres:16", p.Services["db"].Image);
            Assert.True(p.Secrets["token"].External);
            Assert.Null(p.Secrets["token"].File);
            Assert.Equal(3, p.Files.Count);
        }

        [Fact]
        public void Merge_relative_paths_resolve_against_the_first_file()
        {
            string a = Write("a/docker-compose.yml", "services:\n  s:\n    image: nginx\n");
            string b = Write("b/override.yml", "services:\n  s:\n    volumes:\n      - ./data:/data\n");
            var p = ComposeLoader.Load(new[] { a, b }, null, Env(), new List<ComposeWarning>());
            Assert.Equal(Path.Combine(_tmp, "a", "data"), p.Services["s"].Volumes[0].Source);
        }

        [Fact]
        public void Merge_version_mismatch_is_an_error()
        {
            string a = Write("a.yml", "version: '3.8'\nservices:\n  s:\n    image: nginx\n");
            string b = Write("b.yml", "services:\n  s:\n    image: nginx\n");
            var e = Assert.Throws<ComposeFileException>(() => ComposeLoader.Load(new[] { a, b }, null, Env(), new List<ComposeWarning>()));
            Assert.Equal("version mismatched between two composefiles : 3.8 and 3.13", e.Reason);
            Assert.Equal(b, e.File);
        }

        [Fact]
        public void Merge_image_may_come_from_a_later_file()
        {
            string a = Write("a.yml", "services:\n  s:\n    command: run\n");
            string b = Write("b.yml", "services:\n  s:\n    image: nginx\n");
            Assert.Equal("nginx", ComposeLoader.Load(new[] { a, b }, null, Env(), new List<ComposeWarning>()).Services["s"].Image);
        }

        // ------------------------------------------------------------------ errors with positions

        private static ComposeFileException FixtureFails(string name)
            => Assert.Throws<ComposeFileException>(() => ComposeLoader.Load(new[] { Fixture("errors/" + name) }, null, Env(), new List<ComposeWarning>()));

        [Fact]
        public void Syntax_error_has_file_line_and_column()
        {
            var e = FixtureFails("syntax.yml");
            Assert.Equal(Fixture("errors/syntax.yml"), e.File);
            Assert.True(e.Line >= 5, e.Message);
            Assert.True(e.Column >= 1);
            Assert.StartsWith("YAML syntax error", e.Reason);
            Assert.StartsWith($"{e.File}:{e.Line}:{e.Column}: ", e.Message);
        }

        [Fact]
        public void Wrong_types_are_all_reported_with_positions()
        {
            var e = FixtureFails("types.yml");
            var all = e.Errors.Select(x => (x.KeyPath, x.Line, x.Column)).ToList();
            Assert.Equal(new[]
            {
                ("services.web.deploy.replicas", 6, 17),
                ("services.web.deploy.restart_policy.delay", 8, 16),
                ("services.web.read_only", 9, 16),
                ("services.web.environment.DEBUG", 11, 14),
            }, all);
            Assert.Same(e, e.Errors[0]);
            Assert.Equal("must be an integer, found 'many'", e.Reason);
            Assert.Contains("write true", e.Errors[2].Reason);
            Assert.Contains("quote it", e.Errors[3].Reason);
            Assert.Equal($"{Fixture("errors/types.yml")}:6:17: services.web.deploy.replicas: must be an integer, found 'many'", e.Message);
        }

        [Fact]
        public void Unknown_keys_come_with_suggestions()
        {
            var e = FixtureFails("unknown.yml");
            Assert.Equal(2, e.Errors.Count);
            Assert.Equal(("services.web.enviroment", 5, 5), (e.KeyPath, e.Line, e.Column));
            Assert.Contains("Did you mean 'environment'?", e.Reason);
            Assert.Equal("Rename 'enviroment' to 'environment'.", e.Suggestion);
            Assert.Equal(("services.web.deploy.replica", 8, 7), (e.Errors[1].KeyPath, e.Errors[1].Line, e.Errors[1].Column));
            Assert.Contains("Did you mean 'replicas'?", e.Errors[1].Reason);
        }

        [Fact]
        public void Service_without_image_is_an_error()
        {
            var e = FixtureFails("noimage.yml");
            Assert.Equal(("services.web.image", 2, 3), (e.KeyPath, e.Line, e.Column));
            Assert.Equal("invalid image reference for service web: no image specified", e.Reason);
            Assert.Contains("must be lowercase", Fails("services:\n  s:\n    image: Nginx:latest\n").Reason);
        }

        [Fact]
        public void Interpolation_errors_carry_the_key_path()
        {
            var e = FixtureFails("interpolation.yml");
            Assert.Equal(2, e.Errors.Count);
            Assert.Equal(("services.web.deploy.labels.owner", 6, 16), (e.KeyPath, e.Line, e.Column));
            Assert.Contains("required variable OWNER is missing a value: owner is required", e.Reason);
            Assert.Equal(("services.web.environment.BAD", 8, 12), (e.Errors[1].KeyPath, e.Errors[1].Line, e.Errors[1].Column));
            Assert.Contains("invalid interpolation format for services.web.environment.BAD", e.Errors[1].Reason);
        }

        [Theory]
        [InlineData("version: 3.8\nservices: {}\n", "version", 1, 10, "version must be a string")]
        [InlineData("version: '2.4'\nservices: {}\n", "version", 1, 10, "unsupported Compose file version: 2.4")]
        [InlineData("version: '3.14'\nservices: {}\n", "version", 1, 10, "unsupported Compose file version: 3.14")]
        [InlineData("name: shop\nservices: {}\n", "name", 1, 1, "unknown key 'name'")]
        [InlineData("- a\n- b\n", "", 1, 1, "top-level object must be a mapping")]
        [InlineData("services:\n  s:\n    image: nginx\n    extends: base\n", "services.s.extends", 4, 5, "compose file contains unsupported options: extends")]
        [InlineData("services:\n  s:\n    image: nginx\n    mem_limit: 1g\n", "services.s.mem_limit", 4, 5, "Set resource limits using deploy.resources")]
        [InlineData("version: '3.6'\nservices:\n  s:\n    image: nginx\n    init: true\n", "services.s.init", 5, 5, "needs compose file version 3.7 or later")]
        [InlineData("services:\n  s:\n    image: nginx\n    deploy:\n      mode: daemon\n", "services.s.deploy.mode", 5, 13, "unknown mode: daemon")]
        [InlineData("services:\n  s:\n    image: nginx\n    deploy:\n      mode: global\n      replicas: 2\n", "services.s.deploy.replicas", 6, 17, "replicas can only be used with replicated or replicated-job mode")]
        [InlineData("services:\n  s:\n    image: nginx\n    stop_grace_period: 10\n", "services.s.stop_grace_period", 4, 24, "must be a duration string")]
        [InlineData("services:\n  s:\n    image: nginx\n    stop_grace_period: 2d\n", "services.s.stop_grace_period", 4, 24, "is not a duration")]
        [InlineData("services:\n  s:\n    image: nginx\n    deploy:\n      resources:\n        limits:\n          memory: 1gi\n", "services.s.deploy.resources.limits.memory", 7, 19, "is not a size")]
        [InlineData("services:\n  s:\n    image: nginx\n    deploy:\n      resources:\n        limits:\n          cpus: 'lots'\n", "services.s.deploy.resources.limits.cpus", 7, 17, "is not a CPU count")]
        [InlineData("services:\n  s:\n    image: nginx\n    ports:\n      - \"80:80:80:80/tcpx\"\n", "services.s.ports[0]", 5, 9, "invalid")]
        [InlineData("services:\n  s:\n    image: nginx\n    ports:\n      - published: \"8000-8001\"\n        target: 80\n", "services.s.ports[0].published", 5, 20, "port ranges are only allowed in the short syntax")]
        [InlineData("services:\n  s:\n    image: nginx\n    volumes:\n      - /a:/b:ro:x\n", "services.s.volumes[0]", 5, 9, "too many colons")]
        [InlineData("services:\n  s:\n    image: nginx\n    volumes:\n      - ./x:/x:nocopy\n", "services.s.volumes[0]", 5, 9, "volume options are incompatible with type bind")]
        [InlineData("services:\n  s:\n    image: nginx\n    volumes:\n      - type: tmpfs\n        source: x\n        target: /t\n", "services.s.volumes[0]", 5, 9, "invalid tmpfs source, source must be empty")]
        [InlineData("services:\n  s:\n    image: nginx\n    volumes:\n      - data:/data\n", "services.s.volumes", 5, 9, "undefined volume \"data\"")]
        [InlineData("services:\n  s:\n    image: nginx\n    networks: [frontend]\nnetworks:\n  front:\n", "services.s.networks", 4, 15, "undefined network \"frontend\"")]
        [InlineData("services:\n  s:\n    image: nginx\n    secrets: [db]\n", "services.s.secrets", 4, 15, "undefined secret \"db\"")]
        [InlineData("services:\n  s:\n    image: nginx\n    configs: [c]\nconfigs:\n  c:\n    labels: {a: b}\n", "configs.c", 6, 3, "config c needs file: or external: true")]
        [InlineData("services:\n  s:\n    image: nginx\n    healthcheck:\n      test: [CMD, 'true']\n      disable: true\n", "services.s.healthcheck", 5, 7, "test and disable can't be set at the same time")]
        [InlineData("services:\n  s:\n    image: nginx\n    cap_add: [A, A]\n", "services.s.cap_add[1]", 4, 18, "listed twice")]
        [InlineData("services:\n  s:\n    image: nginx\nvolumes:\n  v:\n    external: true\n    driver: local\n", "volumes.v.driver", 7, 5, "conflicting parameters \"external\" and \"driver\" specified for volume \"v\"")]
        [InlineData("services:\n  s:\n    image: nginx\nnetworks:\n  n:\n    external:\n      name: x\n    name: y\n", "networks.n.external.name", 7, 7, "network.external.name and network.name conflict")]
        [InlineData("services:\n  s:\n    image: nginx\nsecrets:\n  x:\n    file: ./a\n    driver: vault\n", "secrets.x.file", 6, 11, "secret.driver and secret.file conflict")]
        [InlineData("services:\n  s:\n    image: nginx\n    networks:\n      n:\n        ipv4: 10.0.0.1\nnetworks:\n  n:\n", "services.s.networks.n.ipv4", 6, 9, "Did you mean 'ipv4_address'?")]
        [InlineData("services:\n  s:\n    image: nginx\n    env_file: missing.env\n", "services.s.env_file", 4, 15, "no such file or directory")]
        [InlineData("services:\n  s:\n    image: nginx\n    command: \"echo 'unterminated\"\n", "services.s.command", 4, 14, "closing quote")]
        [InlineData("services:\n  s:\n    image: nginx\n    user: 1000\n", "services.s.user", 4, 11, "must be a string")]
        [InlineData("services:\n  s:\n    image: nginx\n    ulimits:\n      nofile:\n        soft: 10\n", "services.s.ulimits.nofile", 6, 9, "needs both soft and hard")]
        [InlineData("services:\n  s:\n    image: nginx\n    deploy:\n      update_config:\n        order: first\n", "services.s.deploy.update_config.order", 6, 16, "start-first, stop-first")]
        public void Errors_have_key_path_line_and_column(string yaml, string keyPath, int line, int column, string text)
        {
            var e = Fails(yaml);
            Assert.Equal((keyPath, line, column), (e.KeyPath, e.Line, e.Column));
            Assert.Contains(text, e.Reason);
            Assert.EndsWith("docker-compose.yml", e.File);
        }

        [Fact]
        public void Missing_compose_file_is_an_error()
        {
            var e = Assert.Throws<ComposeFileException>(() => ComposeLoader.Load(new[] { Path.Combine(_tmp, "nope.yml") }, null, Env(), new List<ComposeWarning>()));
            Assert.Contains("not found", e.Reason);
            Assert.Throws<ArgumentException>(() => ComposeLoader.Load(new string[0], null, Env(), new List<ComposeWarning>()));
        }

        [Fact]
        public void Env_file_values_are_verbatim_and_environment_wins()
        {
            Write("app.env", "A=\"quoted\"\nB=from-file\nC=\nD\n");
            var s = Svc("    env_file: app.env\n    environment:\n      B: from-compose\n", Env(("C", "shell-c"), ("D", "shell-d")));
            Assert.Equal(new Dictionary<string, string> { ["A"] = "\"quoted\"", ["B"] = "from-compose", ["C"] = "shell-c", ["D"] = "shell-d" }, s.Environment);
        }
    }
}
