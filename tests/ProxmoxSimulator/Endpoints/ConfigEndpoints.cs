using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator.Endpoints;

/// <summary>GET/POST/PUT config, GET pending, PUT resize.</summary>
public static class ConfigEndpoints
{
    static readonly string[] ConfigPermList =
        { "VM.Config.Disk", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.HWType", "VM.Config.Options", "VM.Config.Cloudinit" };

    public static void Register(Sim sim)
    {
        var r = sim.Router;
        Action<ApiRequest> audit = req => req.Check($"/vms/{req.Str("vmid")}", "VM.Audit");
        Action<ApiRequest> modify = req => req.CheckAny($"/vms/{req.Str("vmid")}", ConfigPermList);

        r.Add("GET", "/nodes/{node}/qemu/{vmid}/config", GetConfig, audit, new()
        {
            ["current"] = PSpec.Bool(),
            ["snapshot"] = PSpec.Str(),
        });
        r.Add("GET", "/nodes/{node}/qemu/{vmid}/pending", GetPending, audit);

        var update = new Dictionary<string, PSpec>
        {
            ["skiplock"] = PSpec.Bool(),
            ["delete"] = PSpec.Fmt(Validator.ConfigIdList),
            ["revert"] = PSpec.Fmt(Validator.ConfigIdList),
            ["force"] = new PSpec { Type = PType.Boolean, Requires = "delete" },
            ["digest"] = new PSpec { MaxLength = 40 },
            ["skip_cloud_init"] = PSpec.Bool(),
            ["import-working-storage"] = PSpec.Fmt(Validator.Id("storage")),
        };
        var post = new Dictionary<string, PSpec>(update) { ["background_delay"] = PSpec.Int(1, 30) };
        r.Add("POST", "/nodes/{node}/qemu/{vmid}/config", req => Update(req, false), modify, post, ConfigSchema.Get);
        r.Add("PUT", "/nodes/{node}/qemu/{vmid}/config", req => Update(req, true), modify, update, ConfigSchema.Get);

        var disks = Enumerable.Range(0, 4).Select(i => $"ide{i}").Concat(Enumerable.Range(0, 6).Select(i => $"sata{i}"))
            .Concat(Enumerable.Range(0, 31).Select(i => $"scsi{i}")).Concat(Enumerable.Range(0, 16).Select(i => $"virtio{i}"))
            .Concat(new[] { "efidisk0", "tpmstate0" }).ToArray();
        r.Add("PUT", "/nodes/{node}/qemu/{vmid}/resize", Resize, req => req.Check($"/vms/{req.Str("vmid")}", "VM.Config.Disk"), new()
        {
            ["skiplock"] = PSpec.Bool(),
            ["disk"] = new PSpec { Enum = disks, Optional = false },
            ["size"] = new PSpec { Pattern = @"\+?\d+(\.\d+)?[KMGT]?", Optional = false },
            ["digest"] = new PSpec { MaxLength = 40 },
        });
    }

    // ------------------------------------------------------------------ GET

    static Task<JsonNode> GetConfig(ApiRequest req)
    {
        var sim = req.Sim;
        if (req.Has("snapshot")) throw PveException.Die($"snapshot '{req.Str("snapshot")}' does not exist");
        lock (sim.State.Sync)
        {
            var vm = sim.LoadConfigLocked(req.Node, req.Vmid);
            var conf = req.Bool("current") ? vm.Config : vm.EffectiveConfig();
            var o = new JsonObject();
            foreach (var (k, v) in conf)
                o[k] = k == "cipassword" ? "**********" : Json.ConfigValue(k, v, sim.Settings.MemoryAsString);
            o["digest"] = vm.Digest();
            return Task.FromResult<JsonNode>(o);
        }
    }

    static Task<JsonNode> GetPending(ApiRequest req)
    {
        var sim = req.Sim;
        lock (sim.State.Sync)
        {
            var vm = sim.LoadConfigLocked(req.Node, req.Vmid);
            var keys = vm.Config.Keys.Concat(vm.Pending.Keys).Concat(vm.PendingDelete).Distinct().OrderBy(k => k, StringComparer.Ordinal);
            var a = new JsonArray();
            foreach (var k in keys)
            {
                var o = new JsonObject { ["key"] = k };
                if (vm.Config.TryGetValue(k, out var v)) o["value"] = k == "cipassword" ? "**********" : Json.ConfigValue(k, v, sim.Settings.MemoryAsString);
                if (vm.Pending.TryGetValue(k, out var p)) o["pending"] = k == "cipassword" ? "**********" : Json.ConfigValue(k, p, sim.Settings.MemoryAsString);
                if (vm.PendingDelete.Contains(k)) o["delete"] = 1;
                a.Add(o);
            }
            return Task.FromResult<JsonNode>(a);
        }
    }

    // ------------------------------------------------------------------ update_vm_api

    sealed class UpdateArgs
    {
        public string Node, User, Digest;
        public int Vmid;
        public bool Skiplock, Force;
        public SortedDictionary<string, string> Param = new(StringComparer.Ordinal);
        public List<string> Delete = new();
        public HashSet<string> Revert = new();
        public string ParamArr;
    }

    static async Task<JsonNode> Update(ApiRequest req, bool sync)
    {
        var sim = req.Sim;
        var a = new UpdateArgs { Node = req.Node, Vmid = req.Vmid, User = req.User };
        foreach (var (k, v) in req.Params)
            if (v.Defined && k is not ("node" or "vmid")) a.Param[k] = v.S;
        a.Digest = Extract(a.Param, "digest");
        long? backgroundDelay = long.TryParse(Extract(a.Param, "background_delay"), out var bd) ? bd : null;
        Extract(a.Param, "skip_cloud_init");
        Extract(a.Param, "import-working-storage");
        a.ParamArr = string.Join(' ', a.Param.Select(kv => $"-{kv.Key} {(kv.Key == "cipassword" ? "<hidden>" : kv.Value)}"));
        a.Skiplock = Extract(a.Param, "skiplock") == "1";
        if (a.Skiplock && a.User != "root@pam") throw PveException.Param("skiplock", "Only root may use this option.");
        var deleteStr = Extract(a.Param, "delete");
        var revertStr = Extract(a.Param, "revert");
        a.Force = Extract(a.Param, "force") == "1";

        if (a.Param.TryGetValue("sshkeys", out var sshkeys))
            ValidateSshKeys(UriUnescape(sshkeys));

        if (string.IsNullOrEmpty(deleteStr) && string.IsNullOrEmpty(revertStr) && a.Param.Count == 0)
            throw PveException.Die("no options specified");

        foreach (var opt in Validator.SplitList(revertStr))
        {
            if (!ConfigSchema.OptionExists(opt)) throw PveException.Param("revert", $"unknown option '{opt}'");
            if (a.Param.ContainsKey(opt)) throw PveException.Param("delete", $"you can't use '-{opt}' and -revert {opt}' at the same time");
            a.Revert.Add(opt);
        }
        foreach (var opt0 in Validator.SplitList(deleteStr))
        {
            var opt = opt0 == "cdrom" ? "ide2" : opt0;
            if (a.Param.ContainsKey(opt)) throw PveException.Param("delete", $"you can't use '-{opt}' and -delete {opt}' at the same time");
            if (a.Revert.Contains(opt)) throw PveException.Param("revert", $"you can't use '-delete {opt}' and -revert {opt}' at the same time");
            if (!ConfigSchema.OptionExists(opt)) throw PveException.Param("delete", $"unknown option '{opt}'");
            a.Delete.Add(opt);
        }
        if (a.Param.Remove("cdrom", out var cdrom)) a.Param["ide2"] = cdrom;

        // check_drive_param: new volumes must name an existing storage
        foreach (var (k, v) in a.Param.ToList())
        {
            if (!Drive.IsDriveKey(k)) continue;
            var d = Drive.Parse(v);
            var m = Regex.Match(d.File ?? "", @"^([^:]+):(cloudinit|\d+(\.\d+)?)$");
            if (m.Success) sim.StorageCheckEnabled(m.Groups[1].Value, a.Node);
        }
        foreach (var k in a.Param.Keys.ToList())
        {
            if (Regex.IsMatch(k, @"^net\d+$"))
            {
                var net = Validator.ParsePropertyString(Validator.NetFormat, a.Param[k], k);
                if (!net.ContainsKey("macaddr")) lock (sim.State.Sync) net["macaddr"] = sim.State.RandomMac();
                a.Param[k] = Validator.PrintNet(net);
            }
            else if (k == "vmgenid" && a.Param[k] == "1") lock (sim.State.Sync) a.Param[k] = sim.State.RandomUuid();
        }

        CheckModifyPerm(sim, a.User, a.Vmid, a.Delete);
        CheckModifyPerm(sim, a.User, a.Vmid, a.Param.Keys);
        foreach (var (k, v) in a.Param)
        {
            if (!Drive.IsDriveKey(k)) continue;
            var d = Drive.Parse(v);
            if (d.IsCdrom && !d.IsCloudInit && !(d.File ?? "").EndsWith(":cloudinit")) sim.Auth.Check(a.User, $"/vms/{a.Vmid}", new[] { "VM.Config.CDROM" });
            else if (d.IsCloudInit || (d.File ?? "").EndsWith(":cloudinit")) sim.Auth.Check(a.User, $"/vms/{a.Vmid}", new[] { "VM.Config.Cloudinit", "VM.Config.CDROM" });
            else sim.Auth.Check(a.User, $"/vms/{a.Vmid}", new[] { "VM.Config.Disk" });
            var m = Regex.Match(d.File ?? "", @"^([^:]+):(cloudinit|\d+(\.\d+)?)$");
            if (m.Success) sim.Auth.Check(a.User, "/storage/" + m.Groups[1].Value, new[] { "Datastore.AllocateSpace" });
        }
        sim.CheckBridgeAccess(a.User, a.Param);

        LoadAndCheckConfig(sim, a); // early checks before forking/locking

        if (sync)
        {
            using var l = await sim.Flocks.LockVmAsync(a.Node, a.Vmid, true, 10, CancellationToken.None);
            UpdateFn(sim, a, null);
            return null;
        }

        var t = sim.Tasks.Start(a.Node, "qmconfig", a.Vmid.ToString(), a.User, async task =>
        {
            using var l = await sim.Flocks.LockVmAsync(a.Node, a.Vmid, true, 10, task.Cts.Token);
            await sim.Clock.DelayAsync(sim.D.Config, task.Cts.Token);
            UpdateFn(sim, a, task);
        });
        if (backgroundDelay is long delay)
        {
            t.Gate.TrySetResult();
            var timeout = sim.Clock.DelayAsync(delay);
            await Task.WhenAny(t.Done.Task, timeout);
            if (t.Stopped)
            {
                var status = t.ExitStatus();
                if (status == "OK" || status.StartsWith("WARNINGS")) return null;
                throw PveException.Die($"failed to update VM {a.Vmid}: {status}");
            }
        }
        return req.Upid(t);
    }

    static string Extract(SortedDictionary<string, string> p, string k) => p.Remove(k, out var v) ? v : null;

    static string UriUnescape(string s) =>
        Regex.Replace(s, "%([0-9a-fA-F]{2})", m => ((char)Convert.ToByte(m.Groups[1].Value, 16)).ToString()) is var latin
            ? Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(latin)) : s;

