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

        private static readonly HashSet<TaskState> Active = new HashSet<TaskState>
        {
            TaskState.Assigned, TaskState.Accepted, TaskState.Preparing, TaskState.Ready, TaskState.Starting, TaskState.Running
        };

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
                await WaitForDrainAsync(ctx, updated);
            }
            WriteObject(SwarmNode.From(updated, ctx));
        }

        private async Task WaitForDrainAsync(SwarmContext ctx, NodeListResponse node)
        {
            string host = node.Description?.Hostname ?? node.ID;
            var progress = new ProgressRecord(Math.Abs(node.ID.GetHashCode() % 100000) + 1, $"Draining {host}", "Waiting for its tasks to move");
            var watch = Stopwatch.StartNew();
            int initial = -1;
            var serviceNames = new Dictionary<string, (string Name, bool Replicated)>(StringComparer.Ordinal);
            try
            {
                while (true)
                {
                    var filters = new Dictionary<string, IDictionary<string, bool>> { ["node"] = new Dictionary<string, bool> { [node.ID] = true } };
                    var tasks = await CallAsync(ctx, $"GET /tasks?node={node.ID}", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = filters }, t));
                    var running = tasks.Where(t => t.Status?.State != null && Active.Contains(t.Status.State.Value)).ToList();
                    var unknownServices = running.Select(t => t.ServiceID).Where(id => id != null && !serviceNames.ContainsKey(id)).Distinct().ToList();
                    if (unknownServices.Count > 0)
                    {
                        var services = await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t));
                        foreach (var s in services)
                        {
                            var mode = s.Spec?.Mode;
                            bool replicated = mode?.Global == null && mode?.GlobalJob == null;
                            serviceNames[s.ID] = (s.Spec?.Name ?? s.ID, replicated);
                        }
                    }
                    var blocking = running.Where(t => t.ServiceID == null || !serviceNames.TryGetValue(t.ServiceID, out var info) || info.Replicated).ToList();
                    if (initial < 0) initial = blocking.Count;
                    if (blocking.Count == 0)
                    {
                        Verbose($"{host} runs no task of a replicated service any more (after {watch.Elapsed.TotalSeconds:0.#} s).");
                        return;
                    }
                    if (watch.Elapsed.TotalSeconds >= TimeoutSec)
                    {
                        string names = string.Join(", ", blocking.Select(t => serviceNames.TryGetValue(t.ServiceID ?? "", out var i) ? $"{i.Name}.{t.Slot}" : t.ID).Distinct());
                        throw new SwarmException(SwarmErrorId.DrainTimeout, ErrorCategory.OperationTimeout,
                            $"{host} still runs {blocking.Count} task(s) of replicated services after {TimeoutSec} s: {names}. They may have nowhere else to go (placement constraints, resources).",
                            SwarmNode.From(node, ctx))
                        { RecommendedAction = "Check 'docker service ps' of those services for 'no suitable node', or wait longer with a larger -TimeoutSec." };
                    }
                    progress.StatusDescription = $"{blocking.Count} task(s) of replicated services still on {host}";
                    progress.PercentComplete = initial > 0 ? Math.Max(0, Math.Min(100, (initial - blocking.Count) * 100 / initial)) : 0;
                    WriteProgress(progress);
                    await Task.Delay(TimeSpan.FromSeconds(1), StopToken);
                }
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
        }
    }
}
