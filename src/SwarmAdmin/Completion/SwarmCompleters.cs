using System;
using System.Collections;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Commands;
using SwarmAdmin.Connection;
using SwarmAdmin.Proxmox;
using SwarmAdmin.Secrets;

namespace SwarmAdmin.Completion
{
    /// <summary>
    /// Base of the SwarmAdmin argument completers. They use the connection the cmdlet would use (-Context or
    /// -Connection when typed with a value, else the session default), never open one and never prompt; the whole
    /// completion returns within <see cref="Budget"/>: the remote call is cancelled there and then nothing is offered.
    /// Every failure means "no completions": nothing is thrown and nothing is written to any stream.
    /// </summary>
    public abstract class SwarmCompleterBase : IArgumentCompleter
    {
        /// <summary>The longest a completion may take, remote call included.</summary>
        internal static TimeSpan Budget = TimeSpan.FromSeconds(2);   // not readonly: tests on a loaded machine widen it
        /// <summary>
        /// Kept back from the budget for PowerShell's own completion work around the completer (parsing, command
        /// lookup: about 200 ms on the first Tab of a session) and for the matching after the remote call.
        /// </summary>
        private static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(500);

        private static readonly CompletionResult[] None = new CompletionResult[0];

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            try
            {
                var clock = Stopwatch.StartNew();
                var request = new CompletionRequest(commandName, parameterName, commandAst, fakeBoundParameters, clock);
                IEnumerable<CompletionCandidate> candidates = GetCandidates(request);
                if (candidates == null) return None;
                return CompletionMatcher.Match(candidates, wordToComplete)
                    .Select(i => new CompletionResult(i.CompletionText, i.ListItemText, CompletionResultType.ParameterValue, i.ToolTip))
                    .ToList();
            }
            catch
            {
                // a completer never fails: no completions instead
                return None;
            }
        }

        /// <summary>The names to offer, or null for none (no connection, no answer within the budget).</summary>
        internal abstract IEnumerable<CompletionCandidate> GetCandidates(CompletionRequest request);

