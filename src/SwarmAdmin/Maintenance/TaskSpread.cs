using System;
using System.Collections.Generic;
using System.Linq;
using SwarmAdmin.Quorum;
using SwarmAdmin.Stacks;

namespace SwarmAdmin.Maintenance
{
    /// <summary>A node as the spread computation sees it: placement facts plus readiness and availability.</summary>
    internal sealed class SpreadNode
    {
        public PlacementNode Placement { get; set; }
        /// <summary>Node status "ready".</summary>
        public bool Ready { get; set; }
        /// <summary>Availability "active" (Pause and Drain take no new tasks).</summary>
        public bool Active { get; set; }

        public string Id => Placement?.Id;
        public string Name => Placement == null ? "(unnamed node)" : PlacementConstraints.NodeName(Placement);
    }

    /// <summary>What the scheduler must respect for one replicated service.</summary>
    internal sealed class SpreadService
    {
        public IReadOnlyList<string> Constraints { get; set; } = Array.Empty<string>();
        /// <summary>(OS, architecture) pairs the image supports; empty = any node.</summary>
        public IReadOnlyList<(string Os, string Arch)> Platforms { get; set; } = Array.Empty<(string, string)>();
        /// <summary>Placement.MaxReplicas: tasks per node at most; 0 = no limit.</summary>
        public ulong MaxReplicasPerNode { get; set; }
        public ulong Replicas { get; set; }
    }

    /// <summary>How the running tasks of one service are spread over the nodes.</summary>
    internal sealed class SpreadReport
    {
        /// <summary>Eligible nodes (name order) with their running task counts (0 included).</summary>
        public IReadOnlyList<KeyValuePair<string, int>> Eligible { get; set; }
        /// <summary>Non-eligible nodes that still run tasks of the service, with their counts.</summary>
        public IReadOnlyList<KeyValuePair<string, int>> Misplaced { get; set; }
        /// <summary>Max - min running tasks over the eligible nodes (0 when there is none).</summary>
        public int Skew { get; set; }
        /// <summary>Eligible nodes that run more than MaxReplicas tasks.</summary>
        public int OverLimit { get; set; }
        /// <summary>Skew &gt; 1, or a task on a non-eligible node, or a node above MaxReplicas.</summary>
        public bool IsSkewed { get; set; }
        /// <summary>Running tasks counted.</summary>
        public int Running { get; set; }
        /// <summary>Why it is skewed (null when balanced).</summary>
        public string Reason { get; set; }
        /// <summary>"w1=3 w2=0 m1=1" (eligible nodes), then "| m2=1 (not eligible)" for misplaced ones.</summary>
        public string Distribution { get; set; }
    }

    /// <summary>
    /// Pure rules of Invoke-SwarmRebalance and Invoke-SwarmNodeMaintenance: which nodes may run a service's tasks,
    /// whether its running tasks are skewed over them, and whether a manager may go into maintenance.
    /// </summary>
    internal static class TaskSpread
    {
        /// <summary>
        /// A node may run the service's tasks when it is ready, active, satisfies every placement constraint
        /// (swarmkit rules, PlacementConstraints) and one of the service's platforms (none listed = any).
        /// An unparsable constraint makes no node eligible (the engine would not schedule either).
        /// </summary>
        public static bool IsEligible(SpreadNode node, SpreadService service, IReadOnlyList<PlacementConstraint> parsed)
        {
            if (node == null || !node.Ready || !node.Active) return false;
            if (parsed == null) return false;
            if (!PlacementConstraints.MatchesAll(parsed, node.Placement ?? new PlacementNode())) return false;
            return MatchesPlatform(service.Platforms, node.Placement?.Os, node.Placement?.Arch);
        }

        /// <summary>
        /// swarmkit's PlatformFilter: some platform whose OS and architecture are empty or equal the node's
        /// (node architectures x86_64 / aarch64 count as amd64 / arm64; compared case-insensitively).
        /// </summary>
        public static bool MatchesPlatform(IReadOnlyList<(string Os, string Arch)> platforms, string os, string arch)
        {
            if (platforms == null || platforms.Count == 0) return true;
            string nodeArch = NormalizeArch(arch);
            foreach (var p in platforms)
            {
                bool archOk = string.IsNullOrEmpty(p.Arch) || string.Equals(NormalizeArch(p.Arch), nodeArch, StringComparison.OrdinalIgnoreCase);
                bool osOk = string.IsNullOrEmpty(p.Os) || string.Equals(p.Os, os ?? "", StringComparison.OrdinalIgnoreCase);
                if (archOk && osOk) return true;
            }
            return false;
        }

        private static string NormalizeArch(string arch)
        {
            switch ((arch ?? "").ToLowerInvariant())
            {
                case "x86_64": return "amd64";
                case "aarch64": return "arm64";
                default: return arch ?? "";
            }
        }

        /// <summary>The nodes that may run the service's tasks (see <see cref="IsEligible"/>), in name order.</summary>
        public static List<SpreadNode> EligibleNodes(IEnumerable<SpreadNode> nodes, SpreadService service)
        {
            var parsed = Parse(service.Constraints);
            return (nodes ?? Enumerable.Empty<SpreadNode>()).Where(n => IsEligible(n, service, parsed))
                .OrderBy(n => n.Name, StringComparer.OrdinalIgnoreCase).ToList();
        }

