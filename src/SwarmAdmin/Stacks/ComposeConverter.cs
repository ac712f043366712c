using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;

namespace SwarmAdmin.Stacks
{
    /// <summary>A conversion error (the docker CLI's message, prefixed "service X: " where the CLI does).</summary>
    internal sealed class ComposeConvertException : Exception
    {
        public ComposeConvertException(string message) : base(message) { }
    }

    /// <summary>
    /// ComposeProject → Engine API specs, exactly as docker stack deploy builds them (docker/cli
    /// cli/compose/convert/service.go, compose.go, volume.go at 28f756087eea). Pure: no API calls, no file reads.
    /// <para>"Go omitempty" fields are left null when the CLI would send the zero value (0, false, "", empty list/map),
    /// so a converted spec compares equal to what the engine returns on inspect.</para>
    /// <para>Durations: the Engine wants int64 ns, Docker.DotNet models carry TimeSpan (100 ns ticks): values are
    /// ns / 100 (a sub-100ns remainder is lost; it cannot be expressed in these models).</para>
    /// </summary>
    internal static class ComposeConverter
    {
        internal const string LabelNamespace = "com.docker.stack.namespace";
        internal const string LabelImage = "com.docker.stack.image";
        internal const string DefaultNetwork = "default";
        internal const string DefaultNetworkDriver = "overlay";

        internal static string Scope(string stackName, string name) => stackName + "_" + name;

        // ------------------------------------------------------------------ stack name

        private static readonly Regex DnsNameComponent = new Regex("^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$", RegexOptions.CultureInvariant);

        /// <summary>
        /// Null when <paramref name="name"/> is usable as a stack name, else the error text. The CLI itself
        /// (cli/command/stack/common.go validateStackName) only rejects names that are empty after trimming
        /// whitespace and quotes: <c>invalid stack name: "X"</c>. The engine (swarmkit validateAnnotations) then rejects
        /// service names that are not DNS name components (<c>^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$</c>) or longer than
        /// 63 characters; we check up front that <c>NAME_x</c> can be valid: NAME starts with a letter/digit, has only
        /// letters, digits, '-' and '_', and is at most 61 characters (so one-character service keys fit).
        /// Use <see cref="ValidateServiceName"/> for each actual service key.
        /// </summary>
        internal static string ValidateStackName(string name)
        {
            if (name == null || TrimQuotesOrWhitespace(name).Length == 0) return $"invalid stack name: \"{name}\"";
            if (!DnsNameComponent.IsMatch(name + "_x"))
                return $"invalid stack name: \"{name}\": it must start with a letter or digit and contain only letters, digits, '-' and '_'";
            if (name.Length > 61)
                return $"invalid stack name: \"{name}\": it must be at most 61 characters (service names \"{name}_<service>\" must be 63 characters or fewer)";
            return null;
        }

        /// <summary>Null when the engine accepts <c>stack_service</c> as a service name, else the error text.</summary>
        internal static string ValidateServiceName(string stackName, string serviceKey)
        {
            string full = Scope(stackName, serviceKey);
            if (!DnsNameComponent.IsMatch(full)) return $"service {full}: name must be valid as a DNS name component";
            if (full.Length > 63) return $"service {full}: name must be 63 characters or fewer";
            return null;
        }

        private static string TrimQuotesOrWhitespace(string s)
        {
            int a = 0, b = s.Length;
            while (a < b && (char.IsWhiteSpace(s[a]) || s[a] == '"' || s[a] == '\'')) a++;
            while (b > a && (char.IsWhiteSpace(s[b - 1]) || s[b - 1] == '"' || s[b - 1] == '\'')) b--;
            return s.Substring(a, b - a);
        }

        // ------------------------------------------------------------------ networks

        /// <summary>Network keys used by services; a service that lists none uses "default" (deploy step 2).</summary>
        internal static SortedSet<string> ServiceNetworkKeys(ComposeProject project)
        {
            var set = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var svc in project.Services.Values)
            {
                if (svc.Networks == null || svc.Networks.Count == 0) set.Add(DefaultNetwork);
                else foreach (var k in svc.Networks.Keys) set.Add(k);
            }
            return set;
        }

