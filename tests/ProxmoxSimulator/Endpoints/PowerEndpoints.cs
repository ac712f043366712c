using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator.Endpoints;

/// <summary>status/start, stop, shutdown, reboot (all async; checks run inside the task as in qemu-server).</summary>
public static class PowerEndpoints
{
    public static void Register(Sim sim)
    {
        var r = sim.Router;
        Action<ApiRequest> power = req => req.Check($"/vms/{req.Str("vmid")}", "VM.PowerMgmt");

        r.Add("POST", "/nodes/{node}/qemu/{vmid}/status/start", Start, power, new()
        {
            ["skiplock"] = PSpec.Bool(),
            ["timeout"] = PSpec.Int(0, 86400),
            ["machine"] = PSpec.Str(),
            ["force-cpu"] = PSpec.Str(),
            ["migratedfrom"] = PSpec.Fmt(Validator.NodeName),
            ["migration_network"] = PSpec.Str(),
            ["migration_type"] = PSpec.Enu("secure", "insecure"),
            ["stateuri"] = PSpec.Str(),
            ["targetstorage"] = PSpec.Str(),
            ["nets-host-mtu"] = PSpec.Str(),
            ["with-conntrack-state"] = PSpec.Bool(),
        });
        r.Add("POST", "/nodes/{node}/qemu/{vmid}/status/stop", Stop, power, new()
        {
            ["skiplock"] = PSpec.Bool(),
            ["timeout"] = PSpec.Int(0),
            ["keepActive"] = PSpec.Bool(),
            ["overrule-shutdown"] = PSpec.Bool(),
            ["migratedfrom"] = PSpec.Fmt(Validator.NodeName),
        });
        r.Add("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown", Shutdown, power, new()
        {
            ["skiplock"] = PSpec.Bool(),
            ["timeout"] = PSpec.Int(0),
            ["forceStop"] = PSpec.Bool(),
            ["keepActive"] = PSpec.Bool(),
        });
        r.Add("POST", "/nodes/{node}/qemu/{vmid}/status/reboot", Reboot, power, new()
        {
            ["timeout"] = PSpec.Int(0),
        });
    }

