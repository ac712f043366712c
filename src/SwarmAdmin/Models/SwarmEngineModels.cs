using System;
using System.Linq;
using SwarmAdmin.Quorum;

namespace SwarmAdmin
{
    /// <summary>Where Install-SwarmEngine takes the engine from.</summary>
    public enum SwarmEngineSource
    {
        /// <summary>The distribution's own package docker.io.</summary>
        Distribution,
        /// <summary>Docker's packages docker-ce, docker-ce-cli and containerd.io from an APT repository the user names.</summary>
        DockerRepository,
    }

    /// <summary>One step of Install-SwarmEngine on one node (planned, done or left alone because it was already right).</summary>
    public sealed class SwarmEngineStep
    {
        /// <summary>Stable step name: Probe, AptProxy, Repository, AptUpdate, Resolve, DaemonConfig, Install, Hold, Service, Access, Verify.</summary>
        public string Name { get; set; }
        /// <summary>What the step does (or found), in words.</summary>
        public string Detail { get; set; }
        /// <summary>True when the step changed the node.</summary>
        public bool Changed { get; set; }
        public TimeSpan Duration { get; set; }
        public override string ToString() => $"{Name}: {Detail}";
    }

    /// <summary>
    /// What Install-SwarmEngine did on one node. Pipe it to Join-SwarmNode: it converts to the node it was made from
    /// (Target), with the role, labels and SSH settings the cluster file declared.
    /// </summary>
    public sealed class SwarmEngineInstallation
    {
        /// <summary>The node's name (cluster file) or SSH host.</summary>
        public string Node { get; set; }
        /// <summary>The node's address (the one it advertises, or the one SSH reached).</summary>
        public string Address { get; set; }
        /// <summary>os-release ID (debian, ubuntu...).</summary>
        public string Os { get; set; }
        public string OsVersion { get; set; }
        public string OsCodename { get; set; }
        public SwarmEngineSource Source { get; set; }
        /// <summary>The engine package's version now installed and held (e.g. 26.1.5+dfsg1-9+b9).</summary>
        public string Version { get; set; }
        /// <summary>The package's version before the command (null: the engine was not installed).</summary>
        public string PreviousVersion { get; set; }
        /// <summary>True when anything on the node changed.</summary>
        public bool Changed { get; set; }
        /// <summary>True when /etc/docker/daemon.json was written (its parsed content differed).</summary>
        public bool DaemonConfigChanged { get; set; }
        /// <summary>True when the engine was restarted to apply a new daemon.json.</summary>
        public bool Restarted { get; set; }
        /// <summary>The engine's own version, as it answered over the SSH session at the end.</summary>
        public string EngineVersion { get; set; }
        /// <summary>The engine API version it answered with.</summary>
        public string ApiVersion { get; set; }
        /// <summary>The daemon.json content now on the node (JSON text; no secrets: SwarmAdmin writes none there).</summary>
        public string DaemonConfig { get; set; }
        /// <summary>Every step, with what it did.</summary>
        public SwarmEngineStep[] Steps { get; set; } = Array.Empty<SwarmEngineStep>();
        /// <summary>Names of the steps that changed something.</summary>
        public string[] Actions => Steps.Where(s => s.Changed).Select(s => s.Name).ToArray();
        /// <summary>The node as it was given (SSH target, role, labels, key file): what Join-SwarmNode acts on.</summary>
        public SwarmNodeTarget Target { get; set; }
        public TimeSpan Duration { get; set; }
        public override string ToString() => Node;
    }

    /// <summary>Overall verdict of Test-SwarmNodeReadiness for one node.</summary>
    public enum SwarmReadinessStatus { Ready, Warning, NotReady }

    /// <summary>One check of Test-SwarmNodeReadiness and what it found.</summary>
    public sealed class SwarmReadinessFinding
    {
        /// <summary>The node the finding is about.</summary>
        public string Node { get; set; }
        /// <summary>Stable check name: Ssh, Os, Engine, EngineSkew, Overlay, TimeSync, Clock, Port, Mtu, Disk.</summary>
        public string Check { get; set; }
        /// <summary>Info (fine or not checked), Warning, Error (the node is not ready).</summary>
        public FindingSeverity Severity { get; set; }
        public string Message { get; set; }
        /// <summary>The raw evidence (tool output, measured values).</summary>
        public string Detail { get; set; }
        public override string ToString() => $"{Severity}/{Check}: {Message}";
    }

    /// <summary>The result of Test-SwarmNodeReadiness for one node.</summary>
    public sealed class SwarmNodeReadiness
    {
        public string Node { get; set; }
        public string Address { get; set; }
        public SwarmReadinessStatus Status { get; set; }
        public string Os { get; set; }
        public string OsVersion { get; set; }
        public string Kernel { get; set; }
        /// <summary>The engine's version (null: no engine answered).</summary>
        public string EngineVersion { get; set; }
        /// <summary>Node clock minus local clock, corrected by half the SSH round trip (null: not measured).</summary>
        public double? ClockOffsetSeconds { get; set; }
        /// <summary>Free space on the engine's data root, in GiB (null: not measured).</summary>
        public double? FreeDiskGB { get; set; }
        /// <summary>The MTU of the interface that carries the node's address.</summary>
        public int? Mtu { get; set; }
        public SwarmReadinessFinding[] Findings { get; set; } = Array.Empty<SwarmReadinessFinding>();
        /// <summary>The node as it was given (converts to Join-SwarmNode's -Node).</summary>
        public SwarmNodeTarget Target { get; set; }
        public DateTime CheckedAt { get; set; }
        public TimeSpan Duration { get; set; }
        public override string ToString() => Node;
    }
}
