using System.Text.Json.Nodes;

namespace ProxmoxSimulator.Endpoints;

/// <summary>/version, /nodes, /cluster/*, /access/*.</summary>
public static class ClusterEndpoints
{
    public static void Register(Sim sim)
    {
        var r = sim.Router;

        r.Add("GET", "/version", req =>
        {
            var s = req.Sim.Settings;
            return Task.FromResult<JsonNode>(new JsonObject { ["version"] = s.Version, ["release"] = s.Release, ["repoid"] = s.RepoId });
        });

        r.Add("GET", "/nodes", req => Task.FromResult<JsonNode>(Nodes(req)));

        r.Add("GET", "/nodes/{node}", req =>
        {
            var a = new JsonArray();
            foreach (var sub in new[] { "qemu", "tasks", "status", "storage", "certificates" }) a.Add(new JsonObject { ["name"] = sub });
            return Task.FromResult<JsonNode>(a);
        });

        r.Add("GET", "/nodes/{node}/status", req =>
        {
            var st = req.Sim.State;
            lock (st.Sync)
            {
                var n = st.Nodes[req.Node];
                return Task.FromResult<JsonNode>(new JsonObject
                {
                    ["uptime"] = (long)(100000 + req.Sim.Clock.Now),
                    ["cpu"] = 0.02,
                    ["cpuinfo"] = new JsonObject { ["cpus"] = n.MaxCpu, ["sockets"] = 1, ["cores"] = n.MaxCpu, ["model"] = "Simulated CPU" },
                    ["memory"] = new JsonObject { ["total"] = n.MaxMem, ["used"] = n.MaxMem / 4, ["free"] = n.MaxMem - n.MaxMem / 4 },
                    ["pveversion"] = $"pve-manager/{req.Sim.Settings.Version}/{req.Sim.Settings.RepoId}",
                    ["kversion"] = "Linux 6.8.12-1-pve",
                });
            }
        }, req => req.Check("/nodes/" + req.Node, "Sys.Audit"));

        r.Add("GET", "/nodes/{node}/certificates/info", req =>
        {
            var cert = req.Sim.Certs.Original;
            var a = new JsonArray
            {
                new JsonObject
                {
                    ["filename"] = "pve-ssl.pem",
                    ["fingerprint"] = CertStore.Fingerprint(cert),
                    ["subject"] = cert.Subject,
                    ["issuer"] = cert.Issuer,
                    ["notbefore"] = cert.NotBefore.ToUniversalTime().Subtract(DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerSecond,
                    ["notafter"] = cert.NotAfter.ToUniversalTime().Subtract(DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerSecond,
                    ["san"] = new JsonArray("127.0.0.1", "localhost", req.Node),
                    ["public-key-type"] = "rsaEncryption",
                    ["public-key-bits"] = 2048,
                },
            };
            return Task.FromResult<JsonNode>(a);
        });

        r.Add("GET", "/cluster/resources", req => Task.FromResult<JsonNode>(Resources(req)),
            schema: new() { ["type"] = PSpec.Enu("vm", "storage", "node", "sdn") });

        r.Add("GET", "/cluster/nextid", req =>
        {
            var st = req.Sim.State;
            if (req.Has("vmid"))
            {
                var vmid = req.Str("vmid");
                lock (st.Sync)
                    if (st.Vms.ContainsKey(int.Parse(vmid))) throw PveException.Param("vmid", $"VM {vmid} already exists");
                return Task.FromResult<JsonNode>(JsonValue.Create(vmid));
            }
            int id = req.Sim.Faults.NextId(() => { lock (st.Sync) return st.NextFreeId(); });
            // Perl stringifies the number: {"data":"101"}
            return Task.FromResult<JsonNode>(JsonValue.Create(id.ToString()));
        }, schema: new() { ["vmid"] = new PSpec { Type = PType.Integer, Min = 100, Max = 999999999 } });

        r.Add("GET", "/cluster/status", req =>
        {
            var st = req.Sim.State;
            var a = new JsonArray();
            lock (st.Sync)
            {
                a.Add(new JsonObject
                {
                    ["id"] = "cluster", ["type"] = "cluster", ["name"] = st.Cluster.Name, ["nodes"] = st.Nodes.Count,
                    ["quorate"] = st.Cluster.Quorate && !req.Sim.Faults.NoQuorum ? 1 : 0, ["version"] = 3,
                });
                int i = 1;
                foreach (var n in st.Nodes.Values)
                    a.Add(new JsonObject
                    {
                        ["id"] = "node/" + n.Name, ["type"] = "node", ["name"] = n.Name, ["ip"] = n.Ip, ["nodeid"] = i++,
                        ["online"] = n.Online ? 1 : 0, ["local"] = n.Name == req.Sim.Options.EntryNode ? 1 : 0, ["level"] = "",
                    });
            }
            return Task.FromResult<JsonNode>(a);
        }, req => req.Check("/", "Sys.Audit"));

        r.Add("GET", "/access/domains", req => Task.FromResult<JsonNode>(new JsonArray
        {
            new JsonObject { ["realm"] = "pam", ["type"] = "pam", ["comment"] = "Linux PAM standard authentication" },
            new JsonObject { ["realm"] = "pve", ["type"] = "pve", ["comment"] = "Proxmox VE authentication server" },
        }));

        r.Add("GET", "/access/ticket", req => Task.FromResult<JsonNode>(null));

        r.Add("POST", "/access/ticket", req =>
        {
            var user = req.Str("username");
            var realm = req.Str("realm");
            if (!string.IsNullOrEmpty(realm) && !user.Contains('@')) user += "@" + realm;
            if (!req.Sim.Auth.CheckPassword(user, req.Str("password")))
                throw new PveException("authentication failure\n", 401);
            return Task.FromResult<JsonNode>(new JsonObject
            {
                ["username"] = user,
                ["ticket"] = req.Sim.Auth.CreateTicket(user),
                ["CSRFPreventionToken"] = req.Sim.Auth.CreateCsrf(user),
                ["clustername"] = req.Sim.State.Cluster.Name,
                ["cap"] = Cap(req.Sim, user),
            });
        }, schema: new()
        {
            ["username"] = new PSpec { Optional = false, MaxLength = 64 },
            ["password"] = new PSpec { Optional = false },
            ["realm"] = PSpec.Str(),
            ["otp"] = PSpec.Str(),
            ["tfa-challenge"] = PSpec.Str(),
            ["new-format"] = PSpec.Bool(),
            ["path"] = PSpec.Str(),
            ["privs"] = PSpec.Str(),
        });
    }

    static JsonObject Cap(Sim sim, string user)
    {
        JsonObject Group(string path, params string[] prefixes)
        {
            var o = new JsonObject();
            var p = sim.Auth.Permissions(user, path);
            foreach (var priv in Auth.AllPrivileges)
                if (prefixes.Any(x => priv.StartsWith(x)) && (p == null || p.Contains(priv))) o[priv] = 1;
            return o;
        }
        return new JsonObject
        {
            ["vms"] = Group("/vms", "VM."),
            ["storage"] = Group("/storage", "Datastore."),
            ["nodes"] = Group("/nodes", "Sys."),
            ["dc"] = Group("/", "Sys.Audit", "SDN."),
            ["access"] = Group("/access", "User.", "Group.", "Permissions."),
            ["sdn"] = Group("/sdn", "SDN."),
            ["mapping"] = Group("/mapping", "Mapping."),
        };
    }

    static JsonArray Nodes(ApiRequest req)
    {
        var sim = req.Sim;
        var fp = CertStore.Fingerprint(sim.Certs.Original);
        var a = new JsonArray();
        lock (sim.State.Sync)
        {
            foreach (var n in sim.State.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal))
            {
                bool online = n.Online && !sim.Faults.IsOffline(n.Name);
                var o = new JsonObject { ["node"] = n.Name, ["status"] = online ? "online" : "offline", ["id"] = "node/" + n.Name, ["type"] = "node", ["level"] = "", ["ssl_fingerprint"] = fp };
                if (online && sim.Auth.Has(req.User, "/nodes/" + n.Name, "Sys.Audit"))
                {
                    o["cpu"] = 0.02;
                    o["maxcpu"] = n.MaxCpu;
                    o["mem"] = n.MaxMem / 4 + RunningMem(sim.State, n.Name);
                    o["maxmem"] = n.MaxMem;
                    o["disk"] = 5L << 30;
                    o["maxdisk"] = n.MaxDisk;
                    o["uptime"] = (long)(100000 + sim.Clock.Now);
                }
                a.Add(o);
            }
        }
        return a;
    }

    static long RunningMem(SimState st, string node) =>
        st.Vms.Values.Where(v => v.Node == node && v.Running).Sum(v => SimState.MemoryMiB(v.Config.GetValueOrDefault("memory")) << 20);

    static JsonArray Resources(ApiRequest req)
    {
        var sim = req.Sim;
        var type = req.Str("type");
        var a = new JsonArray();
        var st = sim.State;
        lock (st.Sync)
        {
            if (type is null or "vm")
            {
                foreach (var vm in st.Vms.Values)
                {
                    if (!sim.Auth.Has(req.User, $"/vms/{vm.Vmid}", "VM.Audit")) continue;
                    var o = new JsonObject { ["id"] = $"qemu/{vm.Vmid}", ["vmid"] = vm.Vmid, ["node"] = vm.Node, ["type"] = "qemu", ["status"] = "unknown" };
                    if (st.Rrd.TryGetValue(vm.Vmid, out var d) && st.Nodes.TryGetValue(vm.Node, out var nd) && nd.Online && !sim.Faults.IsOffline(vm.Node))
                    {
                        o["uptime"] = (long)d.Uptime;
                        o["name"] = d.Name;
                        o["status"] = d.Status;
                        o["template"] = d.Template;
                        o["maxcpu"] = d.MaxCpu;
                        o["cpu"] = d.Cpu;
                        o["maxmem"] = d.MaxMem;
                        o["mem"] = d.Mem;
                        o["maxdisk"] = d.MaxDisk;
                        o["disk"] = 0;
                        o["netin"] = 0;
                        o["netout"] = 0;
                        o["diskread"] = 0;
                        o["diskwrite"] = 0;
                    }
                    if (vm.Pool != null) o["pool"] = vm.Pool;
                    if (vm.Lock != null) o["lock"] = vm.Lock;
                    if (vm.Config.TryGetValue("tags", out var tags)) o["tags"] = tags;
                    if (vm.HaManaged) o["hastate"] = "started";
                    a.Add(o);
                }
            }
            if (type is null or "node")
            {
                foreach (var n in st.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal))
                {
                    if (!sim.Auth.Has(req.User, "/nodes/" + n.Name, "Sys.Audit")) continue;
                    bool online = n.Online && !sim.Faults.IsOffline(n.Name);
                    var o = new JsonObject { ["id"] = "node/" + n.Name, ["type"] = "node", ["node"] = n.Name, ["status"] = online ? "online" : "offline", ["level"] = "" };
                    if (online)
                    {
                        o["cpu"] = 0.02; o["maxcpu"] = n.MaxCpu; o["mem"] = n.MaxMem / 4 + RunningMem(st, n.Name); o["maxmem"] = n.MaxMem;
                        o["disk"] = 5L << 30; o["maxdisk"] = n.MaxDisk; o["uptime"] = (long)(100000 + sim.Clock.Now); o["cgroup-mode"] = 2;
                    }
                    a.Add(o);
                }
            }
            if (type is null or "storage")
            {
                foreach (var n in st.Nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal))
                    foreach (var s in st.Storages.Values)
                    {
                        if (!s.OnNode(n.Name) || !sim.Auth.Has(req.User, "/storage/" + s.Id, "Datastore.Audit")) continue;
                        long used = st.Volumes.Values.Where(v => v.Storage == s.Id && (s.Shared || v.Node == n.Name)).Sum(v => v.SizeBytes);
                        a.Add(new JsonObject
                        {
                            ["id"] = $"storage/{n.Name}/{s.Id}", ["type"] = "storage", ["node"] = n.Name, ["storage"] = s.Id,
                            ["status"] = "available", ["plugintype"] = s.Type, ["shared"] = s.Shared ? 1 : 0,
                            ["content"] = string.Join(',', s.Content), ["disk"] = used, ["maxdisk"] = s.CapacityBytes,
                        });
                    }
            }
            if (type is null)
                foreach (var p in st.Pools.OrderBy(p => p, StringComparer.Ordinal))
                    a.Add(new JsonObject { ["id"] = "/pool/" + p, ["type"] = "pool", ["pool"] = p });
        }
        return a;
    }
}
