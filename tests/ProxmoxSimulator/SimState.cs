using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace ProxmoxSimulator;

public sealed class ClusterInfo
{
    public string Name { get; set; } = "lab";
    public bool Quorate { get; set; } = true;
    public int NextIdLower { get; set; } = 100;
    public int NextIdUpper { get; set; } = 1_000_000;
    public string MacPrefix { get; set; } = "BC:24:11";
}

public sealed class NodeInfo
{
    public string Name { get; set; }
    public bool Online { get; set; } = true;
    public string Ip { get; set; }
    public int MaxCpu { get; set; } = 16;
    public long MaxMem { get; set; } = 64L << 30;
    public long MaxDisk { get; set; } = 100L << 30;
}

public sealed class StorageInfo
{
    public string Id { get; set; }
    public string Type { get; set; }            // lvmthin | dir | nfs | rbd | zfspool
    public bool Shared { get; set; }
    public List<string> Content { get; set; } = new();
    public List<string> Nodes { get; set; }      // null = all nodes
    public bool SupportsLinkedClone { get; set; }
    public double CopyThroughputMBps { get; set; } = 512;
    public long CapacityBytes { get; set; } = 1L << 40;
    public bool Enabled { get; set; } = true;

    public bool OnNode(string node) => Enabled && (Nodes == null || Nodes.Count == 0 || Nodes.Contains(node));
    public bool IsFileBased => Type is "dir" or "nfs" or "cifs";
}

public sealed class VolumeInfo
{
    public string VolId { get; set; }            // local-lvm:vm-101-disk-0
    public string Storage { get; set; }
    public string Node { get; set; }             // owner node for local storage, null for shared storage
    public int OwnerVmid { get; set; }
    public long SizeBytes { get; set; }
    public string Base { get; set; }             // volid of the base volume for linked clones
}

public sealed class TokenInfo
{
    public string Id { get; set; }               // root@pam!swarmadmin
    public string Secret { get; set; }
    public int Privsep { get; set; } = 1;
    public bool Enabled { get; set; } = true;
    public long Expire { get; set; }             // unix time (simulated clock), 0 = never
    /// <summary>Token ACL (used when privsep=1): path → privileges (propagating to sub-paths).</summary>
    public Dictionary<string, List<string>> Acl { get; set; } = new();

    [JsonIgnore] public string User => Id[..Id.IndexOf('!')];
    [JsonIgnore] public string Name => Id[(Id.IndexOf('!') + 1)..];
}

public sealed class UserInfo
{
    public string Id { get; set; }
    public string Password { get; set; }
    public bool Enabled { get; set; } = true;
    /// <summary>null = all privileges everywhere (like root@pam).</summary>
    public Dictionary<string, List<string>> Acl { get; set; }
}

/// <summary>Per-VM guest behaviour knobs (fault injection "agent").</summary>
public sealed class GuestSettings
{
    public double? AgentDelaySeconds { get; set; }
    public double? NetDelaySeconds { get; set; }
    public bool NoAgent { get; set; }
    public bool Docker0 { get; set; }
    public bool NoIp { get; set; }
    public bool AgentHang { get; set; }
    public bool AcpiResponsive { get; set; } = true;
}

public sealed class RunInfo
{
    public string Status { get; set; } = "stopped";   // stopped | running | paused
    public int Pid { get; set; }
    public double StartedAt { get; set; }              // simulated seconds
    public bool AgentEnabledAtStart { get; set; }
    public bool CloudInitAtStart { get; set; }
    public string Ip { get; set; }                     // IPv4 handed to the guest at start (no prefix)
    public int Prefix { get; set; }
    public string Gw { get; set; }
    public string Mac { get; set; }                    // net0 MAC at start
}

