using System;
using System.Collections.Generic;

namespace SwarmAdmin.Stacks
{
    // The typed, validated and merged form of one or more compose files, as docker stack deploy sees them
    // (docker/cli cli/compose/types/types.go, 3.x schema). Produced by ComposeLoader.Load; no YamlDotNet type leaks out.
    // Conventions: a null reference / null Nullable means "not set in any file" (the engine default applies);
    // maps are ordinal and sorted so conversions are deterministic; unit values keep the text they were written as.

    /// <summary>Where something was written: file, 1-based line and column.</summary>
    internal sealed class ComposeSource
    {
        public ComposeSource(string file, int line, int column) { File = file; Line = line; Column = column; }
        public string File { get; }
        public int Line { get; }
        public int Column { get; }
        public override string ToString() => $"{File}:{Line}:{Column}";
    }

    /// <summary>A Go duration ("1m30s") and its value in nanoseconds (the Engine API unit).</summary>
    internal sealed class ComposeDuration
    {
        public ComposeDuration(string text, long nanoseconds) { Text = text; Nanoseconds = nanoseconds; }
        public string Text { get; }
        public long Nanoseconds { get; }
        public TimeSpan ToTimeSpan() => TimeSpan.FromTicks(Nanoseconds / 100);
        public override string ToString() => Text;
    }

    /// <summary>A byte size ("512M", binary units as go-units RAMInBytes) and its value in bytes.</summary>
    internal sealed class ComposeByteSize
    {
        public ComposeByteSize(string text, long bytes) { Text = text; Bytes = bytes; }
        public string Text { get; }
        public long Bytes { get; }
        public override string ToString() => Text;
    }

    /// <summary>A CPU count ("0.5") and its value in NanoCPUs (opts.ParseCPUs).</summary>
    internal sealed class ComposeCpus
    {
        public ComposeCpus(string text, long nanoCpus) { Text = text; NanoCpus = nanoCpus; }
        public string Text { get; }
        public long NanoCpus { get; }
        public override string ToString() => Text;
    }

    internal sealed class ComposeProject
    {
        /// <summary>The schema version all files declare ("3.13" when absent or "3").</summary>
        public string Version { get; set; }
        /// <summary>Folder of the first file: every relative path of every file resolves against it (as the CLI does).</summary>
        public string WorkingDirectory { get; set; }
        /// <summary>The files, full paths, in merge order.</summary>
        public List<string> Files { get; } = new List<string>();
        /// <summary>The .env / -EnvFile file that was read for interpolation, or null.</summary>
        public string EnvFile { get; set; }
        public SortedDictionary<string, ComposeService> Services { get; } = new SortedDictionary<string, ComposeService>(StringComparer.Ordinal);
        public SortedDictionary<string, ComposeNetwork> Networks { get; } = new SortedDictionary<string, ComposeNetwork>(StringComparer.Ordinal);
        public SortedDictionary<string, ComposeVolume> Volumes { get; } = new SortedDictionary<string, ComposeVolume>(StringComparer.Ordinal);
        public SortedDictionary<string, ComposeSecret> Secrets { get; } = new SortedDictionary<string, ComposeSecret>(StringComparer.Ordinal);
        public SortedDictionary<string, ComposeConfig> Configs { get; } = new SortedDictionary<string, ComposeConfig>(StringComparer.Ordinal);
    }

    internal sealed class ComposeService
    {
        public string Name { get; set; }
        /// <summary>Where the service was declared (the first file that declares it).</summary>
        public ComposeSource Source { get; set; }