        /// <summary>
        /// The cached value of <paramref name="kind"/> for <paramref name="owner"/> (a context or connection), else
        /// <paramref name="load"/> run on the thread pool with a token cancelled when the budget runs out; null when it
        /// fails or does not finish in time (it is then cancelled and its outcome ignored).
        /// </summary>
        internal static T Fetch<T>(object owner, string kind, CompletionRequest request, Func<CancellationToken, Task<T>> load) where T : class
        {
            // a value, or a failure remembered for the cache's lifetime (so a hung connection costs one budget per
            // few seconds, not one per Tab, and Tab presses do not pile up requests that all wait on it)
            if (CompletionCache.TryGet(owner, kind, out object cached)) return cached as T;
            TimeSpan remaining = Budget - Margin - request.Clock.Elapsed;
            if (remaining <= TimeSpan.Zero) return null;
            var cts = new CancellationTokenSource(remaining);
            Task<T> task = Task.Run(() => load(cts.Token));
            bool finished;
            try { finished = task.Wait(remaining); }
            catch (AggregateException) { finished = true; }
            if (finished && task.Status == System.Threading.Tasks.TaskStatus.RanToCompletion && task.Result != null)
            {
                cts.Dispose();
                CompletionCache.Set(owner, kind, task.Result);
                return task.Result;
            }
            CompletionCache.Set(owner, kind, CompletionCache.Failed);
            // Cancel runs the token's callbacks synchronously (closing an SSH channel may wait for the server): never
            // on the pipeline thread. The timer of the token cancels it at the same moment anyway.
            ThreadPool.QueueUserWorkItem(_ => { try { cts.Cancel(); } catch (ObjectDisposedException) { } });
            task.ContinueWith(t =>
            {
                // an answer that came late is still good for the next Tab
                if (t.Status == System.Threading.Tasks.TaskStatus.RanToCompletion && t.Result != null) CompletionCache.Set(owner, kind, t.Result);
                else _ = t.Exception;
                cts.Dispose();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return null;
        }

        /// <summary>The swarm the cmdlet would talk to, if it is connected right now; null otherwise.</summary>
        internal static SwarmContext ResolveSwarm(CompletionRequest request)
        {
            SwarmContext ctx;
            if (request.TryGetBound("Context", out object value)) ctx = value as SwarmContext; // typed but not a context (yet): none
            else ctx = SwarmContext.Default;
            return ctx?.ActiveConnection != null ? ctx : null;
        }

        /// <summary>The Proxmox connection the cmdlet would use, if it has a live client; null otherwise.</summary>
        internal static SwarmProxmoxConnection ResolveProxmox(CompletionRequest request)
        {
            SwarmProxmoxConnection c;
            if (request.TryGetBound("Connection", out object value)) c = value as SwarmProxmoxConnection;
            else c = SwarmProxmoxConnection.Default;
            return c?.Client != null ? c : null;
        }

        /// <summary>One engine API call on the swarm's current connection (no reconnect, no fail-over).</summary>
        internal static Task<T> OnActive<T>(SwarmContext ctx, Func<Docker.DotNet.DockerClient, CancellationToken, Task<T>> call, CancellationToken ct)
        {
            var conn = ctx.ActiveConnection;
            if (conn == null) throw new OperationCanceledException("The context is not connected.");
            return call(conn.Client, ct);
        }

        /// <summary>The services of the swarm (with task counts), shared by the stack and service completers.</summary>
        internal static IList<SwarmService> Services(SwarmContext ctx, CompletionRequest request) =>
            Fetch<IList<SwarmService>>(ctx, "services", request, async ct =>
            {
                var list = await OnActive(ctx, (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters { Status = true }, t), ct).ConfigureAwait(false);
                return list.Select(s => SwarmService.From(s, null)).ToList();
            });
    }

    /// <summary>What a completer is asked: the command, the parameter and what is already typed.</summary>
    internal sealed class CompletionRequest
    {
        private readonly IDictionary _bound;
        private readonly CommandAst _ast;

        public CompletionRequest(string commandName, string parameterName, CommandAst ast, IDictionary bound, Stopwatch clock)
        {
            CommandName = commandName ?? string.Empty; ParameterName = parameterName; _ast = ast; _bound = bound; Clock = clock;
        }

        public string CommandName { get; }

        /// <summary>
        /// The cmdlet's name: <see cref="CommandName"/>, or, when that is an alias, the command it stands for (a
        /// completer that serves several cmdlets tells them apart by name).
        /// </summary>
        public string ResolvedCommandName
        {
            get
            {
                if (_resolved != null) return _resolved;
                string name = CommandName;
                if (name.IndexOf("-Swarm", StringComparison.OrdinalIgnoreCase) < 0)
                {
                    try
                    {
                        // completers run on the thread of the runspace that completes: its session state is ours to read
                        CommandInfo info = System.Management.Automation.Runspaces.Runspace.DefaultRunspace?.SessionStateProxy.InvokeCommand.GetCommand(name, CommandTypes.Alias);
                        if (info is AliasInfo alias && alias.ResolvedCommand != null) name = alias.ResolvedCommand.Name;
                    }
                    catch (Exception)
                    {
                        // not resolvable: the name as typed
                    }
                }
                return _resolved = name;
            }
        }

        private string _resolved;
        public string ParameterName { get; }
        public Stopwatch Clock { get; }

        /// <summary>
        /// Whether the parameter was typed; <paramref name="value"/> is its value when PowerShell could evaluate it
        /// without running anything (a variable, a constant), else null.
        /// </summary>
        public bool TryGetBound(string parameter, out object value)
        {
            value = null;
            if (_bound != null)
            {
                foreach (DictionaryEntry e in _bound)
                {
                    if (string.Equals(e.Key as string, parameter, StringComparison.OrdinalIgnoreCase))
                    {
                        value = e.Value is PSObject p ? p.BaseObject : e.Value;
                        return true;
                    }
                }
            }
            return _ast != null && _ast.CommandElements.OfType<CommandParameterAst>().Any(p => string.Equals(p.ParameterName, parameter, StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The string values typed for a parameter (e.g. -Stack web,api), or null.</summary>
        public string[] BoundStrings(string parameter)
        {
            if (!TryGetBound(parameter, out object value) || value == null) return null;
            if (value is string s) return new[] { s };
            if (value is IEnumerable e) return e.Cast<object>().Select(o => (o is PSObject p ? p.BaseObject : o) as string).Where(x => !string.IsNullOrEmpty(x)).ToArray();
            return null;
        }
    }

    /// <summary>A few seconds of memory per connection and kind, so that repeated Tab presses answer at once.</summary>
    internal static class CompletionCache
    {
        internal static TimeSpan Ttl = TimeSpan.FromSeconds(5);

        /// <summary>Stands for "the last call failed or timed out": no completions until it expires.</summary>
        internal static readonly object Failed = new object();

        private sealed class Entry
        {
            public Entry(object value) { Value = value; At = Stopwatch.StartNew(); }
            public object Value { get; }
            public Stopwatch At { get; }
        }

        private static readonly ConditionalWeakTable<object, ConcurrentDictionary<string, Entry>> Table = new ConditionalWeakTable<object, ConcurrentDictionary<string, Entry>>();

        public static bool TryGet(object owner, string kind, out object value)
        {
            value = null;
            if (Table.TryGetValue(owner, out var byKind) && byKind.TryGetValue(kind, out Entry e))
            {
                if (e.At.Elapsed < Ttl) { value = e.Value; return true; }
                byKind.TryRemove(kind, out _);
            }
            return false;
        }

        public static void Set(object owner, string kind, object value) =>
            Table.GetValue(owner, _ => new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal))[kind] = new Entry(value);
    }

    /// <summary>Hostnames of the swarm's nodes (tooltip: role, leader, state, availability, address).</summary>
    public sealed class SwarmNodeNameCompleter : SwarmCompleterBase
    {
        internal override IEnumerable<CompletionCandidate> GetCandidates(CompletionRequest request)
        {
            SwarmContext ctx = ResolveSwarm(request);
            if (ctx == null) return null;
            return Fetch<IList<CompletionCandidate>>(ctx, "nodes", request, async ct =>
            {
                var nodes = await OnActive(ctx, (c, t) => c.Swarm.ListNodesAsync(t), ct).ConfigureAwait(false);
                return nodes.Where(n => !string.IsNullOrEmpty(n.Description?.Hostname)).Select(n => new CompletionCandidate(n.Description.Hostname, ToolTip(n))).ToList();
            });
        }

        internal static string ToolTip(NodeListResponse n)
        {
            string role = string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase) ? "manager" : "worker";
            if (n.ManagerStatus?.Leader == true) role += " (leader)";
            else if (n.ManagerStatus != null && !string.IsNullOrEmpty(n.ManagerStatus.Reachability)) role += $" ({n.ManagerStatus.Reachability})";
            var parts = new List<string> { role, n.Status?.State ?? "unknown", n.Spec?.Availability ?? "unknown" };
            if (!string.IsNullOrEmpty(n.Status?.Addr)) parts.Add(n.Status.Addr);
            return $"{n.Description?.Hostname}: {string.Join(", ", parts)}";
        }
    }

    /// <summary>Names of the stacks (services labelled com.docker.stack.namespace); tooltip: their services.</summary>
    public sealed class SwarmStackNameCompleter : SwarmCompleterBase
    {
        internal override IEnumerable<CompletionCandidate> GetCandidates(CompletionRequest request)
        {
            SwarmContext ctx = ResolveSwarm(request);
            if (ctx == null) return null;
            var services = Services(ctx, request);
            return services?.Where(s => !string.IsNullOrEmpty(s.Stack)).GroupBy(s => s.Stack, StringComparer.Ordinal)
                .Select(g =>
                {
                    var names = g.Select(s => s.Name).OrderBy(x => x, StringComparer.Ordinal).ToList();
                    string list = string.Join(", ", names.Take(8)) + (names.Count > 8 ? ", ..." : "");
                    return new CompletionCandidate(g.Key, $"{g.Key}: {names.Count} service{(names.Count == 1 ? "" : "s")} ({list})");
                });
        }
    }

    /// <summary>Names of the services (only those of the stacks given with -Stack, when it is typed); tooltip: mode, tasks, image.</summary>
    public sealed class SwarmServiceNameCompleter : SwarmCompleterBase
    {
        internal override IEnumerable<CompletionCandidate> GetCandidates(CompletionRequest request)
        {
            SwarmContext ctx = ResolveSwarm(request);
            if (ctx == null) return null;
            var services = Services(ctx, request);
            if (services == null) return null;
            string[] stacks = request.BoundStrings("Stack");
            IEnumerable<SwarmService> result = services;
            if (stacks != null && stacks.Length > 0)
            {
                var patterns = stacks.Select(p => new WildcardPattern(p, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant)).ToList();
                result = result.Where(s => s.Stack != null && patterns.Any(p => p.IsMatch(s.Stack)));
            }
            return result.Where(s => !string.IsNullOrEmpty(s.Name)).Select(s => new CompletionCandidate(s.Name, ToolTip(s)));
        }

        internal static string ToolTip(SwarmService s)
        {
            string tasks = s.Mode == "replicated" && s.DesiredReplicas.HasValue
                ? $"{s.Running}/{s.DesiredReplicas} running"
                : $"{s.Running}/{s.Desired} running";
            return $"{s.Name}: {s.Mode}, {tasks}{(string.IsNullOrEmpty(s.Image) ? "" : ", " + s.Image)}{(s.Stack == null ? "" : ", stack " + s.Stack)}";
        }
    }

    /// <summary>
    /// Names of secrets (the *-SwarmSecret cmdlets) or configs (the *-SwarmConfig cmdlets, told apart by the command
    /// name); tooltip: created, stack, version.
    /// </summary>
    public sealed class SwarmStoredObjectNameCompleter : SwarmCompleterBase
    {
        internal override IEnumerable<CompletionCandidate> GetCandidates(CompletionRequest request)
        {
            SwarmContext ctx = ResolveSwarm(request);
            if (ctx == null) return null;
            SwarmObjectKind kind = KindOf(request.ResolvedCommandName);
            var objects = Fetch<IList<StoredObject>>(ctx, kind.Kind + "s", request, ct => OnActive(ctx, (c, t) => kind.ListAsync(c, t), ct));
            return objects?.Where(o => !string.IsNullOrEmpty(o.Name)).Select(o => new CompletionCandidate(o.Name, ToolTip(kind, o)));
        }

        /// <summary>Configs for the *-SwarmConfig cmdlets, else secrets (both share one generic parameter declaration).</summary>
        internal static SwarmObjectKind KindOf(string commandName) =>
            (commandName ?? "").EndsWith("Config", StringComparison.OrdinalIgnoreCase) ? SwarmObjectKind.Config : SwarmObjectKind.Secret;

        internal static string ToolTip(SwarmObjectKind kind, StoredObject o)
        {
            var parts = new List<string>();
            if (o.CreatedAt.HasValue) parts.Add("created " + o.CreatedAt.Value.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            if (o.Labels != null && o.Labels.TryGetValue(SwarmService.StackLabel, out string stack)) parts.Add("stack " + stack);
            var (b, v) = SwarmObjectVersions.Identify(kind.Kind, o.Name, o.Labels);
            if (v > 0) parts.Add($"version {v} of {b}");
            return $"{o.Name}: {kind.Kind}{(parts.Count > 0 ? ", " + string.Join(", ", parts) : "")}";
        }
    }

    /// <summary>Names of the Proxmox VMs (templates only for Get-SwarmVm); tooltip: VMID, Proxmox node, status.</summary>
    public sealed class SwarmVmNameCompleter : SwarmCompleterBase
    {
        internal override IEnumerable<CompletionCandidate> GetCandidates(CompletionRequest request)
        {
            SwarmProxmoxConnection c = ResolveProxmox(request);
            if (c == null) return null;
            var vms = Fetch<IList<SwarmVm>>(c, "vms", request, async ct =>
            {
                var client = c.Client ?? throw new OperationCanceledException("The Proxmox connection was closed.");
                JsonElement data = await client.GetAsync("cluster/resources", new Dictionary<string, object> { ["type"] = "vm" }, ct).ConfigureAwait(false);
                var list = new List<SwarmVm>();
                if (data.ValueKind == JsonValueKind.Array)
                    foreach (JsonElement e in data.EnumerateArray())
                        if (JsonRead.String(e, "type") == "qemu") list.Add(SwarmProxmoxCmdlet.FromResource(e, null));
                return list;
            });
            if (vms == null) return null;
            bool templates = request.ResolvedCommandName.EndsWith("Get-SwarmVm", StringComparison.OrdinalIgnoreCase);
            return vms.Where(v => !string.IsNullOrEmpty(v.Name) && (templates || !v.IsTemplate)).Select(v => new CompletionCandidate(v.Name, ToolTip(v)));
        }

        internal static string ToolTip(SwarmVm v) =>
            $"{v.Name}: VMID {v.VmId.ToString(CultureInfo.InvariantCulture)} on {v.Node ?? "?"}, {(v.IsTemplate ? "template" : v.Status ?? "unknown")}";
    }
}
