using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator.Endpoints;

/// <summary>/nodes/{node}/qemu list, clone, destroy, status/current.</summary>
public static class QemuEndpoints
{
    public static void Register(Sim sim)
    {
        var r = sim.Router;

        r.Add("GET", "/nodes/{node}/qemu", List, schema: new() { ["full"] = PSpec.Bool() });

        r.Add("GET", "/nodes/{node}/qemu/{vmid}", req =>
        {
            req.Sim.LoadConfig(req.Node, req.Vmid);
            var a = new JsonArray();
            foreach (var s in new[] { "config", "pending", "status", "clone", "resize", "agent", "migrate" }) a.Add(new JsonObject { ["subdir"] = s });
            return Task.FromResult<JsonNode>(a);
        }, req => req.Check($"/vms/{req.Str("vmid")}", "VM.Audit"));

        r.Add("GET", "/nodes/{node}/qemu/{vmid}/status", req =>
        {
            req.Sim.LoadConfig(req.Node, req.Vmid);
            var a = new JsonArray();
            foreach (var s in new[] { "current", "start", "stop", "reset", "shutdown", "suspend", "reboot" }) a.Add(new JsonObject { ["subdir"] = s });
            return Task.FromResult<JsonNode>(a);
        }, req => req.Check($"/vms/{req.Str("vmid")}", "VM.Audit"));

        r.Add("GET", "/nodes/{node}/qemu/{vmid}/status/current", Current, req => req.Check($"/vms/{req.Str("vmid")}", "VM.Audit"));

        r.Add("POST", "/nodes/{node}/qemu/{vmid}/clone", Clone, ClonePerm, new()
        {
            ["newid"] = new PSpec { Type = PType.Integer, Optional = false, Min = 100, Max = 999999999 },
            ["name"] = PSpec.Fmt(Validator.DnsName),
            ["description"] = PSpec.Str(),
            ["pool"] = PSpec.Fmt(Validator.Id("pool")),
            ["snapname"] = new PSpec { Pattern = @"[a-zA-Z][a-zA-Z0-9_\-]+", MaxLength = 40 },
            ["storage"] = PSpec.Fmt(Validator.Id("storage")),
            ["format"] = PSpec.Enu("raw", "qcow2", "vmdk"),
            ["full"] = PSpec.Bool(),
            ["target"] = PSpec.Fmt(Validator.NodeName),
            ["bwlimit"] = PSpec.Int(0),
        });

        r.Add("DELETE", "/nodes/{node}/qemu/{vmid}", Destroy, req => req.Check($"/vms/{req.Str("vmid")}", "VM.Allocate"), new()
        {
            ["skiplock"] = PSpec.Bool(),
            ["purge"] = PSpec.Bool(),
            ["destroy-unreferenced-disks"] = PSpec.Bool(),
        });
    }

    // ------------------------------------------------------------------ list / status

    static Task<JsonNode> List(ApiRequest req)
    {
        var sim = req.Sim;
        var a = new JsonArray();
        lock (sim.State.Sync)
            foreach (var vm in sim.State.Vms.Values.Where(v => v.Node == req.Node))
            {
                if (!sim.Auth.Has(req.User, $"/vms/{vm.Vmid}", "VM.Audit")) continue;
                var o = Status(sim, vm);
                if (!req.Bool("full")) { o.Remove("qmpstatus"); o.Remove("running-qemu"); o.Remove("running-machine"); }
                o.Remove("agent");
                o.Remove("ha");
                a.Add(o);
            }
        return Task.FromResult<JsonNode>(a);
    }

    static Task<JsonNode> Current(ApiRequest req)
    {
        var sim = req.Sim;
        lock (sim.State.Sync)
        {
            var vm = sim.LoadConfigLocked(req.Node, req.Vmid);
            var o = Status(sim, vm);
            return Task.FromResult<JsonNode>(o);
        }
    }