        /// <summary>
        /// The create parameters of a stack network (convert.Networks + createNetworks): Name = name: or
        /// <c>stack_key</c>; Driver default overlay; Options, Internal, Attachable, IPAM (only when ipam.driver or
        /// ipam.config is set; only subnets), Labels + namespace. Returns null for an external network (it is
        /// referenced by name, never created). An undeclared key (e.g. the implicit "default") gives
        /// <c>stack_default</c> with driver overlay.
        /// </summary>
        internal static NetworksCreateParameters ConvertNetwork(ComposeProject project, string stackName, string networkKey)
        {
            project.Networks.TryGetValue(networkKey, out ComposeNetwork nw);
            nw = nw ?? new ComposeNetwork { Key = networkKey };
            if (nw.External) return null;
            var p = new NetworksCreateParameters
            {
                Name = string.IsNullOrEmpty(nw.Name) ? Scope(stackName, networkKey) : nw.Name,
                Labels = AddStackLabel(stackName, nw.Labels),
                Driver = string.IsNullOrEmpty(nw.Driver) ? DefaultNetworkDriver : nw.Driver,
                Options = nw.DriverOpts.Count > 0 ? new Dictionary<string, string>(nw.DriverOpts, StringComparer.Ordinal) : null,
                Internal = nw.Internal,
                Attachable = nw.Attachable,
            };
            if (!string.IsNullOrEmpty(nw.IpamDriver) || nw.IpamConfig.Count > 0)
            {
                p.IPAM = new IPAM { Driver = string.IsNullOrEmpty(nw.IpamDriver) ? null : nw.IpamDriver };
                if (nw.IpamConfig.Count > 0)
                    p.IPAM.Config = nw.IpamConfig.Select(c => new IPAMConfig { Subnet = c.Subnet }).ToList();
            }
            return p;
        }

        /// <summary>All networks the stack must have: the ones to create (by name, sorted) and the names of the
        /// external ones to validate (sorted, distinct). Unreferenced networks are not converted (as the CLI).</summary>
        internal static SortedDictionary<string, NetworksCreateParameters> ConvertNetworks(ComposeProject project, string stackName, out List<string> externalNames)
        {
            var result = new SortedDictionary<string, NetworksCreateParameters>(StringComparer.Ordinal);
            var ext = new SortedSet<string>(StringComparer.Ordinal);
            foreach (string key in ServiceNetworkKeys(project))
            {
                var p = ConvertNetwork(project, stackName, key);
                if (p == null) ext.Add(project.Networks[key].Name ?? key);
                else result[p.Name] = p;
            }
            externalNames = ext.ToList();
            return result;
        }

        // ------------------------------------------------------------------ secrets / configs

        /// <summary>Name of a top-level secret/config as deployed: name: (also for externals, where the loader sets it
        /// to name:/external.name/the key) else <c>stack_key</c>.</summary>
        internal static string ObjectName(string stackName, ComposeFileObject obj, string key)
            => !string.IsNullOrEmpty(obj?.Name) ? obj.Name : Scope(stackName, key);

        /// <summary>convert.Secrets for one key; null for an external secret. <paramref name="data"/> is the content
        /// of file: (read by the caller); a driver secret sends empty data plus Driver{Name, Options}.</summary>
        internal static SwarmSecretSpec ConvertSecret(ComposeProject project, string stackName, string secretKey, byte[] data)
        {
            if (!project.Secrets.TryGetValue(secretKey, out ComposeSecret s)) throw new ComposeConvertException($"undefined secret \"{secretKey}\"");
            if (s.External) return null;
            var spec = new SwarmSecretSpec
            {
                Name = ObjectName(stackName, s, secretKey),
                Labels = AddStackLabel(stackName, s.Labels),
            };
            if (!string.IsNullOrEmpty(s.Driver))
            {
                spec.Data = new byte[0];
                spec.Driver = new SwarmDriver { Name = s.Driver, Options = s.DriverOpts.Count > 0 ? new Dictionary<string, string>(s.DriverOpts, StringComparer.Ordinal) : null };
            }
            else spec.Data = data ?? new byte[0];
            if (!string.IsNullOrEmpty(s.TemplateDriver)) spec.Templating = new SwarmDriver { Name = s.TemplateDriver };
            return spec;
        }

        /// <summary>convert.Configs for one key; null for an external config.</summary>
        internal static SwarmConfigSpec ConvertConfig(ComposeProject project, string stackName, string configKey, byte[] data)
        {
            if (!project.Configs.TryGetValue(configKey, out ComposeConfig c)) throw new ComposeConvertException($"undefined config \"{configKey}\"");
            if (c.External) return null;
            var spec = new SwarmConfigSpec
            {
                Name = ObjectName(stackName, c, configKey),
                Labels = AddStackLabel(stackName, c.Labels),
                Data = data ?? new byte[0],
            };
            if (!string.IsNullOrEmpty(c.TemplateDriver)) spec.Templating = new SwarmDriver { Name = c.TemplateDriver };
            return spec;
        }

        // ------------------------------------------------------------------ services

