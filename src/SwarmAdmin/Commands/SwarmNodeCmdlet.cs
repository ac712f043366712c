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
using SwarmAdmin.Nodes;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Base of cmdlets that act on nodes: takes SwarmNode objects from the pipeline (-InputObject), or -Name
    /// (wildcards) or -Id, resolves them against the live swarm, and runs the action once per node so that one
    /// bad node does not stop the others.
    /// </summary>
    public abstract class SwarmNodeCmdlet : SwarmContextCmdlet
    {
        protected const string ByName = "ByName";
        protected const string ById = "ById";
        protected const string ByInputObject = "ByInputObject";

        /// <summary>Nodes from Get-SwarmNode.</summary>
        [Parameter(ParameterSetName = ByInputObject, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public SwarmNode[] InputObject { get; set; }

        /// <summary>Hostnames of the nodes; wildcards allowed.</summary>
        [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Hostname", "Node")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmNodeNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Node IDs (or unique prefixes).</summary>
        [Parameter(ParameterSetName = ById, Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("NodeId")]
        [ValidateNotNullOrEmpty]
        public string[] Id { get; set; }

        private IList<NodeListResponse> _listed;

        protected override object CurrentTarget => (object)InputObject ?? (object)Name ?? Id;

        protected sealed override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            foreach (var (target, node) in await ResolveAsync(ctx))
            {
                try
                {
                    await ProcessNodeAsync(ctx, node);
                }
                catch (Exception ex) when (!(ex is PipelineStoppedException) && !(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    WriteErrorFor(ex, target);
                }
            }
        }

        /// <summary>The action for one node (already read fresh from the swarm).</summary>
        protected abstract Task ProcessNodeAsync(SwarmContext ctx, NodeListResponse node);

        protected virtual async Task<List<(object, NodeListResponse)>> ResolveAsync(SwarmContext ctx)
        {
            var result = new List<(object, NodeListResponse)>();
            if (ParameterSetName == ByInputObject)
            {
                foreach (SwarmNode n in InputObject)
                {
                    if (n == null) continue;
                    var fresh = await InspectAsync(ctx, n.Id, n);
                    if (fresh != null) result.Add((n, fresh));
                }
                return result;
            }
            if (ParameterSetName == ById)
            {
                foreach (string id in Id)
                {
                    var fresh = await InspectAsync(ctx, id, id);
                    if (fresh != null) result.Add((id, fresh));
                }
                return result;
            }

            if (_listed == null) _listed = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var byHostname = _listed.OrderBy(n => n.Description?.Hostname, StringComparer.OrdinalIgnoreCase);
            foreach (var (m, name) in NameFilter.Matches(byHostname, n => n.Description?.Hostname, Name, missing => WriteError(NotFound(missing))))
            {
                // the list may be older than this record: read the node again right before acting on it
                var fresh = await InspectAsync(ctx, m.ID, name);
                if (fresh != null) result.Add((name, fresh));
            }
            return result;
        }

        /// <summary>Reads one node; null (after an ObjectNotFound error) when it does not exist.</summary>
        protected async Task<NodeListResponse> InspectAsync(SwarmContext ctx, string id, object target)
        {
            try
            {
                return await CallAsync(ctx, $"GET /nodes/{id}", (c, t) => c.Swarm.InspectNodeAsync(id, t));
            }
            catch (DockerApiException ex) when ((int)ex.StatusCode == 404)
            {
                WriteError(NotFound(id));
                return null;
            }
        }

        private ErrorRecord NotFound(string what) => SwarmErrors.Record(SwarmErrorId.NodeNotFound, ErrorCategory.ObjectNotFound,
            $"No swarm node '{what}' exists. Run Get-SwarmNode to list the nodes.", what);

    }
}
