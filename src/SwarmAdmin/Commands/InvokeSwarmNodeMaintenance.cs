using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Maintenance;
using SwarmAdmin.Nodes;
using DockerService = Docker.DotNet.Models.SwarmService;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Invoke-SwarmNodeMaintenance: drains a node (refusing a manager whose absence would cost the quorum), waits for
    /// its tasks to run elsewhere, runs a script block on the pipeline thread, always puts the node back, and with
    /// -Rebalance spreads the moved services again.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "SwarmNodeMaintenance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(SwarmNodeMaintenanceResult))]
    public sealed class InvokeSwarmNodeMaintenanceCommand : SwarmRebalanceCmdletBase
    {
        /// <summary>The node: a hostname, a node ID (or unique prefix), or a SwarmNode from Get-SwarmNode.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        [ArgumentCompleter(typeof(SwarmNodeNameCompleter))]
        public object[] Node { get; set; }

        /// <summary>The maintenance work; runs with the SwarmNode as $_ and as its first argument.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNull]
        public ScriptBlock ScriptBlock { get; set; }

        /// <summary>Seconds the drain (and, with -Rebalance, the convergence) may take.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 300;

        /// <summary>Afterwards, force-update the services that had tasks on the node if their tasks are skewed.</summary>
        [Parameter]
        public SwitchParameter Rebalance { get; set; }

        /// <summary>Go ahead even when taking this manager out leaves the swarm without fault tolerance below zero.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override object CurrentTarget => Node;

        private static readonly HashSet<TaskState> ActiveStates = new HashSet<TaskState>
        {
            TaskState.Assigned, TaskState.Accepted, TaskState.Preparing, TaskState.Ready, TaskState.Starting, TaskState.Running
        };

        protected override async Task ProcessRecordAsync()
        {
            foreach (object raw in Node)
            {
                object item = raw is PSObject pso ? pso.BaseObject : raw;
                SwarmContext ctx = Context ?? (item as SwarmNode)?.Context ?? ResolveContext(); // no context: ends the command (outside the per-node catch)
                try
                {
                    var node = await ResolveNodeAsync(ctx, item);
                    if (node == null) continue;
                    await MaintainAsync(ctx, node);
                }
                catch (Exception ex) when (!(ex is PipelineStoppedException) && !(ex is TerminatingErrorException) && !(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    WriteErrorFor(ex, item);
                }
            }
        }

        /// <summary>A SwarmNode (read again), or a hostname (exact, case-insensitive), node ID or unique ID prefix; null after an error.</summary>
        private async Task<NodeListResponse> ResolveNodeAsync(SwarmContext ctx, object item)
        {
            if (item is SwarmNode sn)
            {
                try { return await CallAsync(ctx, $"GET /nodes/{sn.Id}", (c, t) => c.Swarm.InspectNodeAsync(sn.Id, t)); }
                catch (DockerApiException ex) when ((int)ex.StatusCode == 404) { WriteError(NotFound(sn.Hostname ?? sn.Id)); return null; }
            }
            string key = LanguagePrimitives.ConvertTo<string>(item);
            if (string.IsNullOrWhiteSpace(key))
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, "An empty node name was given. Pass a hostname, a node ID or a node from Get-SwarmNode.", item));
                return null;
            }
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var matches = nodes.Where(n => string.Equals(n.Description?.Hostname, key, StringComparison.OrdinalIgnoreCase)).ToList();
            if (matches.Count == 0) matches = nodes.Where(n => string.Equals(n.ID, key, StringComparison.Ordinal)).ToList();
            if (matches.Count == 0) matches = nodes.Where(n => n.ID != null && n.ID.StartsWith(key, StringComparison.Ordinal)).ToList();
            if (matches.Count == 0) { WriteError(NotFound(key)); return null; }
            if (matches.Count > 1)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.NodeAmbiguous, ErrorCategory.InvalidArgument,
                    $"'{key}' matches {matches.Count} nodes ({string.Join(", ", matches.Select(Describe))}). Pass the node ID instead (Get-SwarmNode shows it).", key));
                return null;
            }
            return matches[0];
        }

        private static ErrorRecord NotFound(string what) => SwarmErrors.Record(SwarmErrorId.NodeNotFound, ErrorCategory.ObjectNotFound,
            $"No swarm node '{what}' exists. Run Get-SwarmNode to list the nodes.", what);

        private async Task MaintainAsync(SwarmContext ctx, NodeListResponse node)
        {
            var watch = Stopwatch.StartNew();
            string host = node.Description?.Hostname ?? node.ID;
            var swarmNode = SwarmNode.From(node, ctx);

            if (swarmNode.Role == SwarmNodeRole.Manager) await CheckQuorumAsync(ctx, node, host);

            string previous = (node.Spec?.Availability ?? "active").ToLowerInvariant();
            bool alreadyDrained = previous == "drain";
            string action = alreadyDrained
                ? "Run the maintenance script block (the node is already drained and stays drained)"
                : $"Drain the node, run the maintenance script block, then set it {previous} again";
            if (!ShouldProcess(Describe(node), action)) return;

            // what runs there now: the replicated services whose tasks will move
            var services = (await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t))).ToDictionary(s => s.ID, StringComparer.Ordinal);
            var tasksHere = await TasksOnNodeAsync(ctx, node.ID);
            var runningBefore = await RunningByServiceAsync(ctx);
            var moving = tasksHere.Where(t => t.ServiceID != null && services.TryGetValue(t.ServiceID, out var s) && IsReplicated(s)).ToList();
            var affected = moving.Select(t => t.ServiceID).Distinct(StringComparer.Ordinal).Select(id => services[id]).OrderBy(s => s.Spec?.Name, StringComparer.Ordinal).ToList();
            var result = new SwarmNodeMaintenanceResult
            {
                Node = host,
                NodeId = node.ID,
                Role = swarmNode.Role,
                PreviousAvailability = swarmNode.Availability,
                Availability = swarmNode.Availability,
                TasksMoved = alreadyDrained ? 0 : moving.Count,
                Services = affected.Select(s => s.Spec?.Name ?? s.ID).ToArray(),
                Context = ctx,
            };
            if (alreadyDrained)
                WriteWarning($"{host} is already drained: the script block runs now and the node stays drained afterwards (set it active with Set-SwarmNodeAvailability when you want it back).");
            else if (previous == "pause")
                WriteWarning($"{host} is paused: it is drained for the maintenance and set back to pause afterwards, so it takes no tasks until you set it active.");

            Exception scriptError = null;
            bool drainSent = false;
            try
            {
                if (!alreadyDrained)
                {
                    var deadline = Stopwatch.StartNew();
                    drainSent = true; // from here on the node must be put back, even if the answer to the update is lost
                    var (drained, _) = await UpdateNodeAsync(ctx, node, current =>
                    {
                        if (string.Equals(current.Spec?.Availability, "drain", StringComparison.OrdinalIgnoreCase)) return null;
                        var spec = CopySpec(current);
                        spec.Availability = "drain";
                        return spec;
                    });
                    Verbose($"{Describe(drained)} is drained; waiting for its {moving.Count} task(s) of {affected.Count} replicated service(s) to move.");
                    await WaitForDrainAsync(ctx, drained, TimeoutSec);
                    await WaitForTasksElsewhereAsync(ctx, node.ID, host, affected, moving, runningBefore, TimeoutSec - (int)deadline.Elapsed.TotalSeconds);
                }

                Verbose($"Running the maintenance script block for {host}.");
                Collection<PSObject> output = null;
                try
                {
                    output = ScriptBlock.InvokeWithContext(null, new List<PSVariable> { new PSVariable("_", swarmNode) }, swarmNode);
                    result.ScriptSucceeded = true;
                }
                catch (Exception ex) when (!(ex is PipelineStoppedException))
                {
                    scriptError = ex;
                }
                result.Output = output?.Where(o => o != null).ToArray() ?? Array.Empty<PSObject>();
            }
            finally
            {
                if (drainSent) result.Availability = await RestoreAsync(ctx, node.ID, host, previous);
            }

            if (Rebalance && affected.Count > 0)
            {
                var ids = new HashSet<string>(affected.Select(s => s.ID), StringComparer.Ordinal);
                var live = (await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t)))
                    .Where(s => ids.Contains(s.ID)).ToList();
                Verbose($"Rebalancing the service(s) that ran on {host}: {string.Join(", ", live.Select(s => s.Spec?.Name))}.");
                var rebalanced = await RebalanceAsync(ctx, live, confirm: false, wait: true, timeoutSec: TimeoutSec);
                result.RebalanceResults = rebalanced.ToArray();
                result.Rebalanced = rebalanced.Where(r => r.Action == SwarmRebalanceAction.Rebalanced).Select(r => r.Service).ToArray();
            }
            result.Duration = watch.Elapsed;
            WriteObject(result);

            if (scriptError != null)
            {
                var inner = scriptError is RuntimeException rte && rte.ErrorRecord != null ? rte.ErrorRecord : null;
                string message = $"The maintenance script block for {host} failed: {(inner?.Exception?.Message ?? scriptError.Message)}. The node was set {result.Availability.ToString().ToLowerInvariant()} again.";
                var record = SwarmErrors.Record(SwarmErrorId.MaintenanceScriptFailed, inner?.CategoryInfo?.Category ?? ErrorCategory.NotSpecified, message, swarmNode, scriptError);
                if (inner?.InvocationInfo != null && record.ErrorDetails != null) record.ErrorDetails.RecommendedAction = $"Fix what the script block reported ({inner.InvocationInfo.PositionMessage?.Split('\n').FirstOrDefault()?.Trim()}) and run the maintenance again.";
                WriteError(record);
            }
        }

        private async Task CheckQuorumAsync(SwarmContext ctx, NodeListResponse node, string host)
        {
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var managers = nodes.Where(n => n.ManagerStatus != null || string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase)).ToList();
            int reachable = managers.Count(n => n.IsReachableManager());
            var me = managers.FirstOrDefault(m => m.ID == node.ID) ?? node;
            var (refuse, after, quorum) = TaskSpread.MaintenanceLosesQuorum(managers.Count, reachable, true, me.IsReachableManager());
            if (!refuse)
            {
                Verbose($"{host} is a manager: {reachable} of {managers.Count} managers are reachable, {after} stay reachable during the maintenance and {quorum} are needed for quorum.");
                return;
            }
            string why = $"Maintenance of manager {host} would leave {after} reachable manager(s) of {managers.Count} while {quorum} are needed for quorum: the swarm's fault tolerance would fall to {after - quorum}.";
            if (!Force)
            {
                throw new SwarmException(SwarmErrorId.QuorumGuard, ErrorCategory.InvalidOperation, why + " Nothing was drained and the script block did not run.", SwarmNode.From(node, ctx))
                {
                    RecommendedAction = "Bring the unreachable managers back first (Test-SwarmQuorum lists them) or add a manager, then run the maintenance again; -Force goes ahead anyway.",
                };
            }
            WriteWarning(why + " Going ahead because of -Force: if the node goes down during the maintenance, the swarm cannot be managed until it is back.");
        }

        private async Task<List<TaskResponse>> TasksOnNodeAsync(SwarmContext ctx, string nodeId)
        {
            var filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["node"] = new Dictionary<string, bool> { [nodeId] = true },
                ["desired-state"] = new Dictionary<string, bool> { ["running"] = true },
            };
            var tasks = await CallAsync(ctx, $"GET /tasks?node={nodeId}", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = filters }, t));
            return tasks.Where(t => t.Status?.State != null && ActiveStates.Contains(t.Status.State.Value)).ToList();
        }

        /// <summary>
        /// Waits until each moved service runs, on other nodes, as many tasks as it ran before (at most its replicas and
        /// what MaxReplicas allows there). A service with no other eligible node is only warned about: its tasks stay
        /// pending until the node is back.
        /// </summary>
        private async Task WaitForTasksElsewhereAsync(SwarmContext ctx, string nodeId, string host, List<DockerService> affected, List<TaskResponse> moving, Dictionary<string, List<string>> runningBefore, int timeoutSec)
        {
            if (affected.Count == 0) return;
            var nodes = (await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t))).Select(ToSpreadNode).ToList();
            var targets = new Dictionary<string, (string Name, int Want)>(StringComparer.Ordinal);
            foreach (var s in affected)
            {
                var spread = ToSpreadService(s);
                var eligible = TaskSpread.EligibleNodes(nodes.Where(n => n.Id != nodeId), spread);
                string name = s.Spec?.Name ?? s.ID;
                if (eligible.Count == 0)
                {
                    WriteWarning($"Service {name} has no other node it may run on (constraints, platform or availability): its tasks stay pending until {host} is back.");
                    continue;
                }
                int before = moving.Count(t => t.ServiceID == s.ID) + (runningBefore.TryGetValue(s.ID, out var r) ? r.Count(n => n != nodeId) : 0);
                long capacity = spread.MaxReplicasPerNode > 0 ? (long)spread.MaxReplicasPerNode * eligible.Count : long.MaxValue;
                int want = (int)Math.Min(Math.Min((long)spread.Replicas, capacity), before);
                targets[s.ID] = (name, want);
            }
            if (targets.Count == 0) return;

            var progress = new ProgressRecord(Math.Abs(nodeId.GetHashCode() % 100000) + 3, $"Maintenance of {host}", "Waiting for the moved tasks to run elsewhere");
            var watch = Stopwatch.StartNew();
            try
            {
                while (true)
                {
                    var running = await RunningByServiceAsync(ctx);
                    var missing = targets.Where(kv => (running.TryGetValue(kv.Key, out var on) ? on.Count(n => n != nodeId) : 0) < kv.Value.Want)
                        .Select(kv => kv.Value.Name).ToList();
                    if (missing.Count == 0)
                    {
                        Verbose($"The tasks that ran on {host} run on other nodes now (after {watch.Elapsed.TotalSeconds:0.#} s).");
                        return;
                    }
                    if (watch.Elapsed.TotalSeconds >= Math.Max(1, timeoutSec))
                    {
                        throw new SwarmException(SwarmErrorId.DrainTimeout, ErrorCategory.OperationTimeout,
                            $"The tasks of {string.Join(", ", missing)} did not start on other nodes within {Math.Max(1, timeoutSec)} s, so the maintenance of {host} did not start; the node was put back.",
                            host)
                        { RecommendedAction = "Check 'Get-SwarmTask -Service <name>' for tasks that cannot start (resources, images), or give more time with -TimeoutSec." };
                    }
                    progress.StatusDescription = $"Waiting for {string.Join(", ", missing)} to run elsewhere";
                    progress.PercentComplete = Math.Max(0, Math.Min(100, 100 * (targets.Count - missing.Count) / targets.Count));
                    WriteProgress(progress);
                    await Task.Delay(1000, StopToken);
                }
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
        }

        private async Task<Dictionary<string, List<string>>> RunningByServiceAsync(SwarmContext ctx)
        {
            var filters = new Dictionary<string, IDictionary<string, bool>> { ["desired-state"] = new Dictionary<string, bool> { ["running"] = true } };
            var tasks = await CallAsync(ctx, "GET /tasks?desired-state=running", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = filters }, t));
            return tasks.Where(t => t.Status?.State == TaskState.Running && t.ServiceID != null)
                .GroupBy(t => t.ServiceID, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(t => t.NodeID).ToList(), StringComparer.Ordinal);
        }

        /// <summary>
        /// Puts the node back to <paramref name="availability"/> with its own deadline (so that it also happens after
        /// Ctrl+C); retries version conflicts. On failure, warns with the command that fixes it.
        /// </summary>
        private async Task<SwarmNodeAvailability> RestoreAsync(SwarmContext ctx, string nodeId, string host, string availability)
        {
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                try
                {
                    for (int attempt = 1; ; attempt++)
                    {
                        var current = await CallAsync(ctx, $"GET /nodes/{nodeId}", (c, t) => c.Swarm.InspectNodeAsync(nodeId, t), cts.Token, TimeSpan.FromSeconds(20));
                        if (string.Equals(current.Spec?.Availability, availability, StringComparison.OrdinalIgnoreCase))
                            return SwarmNode.From(current, ctx).Availability;
                        var spec = CopySpec(current);
                        spec.Availability = availability;
                        ulong version = current.Version?.Index ?? 0;
                        try
                        {
                            await CallAsync<bool>(ctx, $"POST /nodes/{nodeId}/update?version={version}",
                                async (c, t) => { await c.Swarm.UpdateNodeAsync(nodeId, version, spec, t); return true; }, cts.Token, TimeSpan.FromSeconds(20));
                            TryVerbose($"{host} is {availability} again.");
                            return (SwarmNodeAvailability)Enum.Parse(typeof(SwarmNodeAvailability), availability, true);
                        }
                        catch (DockerApiException ex) when (NodeLabels.IsVersionConflict(ex) && attempt < 5) { }
                    }
                }
                catch (Exception ex) when (!(ex is PipelineStoppedException))
                {
                    string why = SwarmErrors.Unwrap(ex) is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(ex).Message;
                    try
                    {
                        WriteError(SwarmErrors.Record(SwarmErrorId.EngineApiError, ErrorCategory.InvalidOperation,
                            $"{host} could not be set {availability} again after the maintenance ({why}). Run: Set-SwarmNodeAvailability -Name {host} -Availability {availability}", host, ex));
                    }
                    catch (PipelineStoppedException) { }
                    return SwarmNodeAvailability.Drain;
                }
            }
        }

        private void TryVerbose(string message)
        {
            try { Verbose(message); } catch (PipelineStoppedException) { }
        }
    }
}
