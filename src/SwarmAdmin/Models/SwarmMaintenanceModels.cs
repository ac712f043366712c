using System;
using System.Management.Automation;
using SwarmAdmin.Connection;

namespace SwarmAdmin
{
    /// <summary>What Invoke-SwarmRebalance did with one service.</summary>
    public enum SwarmRebalanceAction
    {
        /// <summary>The spread was fine; nothing was sent.</summary>
        Balanced,
        /// <summary>Skewed; -WhatIf (or a declined -Confirm) left it as it is.</summary>
        WouldRebalance,
        /// <summary>Skewed; a forced update was sent (and, with -Wait, the service converged).</summary>
        Rebalanced,
        /// <summary>Skewed, but the update could not be sent or did not converge (an error record says why).</summary>
        Failed,
        /// <summary>Not judged: an update of the service is already in progress.</summary>
        Skipped,
    }

    /// <summary>One replicated service examined by Invoke-SwarmRebalance (or by Invoke-SwarmNodeMaintenance -Rebalance).</summary>
    public sealed class SwarmRebalanceResult
    {
        public string Service { get; set; }
        public string ServiceId { get; set; }
        public string Stack { get; set; }
        public ulong Replicas { get; set; }
        /// <summary>Running tasks per eligible node before, e.g. "w1=3 w2=0 m1=1"; tasks on non-eligible nodes follow a "|".</summary>
        public string Before { get; set; }
        /// <summary>The same after the update converged (with -Wait), else null.</summary>
        public string After { get; set; }
        /// <summary>Max - min running tasks over the eligible nodes, before.</summary>
        public int Skew { get; set; }
        /// <summary>The same after the update converged (with -Wait), else null.</summary>
        public int? SkewAfter { get; set; }
        public SwarmRebalanceAction Action { get; set; }
        /// <summary>Why the service is skewed, or what went wrong.</summary>
        public string Reason { get; set; }
        /// <summary>Hostnames of the nodes that may run its tasks.</summary>
        public string[] EligibleNodes { get; set; } = Array.Empty<string>();
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Service;
    }

    /// <summary>The outcome of Invoke-SwarmNodeMaintenance for one node.</summary>
    public sealed class SwarmNodeMaintenanceResult
    {
        public string Node { get; set; }
        public string NodeId { get; set; }
        public SwarmNodeRole Role { get; set; }
        /// <summary>The node's availability before the maintenance.</summary>
        public SwarmNodeAvailability PreviousAvailability { get; set; }
        /// <summary>The node's availability after it (Active, unless it was paused or drained before).</summary>
        public SwarmNodeAvailability Availability { get; set; }
        /// <summary>Tasks of replicated services that ran on the node before the drain (they were moved).</summary>
        public int TasksMoved { get; set; }
        /// <summary>Names of the services that had tasks on the node.</summary>
        public string[] Services { get; set; } = Array.Empty<string>();
        /// <summary>True when the script block ran to its end without a terminating error.</summary>
        public bool ScriptSucceeded { get; set; }
        /// <summary>What the script block wrote to its output stream.</summary>
        public PSObject[] Output { get; set; } = Array.Empty<PSObject>();
        /// <summary>With -Rebalance: the services that got a forced update.</summary>
        public string[] Rebalanced { get; set; } = Array.Empty<string>();
        /// <summary>With -Rebalance: one result per examined service.</summary>
        public SwarmRebalanceResult[] RebalanceResults { get; set; } = Array.Empty<SwarmRebalanceResult>();
        public TimeSpan Duration { get; set; }
        [Hidden] public SwarmContext Context { get; set; }
        public override string ToString() => Node;
    }
}