public sealed class VmInfo
{
    public int Vmid { get; set; }
    public string Node { get; set; }
    public SortedDictionary<string, string> Config { get; set; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, string> Pending { get; set; } = new(StringComparer.Ordinal);
    public List<string> PendingDelete { get; set; } = new();
    public RunInfo Run { get; set; } = new();
    public GuestSettings Guest { get; set; } = new();
    public string Pool { get; set; }
    public bool HaManaged { get; set; }
    /// <summary>Temporary config written by a running clone task (the "# qmclone temporary file").</summary>
    public bool Creating { get; set; }

    [JsonIgnore] public string Lock => Config.TryGetValue("lock", out var l) ? l : null;
    [JsonIgnore] public bool IsTemplate => Config.TryGetValue("template", out var t) && t == "1";
    [JsonIgnore] public bool Running => Run.Status is "running" or "paused";
    public string Name() => Config.TryGetValue("name", out var n) ? n : null;

    public string ConfigFileText()
    {
        var sb = new StringBuilder();
        if (Config.TryGetValue("description", out var d))
            foreach (var line in d.Split('\n')) sb.Append('#').Append(Uri.EscapeDataString(line).Replace("%20", " ")).Append('\n');
        foreach (var (k, v) in Config)
            if (k != "description") sb.Append(k).Append(": ").Append(v).Append('\n');
        if (Pending.Count > 0 || PendingDelete.Count > 0)
        {
            sb.Append("\n[PENDING]\n");
            foreach (var (k, v) in Pending) sb.Append(k).Append(": ").Append(v).Append('\n');
            if (PendingDelete.Count > 0) sb.Append("delete: ").Append(string.Join(',', PendingDelete)).Append('\n');
        }
        return sb.ToString();
    }

    public string Digest() => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(ConfigFileText())));

    /// <summary>Config with pending changes applied (what GET config returns by default).</summary>
    public SortedDictionary<string, string> EffectiveConfig()
    {
        var c = new SortedDictionary<string, string>(Config, StringComparer.Ordinal);
        foreach (var k in PendingDelete) c.Remove(k);
        foreach (var (k, v) in Pending) c[k] = v;
        return c;
    }
}

public sealed class RrdEntry
{
    public string Name;
    public string Status;
    public int Template;
    public double Uptime;
    public int MaxCpu;
    public long MaxMem;
    public long MaxDisk;
    public long Mem;
    public double Cpu;
}

/// <summary>Serializable document of the whole cluster (state file, GET /_sim/state, POST /_sim/reset).</summary>
public sealed class StateDoc
{
    public ClusterInfo Cluster { get; set; }
    public List<NodeInfo> Nodes { get; set; }
    public List<StorageInfo> Storages { get; set; }
    public List<VolumeInfo> Volumes { get; set; }
    public List<VmInfo> Vms { get; set; }
    public List<TokenInfo> Tokens { get; set; }
    public List<UserInfo> Users { get; set; }
    public List<string> Pools { get; set; }
}

public sealed class SimState
{
    /// <summary>Guards every field below. Never await while holding it.</summary>
    public readonly object Sync = new();

    public ClusterInfo Cluster = new();
    public Dictionary<string, NodeInfo> Nodes = new(StringComparer.Ordinal);
    public Dictionary<string, StorageInfo> Storages = new(StringComparer.Ordinal);
    /// <summary>Key: (node or "" for shared storage) + "|" + volid.</summary>
    public Dictionary<string, VolumeInfo> Volumes = new(StringComparer.Ordinal);
    public SortedDictionary<int, VmInfo> Vms = new();
    public Dictionary<string, TokenInfo> Tokens = new(StringComparer.Ordinal);
    public Dictionary<string, UserInfo> Users = new(StringComparer.Ordinal);
    public HashSet<string> Pools = new(StringComparer.Ordinal);
    public Dictionary<int, RrdEntry> Rrd = new();
    public Random Rng = new(1);
    public long Revision;

    public void Touch() => Interlocked.Increment(ref Revision);

    // ---------------------------------------------------------------- helpers (call under Sync)

    public static string ConfPath(string node, int vmid) => $"nodes/{node}/qemu-server/{vmid}.conf";