    /// <summary>vmstatus() for one VM (call under State.Sync).</summary>
    public static JsonObject Status(Sim sim, VmInfo vm)
    {
        var c = vm.Config;
        long mem = SimState.MemoryMiB(c.GetValueOrDefault("memory")) << 20;
        var o = new JsonObject
        {
            ["vmid"] = vm.Vmid,
            ["name"] = vm.Name() ?? $"VM {vm.Vmid}",
            ["status"] = vm.Running ? "running" : "stopped",
            ["qmpstatus"] = vm.Run.Status,
            ["cpus"] = SimState.Cpus(c),
            ["maxmem"] = mem,
            ["mem"] = vm.Running ? mem / 3 : 0,
            ["maxdisk"] = SimState.BootDiskSize(c),
            ["disk"] = 0,
            ["cpu"] = vm.Running ? 0.01 : 0,
            ["uptime"] = (long)sim.State.Uptime(vm, sim.Clock.Now),
            ["netin"] = 0,
            ["netout"] = 0,
            ["diskread"] = 0,
            ["diskwrite"] = 0,
        };
        if (vm.Running)
        {
            o["pid"] = vm.Run.Pid;
            o["running-qemu"] = "9.0.2";
            o["running-machine"] = "pc-i440fx-9.0+pve0";
            o["balloon"] = mem;
        }
        if (vm.Lock != null) o["lock"] = vm.Lock;
        if (c.TryGetValue("tags", out var tags)) o["tags"] = tags;
        if (vm.IsTemplate) o["template"] = 1;
        if (c.Keys.Any(k => k.StartsWith("serial"))) o["serial"] = 1;
        if (Validator.AgentEnabled(c.GetValueOrDefault("agent"))) o["agent"] = 1;
        o["ha"] = vm.HaManaged ? new JsonObject { ["managed"] = 1, ["state"] = "started" } : new JsonObject { ["managed"] = 0 };
        return o;
    }

    // ------------------------------------------------------------------ clone

    static void ClonePerm(ApiRequest req)
    {
        var user = req.User;
        req.Check($"/vms/{req.Str("vmid")}", "VM.Clone");
        var pool = req.Str("pool");
        bool ok = req.Sim.Auth.Has(user, $"/vms/{req.Str("newid")}", "VM.Allocate")
                  || (pool != null && req.Sim.Auth.Has(user, $"/pool/{pool}", "VM.Allocate"));
        if (!ok) throw PveException.Perm();
    }

    sealed class ClonePlan
    {
        public SortedDictionary<string, string> OldConf;
        public SortedDictionary<string, string> NewConf = new(StringComparer.Ordinal);
        public List<(string key, Drive drive, bool full)> Drives = new();
        public bool Running;
    }

    sealed class CloneArgs
    {
        public string Node, Target, Pool, Storage, Format, Snapname, Name, Description, User;
        public int Vmid, Newid;
        public bool? Full;
        public bool Running;
    }