        /// <summary>
        /// The ServiceSpec docker stack deploy sends for <paramref name="serviceKey"/> (convert.Service).
        /// <paramref name="secretNameMap"/>/<paramref name="configNameMap"/> map deployed secret/config NAMES to IDs
        /// (what the CLI's ParseSecrets/ParseConfigs look up); a missing name gives "secret not found: X" /
        /// "config not found: X". When a map is null, the IDs are left empty (and a credential_spec.config keeps the
        /// config NAME) — the caller must fill them before sending the spec.
        /// <paramref name="environment"/> fills environment keys the loader left unresolved (null value); null = none.
        /// Errors: <see cref="ComposeConvertException"/> "service KEY: message".
        /// </summary>
        internal static ServiceSpec ConvertService(ComposeProject project, string stackName, string serviceKey,
            IReadOnlyDictionary<string, string> secretNameMap, IReadOnlyDictionary<string, string> configNameMap,
            Func<string, (bool, string)> environment)
        {
            if (!project.Services.TryGetValue(serviceKey, out ComposeService svc)) throw new ComposeConvertException($"undefined service \"{serviceKey}\"");
            try
            {
                return ConvertServiceCore(project, stackName, serviceKey, svc, secretNameMap, configNameMap, environment);
            }
            catch (ComposeConvertException ex)
            {
                throw new ComposeConvertException($"service {serviceKey}: {ex.Message}");
            }
        }

        private static ServiceSpec ConvertServiceCore(ComposeProject project, string ns, string key, ComposeService svc,
            IReadOnlyDictionary<string, string> secretMap, IReadOnlyDictionary<string, string> configMap, Func<string, (bool, string)> environment)
        {
            var deploy = svc.Deploy ?? new ComposeDeploy();
            var secrets = ConvertServiceSecrets(project, ns, svc, secretMap);
            var configs = ConvertServiceConfigs(project, ns, svc, configMap);

            var container = new ContainerSpec
            {
                Image = svc.Image,
                Command = NullIfEmpty(svc.Entrypoint),
                Args = NullIfEmpty(svc.Command),
                Hostname = NullIfEmpty(svc.Hostname),
                Hosts = NullIfEmpty(ConvertExtraHosts(svc.ExtraHosts)),
                DNSConfig = ConvertDns(svc.Dns, svc.DnsSearch),
                Healthcheck = ConvertHealthcheck(svc.HealthCheck),
                Env = NullIfEmpty(ConvertEnvironment(svc.Environment, environment)),
                Labels = AddStackLabel(ns, svc.Labels),
                Dir = NullIfEmpty(svc.WorkingDir),
                User = NullIfEmpty(svc.User),
                Mounts = NullIfEmpty(ConvertMounts(project, ns, svc.Volumes)),
                StopGracePeriod = ToTimeSpan(svc.StopGracePeriod),
                StopSignal = NullIfEmpty(svc.StopSignal),
                TTY = svc.Tty ? true : (bool?)null,
                OpenStdin = svc.StdinOpen ? true : (bool?)null,
                ReadOnly = svc.ReadOnly ? true : (bool?)null,
                Secrets = NullIfEmpty(secrets),
                Configs = NullIfEmpty(configs),
                Privileges = new Privileges { CredentialSpec = ConvertCredentialSpec(ns, svc.CredentialSpec, configs, configMap != null) },
                Isolation = NullIfEmpty(svc.Isolation),
                Init = svc.Init,
                Sysctls = svc.Sysctls.Count > 0 ? new Dictionary<string, string>(svc.Sysctls, StringComparer.Ordinal) : null,
                Ulimits = NullIfEmpty(svc.Ulimits.Select(kv => new Ulimit { Name = kv.Key, Soft = kv.Value.EffectiveSoft, Hard = kv.Value.EffectiveHard })
                    .OrderBy(u => u.Name, StringComparer.Ordinal).ToList()),
                OomScoreAdj = svc.OomScoreAdj.HasValue && svc.OomScoreAdj.Value != 0 ? svc.OomScoreAdj : null,
            };
            EffectiveCapabilities(svc.CapAdd, svc.CapDrop, out var capAdd, out var capDrop);
            container.CapabilityAdd = capAdd;
            container.CapabilityDrop = capDrop;

            var labels = AddStackLabel(ns, deploy.Labels);
            labels[LabelImage] = svc.Image;

            var placement = deploy.Placement ?? new ComposePlacement();
            var spec = new ServiceSpec
            {
                Name = Scope(ns, key),
                Labels = labels,
                TaskTemplate = new TaskSpec
                {
                    ContainerSpec = container,
                    LogDriver = svc.Logging == null ? null : new SwarmDriver
                    {
                        Name = NullIfEmpty(svc.Logging.Driver),
                        Options = svc.Logging.Options.Count > 0 ? new Dictionary<string, string>(svc.Logging.Options, StringComparer.Ordinal) : null,
                    },
                    Resources = ConvertResources(deploy.Resources),
                    RestartPolicy = ConvertRestartPolicy(svc.Restart, deploy.RestartPolicy),
                    Placement = new Placement
                    {
                        Constraints = NullIfEmpty(placement.Constraints?.ToList()),
                        Preferences = NullIfEmpty(placement.Preferences?.Select(p => new PlacementPreference { Spread = new SpreadOver { SpreadDescriptor = p } }).ToList()),
                        MaxReplicas = placement.MaxReplicasPerNode.HasValue && placement.MaxReplicasPerNode.Value != 0 ? placement.MaxReplicasPerNode : null,
                    },
                    Networks = ConvertServiceNetworks(project, ns, key, svc.Networks),
                },
                EndpointSpec = ConvertEndpointSpec(deploy.EndpointMode, svc.Ports),
                Mode = ConvertMode(deploy.Mode, deploy.Replicas),
                UpdateConfig = ConvertUpdateConfig(deploy.UpdateConfig),
                RollbackConfig = ConvertUpdateConfig(deploy.RollbackConfig),
            };
            return spec;
        }