    public static string VolKey(StorageInfo st, string node, string volid) => (st != null && st.Shared ? "" : node) + "|" + volid;

    public VolumeInfo FindVolume(string node, string volid)
    {
        var sid = volid.Split(':')[0];
        Storages.TryGetValue(sid, out var st);
        return Volumes.TryGetValue(VolKey(st, node, volid), out var v) ? v : null;
    }

    public string RandomMac()
    {
        var b = new byte[3];
        Rng.NextBytes(b);
        return Cluster.MacPrefix.ToUpperInvariant() + ":" + string.Join(':', b.Select(x => x.ToString("X2")));
    }

    public string RandomUuid()
    {
        var b = new byte[16];
        Rng.NextBytes(b);
        b[6] = (byte)((b[6] & 0x0F) | 0x40);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        var h = Convert.ToHexStringLower(b);
        return $"{h[..8]}-{h[8..12]}-{h[12..16]}-{h[16..20]}-{h[20..]}";
    }

    public int NextFreeId()
    {
        for (int i = Cluster.NextIdLower; i < Cluster.NextIdUpper; i++)
            if (!Vms.ContainsKey(i)) return i;
        throw PveException.Die($"unable to get any free VMID in range [{Cluster.NextIdLower}, {Cluster.NextIdUpper}]");
    }

    public string FreeDiskName(StorageInfo st, string node, int vmid)
    {
        for (int i = 0; ; i++)
        {
            var name = $"vm-{vmid}-disk-{i}";
            if (st.IsFileBased) name = $"{vmid}/{name}.raw";
            if (FindVolume(node, $"{st.Id}:{name}") == null) return name;
        }
    }

    public VolumeInfo AddVolume(StorageInfo st, string node, string volname, int owner, long size, string baseVol = null)
    {
        var v = new VolumeInfo { VolId = $"{st.Id}:{volname}", Storage = st.Id, Node = st.Shared ? null : node, OwnerVmid = owner, SizeBytes = size, Base = baseVol };
        Volumes[VolKey(st, node, v.VolId)] = v;
        return v;
    }

    public void RemoveVolume(VolumeInfo v)
    {
        Storages.TryGetValue(v.Storage, out var st);
        Volumes.Remove(VolKey(st, v.Node, v.VolId));
    }

    // ---------------------------------------------------------------- seed / (de)serialization

    public StateDoc ToDoc()
    {
        lock (Sync)
        {
            var doc = new StateDoc
            {
                Cluster = Cluster,
                Nodes = Nodes.Values.ToList(),
                Storages = Storages.Values.ToList(),
                Volumes = Volumes.Values.OrderBy(v => v.Node).ThenBy(v => v.VolId, StringComparer.Ordinal).ToList(),
                Vms = Vms.Values.ToList(),
                Tokens = Tokens.Values.ToList(),
                Users = Users.Values.ToList(),
                Pools = Pools.OrderBy(p => p).ToList(),
            };
            // deep copy through JSON so the caller can serialize outside the lock
            return System.Text.Json.JsonSerializer.Deserialize<StateDoc>(System.Text.Json.JsonSerializer.Serialize(doc, Json.StateOptions), Json.StateOptions);
        }
    }

