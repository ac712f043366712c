using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator;

public enum PVKind { Str, Undef, JsonTrue, JsonFalse, JsonNumber, Array, Object }

/// <summary>One request parameter as Perl would see it after decoding the form or JSON body.</summary>
public sealed class PV
{
    public PVKind Kind;
    public string S;
    public List<string> Items; // form duplicates → array

    public static PV Str(string s) => new() { Kind = PVKind.Str, S = s };
    public static PV Undef() => new() { Kind = PVKind.Undef };
    public bool Defined => Kind != PVKind.Undef;
    public override string ToString() => S;
}

public enum PType { String, Integer, Boolean, Number }

/// <summary>Subset of a PVE JSON-schema property.</summary>
public sealed class PSpec
{
    public PType Type = PType.String;
    public bool Optional = true;
    public double? Min, Max;
    public string[] Enum;
    public string Pattern;
    public int? MaxLength, MinLength;
    /// <summary>Format check: throws FormatError with the die text (ends with \n).</summary>
    public Action<string, string> Format;
    public string Requires;
    public bool DefaultKey;
    public string Alias, KeyAlias;

    public static PSpec Str(bool optional = true) => new() { Optional = optional };
    public static PSpec Int(double? min = null, double? max = null, bool optional = true) => new() { Type = PType.Integer, Min = min, Max = max, Optional = optional };
    public static PSpec Bool() => new() { Type = PType.Boolean };
    public static PSpec Num(double? min = null) => new() { Type = PType.Number, Min = min };
    public static PSpec Fmt(Action<string, string> f, bool optional = true) => new() { Format = f, Optional = optional };
    public static PSpec Enu(params string[] values) => new() { Enum = values };
}

public sealed class FormatError : Exception
{
    public FormatError(string text) : base(text) { }
}

/// <summary>A property-string format (hash format in JSONSchema.pm).</summary>
public sealed class PropFormat
{
    public Dictionary<string, PSpec> Keys = new(StringComparer.Ordinal);
    public Action<Dictionary<string, string>, string> Validator; // may throw FormatError
}

public static class Validator
{
    static readonly Regex IntRe = new(@"^[+-]?\d+$", RegexOptions.Compiled);
    static readonly Regex NumRe = new(@"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", RegexOptions.Compiled);

    public static bool IsInteger(string s) => s != null && IntRe.IsMatch(s);
    public static bool IsNumber(string s) => s != null && NumRe.IsMatch(s);

    static void AddError(Dictionary<string, string> errors, string path, string msg)
    {
        path = string.IsNullOrEmpty(path) ? "_root" : path;
        errors[path] = errors.TryGetValue(path, out var old) ? old + "\\n" + msg : msg;
    }

    /// <summary>check_object with additionalProperties=0 (or a dynamic resolver for pattern keys).</summary>
    public static void CheckParams(Dictionary<string, PV> p, IReadOnlyDictionary<string, PSpec> schema, Func<string, PSpec> dynamic, Dictionary<string, string> errors)
    {
        foreach (var (k, spec) in schema)
            CheckProp(p.TryGetValue(k, out var v) ? v : null, spec, k, errors);
        foreach (var (k, v) in p)
        {
            if (schema.ContainsKey(k))
            {
                var rq = schema[k].Requires;
                if (rq != null && !(p.TryGetValue(rq, out var rv) && rv.Defined)) AddError(errors, rq, $"missing property required by '{k}'");
                continue;
            }
            var dspec = dynamic?.Invoke(k);
            if (dspec != null) { CheckProp(v, dspec, k, errors); continue; }
            AddError(errors, k, "property is not defined in schema and the schema does not allow additional properties");
        }
    }