    static Task<JsonNode> Start(ApiRequest req)
    {
        var sim = req.Sim;
        string node = req.Node;
        int vmid = req.Vmid;
        bool skiplock = req.Bool("skiplock");
        if (skiplock && req.User != "root@pam") throw PveException.Param("skiplock", "Only root may use this option.");
        sim.CheckQuorum();
        bool ha;
        lock (sim.State.Sync) ha = sim.State.Vms.TryGetValue(vmid, out var v) && v.HaManaged;
        if (ha)
        {
            var ht = sim.Tasks.Start(node, "hastart", vmid.ToString(), req.User, async task =>
            {
                task.Print($"Requesting HA start for VM {vmid}");
                await sim.Clock.DelayAsync(0.2, task.Cts.Token);
                _ = Task.Run(async () =>
                {
                    var bg = new SimTask();
                    try { await StartCore(sim, node, vmid, false, bg, CancellationToken.None); } catch { }
                });
            });
            return Task.FromResult<JsonNode>(req.Upid(ht));
        }
        var t = sim.Tasks.Start(node, "qmstart", vmid.ToString(), req.User, async task =>
        {
            using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, task.Cts.Token);
            await StartCore(sim, node, vmid, skiplock, task, task.Cts.Token);
        });
        return Task.FromResult<JsonNode>(req.Upid(t));
    }

    /// <summary>vm_start (caller holds the VM flock).</summary>
    public static async Task StartCore(Sim sim, string node, int vmid, bool skiplock, SimTask task, CancellationToken ct, bool isReboot = false)
    {
        var st = sim.State;
        VmInfo vm;
        SortedDictionary<string, string> conf;
        lock (st.Sync)
        {
            vm = sim.LoadConfigLocked(node, vmid);
            if (vm.IsTemplate) throw PveException.Die("you can't start a vm if it's a template");
            if (!skiplock && !isReboot) Sim.CheckLock(vm);
            if (vm.Running && !isReboot) throw PveException.Die($"VM {vmid} already running");
            ConfigEndpoints.ApplyPending(st, vm);
            conf = new SortedDictionary<string, string>(vm.Config, StringComparer.Ordinal);
        }
        bool ci = sim.HasCloudInitDrive(conf);
        if (ci) task.Print("generating cloud-init ISO");
        await sim.Clock.DelayAsync(sim.D.Start, ct);

        string hookIp = null;
        if (sim.Hooks.HasStart)
        {
            var res = await sim.Hooks.RunStartAsync(Hooks.Env(vm, conf, "start"), ct);
            foreach (var line in res.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var m = Regex.Match(line.Trim(), @"^SIM_IP=(\S+)$");
                if (m.Success) hookIp = m.Groups[1].Value;
            }
            if (!res.Ok)
            {
                foreach (var line in res.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(20)) task.Print(line);
                var tail = Hooks.Tail(res.Stderr);
                throw new TaskErrorException(tail.Length > 0 ? tail : $"start hook failed with exit code {res.ExitCode}");
            }
        }

        lock (st.Sync)
        {
            if (!st.Vms.TryGetValue(vmid, out var cur) || !ReferenceEquals(cur, vm)) throw PveException.Die($"Configuration file '{SimState.ConfPath(node, vmid)}' does not exist");
            var run = new RunInfo
            {
                Status = "running",
                Pid = 10000 + st.Rng.Next(1, 3_000_000),
                StartedAt = sim.Clock.Now,
                AgentEnabledAtStart = Validator.AgentEnabled(conf.GetValueOrDefault("agent")),
                CloudInitAtStart = ci,
            };
            if (conf.TryGetValue("net0", out var net0))
            {
                try { run.Mac = Validator.ParsePropertyString(Validator.NetFormat, net0, "net0").GetValueOrDefault("macaddr"); } catch (FormatError) { }
            }
            if (ci)
            {
                string ip = "dhcp";
                string gw = null;
                if (conf.TryGetValue("ipconfig0", out var ipc))
                {
                    try
                    {
                        var p = Validator.ParsePropertyString(Validator.IpConfigFormat, ipc, "ipconfig0");
                        ip = p.GetValueOrDefault("ip") ?? (p.ContainsKey("ip6") ? "none" : "dhcp");
                        gw = p.GetValueOrDefault("gw");
                    }
                    catch (FormatError) { ip = "none"; }
                }
                if (ip == "dhcp")
                {
                    run.Ip = $"{sim.Settings.DhcpPrefix}.{vmid / 256 % 256}.{vmid % 256}";
                    run.Prefix = 16;
                    run.Gw = $"{sim.Settings.DhcpPrefix}.0.1";
                }
                else if (ip.Contains('/'))
                {
                    run.Ip = ip.Split('/')[0];
                    run.Prefix = int.Parse(ip.Split('/')[1]);
                    run.Gw = gw;
                }
            }
            if (hookIp != null)
            {
                var parts = hookIp.Split('/');
                run.Ip = parts[0];
                if (parts.Length > 1 && int.TryParse(parts[1], out var pfx)) run.Prefix = pfx;
                else if (run.Prefix == 0) run.Prefix = 24;
            }
            vm.Run = run;
            st.Touch();
        }
    }

    /// <summary>Stop the QEMU process and run the stop hook (caller holds the VM flock).</summary>
    public static async Task StopCore(Sim sim, VmInfo vm, SimTask task, CancellationToken ct, string evt = "stop")
    {
        SortedDictionary<string, string> conf;
        lock (sim.State.Sync)
        {
            vm.Run = new RunInfo();
            sim.State.Touch();
            conf = new SortedDictionary<string, string>(vm.Config, StringComparer.Ordinal);
        }
        if (sim.Hooks.HasStop)
        {
            var res = await sim.Hooks.RunStopAsync(Hooks.Env(vm, conf, evt), ct);
            if (!res.Ok) task.Warn("stop hook failed: " + Hooks.Tail(res.Stderr));
        }
    }

    static Task<JsonNode> Stop(ApiRequest req)
    {
        var sim = req.Sim;
        string node = req.Node;
        int vmid = req.Vmid;
        bool skiplock = req.Bool("skiplock");
        if (skiplock && req.User != "root@pam") throw PveException.Param("skiplock", "Only root may use this option.");
        bool ha;
        lock (sim.State.Sync) ha = sim.State.Vms.TryGetValue(vmid, out var v) && v.HaManaged && v.Node == node;
        var t = sim.Tasks.Start(node, ha ? "hastop" : "qmstop", vmid.ToString(), req.User, async task =>
        {
            var ct = task.Cts.Token;
            if (ha) task.Print($"Requesting HA stop for VM {vmid}");
            using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, ct);
            VmInfo vm;
            lock (sim.State.Sync)
            {
                vm = sim.LoadConfigLocked(node, vmid);
                if (!skiplock) Sim.CheckLock(vm);
                if (!vm.Running) return; // already stopped: OK
            }
            await sim.Clock.DelayAsync(sim.D.Stop, ct);
            await StopCore(sim, vm, task, ct);
        });
        return Task.FromResult<JsonNode>(req.Upid(t));
    }

    static Task<JsonNode> Shutdown(ApiRequest req)
    {
        var sim = req.Sim;
        string node = req.Node;
        int vmid = req.Vmid;
        bool skiplock = req.Bool("skiplock"), force = req.Bool("forceStop");
        long timeout = req.Int("timeout") ?? 60;
        if (skiplock && req.User != "root@pam") throw PveException.Param("skiplock", "Only root may use this option.");
        lock (sim.State.Sync)
            if (!force && sim.State.Vms.TryGetValue(vmid, out var v) && v.Node == node && v.Run.Status == "paused")
                throw PveException.Die("VM is paused - cannot shutdown");
        var t = sim.Tasks.Start(node, "qmshutdown", vmid.ToString(), req.User, async task =>
        {
            var ct = task.Cts.Token;
            using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, ct);
            VmInfo vm;
            bool acpi;
            lock (sim.State.Sync)
            {
                vm = sim.LoadConfigLocked(node, vmid);
                if (!skiplock) Sim.CheckLock(vm);
                if (!vm.Running) return;
                acpi = vm.Guest.AcpiResponsive;
            }
            if (acpi && sim.D.AcpiShutdown <= timeout)
            {
                await sim.Clock.DelayAsync(sim.D.AcpiShutdown, ct);
                await StopCore(sim, vm, task, ct);
                return;
            }
            await sim.Clock.DelayAsync(timeout, ct);
            if (!force) throw PveException.Die("VM quit/powerdown failed - got timeout");
            task.Print("VM quit/powerdown failed - terminating now with SIGTERM");
            await sim.Clock.DelayAsync(Math.Min(10, sim.D.Stop), ct);
            await StopCore(sim, vm, task, ct);
        });
        return Task.FromResult<JsonNode>(req.Upid(t));
    }

    static Task<JsonNode> Reboot(ApiRequest req)
    {
        var sim = req.Sim;
        string node = req.Node;
        int vmid = req.Vmid;
        sim.AssertConfigOnNode(node, vmid);
        lock (sim.State.Sync)
            if (!sim.State.Vms[vmid].Running) throw PveException.Die($"VM {vmid} not running");
        var t = sim.Tasks.Start(node, "qmreboot", vmid.ToString(), req.User, async task =>
        {
            var ct = task.Cts.Token;
            using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, ct);
            VmInfo vm;
            lock (sim.State.Sync)
            {
                vm = sim.LoadConfigLocked(node, vmid);
                Sim.CheckLock(vm);
                if (!vm.Running) throw PveException.Die($"VM {vmid} not running");
            }
            await sim.Clock.DelayAsync(sim.D.AcpiShutdown, ct);
            await StopCore(sim, vm, task, ct, "reboot");
            await StartCore(sim, node, vmid, true, task, ct, isReboot: true);
        });
        return Task.FromResult<JsonNode>(req.Upid(t));
    }
}
