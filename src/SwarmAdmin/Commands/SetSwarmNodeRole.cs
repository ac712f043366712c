using System;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Nodes;

namespace SwarmAdmin.Commands
{
    /// <summary>Set-SwarmNodeRole: promotes workers or demotes managers, refusing a demotion that would lose quorum.</summary>
    [Cmdlet(VerbsCommon.Set, "SwarmNodeRole", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmNode))]
    public sealed class SetSwarmNodeRoleCommand : SwarmNodeCmdlet
    {
        /// <summary>Manager (promote) or Worker (demote).</summary>
        [Parameter(Mandatory = true)]
        public SwarmNodeRole Role { get; set; }

        /// <summary>Demote even when that loses quorum (the guard only warns).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds to wait until the node has settled in its new role.</summary>
        [Parameter]
        [ValidateRange(5, 3600)]
        public int TimeoutSec { get; set; } = 120;

        protected override async Task ProcessNodeAsync(SwarmContext ctx, NodeListResponse node)
        {
            string wanted = Role == SwarmNodeRole.Manager ? "manager" : "worker";
            if (string.Equals(node.Spec?.Role, wanted, StringComparison.OrdinalIgnoreCase))
            {
                Verbose($"{Describe(node)} is already a {wanted}; nothing sent.");
                WriteObject(SwarmNode.From(node, ctx));
                return;
            }
            if (!ShouldProcess(Describe(node), wanted == "manager" ? "Promote to manager" : "Demote to worker")) return;
            if (wanted == "worker") await EnsureQuorumAllowsRemovalAsync(ctx, node, Force, "Demoting");
            var (updated, _) = await UpdateNodeAsync(ctx, node, n =>
            {
                if (string.Equals(n.Spec?.Role, wanted, StringComparison.OrdinalIgnoreCase)) return null;
                var s = CopySpec(n);
                s.Role = wanted;
                return s;
            });
            Verbose($"{Describe(updated)} is now a {wanted}; waiting for it to settle.");
            updated = await WaitForNodeAsync(ctx, updated.ID,
                n => wanted == "worker" ? n.ManagerStatus == null
                                        : n.IsReachableManager(),
                TimeSpan.FromSeconds(TimeoutSec), wanted == "worker" ? "leave the managers" : "become a reachable manager");
            WriteObject(SwarmNode.From(updated, ctx));
        }
    }
}