        public string Image { get; set; }
        /// <summary>→ ContainerSpec.Args; a string is split like a shell (no shell involved). Null = not set.</summary>
        public List<string> Command { get; set; }
        /// <summary>→ ContainerSpec.Command. Null = not set.</summary>
        public List<string> Entrypoint { get; set; }
        /// <summary>Resolved environment: env_file entries, then environment:, then bare/empty keys filled from the
        /// environment lookup (loader.resolveEnvironment). A null value = unresolved bare KEY.</summary>
        public SortedDictionary<string, string> Environment { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        /// <summary>env_file entries as full paths (already folded into Environment).</summary>
        public List<string> EnvFiles { get; } = new List<string>();
        /// <summary>Container labels (ContainerSpec.Labels).</summary>
        public SortedDictionary<string, string> Labels { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        public ComposeDeploy Deploy { get; set; } = new ComposeDeploy();
        public ComposeHealthCheck HealthCheck { get; set; }
        /// <summary>Network key → attachment options; the value is null for the list form or an empty entry.</summary>
        public SortedDictionary<string, ComposeServiceNetwork> Networks { get; set; }
        public List<ComposePort> Ports { get; set; } = new List<ComposePort>();
        public List<ComposeServiceVolume> Volumes { get; set; } = new List<ComposeServiceVolume>();
        public List<ComposeFileReference> Secrets { get; set; } = new List<ComposeFileReference>();
        public List<ComposeFileReference> Configs { get; set; } = new List<ComposeFileReference>();
        public string Hostname { get; set; }
        public string User { get; set; }
        public string WorkingDir { get; set; }
        public ComposeDuration StopGracePeriod { get; set; }
        public string StopSignal { get; set; }
        public bool Tty { get; set; }
        public bool StdinOpen { get; set; }
        public bool ReadOnly { get; set; }
        public bool? Init { get; set; }
        public List<string> Dns { get; set; } = new List<string>();
        public List<string> DnsSearch { get; set; } = new List<string>();
        /// <summary>"host:ip" entries in file order (brackets of [::1] removed), as the CLI keeps them.</summary>
        public List<string> ExtraHosts { get; set; } = new List<string>();
        public List<string> CapAdd { get; set; } = new List<string>();
        public List<string> CapDrop { get; set; } = new List<string>();
        public SortedDictionary<string, string> Sysctls { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        public SortedDictionary<string, ComposeUlimit> Ulimits { get; } = new SortedDictionary<string, ComposeUlimit>(StringComparer.Ordinal);
        public ComposeLogging Logging { get; set; }
        public string Isolation { get; set; }
        public ComposeCredentialSpec CredentialSpec { get; set; }
        public long? OomScoreAdj { get; set; }
        /// <summary>Service-level `restart:` (warned as unsupported, but the CLI uses it when deploy.restart_policy is absent).</summary>
        public string Restart { get; set; }
        /// <summary>Parsed but never converted by the CLI (a warning says so).</summary>
        public List<string> Tmpfs { get; set; } = new List<string>();
        /// <summary>Parsed but ignored by the CLI (no ordering in swarm).</summary>
        public List<string> DependsOn { get; set; } = new List<string>();
        /// <summary>Keys present but ignored for swarm (build, container_name, links...), sorted.</summary>
        public SortedSet<string> IgnoredKeys { get; } = new SortedSet<string>(StringComparer.Ordinal);
        /// <summary>Where each key of the service was last set (key path relative to the service, e.g. "deploy", "image").</summary>
        public Dictionary<string, ComposeSource> Positions { get; } = new Dictionary<string, ComposeSource>(StringComparer.Ordinal);
    }

    internal sealed class ComposeDeploy
    {
        /// <summary>replicated (default) | global | replicated-job | global-job; null = not set.</summary>
        public string Mode { get; set; }
        public ulong? Replicas { get; set; }
        /// <summary>Service labels (ServiceSpec.Annotations.Labels).</summary>
        public SortedDictionary<string, string> Labels { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        public ComposeUpdateConfig UpdateConfig { get; set; }
        public ComposeUpdateConfig RollbackConfig { get; set; }
        public ComposeResources Resources { get; set; } = new ComposeResources();
        public ComposeRestartPolicy RestartPolicy { get; set; }
        public ComposePlacement Placement { get; set; } = new ComposePlacement();
        /// <summary>vip | dnsrr (lower-cased); null = not set.</summary>
        public string EndpointMode { get; set; }
    }

    internal sealed class ComposeUpdateConfig
    {
        public ulong? Parallelism { get; set; }
        public ComposeDuration Delay { get; set; }
        public string FailureAction { get; set; }
        public ComposeDuration Monitor { get; set; }
        public double? MaxFailureRatio { get; set; }
        public string Order { get; set; }
    }

    internal sealed class ComposeResources
    {
        public ComposeResourceLimits Limits { get; set; }
        public ComposeResourceReservations Reservations { get; set; }
    }

    internal sealed class ComposeResourceLimits
    {
        public ComposeCpus Cpus { get; set; }
        public ComposeByteSize Memory { get; set; }
        public long? Pids { get; set; }
    }

    internal sealed class ComposeResourceReservations
    {
        public ComposeCpus Cpus { get; set; }
        public ComposeByteSize Memory { get; set; }
        public List<ComposeGenericResource> GenericResources { get; set; } = new List<ComposeGenericResource>();
    }

    /// <summary>deploy.resources.reservations.generic_resources[].discrete_resource_spec.</summary>
    internal sealed class ComposeGenericResource
    {
        public string Kind { get; set; }
        public long Value { get; set; }
    }

    internal sealed class ComposeRestartPolicy
    {
        /// <summary>none | on-failure | any.</summary>
        public string Condition { get; set; }
        public ComposeDuration Delay { get; set; }
        public ulong? MaxAttempts { get; set; }
        public ComposeDuration Window { get; set; }
    }

    internal sealed class ComposePlacement
    {
        public List<string> Constraints { get; set; } = new List<string>();
        /// <summary>The spread descriptors of deploy.placement.preferences, in order.</summary>
        public List<string> Preferences { get; set; } = new List<string>();
        public ulong? MaxReplicasPerNode { get; set; }
    }

    internal sealed class ComposeHealthCheck
    {
        /// <summary>A string test becomes ["CMD-SHELL", s]; disable: true gives ["NONE"] at conversion time (Disable).</summary>
        public List<string> Test { get; set; }
        public ComposeDuration Interval { get; set; }
        public ComposeDuration Timeout { get; set; }
        public ComposeDuration StartPeriod { get; set; }
        public ComposeDuration StartInterval { get; set; }
        public ulong? Retries { get; set; }
        public bool Disable { get; set; }
    }

    internal sealed class ComposeServiceNetwork
    {
        public List<string> Aliases { get; set; } = new List<string>();
        public SortedDictionary<string, string> DriverOpts { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        /// <summary>Parsed and merged, never sent by the CLI (a warning says so).</summary>
        public string Ipv4Address { get; set; }
        public string Ipv6Address { get; set; }
    }

    internal sealed class ComposePort
    {
        /// <summary>ingress | host; the short syntax always gives "ingress", the long one null when not set.</summary>
        public string Mode { get; set; }
        public uint Target { get; set; }
        /// <summary>0 = not published on a fixed port (the engine picks one).</summary>
        public uint Published { get; set; }
        /// <summary>tcp | udp | sctp; short syntax always sets it, long syntax null when not set.</summary>
        public string Protocol { get; set; }
        public ComposeSource Source { get; set; }
        public override string ToString() => $"{Published}:{Target}/{Protocol ?? "tcp"} ({Mode ?? "ingress"})";
    }

    internal sealed class ComposeServiceVolume
    {
        /// <summary>volume | bind | tmpfs | npipe | cluster | image.</summary>
        public string Type { get; set; }
        /// <summary>Named volume key, absolute bind path, or null (anonymous volume, tmpfs).</summary>
        public string Source { get; set; }
        public string Target { get; set; }
        public bool ReadOnly { get; set; }
        public string Consistency { get; set; }
        /// <summary>bind.propagation (rprivate, private, rshared, shared, rslave, slave).</summary>
        public string BindPropagation { get; set; }
        public bool NoCopy { get; set; }
        public string VolumeSubpath { get; set; }
        public long? TmpfsSize { get; set; }
        public ComposeSource Position { get; set; }
    }

    /// <summary>A service's secrets:/configs: entry (short "- key" or long form).</summary>
    internal sealed class ComposeFileReference
    {
        public string Source { get; set; }
        /// <summary>Null = default (secret: the key under /run/secrets; config: /key).</summary>
        public string Target { get; set; }
        public string Uid { get; set; }
        public string Gid { get; set; }
        /// <summary>File mode (YAML 0440 is octal = 288); null = default 0444.</summary>
        public uint? Mode { get; set; }
        public ComposeSource Position { get; set; }
    }

    internal sealed class ComposeUlimit
    {
        /// <summary>The "name: N" form (soft = hard = N); 0 when the soft/hard form is used.</summary>
        public long Single { get; set; }
        public long Soft { get; set; }
        public long Hard { get; set; }
        public long EffectiveSoft => Single != 0 ? Single : Soft;
        public long EffectiveHard => Single != 0 ? Single : Hard;
    }

    internal sealed class ComposeLogging
    {
        public string Driver { get; set; }
        public SortedDictionary<string, string> Options { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
    }

    internal sealed class ComposeCredentialSpec
    {
        public string Config { get; set; }
        public string File { get; set; }
        public string Registry { get; set; }
    }

    internal sealed class ComposeIpamPool
    {
        public string Subnet { get; set; }
    }

    internal sealed class ComposeNetwork
    {
        public string Key { get; set; }
        public ComposeSource Source { get; set; }
        /// <summary>name: (unscoped); for an external network, name: or external.name or the key.</summary>
        public string Name { get; set; }
        public string Driver { get; set; }
        public SortedDictionary<string, string> DriverOpts { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        public string IpamDriver { get; set; }
        public List<ComposeIpamPool> IpamConfig { get; } = new List<ComposeIpamPool>();
        public bool External { get; set; }
        public bool Internal { get; set; }
        public bool Attachable { get; set; }
        public SortedDictionary<string, string> Labels { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
    }

    internal sealed class ComposeVolume
    {
        public string Key { get; set; }
        public ComposeSource Source { get; set; }
        public string Name { get; set; }
        public string Driver { get; set; }
        public SortedDictionary<string, string> DriverOpts { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        public bool External { get; set; }
        public SortedDictionary<string, string> Labels { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        /// <summary>x-cluster-spec (CSI cluster volumes) as plain data: ordered dictionaries, object arrays, strings.</summary>
        public object ClusterSpec { get; set; }
    }

    /// <summary>Shared shape of top-level secrets and configs.</summary>
    internal abstract class ComposeFileObject
    {
        public string Key { get; set; }
        public ComposeSource Source { get; set; }
        public string Name { get; set; }
        /// <summary>Full path (resolved against the working directory) or null.</summary>
        public string File { get; set; }
        public bool External { get; set; }
        public SortedDictionary<string, string> Labels { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
        public string TemplateDriver { get; set; }
    }

    internal sealed class ComposeSecret : ComposeFileObject
    {
        public string Driver { get; set; }
        public SortedDictionary<string, string> DriverOpts { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);
    }

    internal sealed class ComposeConfig : ComposeFileObject
    {
    }
}
