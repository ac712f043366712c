using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Docker.DotNet.Models;
using SwarmAdmin.Stacks;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>ComposeProject → Engine specs exactly as docker stack deploy builds them (convert/service.go, compose.go, volume.go).</summary>
    public class ComposeConverterTests : IDisposable
    {
        private readonly string _tmp = Path.Combine(Path.GetTempPath(), "swarmadmin-convert-" + Guid.NewGuid().ToString("N"));

        public ComposeConverterTests() { Directory.CreateDirectory(_tmp); }
        public void Dispose() { try { Directory.Delete(_tmp, true); } catch (IOException) { } }

        private static string Fixture(string relative, [System.Runtime.CompilerServices.CallerFilePath] string source = "")
        {
            foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(source) })
                for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                {
                    string candidate = Path.Combine(dir.FullName, "tests", "fixtures", "compose", relative);
                    if (File.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "SwarmAdmin.psd1"))) return candidate;
                }
            throw new FileNotFoundException($"fixture {relative} not found");
        }

        private static Func<string, (bool, string)> Env(params (string Key, string Value)[] vars)
        {
            var d = vars.ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal);
            return name => d.TryGetValue(name, out string v) ? (true, v) : (false, null);
        }

        private static ComposeProject Kitchen()
            => ComposeLoader.Load(new[] { Fixture("kitchen/kitchen-sink.yml") }, null, Env(("FROM_SHELL", "shell"), ("HOME", "/home/u")), new List<ComposeWarning>());

        private static string KitchenDir => Path.GetDirectoryName(Fixture("kitchen/kitchen-sink.yml"));

        private static readonly Dictionary<string, string> SecretIds = new Dictionary<string, string>
        {
            ["st_db_password"] = "sid-db", ["api_key"] = "sid-api", ["vault_token_7"] = "sid-vault",
        };
        private static readonly Dictionary<string, string> ConfigIds = new Dictionary<string, string>
        {
            ["st_nginx_conf"] = "cid-nginx", ["site_conf_v2"] = "cid-site", ["cred_spec"] = "cid-cred",
        };

        private static ServiceSpec KitchenService(string key)
            => ComposeConverter.ConvertService(Kitchen(), "st", key, SecretIds, ConfigIds, Env());

        private ComposeProject Load(string yaml)
        {
            string path = Path.Combine(_tmp, "docker-compose.yml");
            File.WriteAllText(path, yaml);
            return ComposeLoader.Load(new[] { path }, null, Env(), new List<ComposeWarning>());
        }

        private ServiceSpec Svc(string serviceBody, string topLevel = "")
            => ComposeConverter.ConvertService(Load("version: \"3.13\"\nservices:\n  app:\n    image: nginx\n" + serviceBody + topLevel), "st", "app", null, null, Env());

        private static long Ns(TimeSpan? t) => t.Value.Ticks * 100;

        // ------------------------------------------------------------------ kitchen sink: web

        [Fact]
        public void Kitchen_web_names_labels_image()
        {
            var s = KitchenService("web");
            Assert.Equal("st_web", s.Name);
            Assert.Equal(new Dictionary<string, string>
            {
                ["com.docker.stack.image"] = "registry.example.com:5000/shop/web:from-dotenv",
                ["com.docker.stack.namespace"] = "st",
                ["traefik.enable"] = "true",
                ["traefik.port"] = "80",
            }, s.Labels.OrderBy(k => k.Key, StringComparer.Ordinal).ToDictionary(k => k.Key, k => k.Value));
            var c = s.TaskTemplate.ContainerSpec;
            Assert.Equal("registry.example.com:5000/shop/web:from-dotenv", c.Image);
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st", ["com.example.flag"] = "", ["com.example.team"] = "shop" },
                c.Labels.OrderBy(k => k.Key, StringComparer.Ordinal).ToDictionary(k => k.Key, k => k.Value));
        }

        [Fact]
        public void Kitchen_web_container_fields()
        {
            var c = KitchenService("web").TaskTemplate.ContainerSpec;
            Assert.Equal(new[] { "/docker-entrypoint.sh", "--verbose" }, c.Command);
            Assert.Equal(new[] { "nginx", "-g", "daemon off;" }, c.Args);
            Assert.Equal(new[] { "EMPTY", "FROM_FILE=file value", "FROM_SHELL=shell", "MODE=production", "RATIO=1.1", "REPLICA_HINT=3" }, c.Env);
            Assert.Equal("/srv", c.Dir);
            Assert.Equal("101:101", c.User);
            Assert.Equal("{{.Service.Name}}-{{.Task.Slot}}", c.Hostname);
            Assert.Equal(90_000_000_000L, Ns(c.StopGracePeriod));
            Assert.Equal("SIGQUIT", c.StopSignal);
            Assert.True(c.TTY); Assert.True(c.OpenStdin); Assert.True(c.ReadOnly); Assert.True(c.Init);
            Assert.Equal(new[] { "1.1.1.1", "8.8.8.8" }, c.DNSConfig.Nameservers);
            Assert.Equal(new[] { "example.com" }, c.DNSConfig.Search);
            Assert.Equal(new[] { "10.0.0.5 db.local", "::1 v6.local" }, c.Hosts);
            Assert.Equal(new[] { "CAP_NET_ADMIN" }, c.CapabilityAdd);
            Assert.Equal(new[] { "ALL" }, c.CapabilityDrop);
            Assert.Equal(new Dictionary<string, string> { ["net.core.somaxconn"] = "1024", ["net.ipv4.tcp_syncookies"] = "0" }, c.Sysctls);
            Assert.Equal(new[] { ("nofile", 20000L, 40000L), ("nproc", 65535L, 65535L) }, c.Ulimits.Select(u => (u.Name, u.Soft, u.Hard)));
            Assert.Equal("default", c.Isolation);
            Assert.Equal(-500L, c.OomScoreAdj);
            Assert.NotNull(c.Privileges);
            Assert.Null(c.Privileges.CredentialSpec);
        }

        [Fact]
        public void Kitchen_web_healthcheck_in_nanoseconds()
        {
            var h = KitchenService("web").TaskTemplate.ContainerSpec.Healthcheck;
            Assert.Equal(new[] { "CMD", "curl", "-f", "http://localhost/health" }, h.Test);
            Assert.Equal(30_000_000_000L, Ns(h.Interval));
            Assert.Equal(5_000_000_000L, Ns(h.Timeout));
            Assert.Equal(40_000_000_000L, Ns(h.StartPeriod));
            Assert.Equal(2_000_000_000L, Ns(h.StartInterval));
            Assert.Equal(3L, h.Retries);
        }

        [Fact]
        public void Kitchen_web_mounts()
        {
            var m = KitchenService("web").TaskTemplate.ContainerSpec.Mounts;
            Assert.Equal(6, m.Count);
            // static:/usr/share/nginx/html:ro -> stack-scoped named volume with the namespace label, no driver
            Assert.Equal(("volume", "st_static", "/usr/share/nginx/html", (bool?)true), (m[0].Type, m[0].Source, m[0].Target, m[0].ReadOnly));
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st" }, m[0].VolumeOptions.Labels);
            Assert.Null(m[0].VolumeOptions.DriverConfig);
            Assert.Null(m[0].VolumeOptions.NoCopy);
            // ./conf bind with propagation
            Assert.Equal(("bind", Path.Combine(KitchenDir, "conf"), "/etc/nginx/conf.d", (bool?)true), (m[1].Type, m[1].Source, m[1].Target, m[1].ReadOnly));
            Assert.Equal("rshared", m[1].BindOptions.Propagation);
            // long bind
            Assert.Equal(("bind", Path.Combine(KitchenDir, "certs"), "/certs", "cached", "rprivate"), (m[2].Type, m[2].Source, m[2].Target, m[2].Consistency, m[2].BindOptions.Propagation));
            // cache -> name: shop-cache, driver config, labels + namespace, nocopy
            Assert.Equal(("volume", "shop-cache", "/var/cache/nginx", (bool?)true), (m[3].Type, m[3].Source, m[3].Target, m[3].VolumeOptions.NoCopy));
            Assert.Equal("local", m[3].VolumeOptions.DriverConfig.Name);
            Assert.Equal(new Dictionary<string, string> { ["device"] = "tmpfs", ["type"] = "tmpfs" }, m[3].VolumeOptions.DriverConfig.Options);
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st", ["com.example.vol"] = "cache" },
                m[3].VolumeOptions.Labels.OrderBy(k => k.Key, StringComparer.Ordinal).ToDictionary(k => k.Key, k => k.Value));
            // tmpfs
            Assert.Equal(("tmpfs", (string)null, "/tmp", (long?)10_485_760), (m[4].Type, m[4].Source, m[4].Target, m[4].TmpfsOptions.SizeBytes));
            // anonymous
            Assert.Equal(("volume", (string)null, "/anonymous"), (m[5].Type, m[5].Source, m[5].Target));
            Assert.Null(m[5].VolumeOptions);
            Assert.Null(m[5].ReadOnly);
        }

        [Fact]
        public void Kitchen_web_secrets_and_configs_references()
        {
            var c = KitchenService("web").TaskTemplate.ContainerSpec;
            Assert.Equal(2, c.Secrets.Count);
            // sorted by name: api_key (external, unscoped) before st_db_password
            Assert.Equal(("api_key", "sid-api", "api.key", "101", "101", 288u), (c.Secrets[0].SecretName, c.Secrets[0].SecretID, c.Secrets[0].File.Name, c.Secrets[0].File.UID, c.Secrets[0].File.GID, c.Secrets[0].File.Mode));
            Assert.Equal(("st_db_password", "sid-db", "db_password", "0", "0", 292u), (c.Secrets[1].SecretName, c.Secrets[1].SecretID, c.Secrets[1].File.Name, c.Secrets[1].File.UID, c.Secrets[1].File.GID, c.Secrets[1].File.Mode));
            Assert.Equal(2, c.Configs.Count);
            Assert.Equal(("site_conf_v2", "cid-site", "/etc/nginx/site.conf", 292u), (c.Configs[0].ConfigName, c.Configs[0].ConfigID, c.Configs[0].File.Name, c.Configs[0].File.Mode));
            Assert.Equal(("st_nginx_conf", "cid-nginx", "nginx_conf", "0", "0", 292u), (c.Configs[1].ConfigName, c.Configs[1].ConfigID, c.Configs[1].File.Name, c.Configs[1].File.UID, c.Configs[1].File.GID, c.Configs[1].File.Mode));
        }

        [Fact]
        public void Kitchen_web_references_without_id_maps_leave_ids_empty()
        {
            var c = ComposeConverter.ConvertService(Kitchen(), "st", "web", null, null, null).TaskTemplate.ContainerSpec;
            Assert.All(c.Secrets, s => Assert.True(string.IsNullOrEmpty(s.SecretID)));
            Assert.All(c.Configs, s => Assert.True(string.IsNullOrEmpty(s.ConfigID)));
        }

        [Fact]
        public void Missing_secret_or_config_id_is_the_cli_error()
        {
            var ex = Assert.Throws<ComposeConvertException>(() => ComposeConverter.ConvertService(Kitchen(), "st", "web", new Dictionary<string, string>(), ConfigIds, Env()));
            Assert.Equal("service web: secret not found: st_db_password", ex.Message);
            var ex2 = Assert.Throws<ComposeConvertException>(() => ComposeConverter.ConvertService(Kitchen(), "st", "web", SecretIds, new Dictionary<string, string>(), Env()));
            Assert.StartsWith("service web: config not found: ", ex2.Message);
        }

        [Fact]
        public void Kitchen_web_resources_restart_placement()
        {
            var t = KitchenService("web").TaskTemplate;
            Assert.Equal(500_000_000L, t.Resources.Limits.NanoCPUs);
            Assert.Equal(536_870_912L, t.Resources.Limits.MemoryBytes);
            Assert.Equal(200L, t.Resources.Limits.Pids);
            Assert.Equal(250_000_000L, t.Resources.Reservations.NanoCPUs);
            Assert.Equal(134_217_728L, t.Resources.Reservations.MemoryBytes);
            var g = Assert.Single(t.Resources.Reservations.GenericResources);
            Assert.Equal(("GPU", (long?)2), (g.DiscreteResourceSpec.Kind, g.DiscreteResourceSpec.Value));
            Assert.Equal("on-failure", t.RestartPolicy.Condition);
            Assert.Equal(5_000_000_000L, Ns(t.RestartPolicy.Delay));
            Assert.Equal(3UL, t.RestartPolicy.MaxAttempts);
            Assert.Equal(120_000_000_000L, Ns(t.RestartPolicy.Window));
            Assert.Equal(new[] { "node.role == worker", "node.labels.zone != dmz" }, t.Placement.Constraints);
            Assert.Equal("node.labels.zone", Assert.Single(t.Placement.Preferences).Spread.SpreadDescriptor);
            Assert.Equal(2UL, t.Placement.MaxReplicas);
            Assert.Equal("json-file", t.LogDriver.Name);
            Assert.Equal(new Dictionary<string, string> { ["max-file"] = "3", ["max-size"] = "10m" }, t.LogDriver.Options);
        }

        [Fact]
        public void Kitchen_web_networks_with_aliases_sorted_by_target()
        {
            var n = KitchenService("web").TaskTemplate.Networks;
            Assert.Equal(new[] { "shop-backend", "st_front" }, n.Select(x => x.Target));
            Assert.Equal(new[] { "web" }, n[0].Aliases);
            Assert.Null(n[0].DriverOpts);
            Assert.Equal(new[] { "shop", "www", "web" }, n[1].Aliases);
            Assert.Equal(new Dictionary<string, string> { ["com.example.mtu"] = "1400" }, n[1].DriverOpts);
        }

        [Fact]
        public void Kitchen_web_mode_update_rollback_endpoint()
        {
            var s = KitchenService("web");
            Assert.Equal(3UL, s.Mode.Replicated.Replicas);
            Assert.Null(s.Mode.Global);
            var u = s.UpdateConfig;
            Assert.Equal((2UL, 10_000_000_000L, "rollback", 90_000_000_000L, 0.25f, "start-first"), (u.Parallelism, Ns(u.Delay), u.FailureAction, Ns(u.Monitor), u.MaxFailureRatio, u.Order));
            var r = s.RollbackConfig;
            Assert.Equal((0UL, (TimeSpan?)null, "pause", 30_000_000_000L, 0f, "stop-first"), (r.Parallelism, r.Delay, r.FailureAction, Ns(r.Monitor), r.MaxFailureRatio, r.Order));
            Assert.Equal("vip", s.EndpointSpec.Mode);
            Assert.Equal(new (uint?, uint?, string, string)[]
            {
                (null, 9100, "tcp", "ingress"),
                (80, 8080, "tcp", "ingress"),
                (8443, 443, "udp", "ingress"),
                (8444, 444, "udp", "ingress"),
                (9000, 9000, "tcp", "host"),
            }, s.EndpointSpec.Ports.Select(p => (p.PublishedPort, p.TargetPort, p.Protocol, p.PublishMode)));
        }

        // ------------------------------------------------------------------ kitchen sink: other services

        [Fact]
        public void Kitchen_worker_global_credential_spec_default_env()
        {
            var s = KitchenService("worker");
            Assert.NotNull(s.Mode.Global);
            Assert.Null(s.Mode.Replicated);
            var c = s.TaskTemplate.ContainerSpec;
            Assert.Equal(new[] { "python", "-m", "worker" }, c.Args);
            Assert.Null(c.Command);
            Assert.Equal(new[] { "BARE", "QUEUE=jobs" }, c.Env);
            Assert.Equal(new[] { "NONE" }, c.Healthcheck.Test);
            Assert.Equal(0L, Ns(c.StopGracePeriod));
            Assert.Equal("cid-cred", c.Privileges.CredentialSpec.Config);
            var cred = Assert.Single(c.Configs);
            Assert.Equal(("cred_spec", "cid-cred"), (cred.ConfigName, cred.ConfigID));
            Assert.NotNull(cred.Runtime);
            Assert.Null(cred.File);
            Assert.Equal("any", s.TaskTemplate.RestartPolicy.Condition);
            Assert.Equal("syslog", s.TaskTemplate.LogDriver.Name);
            Assert.Null(s.TaskTemplate.LogDriver.Options);
            Assert.Equal(new[] { "shop-backend" }, s.TaskTemplate.Networks.Select(n => n.Target));
            // environment lookup fills bare keys the loader left unresolved
            var env = ComposeConverter.ConvertService(Kitchen(), "st", "worker", SecretIds, ConfigIds, Env(("BARE", "b"))).TaskTemplate.ContainerSpec.Env;
            Assert.Equal(new[] { "BARE=b", "QUEUE=jobs" }, env);
        }

        [Fact]
        public void Kitchen_job_and_legacy()
        {
            var job = KitchenService("job");
            Assert.Equal((4UL, 4UL), (job.Mode.ReplicatedJob.MaxConcurrent.Value, job.Mode.ReplicatedJob.TotalCompletions.Value));
            Assert.Equal(new[] { "CMD-SHELL", "wget -q -O- http://localhost/ || exit 1" }, job.TaskTemplate.ContainerSpec.Healthcheck.Test);
            Assert.Null(job.TaskTemplate.ContainerSpec.Healthcheck.Interval);
            // no networks -> stack_default with the service alias
            var n = Assert.Single(job.TaskTemplate.Networks);
            Assert.Equal(("st_default", "job"), (n.Target, Assert.Single(n.Aliases)));
            Assert.Null(job.UpdateConfig);
            Assert.Null(job.RollbackConfig);
            Assert.NotNull(job.TaskTemplate.Resources);
            Assert.Null(job.TaskTemplate.Resources.Limits);
            Assert.NotNull(job.TaskTemplate.Placement);
            Assert.NotNull(job.EndpointSpec);
            Assert.Null(job.EndpointSpec.Mode);
            Assert.Null(job.EndpointSpec.Ports);
            Assert.Null(job.TaskTemplate.ContainerSpec.Mounts);
            Assert.Null(job.TaskTemplate.ContainerSpec.Env);

            var legacy = KitchenService("legacy");
            Assert.Equal(("on-failure", (ulong?)5), (legacy.TaskTemplate.RestartPolicy.Condition, legacy.TaskTemplate.RestartPolicy.MaxAttempts));
            Assert.Null(legacy.Mode.Replicated.Replicas);
            Assert.Equal(("st_default", "legacy"), (legacy.TaskTemplate.Networks[0].Target, legacy.TaskTemplate.Networks[0].Aliases[0]));
        }

        // ------------------------------------------------------------------ networks, secrets, configs

        [Fact]
        public void Kitchen_networks_created_and_external()
        {
            var p = Kitchen();
            Assert.Equal(new[] { "back", "default", "front" }, ComposeConverter.ServiceNetworkKeys(p));
            var nets = ComposeConverter.ConvertNetworks(p, "st", out var externals);
            Assert.Empty(externals);
            Assert.Equal(new[] { "shop-backend", "st_default", "st_front" }, nets.Keys);
            var front = nets["st_front"];
            Assert.Equal(("st_front", "overlay", true, false), (front.Name, front.Driver, front.Attachable, front.Internal));
            Assert.Equal(new Dictionary<string, string> { ["encrypted"] = "" }, front.Options);
            Assert.Equal("default", front.IPAM.Driver);
            Assert.Equal("10.10.0.0/24", Assert.Single(front.IPAM.Config).Subnet);
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st", ["com.example.net"] = "front" },
                front.Labels.OrderBy(k => k.Key, StringComparer.Ordinal).ToDictionary(k => k.Key, k => k.Value));
            var back = nets["shop-backend"];
            Assert.Equal(("overlay", true, (IPAM)null), (back.Driver, back.Internal, back.IPAM));
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st" }, back.Labels);
            var def = nets["st_default"];
            Assert.Equal(("overlay", false, false), (def.Driver, def.Internal, def.Attachable));
            Assert.Null(ComposeConverter.ConvertNetwork(p, "st", "outside"));
        }

        [Fact]
        public void External_networks_are_listed_by_name_and_get_no_alias_when_not_user_defined()
        {
            var p = Load("version: \"3.13\"\nservices:\n  a:\n    image: x\n    networks: [ext, hostnet]\nnetworks:\n  ext:\n    external: true\n    name: proxy\n  hostnet:\n    external: true\n    name: host\n");
            ComposeConverter.ConvertNetworks(p, "st", out var ext);
            Assert.Equal(new[] { "host", "proxy" }, ext);
            var n = ComposeConverter.ConvertService(p, "st", "a", null, null, null).TaskTemplate.Networks;
            Assert.Equal(new[] { "host", "proxy" }, n.Select(x => x.Target));
            Assert.Null(n[0].Aliases);
            Assert.Equal(new[] { "a" }, n[1].Aliases);
        }

        [Fact]
        public void Kitchen_secrets_and_configs_specs()
        {
            var p = Kitchen();
            byte[] data = { 1, 2, 3 };
            var db = ComposeConverter.ConvertSecret(p, "st", "db_password", data);
            Assert.Equal("st_db_password", db.Name);
            Assert.Same(data, db.Data);
            Assert.Null(db.Driver); Assert.Null(db.Templating);
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st", ["com.example.secret"] = "db" },
                db.Labels.OrderBy(k => k.Key, StringComparer.Ordinal).ToDictionary(k => k.Key, k => k.Value));
            Assert.Null(ComposeConverter.ConvertSecret(p, "st", "api_key", null));
            var vault = ComposeConverter.ConvertSecret(p, "st", "vault_token", data);
            Assert.Equal("vault_token_7", vault.Name);
            Assert.Empty(vault.Data);
            Assert.Equal("vault", vault.Driver.Name);
            Assert.Equal(new Dictionary<string, string> { ["path"] = "secret/token" }, vault.Driver.Options);
            Assert.Equal("golang", vault.Templating.Name);

            var nginx = ComposeConverter.ConvertConfig(p, "st", "nginx_conf", data);
            Assert.Equal(("st_nginx_conf", "golang"), (nginx.Name, nginx.Templating.Name));
            Assert.Equal(new Dictionary<string, string> { ["com.docker.stack.namespace"] = "st" }, nginx.Labels);
            var site = ComposeConverter.ConvertConfig(p, "st", "site_conf", data);
            Assert.Equal("site_conf_v2", site.Name);
            Assert.Null(site.Templating);
            Assert.Equal("site", site.Labels["com.example.config"]);
            Assert.Null(ComposeConverter.ConvertConfig(p, "st", "cred_spec", null));
        }

        // ------------------------------------------------------------------ small inline projects

        [Fact]
        public void Defaults_of_a_minimal_service()
        {
            var s = Svc("");
            Assert.Equal("st_app", s.Name);
            Assert.NotNull(s.Mode.Replicated);
            Assert.Null(s.Mode.Replicated.Replicas);
            Assert.Null(s.TaskTemplate.RestartPolicy);
            Assert.Null(s.TaskTemplate.ContainerSpec.Command);
            Assert.Null(s.TaskTemplate.ContainerSpec.Args);
            Assert.Null(s.TaskTemplate.ContainerSpec.TTY);
            Assert.Null(s.TaskTemplate.ContainerSpec.Healthcheck);
            Assert.Null(s.TaskTemplate.ContainerSpec.DNSConfig);
            Assert.Null(s.TaskTemplate.LogDriver);
            Assert.Equal("nginx", s.Labels["com.docker.stack.image"]);
        }

        [Fact]
        public void Update_config_parallelism_defaults_to_one()
        {
            var s = Svc("    deploy:\n      update_config:\n        order: start-first\n");
            Assert.Equal(1UL, s.UpdateConfig.Parallelism);
            Assert.Equal("start-first", s.UpdateConfig.Order);
            Assert.Null(s.UpdateConfig.Delay);
            Assert.Null(s.RollbackConfig);
        }

        [Theory]
        [InlineData("no", null, null)]
        [InlineData("always", "any", null)]
        [InlineData("unless-stopped", "any", null)]
        [InlineData("on-failure", "on-failure", null)]
        [InlineData("on-failure:3", "on-failure", 3UL)]
        public void Restart_fallback(string restart, string condition, ulong? attempts)
        {
            var rp = ComposeConverter.ConvertRestartPolicy(restart, null);
            if (condition == null) { Assert.Null(rp); return; }
            Assert.Equal((condition, attempts), (rp.Condition, rp.MaxAttempts));
            // deploy.restart_policy wins
            var d = ComposeConverter.ConvertRestartPolicy(restart, new ComposeRestartPolicy { Condition = "none" });
            Assert.Equal("none", d.Condition);
        }

        [Fact]
        public void Cpus_and_memory_exact()
        {
            var r = Svc("    deploy:\n      resources:\n        limits:\n          cpus: \"0.001\"\n          memory: 1.5g\n        reservations:\n          cpus: \"2\"\n").TaskTemplate.Resources;
            Assert.Equal(1_000_000L, r.Limits.NanoCPUs);
            Assert.Equal(1_610_612_736L, r.Limits.MemoryBytes);
            Assert.Null(r.Limits.Pids);
            Assert.Equal(2_000_000_000L, r.Reservations.NanoCPUs);
            Assert.Null(r.Reservations.MemoryBytes);
        }

        [Fact]
        public void Env_is_sorted_bytewise()
        {
            var env = Svc("    environment:\n      b: \"1\"\n      B: \"2\"\n      _x: \"3\"\n      A_1: \"4\"\n      A: \"5\"\n").TaskTemplate.ContainerSpec.Env;
            Assert.Equal(new[] { "A=5", "A_1=4", "B=2", "_x=3", "b=1" }, env);
        }

        [Fact]
        public void Capabilities_are_normalised()
        {
            var c = Svc("    cap_add: [net_admin, CAP_SYS_TIME, sys_time]\n    cap_drop: [SYS_TIME, MKNOD]\n").TaskTemplate.ContainerSpec;
            Assert.Equal(new[] { "CAP_NET_ADMIN", "CAP_SYS_TIME" }, c.CapabilityAdd);
            Assert.Equal(new[] { "CAP_MKNOD" }, c.CapabilityDrop);
        }

        [Fact]
        public void Dns_drops_unparsable_addresses()
        {
            var d = Svc("    dns: [\"8.8.8.8\", \"not-an-ip\", \"2001:DB8::1\", \"010.1.1.1\"]\n").TaskTemplate.ContainerSpec.DNSConfig;
            Assert.Equal(new[] { "8.8.8.8", "2001:db8::1" }, d.Nameservers);
            Assert.Null(d.Search);
        }

        [Fact]
        public void Mode_errors_and_jobs()
        {
            Assert.NotNull(Svc("    deploy:\n      mode: global-job\n").Mode.GlobalJob);
            var job = Svc("    deploy:\n      mode: replicated-job\n").Mode.ReplicatedJob;
            Assert.Null(job.MaxConcurrent);
            Assert.Null(job.TotalCompletions);
        }

        [Fact]
        public void Duplicate_secret_target_is_rejected()
        {
            // the loader reports this too (with a position); the converter keeps the CLI's own check
            var p = new ComposeProject();
            p.Secrets["a"] = new ComposeSecret { Key = "a", External = true, Name = "a" };
            p.Secrets["b"] = new ComposeSecret { Key = "b", External = true, Name = "b" };
            var svc = new ComposeService { Name = "app", Image = "x" };
            svc.Secrets.Add(new ComposeFileReference { Source = "a", Target = "t" });
            svc.Secrets.Add(new ComposeFileReference { Source = "b", Target = "t" });
            p.Services["app"] = svc;
            var ex = Assert.Throws<ComposeConvertException>(() => ComposeConverter.ConvertService(p, "st", "app", null, null, null));
            Assert.Equal("service app: duplicate secret target for b not allowed", ex.Message);
            svc.Secrets.Add(new ComposeFileReference { Source = "zzz" });
            svc.Secrets.RemoveAt(1);
            Assert.Equal("service app: undefined secret \"zzz\"", Assert.Throws<ComposeConvertException>(() => ComposeConverter.ConvertService(p, "st", "app", null, null, null)).Message);
        }

        [Fact]
        public void External_volume_has_no_labels_or_driver()
        {
            var m = Svc("    volumes:\n      - data:/data\n", "volumes:\n  data:\n    external: true\n    name: shared-data\n").TaskTemplate.ContainerSpec.Mounts.Single();
            Assert.Equal(("volume", "shared-data"), (m.Type, m.Source));
            Assert.NotNull(m.VolumeOptions);
            Assert.Null(m.VolumeOptions.Labels);
            Assert.Null(m.VolumeOptions.DriverConfig);
        }

        [Fact]
        public void Default_network_can_be_renamed()
        {
            var p = Load("version: \"3.13\"\nservices:\n  app:\n    image: x\nnetworks:\n  default:\n    name: custom-default\n    driver: weave\n");
            var n = ComposeConverter.ConvertService(p, "st", "app", null, null, null).TaskTemplate.Networks.Single();
            Assert.Equal("custom-default", n.Target);
            var nets = ComposeConverter.ConvertNetworks(p, "st", out _);
            Assert.Equal("weave", nets["custom-default"].Driver);
        }

        [Theory]
        [InlineData("prod", null)]
        [InlineData("my-stack_1", null)]
        [InlineData("", "invalid stack name: \"\"")]
        [InlineData(" '\" ", "invalid stack name: \" '\" \"")]
        public void Stack_name_validation(string name, string expected)
        {
            Assert.Equal(expected, ComposeConverter.ValidateStackName(name));
        }

        [Fact]
        public void Stack_name_engine_rules()
        {
            Assert.NotNull(ComposeConverter.ValidateStackName("my.stack"));
            Assert.NotNull(ComposeConverter.ValidateStackName("-x"));
            Assert.NotNull(ComposeConverter.ValidateStackName(new string('a', 62)));
            Assert.Null(ComposeConverter.ValidateStackName(new string('a', 61)));
            Assert.Null(ComposeConverter.ValidateServiceName("st", "web"));
            Assert.Equal("service st_" + new string('w', 61) + ": name must be 63 characters or fewer", ComposeConverter.ValidateServiceName("st", new string('w', 61)));
        }
    }
}
