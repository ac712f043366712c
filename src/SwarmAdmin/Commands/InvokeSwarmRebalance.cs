using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Maintenance;
using SwarmAdmin.Nodes;
using SwarmAdmin.Stacks;
using DockerService = Docker.DotNet.Models.SwarmService;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// The rebalance logic shared by Invoke-SwarmRebalance and Invoke-SwarmNodeMaintenance -Rebalance: judge the spread
    /// of replicated services over their eligible nodes (TaskSpread), force-update the skewed ones, optionally wait.
    /// </summary>
    public abstract class SwarmRebalanceCmdletBase : SwarmContextCmdlet
    {
        private sealed class Examined
        {
            public DockerService Service;
            public SpreadService Spread;
            public SpreadReport Report;
            public SwarmRebalanceResult Result;
        }

        internal static bool IsReplicated(DockerService s)
        {
            var mode = s.Spec?.Mode;
            return mode?.Global == null && mode?.ReplicatedJob == null && mode?.GlobalJob == null;
        }

        internal static string ModeName(DockerService s)
        {
            var mode = s.Spec?.Mode;
            return mode?.Global != null ? "global" : mode?.ReplicatedJob != null ? "replicated-job" : mode?.GlobalJob != null ? "global-job" : "replicated";
        }

        internal static SpreadNode ToSpreadNode(NodeListResponse n) => new SpreadNode
        {
            Placement = new PlacementNode
            {
                Id = n.ID,
                Hostname = n.Description?.Hostname,
                Role = n.Spec?.Role,
                Os = n.Description?.Platform?.OS,
                Arch = n.Description?.Platform?.Architecture,
                Address = n.Status?.Addr,
                NodeLabels = new Dictionary<string, string>(n.Spec?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
                EngineLabels = new Dictionary<string, string>(n.Description?.Engine?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
            },
            Ready = string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase),
            Active = string.Equals(n.Spec?.Availability ?? "active", "active", StringComparison.OrdinalIgnoreCase),
        };

        internal static SpreadService ToSpreadService(DockerService s)
        {
            var placement = s.Spec?.TaskTemplate?.Placement;
            return new SpreadService
            {
                Constraints = placement?.Constraints?.ToList() ?? new List<string>(),
                Platforms = (placement?.Platforms ?? new List<SwarmPlatform>()).Select(p => (p.OS, p.Architecture)).ToList(),
                MaxReplicasPerNode = placement?.MaxReplicas ?? 0,
                Replicas = s.Spec?.Mode?.Replicated?.Replicas ?? 1,
            };
        }

        private static IDictionary<string, IDictionary<string, bool>> RunningFilter() =>
            new Dictionary<string, IDictionary<string, bool>> { ["desired-state"] = new Dictionary<string, bool> { ["running"] = true } };

        /// <summary>Running tasks (desired and actual state running) grouped by service ID.</summary>
        private async Task<Dictionary<string, List<string>>> RunningTaskNodesAsync(SwarmContext ctx)
        {
            var tasks = await CallAsync(ctx, "GET /tasks?desired-state=running", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = RunningFilter() }, t));
            return tasks.Where(t => t.Status?.State == TaskState.Running && t.DesiredState == TaskState.Running && t.ServiceID != null)
                .GroupBy(t => t.ServiceID, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(t => t.NodeID).ToList(), StringComparer.Ordinal);
        }

        /// <summary>
        /// Examines the replicated services among <paramref name="services"/>, force-updates the skewed ones (asking
        /// ShouldProcess when <paramref name="confirm"/>), and with <paramref name="wait"/> waits for them to converge.
        /// Returns one result per examined service (in name order); failures are also written as error records.
        /// </summary>
        internal async Task<List<SwarmRebalanceResult>> RebalanceAsync(SwarmContext ctx, IList<DockerService> services, bool confirm, bool wait, int timeoutSec)
        {
            var nodes = (await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t))).Select(ToSpreadNode).ToList();
            var running = await RunningTaskNodesAsync(ctx);
            var examined = new List<Examined>();
            foreach (var s in services.OrderBy(s => s.Spec?.Name, StringComparer.Ordinal))
            {
                var spread = ToSpreadService(s);
                running.TryGetValue(s.ID, out var onNodes);
                var report = TaskSpread.Evaluate(nodes, spread, onNodes ?? new List<string>());
                var labels = s.Spec?.Labels ?? new Dictionary<string, string>();
                var result = new SwarmRebalanceResult
                {
                    Service = s.Spec?.Name ?? s.ID,
                    ServiceId = s.ID,
                    Stack = labels.TryGetValue(SwarmService.StackLabel, out string st) ? st : null,
                    Replicas = spread.Replicas,
                    Before = report.Distribution,
                    Skew = report.Skew,
                    Reason = report.Reason,
                    EligibleNodes = report.Eligible.Select(kv => kv.Key).ToArray(),
                    Action = report.IsSkewed ? SwarmRebalanceAction.WouldRebalance : SwarmRebalanceAction.Balanced,
                    Context = ctx,
                };
                string update = s.UpdateStatus?.State;
                if (update == "updating" || update == "rollback_started")
                {
                    result.Action = SwarmRebalanceAction.Skipped;
                    result.Reason = $"an update is in progress ({update}); run it again when it has finished";
                }
                Verbose($"Service {result.Service}: {report.Running} running task(s) of {spread.Replicas}, {report.Distribution}, skew {report.Skew}" +
                        (report.IsSkewed ? $": skewed ({report.Reason})." : ": balanced."));
                examined.Add(new Examined { Service = s, Spread = spread, Report = report, Result = result });
            }

            var sent = new List<Examined>();
            foreach (var e in examined.Where(x => x.Result.Action == SwarmRebalanceAction.WouldRebalance))
            {
                if (confirm && !ShouldProcess(e.Result.Service, $"Force update to rebalance its tasks ({e.Report.Distribution}; {e.Report.Reason})")) continue;
                try
                {
                    await ForceUpdateAsync(ctx, e.Service.ID, e.Result.Service);
                    e.Result.Action = SwarmRebalanceAction.Rebalanced;
                    sent.Add(e);
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    e.Result.Action = SwarmRebalanceAction.Failed;
                    e.Result.Reason = SwarmErrors.Unwrap(ex) is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(ex).Message;
                    WriteErrorFor(ex, e.Result.Service);
                }
            }

            if (wait && sent.Count > 0) await WaitForRebalanceAsync(ctx, sent, timeoutSec);
            return examined.Select(e => e.Result).ToList();
        }

        /// <summary>
        /// docker service update --force: the live spec with TaskTemplate.ForceUpdate + 1, sent with the service's
        /// version and no registry credentials (the engine keeps the ones in the spec); re-read on a version conflict.
        /// </summary>
        private async Task ForceUpdateAsync(SwarmContext ctx, string id, string name)
        {
            const int attempts = 4;
            for (int attempt = 1; ; attempt++)
            {
                var live = await CallAsync(ctx, $"GET /services/{id}", (c, t) => c.Swarm.InspectServiceAsync(id, t));
                var spec = live.Spec;
                if (spec.TaskTemplate == null) spec.TaskTemplate = new TaskSpec();
                spec.TaskTemplate.ForceUpdate = spec.TaskTemplate.ForceUpdate + 1;
                long version = (long)(live.Version?.Index ?? 0);
                Verbose($"Force-updating service {name} (version {version}, ForceUpdate {spec.TaskTemplate.ForceUpdate}) so the scheduler spreads its tasks again.");
                try
                {
                    var r = await CallAsync(ctx, $"POST /services/{id}/update?version={version}", (c, t) => c.Swarm.UpdateServiceAsync(id, new ServiceUpdateParameters
                    {
                        Service = spec, Version = version,
                    }, t), retryOnOtherManager: false);
                    foreach (string w in r?.Warnings ?? new List<string>()) ((IOperationLog)this).Warning($"service {name}: {w}");
                    return;
                }
                catch (DockerApiException ex) when (NodeLabels.IsVersionConflict(ex) && attempt < attempts)
                {
                    Verbose($"Service {name} changed while we updated it (version {version} is stale); reading it again.");
                }
            }
        }

        private async Task WaitForRebalanceAsync(SwarmContext ctx, List<Examined> sent, int timeoutSec)
        {
            var progress = new ProgressRecord(Math.Abs(GetHashCode() % 100000) + 7, "Rebalancing services", "Waiting for the forced updates to converge");
            var watch = Stopwatch.StartNew();
            var pending = new List<Examined>(sent);
            try
            {
                while (pending.Count > 0)
                {
                    foreach (var e in pending.ToList())
                    {
                        var svc = await CallAsync(ctx, $"GET /services/{e.Service.ID}", (c, t) => c.Swarm.InspectServiceAsync(e.Service.ID, t));
                        var filters = new Dictionary<string, IDictionary<string, bool>>
                        {
                            ["service"] = new Dictionary<string, bool> { [e.Service.ID] = true },
                            ["_up-to-date"] = new Dictionary<string, bool> { ["true"] = true },
                        };
                        var tasks = await CallAsync(ctx, $"GET /tasks?service={e.Service.ID}", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = filters }, t));
                        var (converged, run, desired) = StackConvergence.Evaluate(svc, tasks);
                        string update = svc.UpdateStatus?.State;
                        if (update == "paused" || update == "rollback_paused" || update == "rollback_completed" || update == "rollback_started")
                        {
                            Fail(e, $"the forced update ended {update}: {svc.UpdateStatus?.Message}");
                            pending.Remove(e);
                            continue;
                        }
                        if (converged && update != "updating")
                        {
                            Verbose($"Service {e.Result.Service} converged: {run} of {desired} task(s) running.");
                            pending.Remove(e);
                        }
                    }
                    if (pending.Count == 0) break;
                    if (watch.Elapsed.TotalSeconds >= timeoutSec)
                    {
                        foreach (var e in pending) Fail(e, $"the forced update did not converge within {timeoutSec} s");
                        break;
                    }
                    progress.StatusDescription = $"{sent.Count - pending.Count} of {sent.Count} service(s) converged; waiting for {string.Join(", ", pending.Select(p => p.Result.Service))}";
                    progress.PercentComplete = 100 * (sent.Count - pending.Count) / sent.Count;
                    WriteProgress(progress);
                    await Task.Delay(1000, StopToken);
                }
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }

            // the distribution now
            var nodes = (await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t))).Select(ToSpreadNode).ToList();
            var running = await RunningTaskNodesAsync(ctx);
            foreach (var e in sent)
            {
                running.TryGetValue(e.Service.ID, out var onNodes);
                var after = TaskSpread.Evaluate(nodes, e.Spread, onNodes ?? new List<string>());
                e.Result.After = after.Distribution;
                e.Result.SkewAfter = after.Skew;
                if (e.Result.Action == SwarmRebalanceAction.Rebalanced && after.IsSkewed)
                    ((IOperationLog)this).Warning($"Service {e.Result.Service} is still skewed after its forced update ({after.Distribution}; {after.Reason}): the scheduler may lack resources on some nodes, or the service has placement preferences.");
            }
        }

        private void Fail(Examined e, string why)
        {
            e.Result.Action = SwarmRebalanceAction.Failed;
            e.Result.Reason = why;
            WriteError(SwarmErrors.Record(SwarmErrorId.RebalanceFailed, ErrorCategory.OperationTimeout,
                $"Rebalancing service {e.Result.Service}: {why}. Check 'Get-SwarmTask -Service {e.Result.Service}' for tasks that cannot start, or wait longer with a larger -TimeoutSec.",
                e.Result.Service));
        }
    }

    /// <summary>Invoke-SwarmRebalance: force-updates the replicated services whose running tasks are skewed across their eligible nodes.</summary>
    [Cmdlet(VerbsLifecycle.Invoke, "SwarmRebalance", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = FilterSet)]
    [OutputType(typeof(SwarmRebalanceResult))]
    public sealed class InvokeSwarmRebalanceCommand : SwarmRebalanceCmdletBase
    {
        private const string FilterSet = "Filter";
        private const string PipelineSet = "Pipeline";

        /// <summary>Only the services of these stacks; wildcards allowed.</summary>
        [Parameter(ParameterSetName = FilterSet)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string[] Stack { get; set; }

        /// <summary>Service names (with the stack prefix) or IDs; wildcards allowed. Default: every replicated service.</summary>
        [Parameter(ParameterSetName = FilterSet, Position = 0)]
        [Alias("Name")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmServiceNameCompleter))]
        public string[] Service { get; set; }

        /// <summary>Services from Get-SwarmService.</summary>
        [Parameter(ParameterSetName = PipelineSet, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public SwarmService[] InputObject { get; set; }

        /// <summary>Wait until the forced updates converged and report the distribution after.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>Seconds -Wait may take before a service counts as Failed.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 300;

        private readonly List<string> _pipedIds = new List<string>();
        private SwarmContext _pipedContext;

        protected override object CurrentTarget => (object)InputObject ?? (object)Service ?? Stack;

        protected override Task ProcessRecordAsync()
        {
            if (ParameterSetName == PipelineSet)
            {
                foreach (var s in InputObject)
                {
                    if (s == null) continue;
                    _pipedIds.Add(s.Id);
                    if (_pipedContext == null) _pipedContext = s.Context;
                }
            }
            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync()
        {
            if (ParameterSetName == PipelineSet && _pipedIds.Count == 0) return;
            SwarmContext ctx = Context ?? _pipedContext ?? ResolveContext();
            var all = (await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t)))
                .OrderBy(s => s.Spec?.Name, StringComparer.Ordinal).ToList();

            List<DockerService> selected;
            var explicitIds = new HashSet<string>(StringComparer.Ordinal);
            if (ParameterSetName == PipelineSet)
            {
                selected = new List<DockerService>();
                foreach (string id in _pipedIds.Distinct(StringComparer.Ordinal))
                {
                    var s = all.FirstOrDefault(x => x.ID == id);
                    if (s == null) { WriteError(StackErrors.NotFound("service", id)); continue; }
                    selected.Add(s);
                    explicitIds.Add(s.ID);
                }
            }
            else
            {
                IEnumerable<DockerService> candidates = all;
                if (Stack != null)
                {
                    var stackNames = all.Select(StackOf).Where(n => n != null).Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal).ToList();
                    var wanted = new HashSet<string>(NameFilter.Filter(stackNames, n => n, Stack, n => WriteError(StackErrors.NotFound("stack", n))), StringComparer.Ordinal);
                    candidates = candidates.Where(s => StackOf(s) != null && wanted.Contains(StackOf(s)));
                }
                var matches = NameFilter.Matches(candidates.ToList(), s => s.Spec?.Name, Service, n => WriteError(StackErrors.NotFound("service", n)), s => s.ID).ToList();
                selected = matches.Select(m => m.Item).ToList();
                foreach (var m in matches.Where(m => m.Pattern != null && !WildcardPattern.ContainsWildcardCharacters(m.Pattern))) explicitIds.Add(m.Item.ID);
            }

            var replicated = new List<DockerService>();
            foreach (var s in selected)
            {
                if (IsReplicated(s)) { replicated.Add(s); continue; }
                string msg = $"Service {s.Spec?.Name} is {ModeName(s)}: only replicated services are rebalanced; it is left alone.";
                if (explicitIds.Contains(s.ID)) WriteWarning(msg); else Verbose(msg);
            }
            if (replicated.Count == 0)
            {
                Verbose("No replicated service to examine.");
                return;
            }
            var results = await RebalanceAsync(ctx, replicated, confirm: true, wait: Wait, timeoutSec: TimeoutSec);
            WriteObject(results, true);
        }

        private static string StackOf(DockerService s)
            => s.Spec?.Labels != null && s.Spec.Labels.TryGetValue(SwarmService.StackLabel, out string st) ? st : null;
    }
}
