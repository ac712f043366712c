using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Docker.DotNet.Models;
using SwarmAdmin.Nodes;
using SwarmAdmin.Quorum;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Base of every SwarmAdmin cmdlet: runs async work on the pipeline thread (AsyncPump), cancels every remote
    /// call on Ctrl+C (StopProcessing), turns exceptions into ErrorRecords with stable ids, and writes messages
    /// that other threads produce only from the pipeline thread.
    /// </summary>
    public abstract class SwarmCmdlet : PSCmdlet, IOperationLog
    {
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly ConcurrentQueue<(int Kind, string Text)> _messages = new ConcurrentQueue<(int, string)>();
        private int _pipelineThread;

        /// <summary>Cancelled when the user presses Ctrl+C or the pipeline stops.</summary>
        protected CancellationToken StopToken => _stop.Token;

        protected override void StopProcessing()
        {
            try { _stop.Cancel(); } catch (ObjectDisposedException) { }
        }

        protected sealed override void BeginProcessing() => Run(BeginProcessingAsync, null);
        protected sealed override void ProcessRecord() => Run(ProcessRecordAsync, CurrentTarget);
        protected sealed override void EndProcessing()
        {
            try { Run(EndProcessingAsync, null); }
            finally { _stop.Dispose(); }
        }

        protected virtual Task BeginProcessingAsync() => Task.CompletedTask;
        protected virtual Task ProcessRecordAsync() => Task.CompletedTask;
        protected virtual Task EndProcessingAsync() => Task.CompletedTask;

        /// <summary>The object an unexpected error is reported against (the current pipeline item).</summary>
        protected virtual object CurrentTarget => null;

        private void Run(Func<Task> body, object target)
        {
            _pipelineThread = Thread.CurrentThread.ManagedThreadId;
            try
            {
                AsyncPump.Run(body, DrainMessages);
            }
            catch (PipelineStoppedException) { throw; }
            catch (TerminatingErrorException te)
            {
                DrainMessages();
                ThrowTerminatingError(te.Record);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException) && !(ex is ActionPreferenceStopException))
            {
                if (SwarmErrors.Unwrap(ex) is PipelineStoppedException || SwarmErrors.Unwrap(ex) is ActionPreferenceStopException) throw SwarmErrors.Unwrap(ex);
                DrainMessages();
                WriteError(SwarmErrors.ToRecord(ex, target));
            }
            finally
            {
                DrainMessages();
            }
        }

        private bool OnPipelineThread => Thread.CurrentThread.ManagedThreadId == _pipelineThread;

        private void DrainMessages()
        {
            if (!OnPipelineThread) return;
            while (_messages.TryDequeue(out var m))
            {
                switch (m.Kind)
                {
                    case 0: WriteVerbose(m.Text); break;
                    case 1: WriteDebug(m.Text); break;
                    default: WriteWarning(m.Text); break;
                }
            }
        }

        private void Log(int kind, string text)
        {
            if (OnPipelineThread)
            {
                DrainMessages();
                switch (kind)
                {
                    case 0: WriteVerbose(text); break;
                    case 1: WriteDebug(text); break;
                    default: WriteWarning(text); break;
                }
            }
            else
            {
                _messages.Enqueue((kind, text));
            }
        }

        void IOperationLog.Verbose(string message) => Log(0, message);
        void IOperationLog.Debug(string message) => Log(1, message);
        void IOperationLog.Warning(string message) => Log(2, message);

        protected void Verbose(string message) => Log(0, message);

        protected sealed class NestedResult
        {
            public List<PSObject> Output = new List<PSObject>();
            public List<ErrorRecord> Errors = new List<ErrorRecord>();
        }

        /// <summary>Runs our own cmdlets (New-SwarmVm, Initialize-Swarm, Join-SwarmNode...) on the pipeline thread; their
        /// progress and verbose output reach the host, their errors are collected per step.</summary>
        protected NestedResult Nested(string script, params object[] args)
        {
            var result = new NestedResult();
            // errors of the nested cmdlets are collected (stream 2 merged), never lost, and a terminating one is caught too
            var wrapped = ScriptBlock.Create(@"param($__s, $__a)
$__all = @(); $__err = @()
try { $__all = @(& ([scriptblock]::Create($__s)) @__a 2>&1) } catch { $__err += $_ }
[pscustomobject]@{ Output = @($__all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }); Errors = @($__all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }) + $__err }");
            foreach (var o in InvokeCommand.InvokeScript(false, wrapped, null, script, args))
            {
                if (o?.Properties["Output"]?.Value is System.Collections.IEnumerable outs)
                    foreach (var x in outs) if (x != null) result.Output.Add(x as PSObject ?? new PSObject(x));
                if (o?.Properties["Errors"]?.Value is System.Collections.IEnumerable errs)
                    foreach (var e in errs) if (e is ErrorRecord er) result.Errors.Add(er); else if (e is PSObject pe && pe.BaseObject is ErrorRecord per) result.Errors.Add(per);
            }
            foreach (var e in result.Errors) Verbose($"  {e.Exception?.Message}");
            return result;
        }

        /// <summary>Thrown from async code to end the whole command with this record (raised on the pipeline thread).</summary>
        protected sealed class TerminatingErrorException : Exception
        {
            public TerminatingErrorException(ErrorRecord record) : base(record.Exception?.Message, record.Exception) { Record = record; }
            public ErrorRecord Record { get; }
        }

        protected void WriteErrorFor(Exception ex, object target)
        {
            if (SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested) throw new PipelineStoppedException();
            WriteError(SwarmErrors.ToRecord(ex, target));
        }
    }

    /// <summary>A cmdlet that talks to a swarm through a context (the -Context parameter or the session default).</summary>
    public abstract class SwarmContextCmdlet : SwarmCmdlet
    {
        /// <summary>The swarm to use; defaults to the last Connect-SwarmCluster of this session.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNull]
        public SwarmContext Context { get; set; }

        protected SwarmContext ResolveContext()
        {
            SwarmContext ctx = Context ?? SwarmContext.Default;
            if (ctx == null)
            {
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.NotConnected, ErrorCategory.ConnectionError,
                    "No swarm is connected in this session. Run Connect-SwarmCluster -Endpoint ssh://user@manager first, or pass -Context.", null));
            }
            return ctx;
        }

        /// <summary>One engine API call through the context, with its timeout and manager fail-over.</summary>
        protected Task<T> CallAsync<T>(SwarmContext ctx, string operation, Func<DockerClient, CancellationToken, Task<T>> call, bool retryOnOtherManager = true)
            => ctx.InvokeAsync(operation, call, this, StopToken, retryOnOtherManager);

        /// <summary>The same with an explicit deadline token and per-call timeout (for cmdlets that promise to answer in bounded time).</summary>
        protected Task<T> CallAsync<T>(SwarmContext ctx, string operation, Func<DockerClient, CancellationToken, Task<T>> call, CancellationToken deadline, TimeSpan timeout)
            => ctx.InvokeAsync(operation, call, this, deadline, true, timeout);

        protected static string Describe(NodeListResponse n) => $"{n.Description?.Hostname} ({n.ID})";

        /// <summary>
        /// Sends a node spec change with the node's version index; when someone else changed the node meanwhile
        /// ("update out of sequence"), reads it again and re-applies <paramref name="mutate"/>, up to 5 times.
        /// <paramref name="mutate"/> returns null when nothing needs to change (then nothing is sent).
        /// </summary>
        protected async Task<(NodeListResponse Node, bool Changed)> UpdateNodeAsync(SwarmContext ctx, NodeListResponse node, Func<NodeListResponse, NodeUpdateParameters> mutate)
        {
            const int attempts = 5;
            for (int attempt = 1; ; attempt++)
            {
                NodeUpdateParameters spec = mutate(node);
                if (spec == null) return (node, false);
                ulong version = node.Version?.Index ?? 0;
                try
                {
                    await CallAsync<bool>(ctx, $"POST /nodes/{node.ID}/update?version={version}",
                        async (c, t) => { await c.Swarm.UpdateNodeAsync(node.ID, version, spec, t); return true; }, retryOnOtherManager: false);
                }
                catch (DockerApiException ex) when (NodeLabels.IsVersionConflict(ex) && attempt < attempts)
                {
                    Verbose($"{Describe(node)} changed while we updated it (version {version} is stale); reading it again (attempt {attempt + 1} of {attempts}).");
                    node = await CallAsync(ctx, $"GET /nodes/{node.ID}", (c, t) => c.Swarm.InspectNodeAsync(node.ID, t));
                    continue;
                }
                node = await CallAsync(ctx, $"GET /nodes/{node.ID}", (c, t) => c.Swarm.InspectNodeAsync(node.ID, t));
                return (node, true);
            }
        }

        internal static NodeUpdateParameters CopySpec(NodeListResponse node) => new NodeUpdateParameters
        {
            Name = node.Spec?.Name,
            Role = node.Spec?.Role,
            Availability = node.Spec?.Availability,
            Labels = new Dictionary<string, string>(node.Spec?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
        };
        private static readonly HashSet<TaskState> ActiveTaskStates = new HashSet<TaskState>
        {
            TaskState.Assigned, TaskState.Accepted, TaskState.Preparing, TaskState.Ready, TaskState.Starting, TaskState.Running
        };

        /// <summary>Returns when no task of a replicated service still runs on the node (progress meanwhile); SwarmNodeDrainTimeout after <paramref name="timeoutSec"/>.</summary>
        protected async Task WaitForDrainAsync(SwarmContext ctx, NodeListResponse node, int timeoutSec)
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
                    var running = tasks.Where(t => t.Status?.State != null && ActiveTaskStates.Contains(t.Status.State.Value)).ToList();
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
                    if (watch.Elapsed.TotalSeconds >= timeoutSec)
                    {
                        string names = string.Join(", ", blocking.Select(t => serviceNames.TryGetValue(t.ServiceID ?? "", out var i) ? $"{i.Name}.{t.Slot}" : t.ID).Distinct());
                        throw new SwarmException(SwarmErrorId.DrainTimeout, ErrorCategory.OperationTimeout,
                            $"{host} still runs {blocking.Count} task(s) of replicated services after {timeoutSec} s: {names}. They may have nowhere else to go (placement constraints, resources).",
                            SwarmNode.From(node, ctx))
                        { RecommendedAction = "Check 'docker service ps' of those services for 'no suitable node', or wait longer with a larger -timeoutSec." };
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

        /// <summary>Polls the node through the manager until <paramref name="done"/> holds; OperationTimeout error after <paramref name="timeout"/>.</summary>
        protected async Task<NodeListResponse> WaitForNodeAsync(SwarmContext ctx, string id, Func<NodeListResponse, bool> done, TimeSpan timeout, string what)
        {
            var watch = Stopwatch.StartNew();
            while (true)
            {
                var node = await CallAsync(ctx, $"GET /nodes/{id}", (c, t) => c.Swarm.InspectNodeAsync(id, t));
                if (done(node)) return node;
                if (watch.Elapsed >= timeout)
                {
                    throw new SwarmException(SwarmErrorId.Timeout, ErrorCategory.OperationTimeout,
                        $"{Describe(node)} did not {what} within {timeout.TotalSeconds:0} s (state {node.Status?.State}, availability {node.Spec?.Availability}, manager status {node.ManagerStatus?.Reachability ?? "none"}).",
                        SwarmNode.From(node, ctx));
                }
                await Task.Delay(500, StopToken);
            }
        }

        /// <summary>
        /// Refuses (QuorumGuard) to take <paramref name="manager"/> out of the raft group when that would lose quorum,
        /// unless <paramref name="force"/>; then it only warns.
        /// </summary>
        protected async Task EnsureQuorumAllowsRemovalAsync(SwarmContext ctx, NodeListResponse manager, bool force, string action)
        {
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var managers = nodes.Where(n => n.ManagerStatus != null || string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase)).ToList();
            int reachable = managers.Count(n => n.IsReachableManager());
            int unreachable = managers.Count - reachable;
            var me = managers.FirstOrDefault(m => m.ID == manager.ID);
            bool memberReachable = me.IsReachableManager();
            if (!QuorumAnalyzer.RemovalLosesQuorum(reachable, unreachable, memberReachable)) return;
            string why = memberReachable
                ? $"{action} {Describe(manager)} risks the swarm's quorum: {reachable} of {managers.Count} managers are reachable, and the engine's rule refuses to take a reachable manager out when reachable - 2 <= unreachable ({reachable} - 2 <= {unreachable})."
                : $"{action} {Describe(manager)} would leave {reachable} reachable of {managers.Count - 1} managers, which is not a majority: the swarm would lose quorum.";
            if (!force)
            {
                throw new SwarmException(SwarmErrorId.QuorumGuard, ErrorCategory.InvalidOperation, why + " Nothing was changed.", SwarmNode.From(manager, ctx))
                {
                    RecommendedAction = "Bring the unreachable managers back first (Test-SwarmQuorum lists them), or add a manager; -Force does it anyway."
                };
            }
            ((IOperationLog)this).Warning(why + " Going ahead because of -Force.");
        }
    }
}
