using System;
using System.Collections.Generic;
using System.Linq;

namespace SwarmAdmin
{
    /// <summary>How bad a finding is. Ordered, so `Where-Object Severity -ge Warning` works.</summary>
    public enum FindingSeverity { Info = 0, Warning = 1, Error = 2, Critical = 3 }

    /// <summary>Overall verdict of Test-SwarmQuorum.</summary>
    public enum QuorumStatus { Healthy, Degraded, Critical }

    /// <summary>One problem (or fact) that Test-SwarmQuorum found, with what to do about it.</summary>
    public sealed class SwarmQuorumFinding
    {
        public SwarmQuorumFinding(string id, FindingSeverity severity, string target, string message, string remedy)
        {
            Id = id; Severity = severity; Target = target; Message = message; Remedy = remedy;
        }
        /// <summary>Stable identifier, e.g. MANAGER-UNREACHABLE.</summary>
        public string Id { get; }
        public FindingSeverity Severity { get; }
        /// <summary>The node (hostname), failure domain or swarm the finding is about.</summary>
        public string Target { get; }
        public string Message { get; }
        public string Remedy { get; }
        public override string ToString() => $"{Severity}/{Id}";
    }

    /// <summary>The result of Test-SwarmQuorum.</summary>
    public sealed class SwarmQuorumReport
    {
        public string ClusterId { get; set; }
        public QuorumStatus Status { get; set; }
        public bool HasQuorum { get; set; }
        public int Managers { get; set; }
        public int Reachable { get; set; }
        public int Unreachable { get; set; }
        /// <summary>Hostname of the leader, or null when there is none.</summary>
        public string Leader { get; set; }
        public string LeaderAddress { get; set; }
        /// <summary>floor(N/2)+1: managers that must be reachable.</summary>
        public int QuorumSize { get; set; }
        /// <summary>floor((N-1)/2): managers the swarm can lose by design.</summary>
        public int FaultTolerance { get; set; }
        /// <summary>Reachable - QuorumSize: managers it can still lose now (negative: quorum lost).</summary>
        public int RemainingTolerance { get; set; }
        public string[] ManagerNames { get; set; } = Array.Empty<string>();
        public string[] UnreachableManagers { get; set; } = Array.Empty<string>();
        public Dictionary<string, string[]> FailureDomains { get; set; } = new Dictionary<string, string[]>(StringComparer.Ordinal);
        public string FailureDomainLabel { get; set; }
        public string[] EngineVersions { get; set; } = Array.Empty<string>();
        public SwarmQuorumFinding[] Findings { get; set; } = Array.Empty<SwarmQuorumFinding>();
        /// <summary>Where the facts came from: the manager API (/nodes), or node probes when no leader answers.</summary>
        public string Source { get; set; }
        public DateTime CheckedAt { get; set; }
        public TimeSpan Duration { get; set; }
        public FindingSeverity? WorstSeverity => Findings.Length == 0 ? (FindingSeverity?)null : Findings.Max(f => f.Severity);
    }
}

namespace SwarmAdmin.Quorum
{
    /// <summary>What the analysis needs to know about one node (from GET /nodes, or pieced together from node probes).</summary>
    internal sealed class NodeFacts
    {
        public string Id { get; set; }
        public string Hostname { get; set; }
        public bool IsManager { get; set; }
        /// <summary>reachable, unreachable or unknown (managers only).</summary>
        public string Reachability { get; set; }
        public bool IsLeader { get; set; }
        /// <summary>ready, down, unknown, disconnected.</summary>
        public string State { get; set; } = "ready";
        public string Availability { get; set; } = "active";
        /// <summary>The manager's raft address (host:port).</summary>
        public string ManagerAddress { get; set; }
        public string EngineVersion { get; set; }
        public IDictionary<string, string> Labels { get; set; } = new Dictionary<string, string>();
    }
}