    static ClonePlan LoadAndCheck(Sim sim, CloneArgs a)
    {
        var st = sim.State;
        lock (st.Sync)
        {
            if (a.Pool != null && !st.Pools.Contains(a.Pool)) throw PveException.Perm($"pool '{a.Pool}' does not exist");
            if (a.Target != null && !st.Nodes.ContainsKey(a.Target)) throw PveException.Die($"no such cluster node '{a.Target}'");
        }
        StorageInfo targetStorage = null;
        if (a.Storage != null)
        {
            targetStorage = sim.StorageCheckEnabled(a.Storage, a.Node);
            if (!targetStorage.Content.Contains("images")) throw PveException.Param("storage", $"storage '{a.Storage}' does not support vm images");
            if (a.Target != null)
            {
                sim.StorageCheckEnabled(a.Storage, a.Target);
                if (!targetStorage.Shared) throw PveException.Die($"can't clone to non-shared storage '{a.Storage}'");
            }
        }
        sim.CheckQuorum();

        var plan = new ClonePlan();
        lock (st.Sync)
        {
            var vm = sim.LoadConfigLocked(a.Node, a.Vmid);
            Sim.CheckLock(vm);
            if (vm.Running != a.Running) throw PveException.Die("unexpected state change");
            plan.OldConf = new SortedDictionary<string, string>(vm.Config, StringComparer.Ordinal);
            plan.Running = vm.Running;
        }
        if (a.Snapname != null) throw PveException.Die($"snapshot '{a.Snapname}' does not exist");
        bool full = a.Full ?? !(plan.OldConf.GetValueOrDefault("template") == "1");
        if (a.Storage != null && !full) throw PveException.Die("parameter 'storage' not allowed for linked clones");
        if (a.Format != null && !full) throw PveException.Die("parameter 'format' not allowed for linked clones");

        // check_storage_access_clone
        bool sharedvm = true;
        foreach (var (k, v) in plan.OldConf)
        {
            if (!Drive.IsDriveKey(k) || k.StartsWith("unused")) continue;
            var d = Drive.Parse(v);
            if (string.IsNullOrEmpty(d.File) || d.File == "none") continue;
            var sid = d.File.Split(':')[0];
            var scfg = sim.StorageOf(d.File);
            if (d.IsCdrom)
            {
                if (d.File == "cdrom") sim.Auth.Check(a.User, "/", new[] { "Sys.Console" });
                else if (scfg != null && !scfg.Shared) sharedvm = false;
            }
            else
            {
                if (scfg != null && !scfg.Shared) sharedvm = false;
                sim.Auth.Check(a.User, "/storage/" + (a.Storage ?? sid), new[] { "Datastore.AllocateSpace" });
            }
        }
        sim.CheckBridgeAccess(a.User, plan.OldConf);
        if (a.Target != null && !sharedvm) throw PveException.Die($"can't clone VM to node '{a.Target}' (VM uses local storage)");
        lock (st.Sync)
            if (st.Vms.TryGetValue(a.Newid, out var ex) && ex.Node == a.Node)
                throw PveException.Die($"unable to create VM {a.Newid}: config file already exists");

        foreach (var (k, v) in plan.OldConf)
        {
            if (k is "snapshots" or "parent" or "snaptime" or "vmstate" or "snapstate" or "runningcpu" or "runningmachine" or "running-nets-host-mtu") continue;
            if (Regex.IsMatch(k, @"^unused\d+$")) continue;
            if (Regex.IsMatch(k, @"^net\d+$"))
            {
                Dictionary<string, string> net;
                try { net = Validator.ParsePropertyString(Validator.NetFormat, v, k); }
                catch (FormatError) { plan.NewConf[k] = v; continue; }
                lock (st.Sync) net["macaddr"] = st.RandomMac();
                plan.NewConf[k] = Validator.PrintNet(net);
            }
            else if (Drive.IsDriveKey(k))
            {
                var d = Drive.Parse(v);
                if (d.IsCdrom && !d.IsCloudInit) { plan.NewConf[k] = v; continue; }
                var scfg = sim.StorageOf(d.File);
                var volname = d.File.Contains(':') ? d.File[(d.File.IndexOf(':') + 1)..] : d.File;
                if (full || d.IsCloudInit || k == "tpmstate0")
                {
                    if (scfg == null) throw PveException.Die($"Full clone feature is not supported for '{d.File}' ({k})");
                    plan.Drives.Add((k, d, true));
                }
                else
                {
                    bool linkable = scfg != null && scfg.SupportsLinkedClone && Regex.IsMatch(volname, @"(^|/)base-\d+-");
                    if (!linkable) throw PveException.Die($"Linked clone feature is not supported for '{d.File}' ({k})");
                    plan.Drives.Add((k, d, false));
                }
            }
            else plan.NewConf[k] = v;
        }
        return plan;
    }

