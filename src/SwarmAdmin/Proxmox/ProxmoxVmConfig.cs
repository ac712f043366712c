using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// A Proxmox property string (<c>virtio=BC:24:11:..,bridge=vmbr0,tag=4</c>): comma-separated <c>key=value</c>
    /// pairs, the first possibly a bare value for the format's default key. Order is kept.
    /// </summary>
    internal static class ProxmoxPropertyString
    {
        public static List<KeyValuePair<string, string>> Parse(string text)
        {
            var result = new List<KeyValuePair<string, string>>();
            if (string.IsNullOrWhiteSpace(text)) return result;
            foreach (string part in text.Split(','))
            {
                string p = part.Trim();
                if (p.Length == 0) continue;
                int eq = p.IndexOf('=');
                result.Add(eq < 0 ? new KeyValuePair<string, string>(null, p) : new KeyValuePair<string, string>(p.Substring(0, eq).Trim(), p.Substring(eq + 1).Trim()));
            }
            return result;
        }

        public static string Format(IEnumerable<KeyValuePair<string, string>> pairs)
        {
            var sb = new StringBuilder();
            foreach (var kv in pairs)
            {
                if (kv.Value == null) continue;
                if (kv.Value.IndexOf(',') >= 0) throw new FormatException("The value '" + kv.Value + "' of '" + kv.Key + "' must not contain a comma.");
                if (sb.Length > 0) sb.Append(',');
                if (kv.Key != null) sb.Append(kv.Key).Append('=');
                sb.Append(kv.Value);
            }
            return sb.ToString();
        }
    }

    /// <summary>
    /// Disk and resize sizes: <c>20G</c>, <c>512M</c>, <c>1.5T</c>, a bare number of bytes; K/M/G/T are binary (×1024).
    /// </summary>
    internal static class ProxmoxSize
    {
        private static readonly Regex SizeRegex = new Regex(@"^(?<n>\d+(?:\.\d+)?)(?<u>[KMGT])?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);
        private static readonly Regex ResizeRegex = new Regex(@"^\+?\d+(\.\d+)?[KMGT]?$", RegexOptions.CultureInvariant);

        public static long ParseBytes(string size)
        {
            if (!TryParseBytes(size, out long bytes)) throw new FormatException("'" + size + "' is not a Proxmox size (for example 20G, 512M, 1.5T).");
            return bytes;
        }

        public static bool TryParseBytes(string size, out long bytes)
        {
            bytes = 0;
            if (string.IsNullOrWhiteSpace(size)) return false;
            Match m = SizeRegex.Match(size.Trim());
            if (!m.Success) return false;
            decimal n = decimal.Parse(m.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
            int power = m.Groups["u"].Success ? "KMGT".IndexOf(char.ToUpperInvariant(m.Groups["u"].Value[0])) + 1 : 0;
            for (int i = 0; i < power; i++) n *= 1024;
            if (n > long.MaxValue) return false;
            bytes = (long)decimal.Floor(n);
            return true;
        }

        /// <summary>The largest unit that divides evenly: 21474836480 → <c>20G</c>; 1536 MiB → <c>1536M</c>.</summary>
        public static string Format(long bytes)
        {
            if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes));
            string[] units = { "T", "G", "M", "K" };
            for (int i = 0; i < units.Length; i++)
            {
                long unit = 1L << (10 * (4 - i));
                if (bytes >= unit && bytes % unit == 0) return (bytes / unit).ToString(CultureInfo.InvariantCulture) + units[i];
            }
            return bytes.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>Whether <paramref name="size"/> is a valid <c>resize</c> size (<c>+20G</c> grows, <c>30G</c> is absolute).</summary>
        public static bool IsValidResize(string size) => size != null && ResizeRegex.IsMatch(size);
    }

    /// <summary><c>net[n]</c>: <c>virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,tag=4,mtu=1450</c>.</summary>
    internal sealed class ProxmoxNetConfig
    {
        private static readonly HashSet<string> Models = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "virtio", "e1000", "e1000e", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "rtl8139", "vmxnet3",
            "i82551", "i82557b", "i82559er", "ne2k_pci", "ne2k_isa", "pcnet",
        };

        private static readonly Regex MacRegex = new Regex(@"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$", RegexOptions.CultureInvariant);

        public string Model { get; set; } = "virtio";

        /// <summary>Upper-case <c>AA:BB:CC:DD:EE:FF</c>, or null (the server then generates one).</summary>
        public string MacAddress { get; set; }

        public string Bridge { get; set; }

        public int? Tag { get; set; }

        public int? Mtu { get; set; }

        public bool? Firewall { get; set; }

        public bool? LinkDown { get; set; }

        /// <summary>Options we do not model (<c>queues</c>, <c>rate</c>, <c>trunks</c>…), kept in order.</summary>
        public List<KeyValuePair<string, string>> Other { get; } = new List<KeyValuePair<string, string>>();

        public static ProxmoxNetConfig Parse(string text)
        {
            var net = new ProxmoxNetConfig { Model = null };
            foreach (var kv in ProxmoxPropertyString.Parse(text))
            {
                string key = kv.Key?.ToLowerInvariant();
                if (key == null)
                {
                    if (!Models.Contains(kv.Value)) throw new FormatException("'" + text + "' does not start with a NIC model (virtio, e1000, vmxnet3…).");
                    net.Model = kv.Value.ToLowerInvariant();
                }
                else if (Models.Contains(key))
                {
                    net.Model = key;
                    net.MacAddress = NormalizeMac(kv.Value, text);
                }
                else switch (key)
                {
                    case "model": net.Model = kv.Value.ToLowerInvariant(); break;
                    case "macaddr": net.MacAddress = NormalizeMac(kv.Value, text); break;
                    case "bridge": net.Bridge = kv.Value; break;
                    case "tag": net.Tag = ParseInt(kv.Value, key, text); break;
                    case "mtu": net.Mtu = ParseInt(kv.Value, key, text); break;
                    case "firewall": net.Firewall = kv.Value != "0"; break;
                    case "link_down": net.LinkDown = kv.Value != "0"; break;
                    default: net.Other.Add(new KeyValuePair<string, string>(key, kv.Value)); break;
                }
            }
            if (net.Model == null) throw new FormatException("'" + text + "' names no NIC model.");
            return net;
        }

        /// <summary>The canonical form Proxmox stores: <c>model=MAC</c> first, then the options in alphabetical order.</summary>
        public override string ToString()
        {
            var pairs = new List<KeyValuePair<string, string>>
            {
                MacAddress == null ? new KeyValuePair<string, string>("model", Model) : new KeyValuePair<string, string>(Model, NormalizeMac(MacAddress, MacAddress)),
            };
            var options = new List<KeyValuePair<string, string>>(Other);
            if (Bridge != null) options.Add(new KeyValuePair<string, string>("bridge", Bridge));
            if (Firewall.HasValue) options.Add(new KeyValuePair<string, string>("firewall", Firewall.Value ? "1" : "0"));
            if (LinkDown.HasValue) options.Add(new KeyValuePair<string, string>("link_down", LinkDown.Value ? "1" : "0"));
            if (Mtu.HasValue) options.Add(new KeyValuePair<string, string>("mtu", Mtu.Value.ToString(CultureInfo.InvariantCulture)));
            if (Tag.HasValue) options.Add(new KeyValuePair<string, string>("tag", Tag.Value.ToString(CultureInfo.InvariantCulture)));
            pairs.AddRange(options.OrderBy(kv => kv.Key, StringComparer.Ordinal));
            return ProxmoxPropertyString.Format(pairs);
        }

        /// <summary>Compares MACs whatever the case (the guest agent reports lower case, the config upper case).</summary>
        public static bool SameMac(string a, string b) =>
            a != null && b != null && string.Equals(a.Trim().Replace('-', ':'), b.Trim().Replace('-', ':'), StringComparison.OrdinalIgnoreCase);

        private static string NormalizeMac(string mac, string text)
        {
            string m = mac.Trim().Replace('-', ':');
            if (!MacRegex.IsMatch(m)) throw new FormatException("'" + mac + "' in '" + text + "' is not a MAC address.");
            return m.ToUpperInvariant();
        }

        private static int ParseInt(string value, string key, string text)
        {
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                throw new FormatException("'" + key + "=" + value + "' in '" + text + "' is not an integer.");
            return v;
        }
    }

    /// <summary><c>ipconfig[n]</c>: <c>ip=10.0.0.5/24,gw=10.0.0.1[,ip6=…,gw6=…]</c>, with the server's consistency rules.</summary>
    internal sealed class ProxmoxIpConfig
    {
        /// <summary>IPv4 CIDR or <c>dhcp</c>.</summary>
        public string Ip { get; set; }

        public string Gateway { get; set; }

        /// <summary>IPv6 CIDR, <c>dhcp</c> or <c>auto</c>.</summary>
        public string Ip6 { get; set; }

        public string Gateway6 { get; set; }

        public static ProxmoxIpConfig Static(string cidr, string gateway = null) => new ProxmoxIpConfig { Ip = cidr, Gateway = gateway };

        public static ProxmoxIpConfig Dhcp() => new ProxmoxIpConfig { Ip = "dhcp" };

        public bool IsDhcp => string.Equals(Ip, "dhcp", StringComparison.OrdinalIgnoreCase);

        /// <summary>The IPv4 address without prefix, or null (DHCP or none).</summary>
        public string Address => Ip == null || IsDhcp ? null : Ip.Split('/')[0];

        public int? PrefixLength
        {
            get
            {
                if (Ip == null || IsDhcp) return null;
                int slash = Ip.IndexOf('/');
                return slash >= 0 && int.TryParse(Ip.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : (int?)null;
            }
        }

        public static ProxmoxIpConfig Parse(string text)
        {
            var c = new ProxmoxIpConfig();
            foreach (var kv in ProxmoxPropertyString.Parse(text))
            {
                switch (kv.Key?.ToLowerInvariant())
                {
                    case "ip": c.Ip = kv.Value; break;
                    case "gw": c.Gateway = kv.Value; break;
                    case "ip6": c.Ip6 = kv.Value; break;
                    case "gw6": c.Gateway6 = kv.Value; break;
                    default: throw new FormatException("'" + text + "' has the unknown ipconfig option '" + (kv.Key ?? kv.Value) + "' (ip, gw, ip6, gw6).");
                }
            }
            return c;
        }

        /// <summary>Throws <see cref="FormatException"/> for what Proxmox rejects: a bad CIDR, a gateway without an address of its family or with DHCP.</summary>
        public void Validate()
        {
            if (Ip != null && !IsDhcp) CheckCidr(Ip, AddressFamily.InterNetwork, "ip");
            if (Gateway != null)
            {
                if (Ip == null) throw new FormatException("An IPv4 gateway (gw) needs an IPv4 address (ip).");
                if (IsDhcp) throw new FormatException("An IPv4 gateway (gw) cannot be combined with ip=dhcp.");
                CheckAddress(Gateway, AddressFamily.InterNetwork, "gw");
            }
            bool ip6Auto = string.Equals(Ip6, "dhcp", StringComparison.OrdinalIgnoreCase) || string.Equals(Ip6, "auto", StringComparison.OrdinalIgnoreCase);
            if (Ip6 != null && !ip6Auto) CheckCidr(Ip6, AddressFamily.InterNetworkV6, "ip6");
            if (Gateway6 != null)
            {
                if (Ip6 == null) throw new FormatException("An IPv6 gateway (gw6) needs an IPv6 address (ip6).");
                if (ip6Auto) throw new FormatException("An IPv6 gateway (gw6) cannot be combined with ip6=" + Ip6 + ".");
                CheckAddress(Gateway6, AddressFamily.InterNetworkV6, "gw6");
            }
        }

        public override string ToString()
        {
            Validate();
            return ProxmoxPropertyString.Format(new[]
            {
                new KeyValuePair<string, string>("ip", Ip),
                new KeyValuePair<string, string>("gw", Gateway),
                new KeyValuePair<string, string>("ip6", Ip6),
                new KeyValuePair<string, string>("gw6", Gateway6),
            });
        }

        private static void CheckCidr(string cidr, AddressFamily family, string key)
        {
            int slash = cidr.IndexOf('/');
            int max = family == AddressFamily.InterNetwork ? 32 : 128;
            if (slash < 0 || !int.TryParse(cidr.Substring(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int prefix) || prefix > max)
                throw new FormatException(key + "='" + cidr + "' must be an address with a prefix length, e.g. " + (family == AddressFamily.InterNetwork ? "10.0.0.5/24" : "fd00::5/64") + ".");
            CheckAddress(cidr.Substring(0, slash), family, key);
        }

        private static void CheckAddress(string address, AddressFamily family, string key)
        {
            if (!IPAddress.TryParse(address, out IPAddress ip) || ip.AddressFamily != family
                || (family == AddressFamily.InterNetwork && address.Count(ch => ch == '.') != 3))
                throw new FormatException(key + "='" + address + "' is not an " + (family == AddressFamily.InterNetwork ? "IPv4" : "IPv6") + " address.");
        }
    }

    /// <summary>A drive line: <c>local-lvm:vm-101-disk-0,size=20G</c>, <c>local-lvm:vm-101-cloudinit,media=cdrom</c>.</summary>
    internal sealed class ProxmoxDrive
    {
        private static readonly Regex DriveKeyRegex = new Regex(@"^(ide|sata|scsi|virtio|efidisk|tpmstate|unused)\d+$", RegexOptions.CultureInvariant);

        /// <summary>The volume ID (<c>local-lvm:vm-101-disk-0</c>), <c>none</c> or <c>cdrom</c>.</summary>
        public string Volume { get; private set; }

        /// <summary>The storage ID before ':' (<c>local-lvm</c>), or null.</summary>
        public string Storage
        {
            get
            {
                int colon = Volume?.IndexOf(':') ?? -1;
                return colon > 0 ? Volume.Substring(0, colon) : null;
            }
        }

        public string Size => Option("size");

        public long? SizeBytes => Size != null && ProxmoxSize.TryParseBytes(Size, out long b) ? b : (long?)null;

        public string Media => Option("media");

        public bool IsCdrom => string.Equals(Media, "cdrom", StringComparison.OrdinalIgnoreCase) || Volume == "cdrom";

        /// <summary>A cloud-init drive (<c>…:vm-101-cloudinit</c> or <c>…:cloudinit</c> when requested).</summary>
        public bool IsCloudInit => Volume != null && Volume.IndexOf("cloudinit", StringComparison.OrdinalIgnoreCase) >= 0;

        public List<KeyValuePair<string, string>> Options { get; } = new List<KeyValuePair<string, string>>();

        public string Option(string key) => Options.Where(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)).Select(kv => kv.Value).FirstOrDefault();

        /// <summary>Whether a config key names a drive (<c>scsi0</c>, <c>ide2</c>, <c>virtio1</c>, <c>efidisk0</c>…).</summary>
        public static bool IsDriveKey(string key) => key != null && DriveKeyRegex.IsMatch(key);

        public static ProxmoxDrive Parse(string text)
        {
            var pairs = ProxmoxPropertyString.Parse(text);
            if (pairs.Count == 0) throw new FormatException("The drive string is empty.");
            var drive = new ProxmoxDrive();
            foreach (var kv in pairs)
            {
                if (kv.Key == null || string.Equals(kv.Key, "file", StringComparison.OrdinalIgnoreCase))
                {
                    if (drive.Volume != null) throw new FormatException("'" + text + "' names two volumes.");
                    drive.Volume = kv.Value;
                }
                else drive.Options.Add(kv);
            }
            if (drive.Volume == null) throw new FormatException("'" + text + "' names no volume.");
            return drive;
        }

        public override string ToString() =>
            ProxmoxPropertyString.Format(new[] { new KeyValuePair<string, string>(null, Volume) }.Concat(Options));
    }

    /// <summary>
    /// A read view of <c>GET /nodes/{node}/qemu/{vmid}/config</c>, lenient about Proxmox's typing
    /// (<c>memory</c> as <c>"4096"</c> or <c>4096</c>, booleans as 0/1).
    /// </summary>
    internal sealed class ProxmoxVmConfig
    {
        private readonly JsonElement _config;

        public ProxmoxVmConfig(JsonElement config)
        {
            if (config.ValueKind != JsonValueKind.Object) throw new ArgumentException("A VM config must be a JSON object.", nameof(config));
            _config = config;
        }

        public JsonElement Raw => _config;

        public string this[string key] => JsonRead.String(_config, key);

        public IEnumerable<string> Keys => _config.EnumerateObject().Select(p => p.Name);

        public string Name => this["name"];

        public string Digest => this["digest"];

        public int? Cores => JsonRead.Int(_config, "cores");

        public int? Sockets => JsonRead.Int(_config, "sockets");

        /// <summary>MiB; <c>memory</c> is a property string since PVE 8.1 (<c>"4096"</c> or <c>"current=4096"</c>).</summary>
        public long? MemoryMiB
        {
            get
            {
                string m = this["memory"];
                if (m == null) return null;
                foreach (var kv in ProxmoxPropertyString.Parse(m))
                {
                    if (kv.Key == null || kv.Key == "current")
                        return long.TryParse(kv.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : (long?)null;
                }
                return null;
            }
        }

        public bool IsTemplate => JsonRead.Bool(_config, "template") == true;

        public string Lock => this["lock"];

        /// <summary><c>agent</c> is <c>"1"</c> or <c>"enabled=1,fstrim_cloned_disks=1"</c>.</summary>
        public bool AgentEnabled
        {
            get
            {
                string a = this["agent"];
                if (a == null) return false;
                foreach (var kv in ProxmoxPropertyString.Parse(a))
                    if (kv.Key == null || kv.Key == "enabled") return kv.Value == "1";
                return false;
            }
        }

        /// <summary>Tags as stored (lower case, <c>;</c>-separated).</summary>
        public IReadOnlyList<string> Tags =>
            (this["tags"] ?? string.Empty).Split(new[] { ';', ',', ' ' }, StringSplitOptions.RemoveEmptyEntries);

        /// <summary>The decoded <c>sshkeys</c> lines (stored percent-encoded).</summary>
        public IReadOnlyList<string> SshKeys => ProxmoxSshKeys.DecodeKeys(this["sshkeys"]);

        public ProxmoxNetConfig Net(int index) => this["net" + index.ToString(CultureInfo.InvariantCulture)] is string s ? ProxmoxNetConfig.Parse(s) : null;

        public ProxmoxIpConfig IpConfig(int index) => this["ipconfig" + index.ToString(CultureInfo.InvariantCulture)] is string s ? ProxmoxIpConfig.Parse(s) : null;

        /// <summary>Drive keys and their parsed drives (<c>unused*</c> excluded).</summary>
        public IReadOnlyDictionary<string, ProxmoxDrive> Drives
        {
            get
            {
                var d = new Dictionary<string, ProxmoxDrive>(StringComparer.Ordinal);
                foreach (JsonProperty p in _config.EnumerateObject())
                {
                    if (!ProxmoxDrive.IsDriveKey(p.Name) || p.Name.StartsWith("unused", StringComparison.Ordinal)) continue;
                    string v = JsonRead.AsString(p.Value);
                    if (!string.IsNullOrEmpty(v)) d[p.Name] = ProxmoxDrive.Parse(v);
                }
                return d;
            }
        }

        /// <summary>Whether a cloud-init drive is attached (without it ipconfig/sshkeys are silently ignored).</summary>
        public bool HasCloudInitDrive => Drives.Values.Any(d => d.IsCloudInit);
    }
}