        internal static IDictionary<string, string> AddStackLabel(string ns, IDictionary<string, string> labels)
        {
            var d = labels == null ? new Dictionary<string, string>(StringComparer.Ordinal) : new Dictionary<string, string>(labels, StringComparer.Ordinal);
            d[LabelNamespace] = ns;
            return d;
        }

        private static IList<T> NullIfEmpty<T>(IList<T> list) => list == null || list.Count == 0 ? null : list;
        private static string NullIfEmpty(string s) => string.IsNullOrEmpty(s) ? null : s;

        /// <summary>ns → TimeSpan (100 ns ticks); null when not set; <paramref name="zeroIsNull"/> for Go omitempty durations.</summary>
        private static TimeSpan? ToTimeSpan(ComposeDuration d, bool zeroIsNull = false)
        {
            if (d == null) return null;
            if (zeroIsNull && d.Nanoseconds == 0) return null;
            return TimeSpan.FromTicks(d.Nanoseconds / 100);
        }

        /// <summary>convertEnvironment: KEY=VALUE, bare KEY when unresolved, sorted like Go's sort.Strings.</summary>
        internal static List<string> ConvertEnvironment(IDictionary<string, string> env, Func<string, (bool, string)> lookup)
        {
            var output = new List<string>();
            foreach (var kv in env)
            {
                string v = kv.Value;
                if (v == null && lookup != null)
                {
                    var (found, value) = lookup(kv.Key);
                    if (found) v = value ?? string.Empty;
                }
                output.Add(v == null ? kv.Key : kv.Key + "=" + v);
            }
            output.Sort(ComposeEnvFile.CompareUtf8);
            return output;
        }

        /// <summary>convertExtraHosts: "host:ip" → "ip host", order kept; entries without ':' dropped.</summary>
        internal static List<string> ConvertExtraHosts(IEnumerable<string> extraHosts)
        {
            var hosts = new List<string>();
            foreach (string h in extraHosts ?? Enumerable.Empty<string>())
            {
                int i = h.IndexOf(':');
                if (i >= 0) hosts.Add(h.Substring(i + 1) + " " + h.Substring(0, i));
            }
            return hosts;
        }

        private static DNSConfig ConvertDns(List<string> dns, List<string> search)
        {
            if ((dns == null || dns.Count == 0) && (search == null || search.Count == 0)) return null;
            var ns = new List<string>();
            foreach (string ip in dns ?? new List<string>())
                if (TryParseGoAddr(ip, out string canonical)) ns.Add(canonical);
            return new DNSConfig { Nameservers = NullIfEmpty(ns), Search = NullIfEmpty(search?.ToList()) };
        }

