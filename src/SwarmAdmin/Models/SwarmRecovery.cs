using System;
using System.Collections.Generic;
using SwarmAdmin.Quorum;

namespace SwarmAdmin
{
    /// <summary>A backup file written by Backup-SwarmManager (what it holds; its contents are encrypted).</summary>
    public sealed class SwarmManagerBackup
    {
        /// <summary>Full path of the backup file.</summary>
        public string Path { get; set; }
        public long Size { get; set; }
        public DateTime CreatedAt { get; set; }
        public string ClusterId { get; set; }
        public string NodeId { get; set; }
        public string NodeHostname { get; set; }
        public string NodeAddress { get; set; }
        public string EngineVersion { get; set; }
        /// <summary>The raft index the state had reached (the highest object version index the swarm reported).</summary>
        public ulong RaftIndex { get; set; }
        public bool Autolocked { get; set; }
        public string[] Managers { get; set; } = Array.Empty<string>();
        public int Nodes { get; set; }
        public int Services { get; set; }
        public int Secrets { get; set; }
        public int Configs { get; set; }
        /// <summary>How long the node's engine was stopped for the backup.</summary>
        public TimeSpan EngineDowntime { get; set; }
        public TimeSpan Duration { get; set; }
        public override string ToString() => Path;
    }

    /// <summary>What Restore-SwarmManager did: a node that now runs the backed-up swarm as its only manager.</summary>
    public sealed class SwarmManagerRestore
    {
        public string Node { get; set; }
        public string Address { get; set; }
        public string ClusterId { get; set; }
        public string NodeId { get; set; }
        public string BackupPath { get; set; }
        public DateTime BackupCreatedAt { get; set; }
        public ulong RaftIndex { get; set; }
        /// <summary>Managers of the old swarm that were removed after the new cluster was forced (they cannot come back).</summary>
        public string[] RemovedManagers { get; set; } = Array.Empty<string>();
        public int Nodes { get; set; }
        public int Services { get; set; }
        public int Secrets { get; set; }
        public int Configs { get; set; }
        /// <summary>Where the node's previous swarm state was moved (kept on the node, never deleted).</summary>
        public string PreviousStatePath { get; set; }
        public TimeSpan Duration { get; set; }
    }

    public enum SwarmRecoveryAction { Probe, Backup, RestoreBackup, ForceNewCluster, RemoveManager, Promote, Join, Rejoin, SetLabels, TestQuorum }

    public enum SwarmRecoveryStatus { Planned, Done, Skipped, Failed }

    /// <summary>One step of Restore-SwarmQuorum's plan.</summary>
    public sealed class SwarmRecoveryStep
    {
        public int Order { get; set; }
        public SwarmRecoveryAction Action { get; set; }
        public string Target { get; set; }
        public string Detail { get; set; }
        public SwarmRecoveryStatus Status { get; set; } = SwarmRecoveryStatus.Planned;
        public string Error { get; set; }
        public override string ToString() => $"{Order}. {Action} {Target}: {Detail}";
    }

    /// <summary>The result of Restore-SwarmQuorum: the steps and the quorum check at the end.</summary>
    public sealed class SwarmQuorumRecovery
    {
        public string ClusterId { get; set; }
        /// <summary>Survivor (force-new-cluster on a surviving manager), Backup (restored from a file), or Intact (the swarm still had quorum).</summary>
        public string Source { get; set; }
        public string Survivor { get; set; }
        public string BackupPath { get; set; }
        public int TargetManagers { get; set; }
        public int Managers { get; set; }
        public SwarmRecoveryStep[] Steps { get; set; } = Array.Empty<SwarmRecoveryStep>();
        public SwarmQuorumReport Quorum { get; set; }
        public QuorumStatus? Status => Quorum?.Status;
        public TimeSpan Duration { get; set; }
    }
}