    static void CheckModifyPerm(Sim sim, string user, int vmid, IEnumerable<string> keys)
    {
        if (user == "root@pam") return;
        foreach (var k in keys)
        {
            if (ConfigSchema.SkipsGenericPermCheck(k)) continue;
            var (privs, any) = ConfigSchema.PrivsFor(k);
            if (privs == null) throw PveException.Die($"only root can set '{k}' config");
            sim.Auth.Check(user, $"/vms/{vmid}", privs, any);
        }
    }

    static VmInfo LoadAndCheckConfig(Sim sim, UpdateArgs a)
    {
        lock (sim.State.Sync)
        {
            var vm = sim.LoadConfigLocked(a.Node, a.Vmid);
            if (!string.IsNullOrEmpty(a.Digest) && a.Digest != vm.Digest()) throw PveException.Die("checksum mismatch (file change by other user?)");
            if (!a.Skiplock) Sim.CheckLock(vm);
            if (a.Param.ContainsKey("memory") || a.Param.ContainsKey("balloon"))
            {
                var mem = SimState.MemoryMiB(a.Param.GetValueOrDefault("memory") ?? vm.Pending.GetValueOrDefault("memory") ?? vm.Config.GetValueOrDefault("memory"));
                var balloonStr = a.Param.GetValueOrDefault("balloon") ?? vm.Pending.GetValueOrDefault("balloon") ?? vm.Config.GetValueOrDefault("balloon");
                if (long.TryParse(balloonStr, out var balloon) && balloon > 0 && balloon > mem)
                    throw PveException.Die("balloon value too large (must be smaller than assigned memory)");
            }
            return vm;
        }
    }

