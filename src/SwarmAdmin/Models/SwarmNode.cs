using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;

namespace SwarmAdmin
{
    public enum SwarmNodeRole { Worker, Manager }
    public enum SwarmNodeAvailability { Active, Pause, Drain }

    /// <summary>One node of the swarm, as Get-SwarmNode returns it.</summary>
    public sealed class SwarmNode
    {
        public string Id { get; set; }
        public string Hostname { get; set; }
        public SwarmNodeRole Role { get; set; }
        public SwarmNodeAvailability Availability { get; set; }
        /// <summary>ready, down, unknown or disconnected.</summary>
        public string State { get; set; }
        /// <summary>Leader, Reachable or Unreachable for managers; empty for workers.</summary>
        public string ManagerStatus { get; set; }
        public bool IsLeader { get; set; }
        /// <summary>The node's address as the swarm sees it.</summary>
        public string Address { get; set; }
        /// <summary>For managers: the address and port other managers reach it on (raft).</summary>
        public string ManagerAddress { get; set; }
        public string EngineVersion { get; set; }
        public Dictionary<string, string> Labels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public Dictionary<string, string> EngineLabels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public double CPUs { get; set; }
        public long MemoryBytes { get; set; }
        public string OS { get; set; }
        public string Architecture { get; set; }
        public string StatusMessage { get; set; }
        /// <summary>The swarm object version; updates must quote it (optimistic concurrency).</summary>
        public ulong Version { get; set; }
        public DateTime? CreatedAt { get; set; }
        public DateTime? UpdatedAt { get; set; }
        /// <summary>True for the node this context's manager runs on (docker node ls marks it with '*').</summary>
        public bool IsSelf { get; set; }

        /// <summary>The swarm this node was read from; piping the node on uses the same connection.</summary>
        [Hidden]
        public SwarmContext Context { get; set; }

        public override string ToString() => Hostname ?? Id;

        internal static SwarmNode From(NodeListResponse n, SwarmContext context)
        {
            var node = new SwarmNode
            {
                Id = n.ID,
                Hostname = n.Description?.Hostname,
                Role = string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase) ? SwarmNodeRole.Manager : SwarmNodeRole.Worker,
                Availability = ParseAvailability(n.Spec?.Availability),
                State = n.Status?.State,
                StatusMessage = n.Status?.Message,
                Address = n.Status?.Addr,
                EngineVersion = n.Description?.Engine?.EngineVersion,
                CPUs = (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
                MemoryBytes = n.Description?.Resources?.MemoryBytes ?? 0,
                OS = n.Description?.Platform?.OS,
                Architecture = n.Description?.Platform?.Architecture,
                Version = n.Version?.Index ?? 0,
                CreatedAt = n.CreatedAt,
                UpdatedAt = n.UpdatedAt,
                IsSelf = context?.NodeId != null && context.NodeId == n.ID,
                Context = context,
            };
            if (n.Spec?.Labels != null)
            {
                foreach (var kv in n.Spec.Labels.OrderBy(k => k.Key, StringComparer.Ordinal)) node.Labels[kv.Key] = kv.Value ?? string.Empty;
            }
            if (n.Description?.Engine?.Labels != null)
            {
                foreach (var kv in n.Description.Engine.Labels.OrderBy(k => k.Key, StringComparer.Ordinal)) node.EngineLabels[kv.Key] = kv.Value ?? string.Empty;
            }
            if (n.ManagerStatus != null)
            {
                node.IsLeader = n.ManagerStatus.Leader == true;
                node.ManagerStatus = node.IsLeader ? "Leader" : ToTitle(n.ManagerStatus.Reachability);
                node.ManagerAddress = n.ManagerStatus.Addr;
                // A manager reports 0.0.0.0 in Status.Addr on some engines; the raft address is the real one.
                if ((string.IsNullOrEmpty(node.Address) || node.Address == "0.0.0.0") && !string.IsNullOrEmpty(n.ManagerStatus.Addr))
                {
                    int colon = n.ManagerStatus.Addr.LastIndexOf(':');
                    node.Address = colon > 0 ? n.ManagerStatus.Addr.Substring(0, colon).Trim('[', ']') : n.ManagerStatus.Addr;
                }
            }
            return node;
        }

        private static SwarmNodeAvailability ParseAvailability(string value)
        {
            switch ((value ?? string.Empty).ToLowerInvariant())
            {
                case "pause": return SwarmNodeAvailability.Pause;
                case "drain": return SwarmNodeAvailability.Drain;
                default: return SwarmNodeAvailability.Active;
            }
        }

        private static string ToTitle(string s) => string.IsNullOrEmpty(s) ? s : char.ToUpperInvariant(s[0]) + s.Substring(1).ToLowerInvariant();
    }
}
