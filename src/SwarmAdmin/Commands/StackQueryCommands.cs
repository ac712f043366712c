using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using static SwarmAdmin.Commands.StackErrors;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    internal static class StackErrors
    {
        public static ErrorRecord NotFound(string kind, string name) => SwarmErrors.Record(
            kind == "stack" ? SwarmErrorId.StackNotFound : SwarmErrorId.ServiceNotFound, ErrorCategory.ObjectNotFound,
            $"No {kind} '{name}' exists in the swarm. Run Get-Swarm{(kind == "stack" ? "Stack" : "Service")} without a name to list them.", name);
    }

    /// <summary>Get-SwarmStack: the stacks of the swarm (docker stack ls).</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmStack")]
    [OutputType(typeof(SwarmStack))]
    public sealed class GetSwarmStackCommand : SwarmContextCmdlet
    {
        /// <summary>Stack names; wildcards allowed. A name without wildcards that matches no stack is an error.</summary>
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Stack")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string[] Name { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            var services = await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t));
            var stacks = services.Select(s => SwarmService.From(s, ctx)).Where(s => s.Stack != null).GroupBy(s => s.Stack, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new SwarmStack { Name = g.Key, Services = g.Count(), ServiceNames = g.Select(s => s.Name).OrderBy(n => n, StringComparer.Ordinal).ToArray(), Context = ctx })
                .ToList();
            foreach (var s in NameFilter.Filter(stacks, x => x.Name, Name, n => WriteError(NotFound("stack", n)))) WriteObject(s);
        }
    }

    /// <summary>Get-SwarmService: services, optionally of one stack (docker service ls / docker stack services).</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmService", DefaultParameterSetName = "Filter")]
    [OutputType(typeof(SwarmService))]
    public sealed class GetSwarmServiceCommand : SwarmContextCmdlet
    {
        /// <summary>Service names (with the stack prefix, e.g. web_app) or IDs; wildcards allowed.</summary>
        [Parameter(ParameterSetName = "Filter", Position = 0)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmServiceNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Only the services of these stacks.</summary>
        [Parameter(ParameterSetName = "Filter")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string[] Stack { get; set; }

        /// <summary>Stacks (their services), services (read again) or service names from the pipeline.</summary>
        [Parameter(ParameterSetName = "Pipeline", Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public object InputObject { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            string[] names = Name, stacks = Stack;
            switch (InputObject is PSObject pso ? pso.BaseObject : InputObject)
            {
                case null: break;
                case SwarmStack st: stacks = new[] { st.Name }; break;
                case SwarmService sv: names = new[] { sv.Id }; break;
                case SwarmServiceDeployment sd: names = new[] { sd.Id ?? sd.Name }; break;
                case SwarmStackDeployment sdep: stacks = new[] { sdep.Stack }; break;
                case string text: names = new[] { text }; break;
                default:
                    WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                        $"Get-SwarmService takes stacks, services, Deploy-SwarmStack results or names from the pipeline, not {InputObject.GetType().Name}.", InputObject));
                    return;
            }
            var services = await CallAsync(ctx, "GET /services?status=true", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters { Status = true }, t));
            var all = services.Select(s => SwarmService.From(s, ctx)).Where(s => stacks == null || stacks.Contains(s.Stack, StringComparer.Ordinal))
                .OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            foreach (var s in NameFilter.Filter(all, x => x.Name, names, n => WriteError(NotFound("service", n)), x => x.Id)) WriteObject(s);
        }
    }

    /// <summary>Get-SwarmTask: tasks of services, stacks or nodes (docker service ps / stack ps / node ps).</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmTask", DefaultParameterSetName = "Filter")]
    [OutputType(typeof(SwarmTask))]
    public sealed class GetSwarmTaskCommand : SwarmContextCmdlet
    {
        /// <summary>Services, stacks or nodes from Get-SwarmService, Get-SwarmStack or Get-SwarmNode: their tasks.</summary>
        [Parameter(ParameterSetName = "Pipeline", Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public object InputObject { get; set; }

        /// <summary>Only the tasks of these stacks.</summary>
        [Parameter(ParameterSetName = "Filter")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string[] Stack { get; set; }

        /// <summary>Only the tasks of these services (names or IDs).</summary>
        [Parameter(ParameterSetName = "Filter", Position = 0)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmServiceNameCompleter))]
        public string[] Service { get; set; }

        /// <summary>Only the tasks on these nodes (hostnames or IDs).</summary>
        [Parameter(ParameterSetName = "Filter")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmNodeNameCompleter))]
        public string[] Node { get; set; }

        /// <summary>Only tasks with this desired state, e.g. running (what docker service ps shows by default is every state).</summary>
        [Parameter]
        [ValidateSet("running", "shutdown", "accepted", "ready", "complete", "remove")]
        public string DesiredState { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            var filters = new Dictionary<string, IDictionary<string, bool>>();
            if (DesiredState != null) filters["desired-state"] = new Dictionary<string, bool> { [DesiredState] = true };
            var tasks = await CallAsync(ctx, "GET /tasks", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = filters }, t));
            var services = (await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t))).ToDictionary(s => s.ID, StringComparer.Ordinal);
            var nodes = (await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t))).ToDictionary(n => n.ID, n => n.Description?.Hostname, StringComparer.Ordinal);
            IEnumerable<SwarmTask> result = tasks.Select(t => SwarmTask.From(t, services, nodes, ctx));

            string[] stacks = Stack, serviceKeys = Service, nodeKeys = Node;
            switch (InputObject is PSObject pso ? pso.BaseObject : InputObject)
            {
                case null: break;
                case SwarmService s: serviceKeys = new[] { s.Id }; break;
                case SwarmServiceDeployment sd: serviceKeys = new[] { sd.Id ?? sd.Name }; break;
                case SwarmStack st: stacks = new[] { st.Name }; break;
                case SwarmStackDeployment sdep: stacks = new[] { sdep.Stack }; break;
                case SwarmNode n: nodeKeys = new[] { n.Id }; break;
                case string text: serviceKeys = new[] { text }; break;
                default:
                    WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                        $"Get-SwarmTask takes services, stacks, nodes or Deploy-SwarmStack results from the pipeline, not {InputObject.GetType().Name}.", InputObject));
                    return;
            }
            if (stacks != null) result = result.Where(t => stacks.Contains(t.Stack, StringComparer.Ordinal));
            if (serviceKeys != null) result = result.Where(t => serviceKeys.Any(k => string.Equals(k, t.ServiceName, StringComparison.Ordinal) || string.Equals(k, t.ServiceId, StringComparison.Ordinal)));
            if (nodeKeys != null) result = result.Where(t => nodeKeys.Any(k => string.Equals(k, t.Node, StringComparison.OrdinalIgnoreCase) || string.Equals(k, t.NodeId, StringComparison.Ordinal)));
            // like docker service ps: by service, then slot, newest first
            WriteObject(result.OrderBy(t => t.ServiceName, StringComparer.Ordinal).ThenBy(t => t.Slot ?? 0).ThenBy(t => t.NodeId, StringComparer.Ordinal)
                .ThenByDescending(t => t.StateSince ?? DateTime.MinValue).ToList(), true);
        }
    }
}