    static void UpdateFn(Sim sim, UpdateArgs a, SimTask task)
    {
        var st = sim.State;
        LoadAndCheckConfig(sim, a);
        lock (st.Sync)
        {
            var vm = sim.LoadConfigLocked(a.Node, a.Vmid);
            task?.Print($"update VM {a.Vmid}: {a.ParamArr}");
            var param = new SortedDictionary<string, string>(a.Param, StringComparer.Ordinal);
            var delete = a.Delete.ToList();
            foreach (var opt in a.Revert)
            {
                if (vm.Config.TryGetValue(opt, out var cur)) param[opt] = cur;
                else if (vm.Pending.ContainsKey(opt)) delete.Add(opt);
            }

            var bootorder = new List<string>();
            if (vm.Config.TryGetValue("boot", out var boot))
            {
                var m = Regex.Match(boot, @"(?:^|,)order=([^,]*)");
                if (m.Success) bootorder = Validator.SplitList(m.Groups[1].Value).ToList();
            }

            foreach (var opt in delete)
            {
                if (!vm.Config.ContainsKey(opt) && !vm.Pending.ContainsKey(opt))
                {
                    var msg = $"cannot delete '{opt}' - not set in current configuration!";
                    if (task != null) task.Print(msg);
                    continue;
                }
                vm.Pending.Remove(opt);
                if (bootorder.Contains(opt))
                {
                    bootorder.Remove(opt);
                    vm.Pending["boot"] = "order=" + string.Join(';', bootorder);
                }
                if (opt == "tags") { vm.Config.Remove(opt); continue; }
                if (Regex.IsMatch(opt, @"^unused\d+$"))
                {
                    if (vm.Config.GetValueOrDefault("protection") == "1") throw PveException.Die($"can't remove unused disk '{vm.Config[opt]}' - protection mode enabled");
                    var vol = st.FindVolume(vm.Node, Drive.Parse(vm.Config[opt]).File);
                    if (vol != null && vol.OwnerVmid == vm.Vmid) st.RemoveVolume(vol);
                    vm.Config.Remove(opt);
                    continue;
                }
                if (Drive.IsDriveKey(opt) && vm.Config.GetValueOrDefault("protection") == "1")
                    throw PveException.Die($"can't remove drive '{opt}' - protection mode enabled");
                if (!vm.PendingDelete.Contains(opt)) vm.PendingDelete.Add(opt);
            }

            foreach (var (opt, value0) in param)
            {
                var value = value0;
                if (vm.Pending.TryGetValue(opt, out var pend) && pend == value) continue;
                if (Drive.IsDriveKey(opt)) value = CreateDisk(sim, vm, opt, value);
                if (opt == "tags") value = UniqueTags(value);
                if (opt == "cipassword")
                {
                    if (!Regex.IsMatch(value, @"^\$(?:[156]|2[ay])(\$.+){2}")) value = EncryptPw(value);
                    vm.Config["cipassword"] = value;
                    vm.PendingDelete.Remove(opt);
                    continue;
                }
                if (opt == "boot")
                {
                    var m = Regex.Match(value, @"(?:^|,)order=([^,]*)");
                    if (m.Success)
                    {
                        var devs = Validator.SplitList(m.Groups[1].Value).ToList();
                        foreach (var dev in devs)
                            if (!(vm.Config.ContainsKey(dev) || vm.Pending.ContainsKey(dev) || param.ContainsKey(dev)) || delete.Contains(dev))
                                throw PveException.Die($"invalid bootorder: device '{dev}' does not exist'");
                        value = "order=" + string.Join(';', devs);
                    }
                }
                vm.Pending[opt] = value;
                vm.PendingDelete.Remove(opt);
            }

            // cleanup_pending: drop pending values equal to the current ones
            foreach (var (k, v) in vm.Pending.ToList())
                if (vm.Config.TryGetValue(k, out var cur) && cur == v) vm.Pending.Remove(k);
            vm.PendingDelete.RemoveAll(k => !vm.Config.ContainsKey(k));

            if (vm.Running)
            {
                // vmconfig_hotplug_pending: fast-plug, cloud-init, network and disks at once; the rest waits for a reboot
                foreach (var k in vm.PendingDelete.Where(ConfigSchema.IsHotpluggable).ToList())
                {
                    DeleteKey(st, vm, k);
                    vm.PendingDelete.Remove(k);
                }
                foreach (var (k, v) in vm.Pending.Where(kv => ConfigSchema.IsHotpluggable(kv.Key)).ToList())
                {
                    vm.Config[k] = v;
                    vm.Pending.Remove(k);
                }
            }
            else ApplyPending(st, vm);
            st.Touch();
        }
    }