    public static void CheckProp(PV value, PSpec spec, string path, Dictionary<string, string> errors)
    {
        if (spec.Alias != null) return;
        if (value == null || !value.Defined)
        {
            if (!spec.Optional) AddError(errors, path, "property is missing and it is not optional");
            return;
        }
        string tname = spec.Type switch { PType.Integer => "integer", PType.Boolean => "boolean", PType.Number => "number", _ => "string" };
        switch (value.Kind)
        {
            case PVKind.Array: AddError(errors, path, $"type check ('{tname}') failed - got ARRAY"); return;
            case PVKind.Object: AddError(errors, path, $"type check ('{tname}') failed - got HASH"); return;
            case PVKind.JsonTrue:
            case PVKind.JsonFalse:
                if (spec.Type == PType.Boolean) return;
                AddError(errors, path, $"type check ('{tname}') failed - got JSON::PP::Boolean"); return;
        }
        var s = value.S ?? "";
        switch (spec.Type)
        {
            case PType.Boolean:
                if (s != "1" && s != "0") { AddError(errors, path, $"type check ('boolean') failed - got '{s}'"); return; }
                break;
            case PType.Integer:
                if (!IsInteger(s)) { AddError(errors, path, $"type check ('integer') failed - got '{s}'"); return; }
                break;
            case PType.Number:
                if (!IsNumber(s)) { AddError(errors, path, $"type check ('number') failed - got '{s}'"); return; }
                break;
        }
        if (spec.Format != null)
        {
            try { spec.Format(s, path); }
            catch (FormatError fe) { AddError(errors, path, "invalid format - " + fe.Message); return; }
        }
        if (spec.Pattern != null && !Regex.IsMatch(s, "^(?:" + spec.Pattern + ")$"))
        {
            AddError(errors, path, "value does not match the regex pattern"); return;
        }
        if (spec.MaxLength is int max && s.Length > max) { AddError(errors, path, $"value may only be {max} characters long"); return; }
        if (spec.MinLength is int min && s.Length < min) { AddError(errors, path, $"value must be at least {min} characters long"); return; }
        if (IsNumber(s))
        {
            double d = double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
            if (spec.Max is double mx && d > mx) { AddError(errors, path, $"value must have a maximum value of {mx}"); return; }
            if (spec.Min is double mn && d < mn) { AddError(errors, path, $"value must have a minimum value of {mn}"); return; }
        }
        if (spec.Enum != null && !spec.Enum.Contains(s))
            AddError(errors, path, $"value '{s}' does not have a value in the enumeration '{string.Join(", ", spec.Enum)}'");
    }

    // ------------------------------------------------------------------ property strings

    static readonly Regex KvRe = new(@"^([^=]+)=(.+)$", RegexOptions.Compiled | RegexOptions.Singleline);

    static string ParseBoolean(string v)
    {
        if (Regex.IsMatch(v, "^(1|on|yes|true)$", RegexOptions.IgnoreCase)) return "1";
        if (Regex.IsMatch(v, "^(0|off|no|false)$", RegexOptions.IgnoreCase)) return "0";
        return v;
    }

    /// <summary>parse_property_string: returns the parsed hash or throws FormatError with Perl's text.</summary>
    public static Dictionary<string, string> ParsePropertyString(PropFormat fmt, string data, string path)
    {
        var res = new Dictionary<string, string>(StringComparer.Ordinal);
        string defaultKey = null;
        foreach (var part0 in data.Split(','))
        {
            var part = part0;
            if (string.IsNullOrWhiteSpace(part)) continue;
            var m = KvRe.Match(part);
            if (m.Success)
            {
                string k = m.Groups[1].Value, v = m.Groups[2].Value;
                if (res.ContainsKey(k)) throw new FormatError($"duplicate key in comma-separated list property: {k}\n");
                fmt.Keys.TryGetValue(k, out var schema);
                if (schema?.Alias != null)
                {
                    if (schema.KeyAlias != null)
                    {
                        if (res.ContainsKey(schema.KeyAlias)) throw new FormatError($"key alias '{schema.KeyAlias}' is already defined\n");
                        res[schema.KeyAlias] = k;
                    }
                    k = schema.Alias;
                    fmt.Keys.TryGetValue(k, out schema);
                    if (res.ContainsKey(k)) throw new FormatError($"key '{k}' is already defined (via alias)\n");
                }
                if (schema == null) throw new FormatError($"invalid key in comma-separated list property: {k}\n");
                if (schema.Type == PType.Boolean) v = ParseBoolean(v);
                res[k] = v;
            }
            else if (!part.Contains('='))
            {
                if (defaultKey != null) throw new FormatError($"duplicate key in comma-separated list property: {defaultKey}\n");
                foreach (var (key, spec) in fmt.Keys)
                {
                    if (!spec.DefaultKey) continue;
                    defaultKey = key;
                    if (!res.TryGetValue(key, out var cur) || string.IsNullOrEmpty(cur) || cur == "0")
                    {
                        res[key] = spec.Type == PType.Boolean ? ParseBoolean(part) : part;
                        break;
                    }
                    throw new FormatError($"duplicate key in comma-separated list property: {defaultKey}\n");
                }
                if (defaultKey == null) throw new FormatError("value without key, but schema does not define a default key\n");
            }
            else throw new FormatError("missing key in comma-separated list property\n");
        }
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var pvs = res.ToDictionary(kv => kv.Key, kv => PV.Str(kv.Value), StringComparer.Ordinal);
        foreach (var (k, spec) in fmt.Keys)
            CheckProp(pvs.TryGetValue(k, out var v) ? v : null, spec, Sub(path, k), errors);
        foreach (var (k, _) in pvs)
        {
            if (fmt.Keys.TryGetValue(k, out var spec))
            {
                if (spec.Requires != null && !pvs.ContainsKey(spec.Requires))
                    AddError(errors, Sub(path, spec.Requires), $"missing property required by '{Sub(path, k)}'");
                continue;
            }
            AddError(errors, Sub(path, k), "property is not defined in schema and the schema does not allow additional properties");
        }
        if (errors.Count > 0)
            throw new FormatError("format error\n" + string.Concat(errors.Select(e => $"{e.Key}: {e.Value}\n")));
        fmt.Validator?.Invoke(res, path);
        return res;
    }