    static async Task<JsonNode> Clone(ApiRequest req)
    {
        var sim = req.Sim;
        var a = new CloneArgs
        {
            Node = req.Node, Vmid = req.Vmid, Newid = (int)req.Int("newid"), Pool = req.Str("pool"), Storage = req.Str("storage"),
            Format = req.Str("format"), Snapname = req.Str("snapname"), Target = req.Str("target"), Name = req.Str("name"),
            Description = req.Str("description"), Full = req.OptBool("full"), User = req.User,
        };
        if (a.Target == a.Node || a.Target == "localhost") a.Target = null;
        sim.AssertConfigOnNode(a.Node, a.Vmid); // check_running
        lock (sim.State.Sync) a.Running = sim.State.Vms[a.Vmid].Running;
        LoadAndCheck(sim, a); // early checks before forking/locking
        var t = sim.Tasks.Start(a.Node, "qmclone", a.Vmid.ToString(), req.User, task => CloneTask(sim, a, task));
        await Task.CompletedTask;
        return req.Upid(t);
    }

    static async Task CloneTask(Sim sim, CloneArgs a, SimTask task)
    {
        var ct = task.Cts.Token;
        var st = sim.State;
        using var srcLock = await sim.Flocks.LockVmAsync(a.Node, a.Vmid, a.Running, 1, ct);
        using var dstLock = await sim.Flocks.LockVmAsync(a.Node, a.Newid, true, 1, ct);
        var plan = LoadAndCheck(sim, a);
        task.Print($"creating a clone of VM {a.Vmid} with ID {a.Newid}");

        var newconf = plan.NewConf;
        lock (st.Sync)
        {
            var smb = newconf.GetValueOrDefault("smbios1") ?? "";
            var parts = smb.Split(',', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("uuid=")).ToList();
            parts.Insert(0, "uuid=" + st.RandomUuid());
            newconf["smbios1"] = string.Join(',', parts);
            if (newconf.ContainsKey("vmgenid")) newconf["vmgenid"] = st.RandomUuid();
        }
        newconf.Remove("template");
        newconf["name"] = a.Name ?? "Copy-of-VM-" + (plan.OldConf.GetValueOrDefault("name") ?? a.Vmid.ToString());
        if (!string.IsNullOrEmpty(a.Description)) newconf["description"] = a.Description;
        newconf["lock"] = "clone";

        // create the temporary config - fails if the VMID exists on another node (pmxcfs)
        VmInfo vm;
        lock (st.Sync)
        {
            if (st.Vms.ContainsKey(a.Newid))
                throw PveException.Die($"close (rename) atomic file '/etc/pve/nodes/{a.Node}/qemu-server/{a.Newid}.conf' failed: File exists");
            vm = new VmInfo { Vmid = a.Newid, Node = a.Node, Creating = true };
            vm.Config["description"] = "qmclone temporary file";
            vm.Config["lock"] = "clone";
            st.Vms[a.Newid] = vm;
            st.Rrd.Remove(a.Newid);
            st.Touch();
        }

        var newVols = new List<VolumeInfo>();
        try
        {
            var dataDrives = plan.Drives.Count(d => d.full && !d.drive.IsCloudInit);
            int i = 0;
            foreach (var (key, drive, full) in plan.Drives)
            {
                ct.ThrowIfCancellationRequested();
                if (task.InjectedFailure != null && i > 0) throw new TaskErrorException(task.InjectedFailure);
                i++;
                task.Print($"create {(full ? "full" : "linked")} clone of drive {key} ({drive.File})");
                var srcSt = sim.StorageOf(drive.File);
                var dstSt = full && a.Storage != null && !drive.IsCloudInit ? sim.StorageOf(a.Storage + ":x") : srcSt;
                if (full && a.Storage != null && drive.IsCloudInit) dstSt = sim.StorageOf(a.Storage + ":x");
                long size;
                VolumeInfo srcVol;
                lock (st.Sync) srcVol = st.FindVolume(a.Node, drive.File);
                size = srcVol?.SizeBytes ?? Units.ParseSize(drive.Get("size") ?? "") ?? (4L << 20);
                VolumeInfo nv;
                using (await sim.Flocks.LockStorageAsync(dstSt, a.Node, 10, ct))
                {
                    lock (st.Sync)
                    {
                        string volname;
                        if (!full)
                        {
                            var srcName = drive.File[(drive.File.IndexOf(':') + 1)..];
                            var vmName = st.FreeDiskName(dstSt, a.Node, a.Newid);
                            volname = dstSt.Type is "lvmthin" or "lvm" ? vmName : $"{srcName}/{vmName}";
                        }
                        else if (drive.IsCloudInit) volname = $"vm-{a.Newid}-cloudinit" + (dstSt.IsFileBased ? ".qcow2" : "");
                        else volname = st.FreeDiskName(dstSt, a.Node, a.Newid);
                        nv = st.AddVolume(dstSt, a.Node, volname, a.Newid, drive.IsCloudInit ? 4L << 20 : size, full ? null : drive.File);
                        newVols.Add(nv);
                        st.Touch();
                    }
                }
                var lvName = nv.VolId[(nv.VolId.IndexOf(':') + 1)..].Split('/').Last();
                if (dstSt.Type is "lvmthin" or "lvm") task.Print($"  Logical volume \"{lvName}\" created.");
                if (full)
                {
                    task.Print($"allocated target volume '{nv.VolId}'");
                    if (!drive.IsCloudInit)
                    {
                        double dur = sim.D.FullCloneBase / Math.Max(1, dataDrives) + size / (double)(1L << 30) * sim.D.FullClonePerGiB;
                        for (int step = 0; step <= 4; step++)
                        {
                            if (step > 0) await sim.Clock.DelayAsync(dur / 4, ct);
                            long done = size * step / 4;
                            task.Print($"transferred {Units.Human(done)} of {Units.Human(size)} ({step * 25:0.00}%)");
                        }
                    }
                    else await sim.Clock.DelayAsync(0.1, ct);
                }
                else await sim.Clock.DelayAsync(sim.D.LinkedClone / Math.Max(1, plan.Drives.Count(d => !d.full)), ct);

                drive.File = nv.VolId;
                if (!drive.IsCdrom) drive.Set("size", Units.FormatSize(nv.SizeBytes));
                newconf[key] = drive.ToString();
                lock (st.Sync)
                {
                    vm.Config = new SortedDictionary<string, string>(newconf, StringComparer.Ordinal);
                    st.Touch();
                }
            }
            if (task.InjectedFailure != null) throw new TaskErrorException(task.InjectedFailure);
            if (plan.Drives.Count == 0) await sim.Clock.DelayAsync(sim.D.LinkedClone, ct);

            newconf.Remove("lock");
            lock (st.Sync)
            {
                vm.Config = new SortedDictionary<string, string>(newconf, StringComparer.Ordinal);
                vm.Creating = false;
                if (a.Target != null) vm.Node = a.Target;
                if (a.Pool != null) vm.Pool = a.Pool;
                st.Touch();
            }
        }
        catch (Exception e) when (e is PveException or TaskErrorException or OperationCanceledException)
        {
            await Task.Delay(50, CancellationToken.None);
            lock (st.Sync)
            {
                foreach (var v in newVols) st.RemoveVolume(v);
                if (st.Vms.TryGetValue(a.Newid, out var cur) && ReferenceEquals(cur, vm)) st.Vms.Remove(a.Newid);
                st.Touch();
            }
            string msg = e is OperationCanceledException ? "interrupted by signal" : e.Message.TrimEnd('\n');
            if (e is TaskErrorException && task.InjectedFailure != null && msg == task.InjectedFailure) throw;
            throw new TaskErrorException("clone failed: " + msg);
        }
    }