    /// <summary>vmconfig_apply_pending (call under State.Sync).</summary>
    public static void ApplyPending(SimState st, VmInfo vm)
    {
        foreach (var k in vm.PendingDelete.ToList()) DeleteKey(st, vm, k);
        vm.PendingDelete.Clear();
        foreach (var (k, v) in vm.Pending)
        {
            if (Drive.IsDriveKey(k) && vm.Config.TryGetValue(k, out var old) && old != v) RegisterUnused(vm, old);
            vm.Config[k] = v;
        }
        vm.Pending.Clear();
        st.Touch();
    }

    static void DeleteKey(SimState st, VmInfo vm, string k)
    {
        if (!vm.Config.TryGetValue(k, out var old)) return;
        if (Drive.IsDriveKey(k))
        {
            var d = Drive.Parse(old);
            if (d.IsCloudInit)
            {
                var vol = st.FindVolume(vm.Node, d.File);
                if (vol != null && vol.OwnerVmid == vm.Vmid) st.RemoveVolume(vol);
            }
            else RegisterUnused(vm, old);
        }
        vm.Config.Remove(k);
    }

    static void RegisterUnused(VmInfo vm, string driveValue)
    {
        var d = Drive.Parse(driveValue);
        if (d.IsCdrom || string.IsNullOrEmpty(d.File) || !Regex.IsMatch(d.File, $@"(^|[:/])vm-{vm.Vmid}-disk-\d+")) return;
        if (vm.Config.Values.Any(v => Drive.Parse(v).File == d.File && v != driveValue)) return;
        for (int i = 0; ; i++)
            if (!vm.Config.ContainsKey($"unused{i}")) { vm.Config[$"unused{i}"] = d.File; return; }
    }

