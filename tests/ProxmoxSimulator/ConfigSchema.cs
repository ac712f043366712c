using System.Text.RegularExpressions;

namespace ProxmoxSimulator;

/// <summary>The VM config keys (json_config_properties) with the checks the simulator enforces.</summary>
public static class ConfigSchema
{
    static readonly HashSet<string> Integers = new() { "cores", "sockets", "vcpus", "cpuunits", "balloon", "shares", "migrate_speed" };
    static readonly HashSet<string> Booleans = new() { "acpi", "autostart", "freeze", "keephugepages", "kvm", "localtime", "numa", "onboot", "protection", "reboot", "tablet", "tdf", "template", "ciupgrade" };
    static readonly HashSet<string> Numbers = new() { "cpulimit", "migrate_downtime" };

    public static bool IsNumeric(string k) => Integers.Contains(k) || Booleans.Contains(k) || Numbers.Contains(k);

    static readonly HashSet<string> CpuOptions = new() { "cores", "cpu", "cpulimit", "cpuunits", "numa", "smp", "sockets", "vcpus", "affinity" };
    static readonly HashSet<string> MemoryOptions = new() { "memory", "balloon", "shares", "allow-ksm" };
    static readonly HashSet<string> HwTypeOptions = new() { "acpi", "hotplug", "kvm", "machine", "scsihw", "smbios1", "tablet", "vga", "watchdog", "audio0", "rng0" };
    static readonly HashSet<string> GeneralOptions = new() { "agent", "autostart", "bios", "description", "keyboard", "localtime", "migrate_downtime", "migrate_speed", "name", "onboot", "ostype", "protection", "reboot", "startdate", "startup", "tdf", "template" };
    static readonly HashSet<string> DiskOptions = new() { "boot", "bootdisk", "vmstatestorage" };
    public static readonly HashSet<string> CloudInitOptions = new() { "cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys" };
    static readonly HashSet<string> FastPlug = new() { "description", "hookscript", "lock", "migrate_downtime", "migrate_speed", "name", "onboot", "protection", "shares", "startup", "tags", "vmstatestorage" };

    public static bool IsCloudInitKey(string k) => CloudInitOptions.Contains(k) || Regex.IsMatch(k, @"^ipconfig\d+$");

    /// <summary>Applied at once on a running VM (fast-plug, cloud-init, hotpluggable network/disk); others stay pending.</summary>
    public static bool IsHotpluggable(string k) =>
        FastPlug.Contains(k) || IsCloudInitKey(k) || Regex.IsMatch(k, @"^net\d+$") || (Drive.IsDriveKey(k) && !k.StartsWith("efidisk") && !k.StartsWith("tpmstate"));

    /// <summary>check_vm_modify_config_perm: the privileges a key needs (any of), or null for "only root".</summary>
    public static (string[] privs, bool any) PrivsFor(string k)
    {
        if (CpuOptions.Contains(k) || Regex.IsMatch(k, @"^numa\d+$")) return (new[] { "VM.Config.CPU" }, false);
        if (MemoryOptions.Contains(k)) return (new[] { "VM.Config.Memory" }, false);
        if (HwTypeOptions.Contains(k)) return (new[] { "VM.Config.HWType" }, false);
        if (GeneralOptions.Contains(k)) return (new[] { "VM.Config.Options" }, false);
        if (k == "freeze") return (new[] { "VM.PowerMgmt" }, false);
        if (DiskOptions.Contains(k)) return (new[] { "VM.Config.Disk" }, false);
        if (Regex.IsMatch(k, @"^net\d+$")) return (new[] { "VM.Config.Network" }, false);
        if (IsCloudInitKey(k)) return (new[] { "VM.Config.Cloudinit", "VM.Config.Network" }, true);
        return (null, false);
    }

    public static bool SkipsGenericPermCheck(string k) =>
        Drive.IsDriveKey(k) || k == "cdrom" || k == "tags" || Regex.IsMatch(k, @"^(unused|serial|usb|hostpci|virtiofs)\d+$");

    static readonly string[] LockEnum = { "backup", "clone", "create", "migrate", "rollback", "snapshot", "snapshot-delete", "suspending", "suspended" };
    static readonly string[] OsTypes = { "other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24", "l26", "solaris" };
    static readonly string[] ScsiHw = { "lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi" };

    static readonly Action<string, string> DriveFormat = (v, path) =>
    {
        var d = Drive.Parse(v);
        if (string.IsNullOrEmpty(d.File)) throw new FormatError("format error\n" + path + ".file: property is missing and it is not optional\n");
        var size = d.Get("size");
        if (size != null && Units.ParseSize(size) == null)
            throw new FormatError("format error\n" + path + ".size: value does not match the regex pattern\n");
        var media = d.Get("media");
        if (media != null && media is not ("cdrom" or "disk"))
            throw new FormatError($"format error\n{path}.media: value '{media}' does not have a value in the enumeration 'cdrom, disk'\n");
    };