    public void Load(StateDoc doc, double now)
    {
        lock (Sync)
        {
            Cluster = doc.Cluster ?? new ClusterInfo();
            Nodes = (doc.Nodes ?? new()).ToDictionary(n => n.Name, StringComparer.Ordinal);
            Storages = (doc.Storages ?? new()).ToDictionary(s => s.Id, StringComparer.Ordinal);
            Volumes = new(StringComparer.Ordinal);
            foreach (var v in doc.Volumes ?? new())
            {
                Storages.TryGetValue(v.Storage ?? v.VolId.Split(':')[0], out var st);
                v.Storage ??= v.VolId.Split(':')[0];
                if (st != null && st.Shared) v.Node = null;
                Volumes[VolKey(st, v.Node, v.VolId)] = v;
            }
            Vms = new SortedDictionary<int, VmInfo>();
            foreach (var vm in doc.Vms ?? new())
            {
                vm.Config = new SortedDictionary<string, string>(vm.Config ?? new(), StringComparer.Ordinal);
                vm.Pending = new SortedDictionary<string, string>(vm.Pending ?? new(), StringComparer.Ordinal);
                vm.PendingDelete ??= new();
                vm.Run ??= new RunInfo();
                vm.Guest ??= new GuestSettings();
                vm.Creating = false;
                if (vm.Running) vm.Run.StartedAt = now - 1e6; // loaded running guests are fully booted
                Vms[vm.Vmid] = vm;
            }
            Tokens = (doc.Tokens ?? new()).ToDictionary(t => t.Id, StringComparer.Ordinal);
            Users = (doc.Users ?? new()).ToDictionary(u => u.Id, StringComparer.Ordinal);
            Pools = new HashSet<string>(doc.Pools ?? new(), StringComparer.Ordinal);
            Rrd.Clear();
            foreach (var vm in Vms.Values) Rrd[vm.Vmid] = MakeRrd(vm, now);
            Touch();
        }
    }

    public static StateDoc SeedDoc(string password, int seed, string adminSecret = null, string readonlySecret = null)
    {
        var rng = new Random(seed);
        string Uuid()
        {
            var b = new byte[16];
            rng.NextBytes(b);
            b[6] = (byte)((b[6] & 0x0F) | 0x40);
            b[8] = (byte)((b[8] & 0x3F) | 0x80);
            var h = Convert.ToHexStringLower(b);
            return $"{h[..8]}-{h[8..12]}-{h[12..16]}-{h[16..20]}-{h[20..]}";
        }
        string Mac()
        {
            var b = new byte[3];
            rng.NextBytes(b);
            return "BC:24:11:" + string.Join(':', b.Select(x => x.ToString("X2")));
        }

        var doc = new StateDoc
        {
            Cluster = new ClusterInfo(),
            Nodes = new()
            {
                new NodeInfo { Name = "pve01", Ip = "10.0.0.11" },
                new NodeInfo { Name = "pve02", Ip = "10.0.0.12" },
                new NodeInfo { Name = "pve03", Ip = "10.0.0.13" },
            },
            Storages = new()
            {
                new StorageInfo { Id = "local-lvm", Type = "lvmthin", Shared = false, Content = new() { "images", "rootdir" }, SupportsLinkedClone = true, CopyThroughputMBps = 512, CapacityBytes = 900L << 30 },
                new StorageInfo { Id = "local", Type = "dir", Shared = false, Content = new() { "iso", "snippets", "vztmpl", "backup" }, SupportsLinkedClone = false, CopyThroughputMBps = 256, CapacityBytes = 100L << 30 },
                new StorageInfo { Id = "ceph-data", Type = "rbd", Shared = true, Content = new() { "images" }, SupportsLinkedClone = true, CopyThroughputMBps = 256, CapacityBytes = 4L << 40 },
            },
            Volumes = new(),
            Vms = new(),
            Tokens = new()
            {
                new TokenInfo { Id = "root@pam!swarmadmin", Secret = adminSecret ?? Guid.NewGuid().ToString(), Privsep = 0 },
                new TokenInfo
                {
                    Id = "root@pam!readonly", Secret = readonlySecret ?? Guid.NewGuid().ToString(), Privsep = 1,
                    Acl = new() { ["/"] = new() { "Sys.Audit", "VM.Audit", "Datastore.Audit" } },
                },
            },
            Users = new() { new UserInfo { Id = "root@pam", Password = password, Acl = null } },
            Pools = new() { "swarm" },
        };

        var templates = new[] { (9000, "pve01"), (9001, "pve02"), (9002, "pve03") };
        foreach (var (id, node) in templates)
        {
            var vm = new VmInfo { Vmid = id, Node = node };
            var c = vm.Config;
            c["agent"] = "1";
            c["boot"] = "order=scsi0;ide2;net0";
            c["cores"] = "2";
            c["ide2"] = $"local-lvm:vm-{id}-cloudinit,media=cdrom";
            c["memory"] = "2048";
            c["meta"] = "creation-qemu=8.1.5,ctime=1717000000";
            c["name"] = "debian-12-cloudinit";
            c["net0"] = $"virtio={Mac()},bridge=vmbr0";
            c["ostype"] = "l26";
            c["scsi0"] = $"local-lvm:base-{id}-disk-0,size=3G";
            c["scsihw"] = "virtio-scsi-pci";
            c["serial0"] = "socket";
            c["smbios1"] = $"uuid={Uuid()}";
            c["sockets"] = "1";
            c["template"] = "1";
            c["vga"] = "serial0";
            c["vmgenid"] = Uuid();
            doc.Vms.Add(vm);
            doc.Volumes.Add(new VolumeInfo { VolId = $"local-lvm:base-{id}-disk-0", Storage = "local-lvm", Node = node, OwnerVmid = id, SizeBytes = 3L << 30 });
            doc.Volumes.Add(new VolumeInfo { VolId = $"local-lvm:vm-{id}-cloudinit", Storage = "local-lvm", Node = node, OwnerVmid = id, SizeBytes = 4L << 20 });
        }
        return doc;
    }