    /// <summary>create_disks: "storage:cloudinit" and "storage:&lt;GiB&gt;" allocate volumes.</summary>
    static string CreateDisk(Sim sim, VmInfo vm, string opt, string value)
    {
        var st = sim.State;
        var d = Drive.Parse(value);
        var m = Regex.Match(d.File ?? "", @"^([^:]+):(cloudinit|\d+(\.\d+)?)$");
        if (!m.Success) return value;
        var storage = st.Storages[m.Groups[1].Value];
        if (m.Groups[2].Value == "cloudinit")
        {
            var name = $"vm-{vm.Vmid}-cloudinit" + (storage.IsFileBased ? ".qcow2" : "");
            var volid = $"{storage.Id}:{name}";
            if (st.FindVolume(vm.Node, volid) == null) st.AddVolume(storage, vm.Node, name, vm.Vmid, 4L << 20);
            d.File = volid;
            d.Set("media", "cdrom");
            return d.ToString();
        }
        var gib = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        long size = (long)(gib * (1L << 30));
        var vname = st.FreeDiskName(storage, vm.Node, vm.Vmid);
        var v = st.AddVolume(storage, vm.Node, vname, vm.Vmid, size);
        d.File = v.VolId;
        d.Set("size", Units.FormatSize(size));
        return d.ToString();
    }

    /// <summary>get_unique_tags: split, lower-case, de-duplicate, sort, join with ';'.</summary>
    public static string UniqueTags(string tags) =>
        string.Join(';', Validator.SplitList(tags).Select(t => t.ToLowerInvariant()).Distinct().OrderBy(t => t, StringComparer.Ordinal));