    // ------------------------------------------------------------------ destroy

    static void DestroyEarlyChecks(Sim sim, string node, int vmid, bool purge)
    {
        lock (sim.State.Sync)
        {
            var vm = sim.LoadConfigLocked(node, vmid);
            if (vm.Config.GetValueOrDefault("protection") == "1") throw PveException.Die($"can't remove VM {vmid} - protection mode enabled");
            if (!purge && vm.HaManaged) throw PveException.Die($"unable to remove VM {vmid} - used in HA resources and purge parameter not set.");
            if (vm.Running) throw PveException.Die($"VM {vmid} is running - destroy failed");
        }
    }

    static Task<JsonNode> Destroy(ApiRequest req)
    {
        var sim = req.Sim;
        string node = req.Node;
        int vmid = req.Vmid;
        bool purge = req.Bool("purge"), skiplock = req.Bool("skiplock"), unref = req.Bool("destroy-unreferenced-disks");
        if (skiplock && req.User != "root@pam") throw PveException.Param("skiplock", "Only root may use this option.");
        DestroyEarlyChecks(sim, node, vmid, purge);
        var t = sim.Tasks.Start(node, "qmdestroy", vmid.ToString(), req.User, async task =>
        {
            var ct = task.Cts.Token;
            var st = sim.State;
            using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, ct);
            DestroyEarlyChecks(sim, node, vmid, purge);
            VmInfo vm;
            SortedDictionary<string, string> conf;
            lock (st.Sync)
            {
                vm = sim.LoadConfigLocked(node, vmid);
                if (!skiplock) Sim.CheckLock(vm);
                vm.Config["lock"] = "destroyed";
                st.Touch();
                conf = vm.EffectiveConfig();
                foreach (var (k, v) in vm.Config) conf.TryAdd(k, v);
            }
            await sim.Clock.DelayAsync(sim.D.Destroy, ct);
            lock (st.Sync)
            {
                var referenced = conf.Where(kv => Drive.IsDriveKey(kv.Key)).Select(kv => Drive.Parse(kv.Value)).Where(d => !(d.IsCdrom && !d.IsCloudInit)).Select(d => d.File).ToHashSet();
                var vols = st.Volumes.Values.Where(v => v.OwnerVmid == vmid && (v.Node == null || v.Node == node)
                    && (unref || referenced.Contains(v.VolId))).ToList();
                foreach (var v in vols)
                {
                    var users = st.Volumes.Values.Where(x => x.Base == v.VolId).ToList();
                    if (users.Count > 0)
                    {
                        task.Warn($"Could not remove disk '{v.VolId}', check manually: base volume '{v.VolId[(v.VolId.IndexOf(':') + 1)..]}' is still in use by linked cloned");
                        continue;
                    }
                    st.RemoveVolume(v);
                    var stc = st.Storages.GetValueOrDefault(v.Storage);
                    var lv = v.VolId[(v.VolId.IndexOf(':') + 1)..].Split('/').Last();
                    if (stc?.Type is "lvmthin" or "lvm") task.Print($"  Logical volume \"{lv}\" successfully removed.");
                    else if (stc?.Type == "rbd") task.Print("Removing image: 100% complete...done.");
                }
                if (purge)
                {
                    task.Print($"purging VM {vmid} from related configurations..");
                    if (vm.HaManaged) task.Print($"NOTE: removed VM {vmid} from HA resource configuration.");
                }
            }
            if (sim.Hooks.HasStop)
            {
                var res = await sim.Hooks.RunStopAsync(Hooks.Env(vm, conf, "destroy"), ct);
                if (!res.Ok) task.Warn("destroy hook failed: " + Hooks.Tail(res.Stderr));
            }
            lock (st.Sync)
            {
                // only now remove the zombie config, else we can have reuse race
                if (st.Vms.TryGetValue(vmid, out var cur) && ReferenceEquals(cur, vm)) st.Vms.Remove(vmid);
                st.Rrd.Remove(vmid);
                st.Touch();
            }
        });
        return Task.FromResult<JsonNode>(req.Upid(t));
    }
}