    // ---------------------------------------------------------------- statistics

    public static long MemoryMiB(string memory)
    {
        if (string.IsNullOrEmpty(memory)) return 512;
        var m = memory.Split(',').Select(p => p.StartsWith("current=") ? p[8..] : p).FirstOrDefault(p => !p.Contains('='));
        return long.TryParse(m, out var v) ? v : 512;
    }

    public static int Cpus(IDictionary<string, string> c)
    {
        int cores = c.TryGetValue("cores", out var x) && int.TryParse(x, out var xi) ? xi : 1;
        int sockets = c.TryGetValue("sockets", out var s) && int.TryParse(s, out var si) ? si : 1;
        if (c.TryGetValue("vcpus", out var v) && int.TryParse(v, out var vi) && vi > 0) return vi;
        return cores * sockets;
    }

    public static long BootDiskSize(IDictionary<string, string> c)
    {
        foreach (var k in new[] { "scsi0", "virtio0", "sata0", "ide0" })
            if (c.TryGetValue(k, out var v))
            {
                var d = Drive.Parse(v);
                if (!d.IsCdrom && d.Opts.TryGetValue("size", out var s)) return Units.ParseSize(s) ?? 0;
            }
        return 0;
    }

    public double Uptime(VmInfo vm, double now) => vm.Running ? Math.Max(0, Math.Floor(now - vm.Run.StartedAt)) : 0;

    public RrdEntry MakeRrd(VmInfo vm, double now) => new()
    {
        Name = vm.Name() ?? $"VM {vm.Vmid}",
        Status = vm.Running ? "running" : "stopped",
        Template = vm.IsTemplate ? 1 : 0,
        Uptime = Uptime(vm, now),
        MaxCpu = Cpus(vm.Config),
        MaxMem = MemoryMiB(vm.Config.GetValueOrDefault("memory")) << 20,
        MaxDisk = BootDiskSize(vm.Config),
        Mem = vm.Running ? (MemoryMiB(vm.Config.GetValueOrDefault("memory")) << 20) / 3 : 0,
        Cpu = vm.Running ? 0.01 : 0,
    };

    /// <summary>pvestatd broadcast: refresh the statistics snapshot used by /cluster/resources.</summary>
    public void RefreshRrd(double now)
    {
        lock (Sync)
        {
            Rrd.Clear();
            foreach (var vm in Vms.Values)
                if (!vm.Creating) Rrd[vm.Vmid] = MakeRrd(vm, now);
        }
    }
}