    static string EncryptPw(string pw)
    {
        var salt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(12)).Replace('+', '.').TrimEnd('=');
        var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(salt + pw))).Replace('+', '.').TrimEnd('=');
        return $"$5${salt}${hash}";
    }

    // ------------------------------------------------------------------ ssh keys (ssh-keygen -l per line)

    static readonly HashSet<string> KeyTypes = new()
    {
        "ssh-rsa", "ssh-dss", "ssh-ed25519", "ssh-ed448", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    };

    public static void ValidateSshKeys(string raw)
    {
        foreach (var line in raw.Split('\n'))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            if (!IsValidKeyLine(line.Trim())) throw PveException.Die("SSH public key validation error");
        }
    }

    static bool IsValidKeyLine(string line)
    {
        var tokens = line.Split((char[])null, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i + 1 < tokens.Length; i++)
        {
            var type = tokens[i];
            var baseType = type.Replace("-cert-v01@openssh.com", "");
            if (!KeyTypes.Contains(type) && !KeyTypes.Contains(baseType)) continue;
            try
            {
                var blob = Convert.FromBase64String(tokens[i + 1]);
                if (blob.Length < 4) return false;
                int len = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
                if (len <= 0 || 4 + len > blob.Length) return false;
                return Encoding.ASCII.GetString(blob, 4, len) == type && blob.Length > 4 + len + 4;
            }
            catch (FormatException) { return false; }
        }
        return false;
    }

    // ------------------------------------------------------------------ resize

    static Task<JsonNode> Resize(ApiRequest req)
    {
        var sim = req.Sim;
        string node = req.Node, disk = req.Str("disk"), sizestr = req.Str("size"), digest = req.Str("digest");
        int vmid = req.Vmid;
        bool skiplock = req.Bool("skiplock");
        string user = req.User;
        if (skiplock && user != "root@pam") throw PveException.Param("skiplock", "Only root may use this option.");

        async Task Work(SimTask task, CancellationToken ct)
        {
            var st = sim.State;
            VmInfo vm;
            Drive drive;
            VolumeInfo vol;
            long newsize;
            lock (st.Sync)
            {
                vm = sim.LoadConfigLocked(node, vmid);
                if (!string.IsNullOrEmpty(digest) && digest != vm.Digest()) throw PveException.Die("checksum mismatch (file change by other user?)");
                if (!skiplock) Sim.CheckLock(vm);
                if (!vm.Config.TryGetValue(disk, out var dv)) throw PveException.Die($"disk '{disk}' does not exist");
                drive = Drive.Parse(dv);
                if (string.IsNullOrEmpty(drive.File)) throw PveException.Die($"disk '{disk}' has no associated volume");
                if (drive.IsCdrom) throw PveException.Die("you can't resize a cdrom");
            }
            sim.Auth.Check(user, "/storage/" + drive.File.Split(':')[0], new[] { "Datastore.AllocateSpace" });
            lock (st.Sync)
            {
                vol = st.FindVolume(node, drive.File);
                long size = vol?.SizeBytes ?? Units.ParseSize(drive.Get("size") ?? "") ?? throw PveException.Die($"Could not determine current size of volume '{drive.File}'");
                var m = Regex.Match(sizestr, @"^(\+)?(\d+(\.\d+)?)([KMGT])?$");
                if (!m.Success) throw PveException.Die("internal error");
                double ns = double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                ns *= m.Groups[4].Value switch { "K" => 1024d, "M" => 1024d * 1024, "G" => 1024d * 1024 * 1024, "T" => 1024d * 1024 * 1024 * 1024, _ => 1 };
                if (m.Groups[1].Success) ns += size;
                newsize = (long)ns;
                if (newsize < size) throw PveException.Die("shrinking disks is not supported");
                if (newsize == size) return;
                if (task != null && sim.StorageOf(drive.File)?.Type is "lvmthin" or "lvm")
                {
                    var lv = drive.File[(drive.File.IndexOf(':') + 1)..].Split('/').Last();
                    task.Print($"  Size of logical volume pve/{lv} changed from {Units.Human(size)} to {Units.Human(newsize)}.");
                    task.Print($"  Logical volume pve/{lv} successfully resized.");
                }
            }
            if (task != null) await sim.Clock.DelayAsync(sim.D.Resize, ct);
            lock (st.Sync)
            {
                if (!st.Vms.TryGetValue(vmid, out var cur) || !ReferenceEquals(cur, vm) || !vm.Config.ContainsKey(disk)) throw PveException.Die($"disk '{disk}' does not exist");
                if (vol != null) vol.SizeBytes = newsize;
                var d2 = Drive.Parse(vm.Config[disk]);
                d2.Set("size", Units.FormatSize(newsize));
                vm.Config[disk] = d2.ToString();
                st.Touch();
            }
        }

        if (sim.Settings.LegacySyncResize)
        {
            return LegacyResize();
            async Task<JsonNode> LegacyResize()
            {
                using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, CancellationToken.None);
                await Work(null, CancellationToken.None);
                return null;
            }
        }
        var t = sim.Tasks.Start(node, "resize", vmid.ToString(), user, async task =>
        {
            using var l = await sim.Flocks.LockVmAsync(node, vmid, true, 10, task.Cts.Token);
            await Work(task, task.Cts.Token);
        });
        return Task.FromResult<JsonNode>(req.Upid(t));
    }
}
