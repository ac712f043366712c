using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>Get-SwarmNode: lists the nodes of the swarm (docker node ls), with filters.</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmNode", DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmNode))]
    public sealed class GetSwarmNodeCommand : SwarmContextCmdlet
    {
        private const string ByName = "ByName";
        private const string ById = "ById";

        /// <summary>Hostnames to return; wildcards allowed. A name without wildcards that matches nothing is an error.</summary>
        [Parameter(ParameterSetName = ByName, Position = 0, ValueFromPipeline = true)]
        [Alias("Hostname")]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmNodeNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Node IDs (or unique ID prefixes) to return.</summary>
        [Parameter(ParameterSetName = ById, Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("NodeId")]
        [ValidateNotNullOrEmpty]
        public string[] Id { get; set; }

        /// <summary>Only nodes of this role.</summary>
        [Parameter]
        public SwarmNodeRole Role { get; set; }

        /// <summary>Only nodes that carry these labels: 'key' (any value) or 'key=value'. Several labels must all match.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Label { get; set; }

        private IList<NodeListResponse> _nodes;

        protected override object CurrentTarget => (object)Name ?? Id;

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            if (_nodes == null)
            {
                _nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
                ctx.LastKnownNodes = _nodes;
                Verbose($"{_nodes.Count} node(s) in swarm {ctx.ClusterId} (via {ctx.ActiveEndpoint}).");
            }

            IEnumerable<SwarmNode> all = _nodes.Select(n => SwarmNode.From(n, ctx))
                .OrderBy(n => n.Hostname, StringComparer.OrdinalIgnoreCase).ThenBy(n => n.Id, StringComparer.Ordinal);

            if (MyInvocation.BoundParameters.ContainsKey(nameof(Role))) all = all.Where(n => n.Role == Role);
            if (Label != null)
            {
                var filters = Label.Select(ParseLabelFilter).ToList();
                all = all.Where(n => filters.All(f => n.Labels.TryGetValue(f.Key, out string v) && (f.Value == null || string.Equals(v, f.Value, StringComparison.Ordinal))));
            }

            List<SwarmNode> candidates = all.ToList();
            if (ParameterSetName == ById)
            {
                foreach (string id in Id)
                {
                    var exact = candidates.Where(n => string.Equals(n.Id, id, StringComparison.OrdinalIgnoreCase)).ToList();
                    var matches = exact.Count > 0 ? exact : candidates.Where(n => n.Id.StartsWith(id, StringComparison.OrdinalIgnoreCase)).ToList();
                    if (matches.Count == 1) WriteObject(matches[0]);
                    else if (matches.Count == 0) WriteError(NotFound(id, "ID"));
                    else WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                        $"The ID prefix '{id}' matches {matches.Count} nodes ({string.Join(", ", matches.Select(m => m.Hostname))}); give more characters of the ID.", id));
                }
                return;
            }

            if (Name == null)
            {
                WriteObject(candidates, true);
                return;
            }

            foreach (var m in NameFilter.Filter(candidates, n => n.Hostname, Name, name => WriteError(NotFound(name, "name")))) WriteObject(m);
        }

        private ErrorRecord NotFound(string what, string kind)
        {
            string filters = (MyInvocation.BoundParameters.ContainsKey(nameof(Role)) || Label != null) ? " that also matches -Role/-Label" : string.Empty;
            return SwarmErrors.Record(SwarmErrorId.NodeNotFound, ErrorCategory.ObjectNotFound,
                $"No swarm node with {kind} '{what}'{filters} exists. Run Get-SwarmNode without filters to list the nodes.", what);
        }

        internal static KeyValuePair<string, string> ParseLabelFilter(string text)
        {
            int eq = text.IndexOf('=');
            return eq < 0 ? new KeyValuePair<string, string>(text.Trim(), null)
                          : new KeyValuePair<string, string>(text.Substring(0, eq).Trim(), text.Substring(eq + 1));
        }
    }
}