    static string Sub(string path, string k) => string.IsNullOrEmpty(path) ? k : path + "." + k;

    // ------------------------------------------------------------------ named formats

    static readonly Regex DnsRe = new(@"^(([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$", RegexOptions.Compiled);
    static readonly Regex TagRe = new(@"^[a-z0-9_][a-z0-9_\-\+\.]*$", RegexOptions.Compiled | RegexOptions.IgnoreCase);
    static readonly Regex UrlEncRe = new(@"^[-%a-zA-Z0-9_.!~*'()]*$", RegexOptions.Compiled);
    static readonly Regex MacRe = new(@"^([a-f0-9]{2}:){5}[a-f0-9]{2}$", RegexOptions.Compiled | RegexOptions.IgnoreCase);
    static readonly Regex NodeRe = new(@"^(?=[a-zA-Z0-9\-]{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$", RegexOptions.Compiled);
    static readonly Regex IdRe = new(@"^[a-z][a-z0-9\-_.]*[a-z0-9]$", RegexOptions.Compiled | RegexOptions.IgnoreCase);
    static readonly Regex ConfigIdRe = new(@"^[a-z][a-z_]*\d*$", RegexOptions.Compiled | RegexOptions.IgnoreCase);

    public static readonly Action<string, string> DnsName = (v, _) =>
    {
        if (!DnsRe.IsMatch(v)) throw new FormatError("value does not look like a valid DNS name\n");
    };

    public static readonly Action<string, string> UrlEncoded = (v, _) =>
    {
        if (!UrlEncRe.IsMatch(v)) throw new FormatError($"invalid urlencoded string: {v}\n");
    };

    public static IEnumerable<string> SplitList(string v) =>
        Regex.Split(v ?? "", @"[;,\s\0]+").Where(x => x.Length > 0);

    public static readonly Action<string, string> TagList = (v, _) =>
    {
        foreach (var t in SplitList(v))
            if (!TagRe.IsMatch(t)) throw new FormatError("invalid characters in tag\n");
    };

    public static readonly Action<string, string> ConfigIdList = (v, _) =>
    {
        foreach (var t in SplitList(v))
            if (!ConfigIdRe.IsMatch(t)) throw new FormatError($"invalid configuration ID '{t}'\n");
    };

    public static readonly Action<string, string> NodeName = (v, _) =>
    {
        if (!NodeRe.IsMatch(v)) throw new FormatError("value does not look like a valid node name\n");
    };

    public static Action<string, string> Id(string type) => (v, _) =>
    {
        if (v.Length < 2) throw new FormatError($"{type} ID '{v}' cannot be shorter than 2 characters\n");
        if (!IdRe.IsMatch(v)) throw new FormatError($"{type} ID '{v}' contains illegal characters\n");
    };

    public static readonly Action<string, string> MacAddr = (v, _) =>
    {
        if (!MacRe.IsMatch(v) || (Convert.ToByte(v[..2], 16) & 1) == 1)
            throw new FormatError("value does not look like a valid unicast MAC address\n");
    };