        /// <summary>
        /// Judges the spread of <paramref name="runningTaskNodeIds"/> (the node ID of each running task of the service).
        /// Skewed when max - min over the eligible nodes is more than 1 (a node without tasks counts 0), or a task runs
        /// on a node that is not eligible (drained, paused, down, not matching constraints or platform), or an eligible
        /// node runs more than MaxReplicas tasks. A service with fewer replicas than eligible nodes is balanced when
        /// every node runs 0 or 1 task. MaxReplicas never makes an even spread impossible: replicas that exceed
        /// MaxReplicas x nodes stay pending, and the running ones can still differ by at most one.
        /// </summary>
        public static SpreadReport Evaluate(IReadOnlyList<SpreadNode> nodes, SpreadService service, IEnumerable<string> runningTaskNodeIds)
        {
            nodes = nodes ?? Array.Empty<SpreadNode>();
            var eligible = EligibleNodes(nodes, service);
            var eligibleIds = new HashSet<string>(eligible.Select(n => n.Id), StringComparer.Ordinal);
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            int running = 0;
            foreach (string id in runningTaskNodeIds ?? Enumerable.Empty<string>())
            {
                string key = id ?? "";
                counts[key] = counts.TryGetValue(key, out int c) ? c + 1 : 1;
                running++;
            }

            var eligibleCounts = eligible.Select(n => new KeyValuePair<string, int>(n.Name, counts.TryGetValue(n.Id ?? "", out int c) ? c : 0)).ToList();
            var byId = nodes.Where(n => n?.Id != null).GroupBy(n => n.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            var misplaced = counts.Where(kv => !eligibleIds.Contains(kv.Key))
                .Select(kv => new KeyValuePair<string, int>(byId.TryGetValue(kv.Key, out var n) ? n.Name : (kv.Key.Length == 0 ? "(no node)" : kv.Key), kv.Value))
                .OrderBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase).ToList();

            int skew = eligibleCounts.Count == 0 ? 0 : eligibleCounts.Max(kv => kv.Value) - eligibleCounts.Min(kv => kv.Value);
            int overLimit = service.MaxReplicasPerNode > 0 ? eligibleCounts.Count(kv => (ulong)kv.Value > service.MaxReplicasPerNode) : 0;

            var reasons = new List<string>();
            if (skew > 1) reasons.Add($"the eligible nodes run between {eligibleCounts.Min(kv => kv.Value)} and {eligibleCounts.Max(kv => kv.Value)} tasks");
            if (misplaced.Count > 0) reasons.Add($"{misplaced.Sum(kv => kv.Value)} task(s) run on nodes that are not eligible ({string.Join(", ", misplaced.Select(kv => kv.Key))})");
            if (overLimit > 0) reasons.Add($"{overLimit} node(s) run more than {service.MaxReplicasPerNode} task(s) (max replicas per node)");
            // tasks on non-eligible nodes can only move when some node may take them
            bool canMove = eligible.Count > 0;
            if (!canMove && misplaced.Count > 0) reasons.Add("but no node is eligible to take them");

            string distribution = string.Join(" ", eligibleCounts.Select(kv => $"{kv.Key}={kv.Value}"));
            if (misplaced.Count > 0)
                distribution = (distribution.Length > 0 ? distribution + " | " : "") + string.Join(" ", misplaced.Select(kv => $"{kv.Key}={kv.Value}")) + " (not eligible)";

            bool skewed = canMove && (skew > 1 || misplaced.Count > 0 || overLimit > 0);
            return new SpreadReport
            {
                Eligible = eligibleCounts,
                Misplaced = misplaced,
                Skew = skew,
                OverLimit = overLimit,
                IsSkewed = skewed,
                Running = running,
                Reason = reasons.Count == 0 ? null : string.Join("; ", reasons),
                Distribution = distribution.Length == 0 ? "(no eligible node)" : distribution,
            };
        }

        /// <summary>Parsed constraints, or null when one does not parse (then no node is eligible).</summary>
        internal static IReadOnlyList<PlacementConstraint> Parse(IReadOnlyList<string> constraints)
        {
            var list = new List<PlacementConstraint>();
            foreach (string text in constraints ?? Array.Empty<string>())
            {
                if (!PlacementConstraints.TryParse(text, out var c, out _)) return null;
                list.Add(c);
            }
            return list;
        }

        /// <summary>
        /// Whether taking <paramref name="node"/> out for maintenance leaves the managers' fault tolerance below zero:
        /// the node is a reachable manager and (reachable managers - 1) &lt; quorum (managers / 2 + 1). A worker, or a
        /// manager the others already cannot reach (it does not count toward the reachable ones), never lowers it.
        /// Returns (refuse, reachable managers after, quorum).
        /// </summary>
        public static (bool Refuse, int ReachableAfter, int Quorum) MaintenanceLosesQuorum(int managers, int reachableManagers, bool nodeIsManager, bool nodeIsReachable)
        {
            int quorum = QuorumAnalyzer.QuorumSize(managers);
            if (!nodeIsManager) return (false, reachableManagers, quorum);
            int after = reachableManagers - (nodeIsReachable ? 1 : 0);
            return (after < quorum, after, quorum);
        }
    }
}