        /// <summary>netip.ParseAddr (strict: dotted-quad IPv4 without leading zeros, IPv6 with optional zone), and
        /// its canonical String() form; unparsable addresses are silently dropped by the CLI.</summary>
        internal static bool TryParseGoAddr(string s, out string canonical)
        {
            canonical = null;
            if (string.IsNullOrEmpty(s)) return false;
            if (s.IndexOf(':') < 0)
            {
                string[] parts = s.Split('.');
                if (parts.Length != 4) return false;
                foreach (string p in parts)
                {
                    if (p.Length == 0 || p.Length > 3 || !p.All(c => c >= '0' && c <= '9')) return false;
                    if (p.Length > 1 && p[0] == '0') return false;
                    if (int.Parse(p, CultureInfo.InvariantCulture) > 255) return false;
                }
                canonical = s;
                return true;
            }
            string zone = null, addr = s;
            int pct = s.IndexOf('%');
            if (pct >= 0) { zone = s.Substring(pct + 1); addr = s.Substring(0, pct); if (zone.Length == 0) return false; }
            if (!IPAddress.TryParse(addr, out IPAddress ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6) return false;
            string text = new IPAddress(ip.GetAddressBytes()).ToString();
            canonical = zone == null ? text : text + "%" + zone;
            return true;
        }

        private static HealthcheckConfig ConvertHealthcheck(ComposeHealthCheck hc)
        {
            if (hc == null) return null;
            if (hc.Disable)
            {
                if (hc.Test != null && hc.Test.Count != 0) throw new ComposeConvertException("test and disable can't be set at the same time");
                return new HealthcheckConfig { Test = new List<string> { "NONE" } };
            }
            return new HealthcheckConfig
            {
                Test = NullIfEmpty(hc.Test?.ToList()),
                Interval = ToTimeSpan(hc.Interval, true),
                Timeout = ToTimeSpan(hc.Timeout, true),
                StartPeriod = ToTimeSpan(hc.StartPeriod, true),
                StartInterval = ToTimeSpan(hc.StartInterval, true),
                Retries = hc.Retries.HasValue && hc.Retries.Value != 0 ? (long)hc.Retries.Value : (long?)null,
            };
        }

        /// <summary>opts.EffectiveCapAddCapDrop: upper-case, CAP_ prefix (not for ALL/RESET), ALL trumps, add wins
        /// over drop, RESET dropped, de-duplicated and sorted; null when empty.</summary>
        internal static void EffectiveCapabilities(IEnumerable<string> add, IEnumerable<string> drop, out IList<string> capAdd, out IList<string> capDrop)
        {
            string Norm(string c)
            {
                c = (c ?? string.Empty).Trim().ToUpperInvariant();
                if (c == "ALL" || c == "RESET") return c;
                return c.StartsWith("CAP_", StringComparison.Ordinal) ? c : "CAP_" + c;
            }
            var a = new HashSet<string>((add ?? Enumerable.Empty<string>()).Select(Norm), StringComparer.Ordinal);
            var d = new HashSet<string>((drop ?? Enumerable.Empty<string>()).Select(Norm), StringComparer.Ordinal);
            if (a.Contains("ALL")) a = new HashSet<string>(StringComparer.Ordinal) { "ALL" };
            if (d.Contains("ALL")) d = new HashSet<string>(StringComparer.Ordinal) { "ALL" };
            var outDrop = d.Where(c => !a.Contains(c) && c != "RESET").ToList();
            var outAdd = a.Where(c => c != "RESET").ToList();
            outAdd.Sort(ComposeEnvFile.CompareUtf8);
            outDrop.Sort(ComposeEnvFile.CompareUtf8);
            capAdd = NullIfEmpty(outAdd);
            capDrop = NullIfEmpty(outDrop);
        }

        // ------------------------------------------------------------------ mounts

        internal static List<Mount> ConvertMounts(ComposeProject project, string ns, IEnumerable<ComposeServiceVolume> volumes)
        {
            var result = new List<Mount>();
            foreach (var v in volumes ?? Enumerable.Empty<ComposeServiceVolume>()) result.Add(ConvertMount(project, ns, v));
            return result;
        }

        private static Mount ConvertMount(ComposeProject project, string ns, ComposeServiceVolume v)
        {
            string type = string.IsNullOrEmpty(v.Type) ? "volume" : v.Type;
            var m = new Mount
            {
                Type = type,
                Target = v.Target,
                ReadOnly = v.ReadOnly ? true : (bool?)null,
                Source = NullIfEmpty(v.Source),
                Consistency = NullIfEmpty(v.Consistency),
            };
            bool hasBind = !string.IsNullOrEmpty(v.BindPropagation);
            bool hasVolume = v.NoCopy || !string.IsNullOrEmpty(v.VolumeSubpath);
            bool hasTmpfs = v.TmpfsSize.HasValue;
            void Incompatible(bool present, string what) { if (present) throw new ComposeConvertException($"{what} options are incompatible with type {type}"); }
            switch (type)
            {
                case "volume":
                    Incompatible(hasTmpfs, "tmpfs"); Incompatible(hasBind, "bind");
                    if (string.IsNullOrEmpty(v.Source)) return m; // anonymous volume
                    if (!project.Volumes.TryGetValue(v.Source, out ComposeVolume sv)) throw new ComposeConvertException($"undefined volume \"{v.Source}\"");
                    m.Source = string.IsNullOrEmpty(sv.Name) ? Scope(ns, v.Source) : sv.Name;
                    m.VolumeOptions = new VolumeOptions { NoCopy = v.NoCopy ? true : (bool?)null, Subpath = NullIfEmpty(v.VolumeSubpath) };
                    if (sv.External) return m;
                    m.VolumeOptions.Labels = AddStackLabel(ns, sv.Labels);
                    if (!string.IsNullOrEmpty(sv.Driver) || sv.DriverOpts.Count > 0)
                        m.VolumeOptions.DriverConfig = new Driver
                        {
                            Name = NullIfEmpty(sv.Driver),
                            Options = sv.DriverOpts.Count > 0 ? new Dictionary<string, string>(sv.DriverOpts, StringComparer.Ordinal) : null,
                        };
                    return m;
                case "bind":
                    if (string.IsNullOrEmpty(v.Source)) throw new ComposeConvertException("invalid bind source, source cannot be empty");
                    Incompatible(hasVolume, "volume"); Incompatible(hasTmpfs, "tmpfs");
                    if (hasBind) m.BindOptions = new BindOptions { Propagation = v.BindPropagation };
                    return m;
                case "tmpfs":
                    if (!string.IsNullOrEmpty(v.Source)) throw new ComposeConvertException("invalid tmpfs source, source must be empty");
                    Incompatible(hasBind, "bind"); Incompatible(hasVolume, "volume");
                    if (hasTmpfs) m.TmpfsOptions = new TmpfsOptions { SizeBytes = v.TmpfsSize.Value != 0 ? v.TmpfsSize : null };
                    return m;
                case "npipe":
                    if (string.IsNullOrEmpty(v.Source)) throw new ComposeConvertException("invalid npipe source, source cannot be empty");
                    Incompatible(hasVolume, "volume"); Incompatible(hasTmpfs, "tmpfs");
                    if (hasBind) m.BindOptions = new BindOptions { Propagation = v.BindPropagation };
                    return m;
                case "image":
                    if (string.IsNullOrEmpty(v.Source)) throw new ComposeConvertException("invalid image source, source cannot be empty");
                    Incompatible(hasVolume, "volume"); Incompatible(hasBind, "bind"); Incompatible(hasTmpfs, "tmpfs");
                    return m;
                case "cluster":
                    if (string.IsNullOrEmpty(v.Source)) throw new ComposeConvertException("invalid cluster source, source cannot be empty");
                    Incompatible(hasTmpfs, "tmpfs"); Incompatible(hasBind, "bind"); Incompatible(hasVolume, "volume");
                    m.ClusterOptions = new ClusterOptions();
                    if (!v.Source.StartsWith("group:", StringComparison.Ordinal))
                    {
                        if (!project.Volumes.TryGetValue(v.Source, out ComposeVolume cv)) throw new ComposeConvertException($"undefined volume \"{v.Source}\"");
                        m.Source = string.IsNullOrEmpty(cv.Name) ? Scope(ns, v.Source) : cv.Name;
                    }
                    return m;
                default:
                    throw new ComposeConvertException("volume type must be volume, bind, tmpfs, npipe, or cluster");
            }
        }

        // ------------------------------------------------------------------ secrets/configs references

        private static List<SecretReference> ConvertServiceSecrets(ComposeProject project, string ns, ComposeService svc, IReadOnlyDictionary<string, string> map)
        {
            var refs = new List<SecretReference>();
            var targets = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in svc.Secrets ?? new List<ComposeFileReference>())
            {
                if (!project.Secrets.TryGetValue(r.Source, out ComposeSecret obj)) throw new ComposeConvertException($"undefined secret \"{r.Source}\"");
                string name = ObjectName(ns, obj, r.Source);
                var file = FileTarget(r);
                if (!targets.Add(file.Name)) throw new ComposeConvertException($"duplicate secret target for {name} not allowed");
                refs.Add(new SecretReference
                {
                    File = new SecretReferenceFileTarget { Name = file.Name, UID = file.Uid, GID = file.Gid, Mode = file.Mode },
                    SecretName = name,
                });
            }
            foreach (var r in refs)
            {
                if (map == null) continue;
                if (!map.TryGetValue(r.SecretName, out string id)) throw new ComposeConvertException($"secret not found: {r.SecretName}");
                r.SecretID = id;
            }
            return refs.OrderBy(r => r.SecretName, Comparer<string>.Create(ComposeEnvFile.CompareUtf8))
                .ThenBy(r => r.File.Name, Comparer<string>.Create(ComposeEnvFile.CompareUtf8)).ToList();
        }

