using System;
using System.Collections.Generic;
using System.Linq;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// Merges a later compose file into an earlier one exactly as docker/cli cli/compose/loader/merge.go does
    /// (mergo.Merge with WithOverride + WithAppendSlice and the CLI's transformers). In short:
    /// <list type="bullet">
    /// <item>services matched by key; a new service is added whole;</item>
    /// <item>scalars (strings, bools, numbers, durations) override only with a non-zero value (you cannot reset
    ///   read_only: true to false or a string to ""); the *uint64 fields (deploy.replicas, update/rollback parallelism,
    ///   restart_policy.max_attempts, healthcheck.retries) override whenever set, 0 included (docker/cli#3812);</item>
    /// <item>pointer blocks (healthcheck, update_config, rollback_config, restart_policy, resources.limits/reservations,
    ///   credential_spec) merge field by field; a *Duration overrides when the base has none or the override is non-zero;</item>
    /// <item>plain lists are APPENDED: cap_add, cap_drop, dns, dns_search, extra_hosts, env_file, tmpfs, depends_on,
    ///   placement.constraints/preferences, generic_resources and (a CLI quirk) healthcheck.test;</item>
    /// <item>maps merge key by key: labels, deploy.labels, sysctls (an override value, even "", wins); environment
    ///   (map of *string: an override wins only when it is non-empty, or when the base value is unset/empty — docker/cli#4417);</item>
    /// <item>ports keyed by published port, volumes by target, secrets/configs by source; the whole entry is replaced;
    ///   entries sharing a key collapse (also inside the base list, e.g. 53/tcp + 53/udp — docker/cli#2407; a warning is
    ///   written); results are sorted by that key;</item>
    /// <item>command/entrypoint replaced when the override is non-empty; ulimits replaced per name; service networks: per
    ///   key, aliases replaced, ipv4/ipv6 replaced when set, driver_opts of the base kept; logging: same or empty driver →
    ///   options merged (only when the base already has options — mergo merges into a copy otherwise), else replaced;</item>
    /// <item>top-level networks/volumes/secrets/configs: each entry replaced whole (docker/cli#7264).</item>
    /// </list>
    /// </summary>
    internal static class ComposeMerge
    {
        public static void Merge(ComposeProject target, ComposeProject over, List<ComposeWarning> warnings)
        {
            foreach (var kv in over.Services)
            {
                if (target.Services.TryGetValue(kv.Key, out ComposeService b)) MergeService(b, kv.Value, warnings);
                else target.Services[kv.Key] = kv.Value;
            }
            foreach (var kv in over.Networks) target.Networks[kv.Key] = kv.Value;
            foreach (var kv in over.Volumes) target.Volumes[kv.Key] = kv.Value;
            foreach (var kv in over.Secrets) target.Secrets[kv.Key] = kv.Value;
            foreach (var kv in over.Configs) target.Configs[kv.Key] = kv.Value;
        }

        private static string Str(string b, string o) => string.IsNullOrEmpty(o) ? b : o;
        private static ComposeDuration PtrDuration(ComposeDuration b, ComposeDuration o) => o == null ? b : b == null ? o : (o.Nanoseconds != 0 ? o : b);
        private static ComposeDuration ValDuration(ComposeDuration b, ComposeDuration o) => o != null && o.Nanoseconds != 0 ? o : b;
        private static List<T> Append<T>(List<T> b, List<T> o) => (b ?? new List<T>()).Concat(o ?? new List<T>()).ToList();
        private static void MapOverride(SortedDictionary<string, string> b, SortedDictionary<string, string> o) { foreach (var kv in o) b[kv.Key] = kv.Value; }

        internal static void MergeService(ComposeService b, ComposeService o, List<ComposeWarning> warnings)
        {
            b.Image = Str(b.Image, o.Image);
            if (o.Command != null && o.Command.Count > 0) b.Command = o.Command;
            if (o.Entrypoint != null && o.Entrypoint.Count > 0) b.Entrypoint = o.Entrypoint;
            foreach (var kv in o.Environment)
            {
                // map[string]*string under mergo: a new key is added; an unset/empty base value is replaced by whatever
                // the override has; a non-empty base value only by a non-empty override value
                if (!b.Environment.TryGetValue(kv.Key, out string cur) || string.IsNullOrEmpty(cur) || !string.IsNullOrEmpty(kv.Value))
                    b.Environment[kv.Key] = kv.Value;
            }
            b.EnvFiles.AddRange(o.EnvFiles);
            MapOverride(b.Labels, o.Labels);
            MergeDeploy(b.Deploy, o.Deploy);
            b.HealthCheck = MergeHealth(b.HealthCheck, o.HealthCheck, b, warnings);
            b.Networks = MergeNetworks(b.Networks, o.Networks);
            b.Ports = Keyed(b.Ports, o.Ports, p => p.Published, (x, y) => x.CompareTo(y), "ports", "published port", b, p => p.Source, warnings);
            b.Volumes = Keyed(b.Volumes, o.Volumes, v => v.Target ?? string.Empty, string.CompareOrdinal, "volumes", "target", b, v => v.Position, warnings);
            b.Secrets = Keyed(b.Secrets, o.Secrets, s => s.Source ?? string.Empty, string.CompareOrdinal, "secrets", "source", b, s => s.Position, warnings);
            b.Configs = Keyed(b.Configs, o.Configs, s => s.Source ?? string.Empty, string.CompareOrdinal, "configs", "source", b, s => s.Position, warnings);
            b.Hostname = Str(b.Hostname, o.Hostname);
            b.User = Str(b.User, o.User);
            b.WorkingDir = Str(b.WorkingDir, o.WorkingDir);
            b.StopGracePeriod = PtrDuration(b.StopGracePeriod, o.StopGracePeriod);
            b.StopSignal = Str(b.StopSignal, o.StopSignal);
            b.Tty |= o.Tty;
            b.StdinOpen |= o.StdinOpen;
            b.ReadOnly |= o.ReadOnly;
            b.Init = b.Init == null ? o.Init : (o.Init == true ? true : b.Init);
            b.Dns = Append(b.Dns, o.Dns);
            b.DnsSearch = Append(b.DnsSearch, o.DnsSearch);
            b.ExtraHosts = Append(b.ExtraHosts, o.ExtraHosts);
            b.CapAdd = Append(b.CapAdd, o.CapAdd);
            b.CapDrop = Append(b.CapDrop, o.CapDrop);
            MapOverride(b.Sysctls, o.Sysctls);
            foreach (var kv in o.Ulimits) b.Ulimits[kv.Key] = kv.Value;
            b.Logging = MergeLogging(b.Logging, o.Logging, b, warnings);
            b.Isolation = Str(b.Isolation, o.Isolation);
            if (o.CredentialSpec != null)
            {
                if (b.CredentialSpec == null) b.CredentialSpec = o.CredentialSpec;
                else
                {
                    b.CredentialSpec.Config = Str(b.CredentialSpec.Config, o.CredentialSpec.Config);
                    b.CredentialSpec.File = Str(b.CredentialSpec.File, o.CredentialSpec.File);
                    b.CredentialSpec.Registry = Str(b.CredentialSpec.Registry, o.CredentialSpec.Registry);
                }
            }
            if (o.OomScoreAdj != null && o.OomScoreAdj != 0) b.OomScoreAdj = o.OomScoreAdj;
            b.Restart = Str(b.Restart, o.Restart);
            b.Tmpfs = Append(b.Tmpfs, o.Tmpfs);
            b.DependsOn = Append(b.DependsOn, o.DependsOn);
            foreach (string k in o.IgnoredKeys) b.IgnoredKeys.Add(k);
            foreach (var kv in o.Positions) b.Positions[kv.Key] = kv.Value;
        }

        private static void MergeDeploy(ComposeDeploy b, ComposeDeploy o)
        {
            b.Mode = Str(b.Mode, o.Mode);
            if (o.Replicas != null) b.Replicas = o.Replicas;
            MapOverride(b.Labels, o.Labels);
            b.UpdateConfig = MergeUpdate(b.UpdateConfig, o.UpdateConfig);
            b.RollbackConfig = MergeUpdate(b.RollbackConfig, o.RollbackConfig);
            if (o.Resources.Limits != null)
            {
                if (b.Resources.Limits == null) b.Resources.Limits = o.Resources.Limits;
                else
                {
                    var l = b.Resources.Limits; var x = o.Resources.Limits;
                    if (x.Cpus != null && x.Cpus.Text.Length > 0) l.Cpus = x.Cpus;
                    if (x.Memory != null && x.Memory.Bytes != 0) l.Memory = x.Memory;
                    if (x.Pids != null && x.Pids != 0) l.Pids = x.Pids;
                }
            }
            if (o.Resources.Reservations != null)
            {
                if (b.Resources.Reservations == null) b.Resources.Reservations = o.Resources.Reservations;
                else
                {
                    var l = b.Resources.Reservations; var x = o.Resources.Reservations;
                    if (x.Cpus != null && x.Cpus.Text.Length > 0) l.Cpus = x.Cpus;
                    if (x.Memory != null && x.Memory.Bytes != 0) l.Memory = x.Memory;
                    l.GenericResources = Append(l.GenericResources, x.GenericResources);
                }
            }
            if (o.RestartPolicy != null)
            {
                if (b.RestartPolicy == null) b.RestartPolicy = o.RestartPolicy;
                else
                {
                    var r = b.RestartPolicy; var x = o.RestartPolicy;
                    r.Condition = Str(r.Condition, x.Condition);
                    r.Delay = PtrDuration(r.Delay, x.Delay);
                    if (x.MaxAttempts != null) r.MaxAttempts = x.MaxAttempts;
                    r.Window = PtrDuration(r.Window, x.Window);
                }
            }
            b.Placement.Constraints = Append(b.Placement.Constraints, o.Placement.Constraints);
            b.Placement.Preferences = Append(b.Placement.Preferences, o.Placement.Preferences);
            if (o.Placement.MaxReplicasPerNode != null && o.Placement.MaxReplicasPerNode != 0) b.Placement.MaxReplicasPerNode = o.Placement.MaxReplicasPerNode;
            b.EndpointMode = Str(b.EndpointMode, o.EndpointMode);
        }

        private static ComposeUpdateConfig MergeUpdate(ComposeUpdateConfig b, ComposeUpdateConfig o)
        {
            if (o == null) return b;
            if (b == null) return o;
            if (o.Parallelism != null) b.Parallelism = o.Parallelism;
            b.Delay = ValDuration(b.Delay, o.Delay);
            b.FailureAction = Str(b.FailureAction, o.FailureAction);
            b.Monitor = ValDuration(b.Monitor, o.Monitor);
            if (o.MaxFailureRatio != null && o.MaxFailureRatio != 0) b.MaxFailureRatio = o.MaxFailureRatio;
            b.Order = Str(b.Order, o.Order);
            return b;
        }

        private static ComposeHealthCheck MergeHealth(ComposeHealthCheck b, ComposeHealthCheck o, ComposeService svc, List<ComposeWarning> warnings)
        {
            if (o == null) return b;
            if (b == null) return o;
            if (b.Test != null && b.Test.Count > 0 && o.Test != null && o.Test.Count > 0)
                Warn(warnings, svc, "healthcheck", "healthcheck.test of the later file is APPENDED to the earlier one by docker stack deploy's merge (mergo append); the result is probably not a valid test — repeat the whole healthcheck in one file only");
            b.Test = b.Test == null && o.Test == null ? null : Append(b.Test, o.Test);
            b.Interval = PtrDuration(b.Interval, o.Interval);
            b.Timeout = PtrDuration(b.Timeout, o.Timeout);
            b.StartPeriod = PtrDuration(b.StartPeriod, o.StartPeriod);
            b.StartInterval = PtrDuration(b.StartInterval, o.StartInterval);
            if (o.Retries != null) b.Retries = o.Retries;
            b.Disable |= o.Disable;
            return b;
        }

        private static SortedDictionary<string, ComposeServiceNetwork> MergeNetworks(SortedDictionary<string, ComposeServiceNetwork> b, SortedDictionary<string, ComposeServiceNetwork> o)
        {
            if (o == null) return b;
            if (b == null) return o;
            foreach (var kv in o)
            {
                if (!b.TryGetValue(kv.Key, out ComposeServiceNetwork cur) || cur == null) { b[kv.Key] = kv.Value; continue; }
                if (kv.Value == null) continue;
                cur.Aliases = kv.Value.Aliases;
                if (!string.IsNullOrEmpty(kv.Value.Ipv4Address)) cur.Ipv4Address = kv.Value.Ipv4Address;
                if (!string.IsNullOrEmpty(kv.Value.Ipv6Address)) cur.Ipv6Address = kv.Value.Ipv6Address;
            }
            return b;
        }

        private static ComposeLogging MergeLogging(ComposeLogging b, ComposeLogging o, ComposeService svc, List<ComposeWarning> warnings)
        {
            if (o == null) return b;
            if (b == null) return o;
            string bd = b.Driver ?? string.Empty, od = o.Driver ?? string.Empty;
            if (bd == od || bd.Length == 0 || od.Length == 0)
            {
                if (bd.Length == 0) b.Driver = o.Driver;
                if (b.Options.Count == 0 && o.Options.Count > 0)
                    Warn(warnings, svc, "logging", "logging.options of the later file are dropped by docker stack deploy's merge because the earlier file sets none (mergo merges into a copy); repeat them with the driver in one file");
                else foreach (var kv in o.Options) b.Options[kv.Key] = kv.Value;
                return b;
            }
            return o;
        }

        private static List<T> Keyed<T, TKey>(List<T> b, List<T> o, Func<T, TKey> key, Comparison<TKey> order, string what, string keyName, ComposeService svc, Func<T, ComposeSource> pos, List<ComposeWarning> warnings)
        {
            // mergo: a nil base slice skips the transformer and simply takes the override (appended to nothing)
            if (b == null || b.Count == 0) return o ?? new List<T>();
            var map = new Dictionary<TKey, T>();
            void Add(List<T> list, bool overriding)
            {
                var seen = new HashSet<TKey>();
                foreach (T item in list ?? new List<T>())
                {
                    TKey k = key(item);
                    if (!seen.Add(k) && map.TryGetValue(k, out T dropped))
                    {
                        var at = pos(item) ?? svc.Source;
                        warnings.Add(new ComposeWarning(at.File, at.Line, at.Column, $"services.{svc.Name}.{what}",
                            $"docker stack deploy's merge keys {what} by {keyName}: {Show(dropped)} is dropped in favour of {Show(item)} (docker/cli#2407)"));
                    }
                    map[k] = item;
                }
            }
            Add(b, false);
            Add(o, true);
            var result = map.Values.ToList();
            result.Sort((x, y) => order(key(x), key(y)));
            return result;
        }

        private static string Show<T>(T item)
        {
            switch (item)
            {
                case ComposePort p: return $"{p.Published}:{p.Target}/{p.Protocol ?? "tcp"}";
                case ComposeServiceVolume v: return $"{v.Source}:{v.Target}";
                case ComposeFileReference r: return $"{r.Source}→{r.Target ?? r.Source}";
                default: return item?.ToString();
            }
        }

        private static void Warn(List<ComposeWarning> warnings, ComposeService svc, string key, string message)
        {
            var at = svc.Positions.TryGetValue(key, out var p) ? p : svc.Source;
            warnings.Add(new ComposeWarning(at.File, at.Line, at.Column, $"services.{svc.Name}.{key}", message));
        }
    }
}