    public static readonly Action<string, string> BridgeId = (v, _) =>
    {
        if (!Regex.IsMatch(v, @"^[-_.\w\d]+$")) throw new FormatError($"invalid bridge ID '{v}'\n");
    };

    public static bool IsIPv4(string v) => IPAddress.TryParse(v, out var a) && a.AddressFamily == AddressFamily.InterNetwork && v.Count(c => c == '.') == 3;
    public static bool IsIPv6(string v) => IPAddress.TryParse(v, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6;

    public static bool IsCidr4(string v)
    {
        var p = v.Split('/');
        return p.Length == 2 && IsIPv4(p[0]) && int.TryParse(p[1], out var n) && n > 7 && n <= 32;
    }

    public static bool IsCidr6(string v)
    {
        var p = v.Split('/');
        return p.Length == 2 && IsIPv6(p[0]) && int.TryParse(p[1], out var n) && n > 7 && n <= 128;
    }

    public static readonly Action<string, string> Ipv4 = (v, _) => { if (!IsIPv4(v)) throw new FormatError("value does not look like a valid IPv4 address\n"); };
    public static readonly Action<string, string> Ipv6 = (v, _) => { if (!IsIPv6(v)) throw new FormatError("value does not look like a valid IPv6 address\n"); };
    public static readonly Action<string, string> AddressList = (v, _) =>
    {
        foreach (var a in SplitList(v))
            if (!IsIPv4(a) && !IsIPv6(a)) throw new FormatError("value does not look like a valid IP address\n");
    };

    // ------------------------------------------------------------------ VM property-string formats

    public static readonly string[] NicModels =
        { "e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3" };

    public static readonly PropFormat NetFormat = BuildNet();

    static PropFormat BuildNet()
    {
        var f = new PropFormat();
        f.Keys["macaddr"] = PSpec.Fmt(MacAddr);
        f.Keys["model"] = new PSpec { Enum = NicModels, DefaultKey = true, Optional = false };
        foreach (var m in NicModels) f.Keys[m] = new PSpec { Alias = "macaddr", KeyAlias = "model" };
        f.Keys["bridge"] = PSpec.Fmt(BridgeId);
        f.Keys["queues"] = PSpec.Int(0, 64);
        f.Keys["rate"] = PSpec.Num(0);
        f.Keys["tag"] = PSpec.Int(1, 4094);
        f.Keys["trunks"] = new PSpec { Pattern = @"\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*" };
        f.Keys["firewall"] = PSpec.Bool();
        f.Keys["link_down"] = PSpec.Bool();
        f.Keys["mtu"] = PSpec.Int(1, 65520);
        f.Keys["host-tunnel"] = PSpec.Bool();
        return f;
    }

    /// <summary>print_net: "model=MAC" first, then the other keys sorted.</summary>
    public static string PrintNet(Dictionary<string, string> net)
    {
        var parts = new List<string>();
        if (net.TryGetValue("model", out var model))
            parts.Add(net.TryGetValue("macaddr", out var mac) ? $"{model}={mac}" : model);
        foreach (var (k, v) in net.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            if (k != "model" && k != "macaddr") parts.Add($"{k}={v}");
        return string.Join(',', parts);
    }

    public static readonly PropFormat IpConfigFormat = BuildIpConfig();

    static PropFormat BuildIpConfig()
    {
        var f = new PropFormat();
        f.Keys["ip"] = PSpec.Fmt((v, _) =>
        {
            if (!(v is "dhcp" or "manual") && !IsCidr4(v)) throw new FormatError("value does not look like a valid ipv4 network configuration\n");
        });
        f.Keys["gw"] = new PSpec { Format = Ipv4, Requires = "ip" };
        f.Keys["ip6"] = PSpec.Fmt((v, _) =>
        {
            if (!(v is "dhcp" or "auto" or "manual") && !IsCidr6(v)) throw new FormatError("value does not look like a valid ipv6 network configuration\n");
        });
        f.Keys["gw6"] = new PSpec { Format = Ipv6, Requires = "ip6" };
        // §5.1 of the reference: reject a gateway together with DHCP/SLAAC (real PVE only warns at start).
        f.Validator = (res, _) =>
        {
            if (res.TryGetValue("gw", out _) && res.TryGetValue("ip", out var ip) && ip == "dhcp")
                throw new FormatError("gateway specified together with DHCP\n");
            if (res.TryGetValue("gw6", out _) && res.TryGetValue("ip6", out var ip6) && !IsCidr6(ip6))
                throw new FormatError($"IPv6 gateway specified together with {ip6} address\n");
        };
        return f;
    }

    public static readonly PropFormat MemoryFormat = new()
    {
        Keys = { ["current"] = new PSpec { Type = PType.Integer, Min = 16, DefaultKey = true, Optional = false } },
    };

    public static readonly PropFormat AgentFormat = new()
    {
        Keys =
        {
            ["enabled"] = new PSpec { Type = PType.Boolean, DefaultKey = true },
            ["fstrim_cloned_disks"] = PSpec.Bool(),
            ["freeze-fs-on-backup"] = PSpec.Bool(),
            ["freeze-fs"] = PSpec.Bool(),
            ["type"] = PSpec.Enu("virtio", "isa"),
            ["guest-fsfreeze"] = PSpec.Bool(),
        },
    };

    public static Action<string, string> Prop(PropFormat f) => (v, path) => ParsePropertyString(f, v, path);

    public static bool AgentEnabled(string agent)
    {
        if (string.IsNullOrEmpty(agent)) return false;
        try { return ParsePropertyString(AgentFormat, agent, "agent").GetValueOrDefault("enabled") == "1"; }
        catch (FormatError) { return false; }
    }
}

/// <summary>Drive strings: "local-lvm:vm-101-disk-0,size=3G,media=cdrom".</summary>
public sealed class Drive
{
    public string File;
    public List<KeyValuePair<string, string>> OptList = new();
    public Dictionary<string, string> Opts => OptList.ToDictionary(k => k.Key, k => k.Value);

    public static readonly Regex KeyRe = new(@"^(ide[0-3]|sata[0-5]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|efidisk0|tpmstate0|unused\d+)$", RegexOptions.Compiled);
    public static bool IsDriveKey(string k) => KeyRe.IsMatch(k);

    public static Drive Parse(string s)
    {
        var d = new Drive();
        foreach (var part in (s ?? "").Split(','))
        {
            if (part.Length == 0) continue;
            int eq = part.IndexOf('=');
            if (eq < 0) { d.File ??= part; continue; }
            var k = part[..eq];
            if (k == "file" || k == "volume") { d.File = part[(eq + 1)..]; continue; }
            d.OptList.Add(new(k, part[(eq + 1)..]));
        }
        return d;
    }

    public string Get(string k) => OptList.FirstOrDefault(kv => kv.Key == k).Value;

    public void Set(string k, string v)
    {
        int i = OptList.FindIndex(kv => kv.Key == k);
        if (i >= 0) OptList[i] = new(k, v); else OptList.Add(new(k, v));
    }

    public bool IsCloudInit => File != null && Regex.IsMatch(File, @"(^|[:/])vm-\d+-cloudinit(\.(qcow2|raw))?$");
    public bool IsCdrom => Get("media") == "cdrom" || File is "none" or "cdrom" || (File != null && File.Contains(":iso/"));

    public override string ToString() => string.Join(',', new[] { File }.Concat(OptList.Select(kv => $"{kv.Key}={kv.Value}")));
}

public static class Units
{
    public static long? ParseSize(string v)
    {
        var m = Regex.Match(v ?? "", @"^(\d+(\.\d+)?)([KMGT](?:iB)?)?$");
        if (!m.Success) return null;
        double size = double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        switch (m.Groups[3].Value.FirstOrDefault())
        {
            case 'K': size *= 1024; break;
            case 'M': size *= 1024 * 1024; break;
            case 'G': size *= 1024d * 1024 * 1024; break;
            case 'T': size *= 1024d * 1024 * 1024 * 1024; break;
        }
        return (long)size;
    }

    public static string FormatSize(long size)
    {
        long kb = size / 1024;
        if (kb * 1024 != size) return size.ToString();
        long mb = kb / 1024;
        if (mb * 1024 != kb) return kb + "K";
        long gb = mb / 1024;
        if (gb * 1024 != mb) return mb + "M";
        long tb = gb / 1024;
        if (tb * 1024 != gb) return gb + "G";
        return tb + "T";
    }

    /// <summary>qemu-img style sizes: "0.0 B", "768.0 MiB", "3.0 GiB".</summary>
    public static string Human(long bytes)
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        string[] units = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return v.ToString("0.0", ci) + " " + units[u];
    }
}
