using System.Text.Json.Nodes;

namespace ProxmoxSimulator.Endpoints;

/// <summary>QEMU guest agent endpoints with the PVE error ladder.</summary>
public static class AgentEndpoints
{
    static readonly string[] Commands = { "ping", "network-get-interfaces", "get-host-name", "get-osinfo", "info", "get-time", "get-timezone" };

    public static void Register(Sim sim)
    {
        var r = sim.Router;
        Action<ApiRequest> perm = req => req.CheckAny($"/vms/{req.Str("vmid")}", req.Sim.Settings.AgentPrivs);
        r.Add("GET", "/nodes/{node}/qemu/{vmid}/agent", req =>
        {
            var a = new JsonArray();
            foreach (var c in Commands) a.Add(new JsonObject { ["name"] = c });
            return Task.FromResult<JsonNode>(a);
        }, req => req.Check($"/vms/{req.Str("vmid")}", "VM.Audit"));
        r.Add("POST", "/nodes/{node}/qemu/{vmid}/agent/ping", req => Run(req, "ping"), perm);
        foreach (var c in Commands.Where(c => c != "ping"))
        {
            var cmd = c;
            r.Add("GET", $"/nodes/{{node}}/qemu/{{vmid}}/agent/{cmd}", req => Run(req, cmd), perm);
        }
        r.Add("POST", "/nodes/{node}/qemu/{vmid}/agent", req => Run(req, req.Str("command")),
            req => req.CheckAny($"/vms/{req.Str("vmid")}", req.Sim.Settings.Major >= 9 ? new[] { "VM.GuestAgent.Unrestricted" } : new[] { "VM.Monitor" }),
            new() { ["command"] = new PSpec { Optional = false, Enum = Commands } });
    }

    static async Task<JsonNode> Run(ApiRequest req, string command)
    {
        var sim = req.Sim;
        var st = sim.State;
        VmInfo vm;
        bool agentUp, hang;
        double now = sim.Clock.Now;
        lock (st.Sync)
        {
            vm = sim.LoadConfigLocked(req.Node, req.Vmid);
            if (!vm.Config.ContainsKey("agent")) throw PveException.Die("No QEMU guest agent configured");
            if (!vm.Running) throw PveException.Die($"VM {vm.Vmid} is not running");
            double agentDelay = vm.Guest.AgentDelaySeconds ?? sim.D.AgentDelay;
            agentUp = vm.Run.AgentEnabledAtStart && !vm.Guest.NoAgent && now >= vm.Run.StartedAt + agentDelay;
            hang = vm.Guest.AgentHang;
            if (!agentUp && !vm.Run.AgentEnabledAtStart) throw PveException.Die("QEMU guest agent is not running");
        }
        if (!agentUp)
        {
            await sim.Clock.DelayAsync(3); // guest-ping with a 3 s timeout
            throw PveException.Die("QEMU guest agent is not running");
        }
        if (hang)
        {
            await sim.Clock.DelayAsync(10);
            throw PveException.Die($"VM {vm.Vmid} qmp command 'guest-{command}' failed - got timeout");
        }
        lock (st.Sync)
        {
            switch (command)
            {
                case "ping": return new JsonObject { ["result"] = new JsonObject() };
                case "network-get-interfaces": return new JsonObject { ["result"] = Interfaces(sim, vm, now) };
                case "get-host-name": return new JsonObject { ["result"] = new JsonObject { ["host-name"] = vm.Name() ?? $"vm{vm.Vmid}" } };
                case "get-osinfo":
                    return new JsonObject
                    {
                        ["result"] = new JsonObject
                        {
                            ["id"] = "debian", ["name"] = "Debian GNU/Linux", ["pretty-name"] = "Debian GNU/Linux 12 (bookworm)",
                            ["version"] = "12 (bookworm)", ["version-id"] = "12", ["kernel-release"] = "6.1.0-28-amd64",
                            ["kernel-version"] = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)", ["machine"] = "x86_64",
                        },
                    };
                case "get-time": return new JsonObject { ["result"] = sim.Clock.UnixNow * 1_000_000_000L };
                case "get-timezone": return new JsonObject { ["result"] = new JsonObject { ["offset"] = 0, ["zone"] = "UTC" } };
                default:
                    var sc = new JsonArray();
                    foreach (var c in new[] { "guest-ping", "guest-network-get-interfaces", "guest-get-host-name", "guest-get-osinfo", "guest-info", "guest-shutdown", "guest-exec" })
                        sc.Add(new JsonObject { ["name"] = c, ["enabled"] = true, ["success-response"] = c != "guest-shutdown" });
                    return new JsonObject { ["result"] = new JsonObject { ["version"] = "7.2.0", ["supported_commands"] = sc } };
            }
        }
    }

    static JsonObject Iface(string name, string mac, IEnumerable<(string ip, string type, int prefix)> addrs, long seed)
    {
        var o = new JsonObject { ["name"] = name, ["hardware-address"] = mac };
        var list = addrs.ToList();
        if (list.Count > 0)
        {
            var a = new JsonArray();
            foreach (var (ip, type, prefix) in list) a.Add(new JsonObject { ["ip-address"] = ip, ["ip-address-type"] = type, ["prefix"] = prefix });
            o["ip-addresses"] = a;
        }
        o["statistics"] = new JsonObject
        {
            ["rx-bytes"] = 1000 + seed * 7, ["rx-packets"] = 10 + seed, ["rx-errs"] = 0, ["rx-dropped"] = 0,
            ["tx-bytes"] = 800 + seed * 5, ["tx-packets"] = 8 + seed, ["tx-errs"] = 0, ["tx-dropped"] = 0,
        };
        return o;
    }

    public static string LinkLocal(string mac)
    {
        var b = mac.Split(':').Select(x => Convert.ToByte(x, 16)).ToArray();
        b[0] ^= 0x02;
        var eui = new byte[] { b[0], b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5] };
        var groups = Enumerable.Range(0, 4).Select(i => ((eui[2 * i] << 8) | eui[2 * i + 1]).ToString("x"));
        return "fe80::" + string.Join(':', groups);
    }

    static JsonArray Interfaces(Sim sim, VmInfo vm, double now)
    {
        long up = (long)Math.Max(0, now - vm.Run.StartedAt);
        var a = new JsonArray
        {
            Iface("lo", "00:00:00:00:00:00", new[] { ("127.0.0.1", "ipv4", 8), ("::1", "ipv6", 128) }, up),
        };
        var mac = vm.Run.Mac?.ToLowerInvariant();
        if (mac != null)
        {
            double netAt = vm.Run.StartedAt + (vm.Guest.AgentDelaySeconds ?? sim.D.AgentDelay) + (vm.Guest.NetDelaySeconds ?? sim.D.NetDelay);
            var addrs = new List<(string, string, int)>();
            if (!vm.Guest.NoIp && vm.Run.Ip != null && now >= netAt) addrs.Add((vm.Run.Ip, "ipv4", vm.Run.Prefix));
            addrs.Add((LinkLocal(mac), "ipv6", 64));
            a.Add(Iface("eth0", mac, addrs, up * 3));
        }
        if (vm.Guest.Docker0)
        {
            var dmac = $"02:42:{vm.Vmid / 256 % 256:x2}:{vm.Vmid % 256:x2}:11:01";
            a.Add(Iface("docker0", dmac, new[] { ("172.17.0.1", "ipv4", 16), (LinkLocal(dmac), "ipv6", 64) }, up));
        }
        return a;
    }
}
