using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Commands
{
    /// <summary>Remove-SwarmNode: takes nodes out of the swarm safely (demote, drain, leave, remove), or cleans up stale Down nodes.</summary>
    [Cmdlet(VerbsCommon.Remove, "SwarmNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
    [OutputType(typeof(void))]
    public sealed class RemoveSwarmNodeCommand : SwarmNodeCmdlet
    {
        private const string StaleSet = "Stale";

        /// <summary>Remove the Down nodes that rejoins left behind (a Ready node has the same hostname), and with -OlderThan any node Down for that long.</summary>
        [Parameter(ParameterSetName = StaleSet, Mandatory = true)]
        public SwitchParameter Stale { get; set; }

        /// <summary>With -Stale: also remove Down nodes whose last update is older than this.</summary>
        [Parameter(ParameterSetName = StaleSet)]
        public TimeSpan OlderThan { get; set; }

        /// <summary>Go past the quorum guard, and remove a node that cannot be made to leave (it keeps running as a stray engine).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds each step (drain, demote, leave) may take.</summary>
        [Parameter]
        [ValidateRange(5, 3600)]
        public int TimeoutSec { get; set; } = 120;

        protected override async Task<List<(object, NodeListResponse)>> ResolveAsync(SwarmContext ctx)
        {
            if (ParameterSetName != StaleSet) return await base.ResolveAsync(ctx);
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var readyNames = new HashSet<string>(nodes.Where(IsReady).Select(n => n.Description?.Hostname ?? ""), StringComparer.OrdinalIgnoreCase);
            bool byAge = MyInvocation.BoundParameters.ContainsKey(nameof(OlderThan));
            var stale = nodes.Where(n => !IsReady(n) && (readyNames.Contains(n.Description?.Hostname ?? "") || (byAge && n.UpdatedAt.HasValue && DateTime.UtcNow - n.UpdatedAt.Value.ToUniversalTime() > OlderThan)))
                .OrderBy(n => n.Description?.Hostname, StringComparer.OrdinalIgnoreCase).ToList();
            Verbose($"{stale.Count} stale node(s) found.");
            return stale.Select(n => ((object)(n.Description?.Hostname ?? n.ID), n)).ToList();
        }

        private static bool IsReady(NodeListResponse n) => string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase);

        protected override async Task ProcessNodeAsync(SwarmContext ctx, NodeListResponse node)
        {
            if (node.ID == ctx.NodeId)
            {
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidOperation,
                    $"{Describe(node)} is the manager this session is connected through; connect through another manager to remove it.", SwarmNode.From(node, ctx));
            }
            bool isManager = node.ManagerStatus != null || string.Equals(node.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase);
            if (!ShouldProcess(Describe(node), isManager ? "Demote, drain, leave and remove from the swarm" : "Drain, leave and remove from the swarm")) return;
            var timeout = TimeSpan.FromSeconds(TimeoutSec);

            if (isManager)
            {
                await EnsureQuorumAllowsRemovalAsync(ctx, node, Force, "Removing");
                Verbose($"Demoting {Describe(node)} first: a manager must leave the raft group before it leaves the swarm.");
                (node, _) = await UpdateNodeAsync(ctx, node, n => { if (n.Spec?.Role == "worker") return null; var s = CopySpec(n); s.Role = "worker"; return s; });
                node = await WaitForNodeAsync(ctx, node.ID, n => n.ManagerStatus == null, timeout, "leave the managers");
            }

            if (IsReady(node))
            {
                (node, _) = await UpdateNodeAsync(ctx, node, n => { if (n.Spec?.Availability == "drain") return null; var s = CopySpec(n); s.Availability = "drain"; return s; });
                await WaitForDrainAsync(ctx, node, TimeoutSec);
                string error = await LeaveAsync(ctx, node);
                if (error != null)
                {
                    if (!Force)
                    {
                        throw new SwarmException(SwarmErrorId.EndpointUnreachable, ErrorCategory.ConnectionError,
                            $"{Describe(node)} is drained but could not be made to leave the swarm: {error}. It was not removed.",
                            SwarmNode.From(node, ctx)) { RecommendedAction = "Make it reachable over SSH, or use -Force to remove it anyway (its engine keeps thinking it is a member)." };
                    }
                    ((IOperationLog)this).Warning($"{Describe(node)} could not leave ({error}); removing it anyway (-Force).");
                }
                else
                {
                    try { node = await WaitForNodeAsync(ctx, node.ID, n => !IsReady(n), timeout, "go down after leaving"); }
                    catch (SwarmException) when (Force) { }
                }
            }

            Verbose($"Removing {Describe(node)} from the node list.");
            string id = node.ID;
            await CallAsync<bool>(ctx, $"DELETE /nodes/{id}", async (c, t) => { await c.Swarm.RemoveNodeAsync(id, Force.IsPresent || !IsReady(node), t); return true; }, retryOnOtherManager: false);
        }

        /// <summary>Asks the node's own engine to leave, over SSH; returns null on success, else why not.</summary>
        private async Task<string> LeaveAsync(SwarmContext ctx, NodeListResponse node)
        {
            string address = node.Status?.Addr;
            if (string.IsNullOrEmpty(address) || address == "0.0.0.0") return "its address is unknown";
            try
            {
                var endpoint = SwarmEndpoint.Parse($"ssh://{ctx.User ?? "root"}@{(address.Contains(":") ? "[" + address + "]" : address)}");
                using (EngineConnection engine = await ctx.OpenNodeEngineAsync(endpoint, null, null, StopToken))
                {
                    Verbose($"{Describe(node)} leaves the swarm (via {endpoint}).");
                    await engine.Client.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = false }, StopToken);
                }
                return null;
            }
            catch (Exception ex) when (!StopToken.IsCancellationRequested)
            {
                return SwarmErrors.Unwrap(ex).Message;
            }
        }
    }
}