        private static List<SwarmConfigReference> ConvertServiceConfigs(ComposeProject project, string ns, ComposeService svc, IReadOnlyDictionary<string, string> map)
        {
            var refs = new List<SwarmConfigReference>();
            var targets = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in svc.Configs ?? new List<ComposeFileReference>())
            {
                if (!project.Configs.TryGetValue(r.Source, out ComposeConfig obj)) throw new ComposeConvertException($"undefined config \"{r.Source}\"");
                string name = ObjectName(ns, obj, r.Source);
                var file = FileTarget(r);
                if (!targets.Add(file.Name)) throw new ComposeConvertException($"duplicate config target for {name} not allowed");
                refs.Add(new SwarmConfigReference
                {
                    File = new ConfigReferenceFileTarget { Name = file.Name, UID = file.Uid, GID = file.Gid, Mode = file.Mode },
                    ConfigName = name,
                });
            }
            // credential_spec.config: a Runtime reference (once per config name)
            string credConfig = svc.CredentialSpec?.Config;
            if (!string.IsNullOrEmpty(credConfig))
            {
                if (!project.Configs.TryGetValue(credConfig, out ComposeConfig obj)) throw new ComposeConvertException($"undefined config \"{credConfig}\"");
                refs.Add(new SwarmConfigReference { ConfigName = ObjectName(ns, obj, credConfig), Runtime = new ConfigReferenceRuntimeTarget() });
            }
            foreach (var r in refs)
            {
                if (map == null) continue;
                if (!map.TryGetValue(r.ConfigName, out string id)) throw new ComposeConvertException($"config not found: {r.ConfigName}");
                r.ConfigID = id;
            }
            var cmp = Comparer<string>.Create(ComposeEnvFile.CompareUtf8);
            return refs.OrderBy(r => r.ConfigName, cmp).ThenBy(r => r.Runtime != null ? 1 : 0).ThenBy(r => r.File?.Name ?? string.Empty, cmp).ToList();
        }

        private static (string Name, string Uid, string Gid, uint Mode) FileTarget(ComposeFileReference r)
            => (string.IsNullOrEmpty(r.Target) ? r.Source : r.Target,
                string.IsNullOrEmpty(r.Uid) ? "0" : r.Uid,
                string.IsNullOrEmpty(r.Gid) ? "0" : r.Gid,
                r.Mode ?? Convert.ToUInt32("444", 8));

        private static CredentialSpec ConvertCredentialSpec(string ns, ComposeCredentialSpec spec, List<SwarmConfigReference> refs, bool resolveIds)
        {
            if (spec == null) return null;
            var set = new List<string>();
            if (!string.IsNullOrEmpty(spec.Config)) set.Add("\"Config\"");
            if (!string.IsNullOrEmpty(spec.File)) set.Add("\"File\"");
            if (!string.IsNullOrEmpty(spec.Registry)) set.Add("\"Registry\"");
            if (set.Count == 0) return null;
            if (set.Count == 2) throw new ComposeConvertException($"invalid credential spec: cannot specify both {set[0]} and {set[1]}");
            if (set.Count > 2) throw new ComposeConvertException($"invalid credential spec: cannot specify both {string.Join(", ", set.Take(set.Count - 1))}, and {set[set.Count - 1]}");
            var result = new CredentialSpec { Config = NullIfEmpty(spec.Config), File = NullIfEmpty(spec.File), Registry = NullIfEmpty(spec.Registry) };
            if (result.Config != null)
            {
                var match = refs.FirstOrDefault(r => r.ConfigName == result.Config) ?? refs.FirstOrDefault(r => r.ConfigName == Scope(ns, result.Config));
                if (match == null) throw new ComposeConvertException($"invalid credential spec: spec specifies config {result.Config}, but no such config can be found");
                result.Config = resolveIds ? match.ConfigID : match.ConfigName;
            }
            return result;
        }

        // ------------------------------------------------------------------ deploy

        private static ResourceRequirements ConvertResources(ComposeResources source)
        {
            var r = new ResourceRequirements();
            if (source?.Limits != null)
            {
                var l = source.Limits;
                r.Limits = new SwarmLimit
                {
                    NanoCPUs = NonZero(l.Cpus?.NanoCpus),
                    MemoryBytes = NonZero(l.Memory?.Bytes),
                    Pids = NonZero(l.Pids),
                };
            }
            if (source?.Reservations != null)
            {
                var res = source.Reservations;
                r.Reservations = new SwarmResources
                {
                    NanoCPUs = NonZero(res.Cpus?.NanoCpus),
                    MemoryBytes = NonZero(res.Memory?.Bytes),
                    GenericResources = NullIfEmpty(res.GenericResources?.Select(g => new GenericResource
                    {
                        DiscreteResourceSpec = new DiscreteGenericResource { Kind = g.Kind, Value = g.Value },
                    }).ToList()),
                };
            }
            return r;
        }

        private static long? NonZero(long? v) => v.HasValue && v.Value != 0 ? v : null;

        /// <summary>deploy.restart_policy wins; else service restart: (no → none, always/unless-stopped → any,
        /// on-failure[:N] → on-failure + MaxAttempts N when N > 0).</summary>
        internal static SwarmRestartPolicy ConvertRestartPolicy(string restart, ComposeRestartPolicy policy)
        {
            if (policy != null)
                return new SwarmRestartPolicy
                {
                    Condition = NullIfEmpty(policy.Condition),
                    Delay = ToTimeSpan(policy.Delay),
                    MaxAttempts = policy.MaxAttempts,
                    Window = ToTimeSpan(policy.Window),
                };
            if (string.IsNullOrEmpty(restart)) return null;
            // opts.ParseRestartPolicy: "name[:count]"
            string name = restart, count = null;
            int colon = restart.IndexOf(':');
            if (colon >= 0) { name = restart.Substring(0, colon); count = restart.Substring(colon + 1); }
            long max = 0;
            if (count != null)
            {
                if (name != "on-failure") throw new ComposeConvertException($"invalid restart policy format: maximum retry count can only be used with 'on-failure'");
                if (!long.TryParse(count, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out max))
                    throw new ComposeConvertException($"invalid restart policy format: maximum retry count must be an integer");
            }
            if (max < 0) throw new ComposeConvertException("invalid restart policy: maximum retry count cannot be negative");
            ulong? attempts = max > 0 ? (ulong)max : (ulong?)null;
            switch (name)
            {
                case "no": case "": return null;
                case "always": case "unless-stopped": return new SwarmRestartPolicy { Condition = "any", MaxAttempts = attempts };
                case "on-failure": return new SwarmRestartPolicy { Condition = "on-failure", MaxAttempts = attempts };
                default:
                    throw new ComposeConvertException($"invalid restart policy: unknown policy '{name}' (must be one of 'no', 'always', 'on-failure', or 'unless-stopped')");
            }
        }

        private static SwarmUpdateConfig ConvertUpdateConfig(ComposeUpdateConfig source)
        {
            if (source == null) return null;
            return new SwarmUpdateConfig
            {
                Parallelism = source.Parallelism ?? 1,
                Delay = ToTimeSpan(source.Delay, true),
                FailureAction = NullIfEmpty(source.FailureAction),
                Monitor = ToTimeSpan(source.Monitor, true),
                MaxFailureRatio = (float)(source.MaxFailureRatio ?? 0),
                Order = NullIfEmpty(source.Order),
            };
        }

        private static EndpointSpec ConvertEndpointSpec(string endpointMode, IEnumerable<ComposePort> ports)
        {
            var list = (ports ?? Enumerable.Empty<ComposePort>()).Select(p => new PortConfig
            {
                Protocol = NullIfEmpty(p.Protocol),
                TargetPort = p.Target != 0 ? p.Target : (uint?)null,
                PublishedPort = p.Published != 0 ? p.Published : (uint?)null,
                PublishMode = NullIfEmpty(p.Mode),
            }).ToList();
            var cmp = Comparer<string>.Create(ComposeEnvFile.CompareUtf8);
            list = list.OrderBy(p => p.PublishedPort ?? 0).ThenBy(p => p.TargetPort ?? 0)
                .ThenBy(p => p.Protocol ?? string.Empty, cmp).ThenBy(p => p.PublishMode ?? string.Empty, cmp).ToList();
            return new EndpointSpec
            {
                Mode = NullIfEmpty(endpointMode?.ToLowerInvariant()),
                Ports = NullIfEmpty(list),
            };
        }

        private static ServiceMode ConvertMode(string mode, ulong? replicas)
        {
            switch (mode ?? string.Empty)
            {
                case "global-job":
                    if (replicas != null) throw new ComposeConvertException("replicas can only be used with replicated or replicated-job mode");
                    return new ServiceMode { GlobalJob = new GlobalJob() };
                case "global":
                    if (replicas != null) throw new ComposeConvertException("replicas can only be used with replicated or replicated-job mode");
                    return new ServiceMode { Global = new GlobalService() };
                case "replicated-job":
                    return new ServiceMode { ReplicatedJob = new ReplicatedJob { MaxConcurrent = replicas, TotalCompletions = replicas } };
                case "replicated":
                case "":
                    return new ServiceMode { Replicated = new ReplicatedService { Replicas = replicas } };
                default:
                    throw new ComposeConvertException($"unknown mode: {mode}");
            }
        }

        /// <summary>convertServiceNetworks: no networks → "default"; Target = name: or stack_key; the service key is
        /// appended to the aliases on user-defined networks (not host/bridge/none/default/container:x); sorted by target.</summary>
        private static IList<NetworkAttachmentConfig> ConvertServiceNetworks(ComposeProject project, string ns, string serviceKey, SortedDictionary<string, ComposeServiceNetwork> networks)
        {
            IEnumerable<KeyValuePair<string, ComposeServiceNetwork>> entries = networks == null || networks.Count == 0
                ? new[] { new KeyValuePair<string, ComposeServiceNetwork>(DefaultNetwork, null) }
                : (IEnumerable<KeyValuePair<string, ComposeServiceNetwork>>)networks;
            var nets = new List<NetworkAttachmentConfig>();
            foreach (var kv in entries)
            {
                bool declared = project.Networks.TryGetValue(kv.Key, out ComposeNetwork cfg);
                if (!declared && kv.Key != DefaultNetwork) throw new ComposeConvertException($"undefined network \"{kv.Key}\"");
                string target = declared && !string.IsNullOrEmpty(cfg.Name) ? cfg.Name : Scope(ns, kv.Key);
                var aliases = kv.Value?.Aliases?.ToList() ?? new List<string>();
                if (IsUserDefinedNetwork(target)) aliases.Add(serviceKey);
                nets.Add(new NetworkAttachmentConfig
                {
                    Target = target,
                    Aliases = NullIfEmpty(aliases),
                    DriverOpts = kv.Value != null && kv.Value.DriverOpts.Count > 0 ? new Dictionary<string, string>(kv.Value.DriverOpts, StringComparer.Ordinal) : null,
                });
            }
            return nets.OrderBy(n => n.Target, Comparer<string>.Create(ComposeEnvFile.CompareUtf8)).ToList();
        }

        internal static bool IsUserDefinedNetwork(string name)
            => name != "default" && name != "bridge" && name != "host" && name != "none"
               && !(name.StartsWith("container:", StringComparison.Ordinal) && name.Length > "container:".Length);
    }
}
