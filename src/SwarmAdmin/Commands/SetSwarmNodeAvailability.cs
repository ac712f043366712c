using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Commands
{
    /// <summary>Set-SwarmNodeAvailability: active, pause or drain (docker node update --availability), optionally waiting for a drain to finish.</summary>
    [Cmdlet(VerbsCommon.Set, "SwarmNodeAvailability", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmNode))]
    public sealed class SetSwarmNodeAvailabilityCommand : SwarmNodeCmdlet
    {
        /// <summary>Active (takes tasks), Pause (keeps its tasks, takes no new ones) or Drain (its tasks move elsewhere).</summary>
        [Parameter(Mandatory = true)]
        public SwarmNodeAvailability Availability { get; set; }

        /// <summary>With Drain: return only when no task of a replicated service still runs on the node.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>Seconds -Wait may take before it gives up with an error.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 300;

        protected override async Task ProcessNodeAsync(SwarmContext ctx, NodeListResponse node)
        {
            string wanted = Availability.ToString().ToLowerInvariant();
            bool asked = false, approved = true;
            var (updated, changed) = await UpdateNodeAsync(ctx, node, current =>
            {
                string now = (current.Spec?.Availability ?? "active").ToLowerInvariant();
                if (now == wanted) return null;
                if (!asked)
                {
                    asked = true;
                    approved = ShouldProcess(Describe(current), $"Set availability {now} -> {wanted}");
                }
                if (!approved) return null;
                var spec = CopySpec(current);
                spec.Availability = wanted;
                return spec;
            });
            if (!approved) return;
            Verbose(changed ? $"{Describe(updated)} is now {wanted}." : $"{Describe(updated)} is already {wanted}; nothing sent.");

            if (Wait && Availability == SwarmNodeAvailability.Drain)
            {
                await WaitForDrainAsync(ctx, updated, TimeoutSec);
            }
            WriteObject(SwarmNode.From(updated, ctx));
        }

    }
}