    static readonly Dictionary<string, PSpec> Fixed = new(StringComparer.Ordinal)
    {
        ["acpi"] = PSpec.Bool(),
        ["affinity"] = PSpec.Str(),
        ["agent"] = PSpec.Fmt(Validator.Prop(Validator.AgentFormat)),
        ["allow-ksm"] = PSpec.Bool(),
        ["arch"] = PSpec.Enu("x86_64", "aarch64"),
        ["args"] = PSpec.Str(),
        ["audio0"] = PSpec.Str(),
        ["autostart"] = PSpec.Bool(),
        ["balloon"] = PSpec.Int(0),
        ["bios"] = PSpec.Enu("seabios", "ovmf"),
        ["boot"] = PSpec.Str(),
        ["bootdisk"] = new PSpec { Pattern = @"(ide|sata|scsi|virtio|efidisk|tpmstate)\d+" },
        ["cdrom"] = PSpec.Str(),
        ["cicustom"] = PSpec.Str(),
        ["cipassword"] = PSpec.Str(),
        ["citype"] = PSpec.Enu("configdrive2", "nocloud", "opennebula"),
        ["ciupgrade"] = PSpec.Bool(),
        ["ciuser"] = PSpec.Str(),
        ["cores"] = PSpec.Int(1),
        ["cpu"] = PSpec.Str(),
        ["cpulimit"] = new PSpec { Type = PType.Number, Min = 0, Max = 128 },
        ["cpuunits"] = PSpec.Int(1, 262144),
        ["description"] = new PSpec { MaxLength = 8192 },
        ["efidisk0"] = PSpec.Fmt(DriveFormat),
        ["freeze"] = PSpec.Bool(),
        ["hookscript"] = PSpec.Str(),
        ["hotplug"] = PSpec.Str(),
        ["hugepages"] = PSpec.Enu("any", "2", "1024"),
        ["ivshmem"] = PSpec.Str(),
        ["keephugepages"] = PSpec.Bool(),
        ["keyboard"] = PSpec.Str(),
        ["kvm"] = PSpec.Bool(),
        ["localtime"] = PSpec.Bool(),
        ["lock"] = PSpec.Enu(LockEnum),
        ["machine"] = PSpec.Str(),
        ["memory"] = PSpec.Fmt(Validator.Prop(Validator.MemoryFormat)),
        ["meta"] = PSpec.Str(),
        ["migrate_downtime"] = PSpec.Num(0),
        ["migrate_speed"] = PSpec.Int(0),
        ["name"] = PSpec.Fmt(Validator.DnsName),
        ["nameserver"] = PSpec.Fmt(Validator.AddressList),
        ["numa"] = PSpec.Bool(),
        ["onboot"] = PSpec.Bool(),
        ["ostype"] = PSpec.Enu(OsTypes),
        ["protection"] = PSpec.Bool(),
        ["reboot"] = PSpec.Bool(),
        ["rng0"] = PSpec.Str(),
        ["scsihw"] = PSpec.Enu(ScsiHw),
        ["searchdomain"] = PSpec.Str(),
        ["shares"] = PSpec.Int(0, 50000),
        ["smbios1"] = new PSpec { MaxLength = 512 },
        ["smp"] = PSpec.Int(1),
        ["sockets"] = PSpec.Int(1),
        ["spice_enhancements"] = PSpec.Str(),
        ["sshkeys"] = PSpec.Fmt(Validator.UrlEncoded),
        ["startdate"] = new PSpec { Pattern = @"(now|\d{4}-\d{1,2}-\d{1,2}(T\d{1,2}:\d{1,2}:\d{1,2})?)" },
        ["startup"] = PSpec.Str(),
        ["tablet"] = PSpec.Bool(),
        ["tags"] = PSpec.Fmt(Validator.TagList),
        ["tdf"] = PSpec.Bool(),
        ["template"] = PSpec.Bool(),
        ["tpmstate0"] = PSpec.Fmt(DriveFormat),
        ["vcpus"] = PSpec.Int(1),
        ["vga"] = PSpec.Str(),
        ["vmgenid"] = PSpec.Str(),
        ["vmstatestorage"] = PSpec.Str(),
        ["watchdog"] = PSpec.Str(),
    };

    public static PSpec Get(string key)
    {
        if (Fixed.TryGetValue(key, out var s)) return s;
        if (Regex.IsMatch(key, @"^net\d+$") && int.Parse(key[3..]) < 32) return PSpec.Fmt(Validator.Prop(Validator.NetFormat));
        if (Regex.IsMatch(key, @"^ipconfig\d+$") && int.Parse(key[8..]) < 32) return PSpec.Fmt(Validator.Prop(Validator.IpConfigFormat));
        if (Drive.IsDriveKey(key)) return PSpec.Fmt(DriveFormat);
        if (Regex.IsMatch(key, @"^(serial[0-3]|parallel[0-2]|usb([0-9]|1[0-3])|hostpci([0-9]|1[0-5])|numa[0-7]|virtiofs[0-9])$")) return PSpec.Str();
        return null;
    }

    public static bool OptionExists(string key) => Get(key) != null;
}
