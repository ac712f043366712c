using System;
using System.Collections.Generic;
using System.Linq;
using Docker.DotNet.Models;

namespace SwarmAdmin.Config
{
    /// <summary>The resource sums of Get-SwarmCapacity: planned (cluster file) or live (nodes versus service reservations).</summary>
    internal static class SwarmCapacity
    {
        internal const string ManagerRole = "Manager";
        internal const string WorkerRole = "Worker";
        internal const string TotalRole = "Total";
        private const double GiB = 1024d * 1024 * 1024;

        /// <summary>Task states in which the scheduler holds the task's reservation on its node.</summary>
        private static readonly HashSet<TaskState> Holding = new HashSet<TaskState>
        {
            TaskState.Assigned, TaskState.Accepted, TaskState.Preparing, TaskState.Ready, TaskState.Starting, TaskState.Running,
        };

        /// <summary>One row per role (Manager, Worker) and a Total row, from the nodes of a cluster file.</summary>
        public static List<SwarmCapacityRow> FromConfig(SwarmClusterConfig config)
        {
            var rows = new List<SwarmCapacityRow>();
            foreach (var (role, nodes) in new[]
            {
                (ManagerRole, config.Nodes.Where(n => n.Role == SwarmNodeRole.Manager).ToList()),
                (WorkerRole, config.Nodes.Where(n => n.Role == SwarmNodeRole.Worker).ToList()),
                (TotalRole, config.Nodes.ToList()),
            })
            {
                rows.Add(new SwarmCapacityRow
                {
                    Cluster = config.Name,
                    Role = role,
                    Nodes = nodes.Count,
                    Cores = nodes.Sum(n => n.Cores),
                    MemoryGB = nodes.Sum(n => n.MemoryMB) / 1024d,
                    BootDiskGB = nodes.Sum(n => n.BootDiskGB),
                    DataDiskGB = nodes.Sum(n => n.DataDiskGB),
                    Source = "Config",
                });
            }
            return rows;
        }

        /// <summary>
        /// Live capacity: one row per node (sorted managers first, then by hostname), then Manager, Worker and Total rows.
        /// Reserved = for every task that holds a reservation on the node (desired state running, assigned..running),
        /// its service's TaskTemplate.Resources.Reservations (the task's own spec when the service is gone).
        /// </summary>
        public static List<SwarmCapacityRow> FromSwarm(string cluster, IEnumerable<NodeListResponse> nodes, IEnumerable<Docker.DotNet.Models.SwarmService> services, IEnumerable<TaskResponse> tasks)
        {
            var reservations = new Dictionary<string, SwarmResources>(StringComparer.Ordinal);
            foreach (Docker.DotNet.Models.SwarmService s in services ?? Enumerable.Empty<Docker.DotNet.Models.SwarmService>())
            {
                if (s?.ID != null) reservations[s.ID] = s.Spec?.TaskTemplate?.Resources?.Reservations;
            }

            var perNode = new Dictionary<string, (long Nano, long Bytes, int Tasks)>(StringComparer.Ordinal);
            foreach (TaskResponse t in tasks ?? Enumerable.Empty<TaskResponse>())
            {
                if (t?.NodeID == null || t.DesiredState != TaskState.Running || t.Status?.State == null || !Holding.Contains(t.Status.State.Value)) continue;
                SwarmResources r = t.ServiceID != null && reservations.TryGetValue(t.ServiceID, out SwarmResources sr) ? sr : t.Spec?.Resources?.Reservations;
                perNode.TryGetValue(t.NodeID, out var sum);
                perNode[t.NodeID] = (sum.Nano + (r?.NanoCPUs ?? 0), sum.Bytes + (r?.MemoryBytes ?? 0), sum.Tasks + 1);
            }

            var nodeRows = new List<SwarmCapacityRow>();
            foreach (NodeListResponse n in nodes ?? Enumerable.Empty<NodeListResponse>())
            {
                perNode.TryGetValue(n.ID ?? string.Empty, out var used);
                bool manager = string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase);
                nodeRows.Add(new SwarmCapacityRow
                {
                    Cluster = cluster,
                    Role = manager ? ManagerRole : WorkerRole,
                    Node = n.Description?.Hostname ?? n.ID,
                    Nodes = 1,
                    Cores = (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
                    MemoryGB = (n.Description?.Resources?.MemoryBytes ?? 0) / GiB,
                    ReservedCores = used.Nano / 1e9,
                    ReservedMemoryGB = used.Bytes / GiB,
                    Tasks = used.Tasks,
                    Source = "Live",
                });
            }
            nodeRows = nodeRows.OrderBy(r => r.Role == ManagerRole ? 0 : 1).ThenBy(r => r.Node, StringComparer.OrdinalIgnoreCase).ToList();

            var rows = new List<SwarmCapacityRow>(nodeRows);
            foreach (var (role, group) in new[]
            {
                (ManagerRole, nodeRows.Where(r => r.Role == ManagerRole).ToList()),
                (WorkerRole, nodeRows.Where(r => r.Role == WorkerRole).ToList()),
                (TotalRole, nodeRows),
            })
            {
                rows.Add(new SwarmCapacityRow
                {
                    Cluster = cluster,
                    Role = role,
                    Nodes = group.Count,
                    Cores = group.Sum(r => r.Cores),
                    MemoryGB = group.Sum(r => r.MemoryGB),
                    ReservedCores = group.Sum(r => r.ReservedCores ?? 0),
                    ReservedMemoryGB = group.Sum(r => r.ReservedMemoryGB ?? 0),
                    Tasks = group.Sum(r => r.Tasks ?? 0),
                    Source = "Live",
                });
            }
            return rows;
        }
    }
}
