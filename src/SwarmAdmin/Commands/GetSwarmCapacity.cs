using System.Collections.Generic;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Config;
using SwarmAdmin.Connection;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Get-SwarmCapacity: the resource table of a cluster file (per role and total), or, without -Config, the live
    /// capacity of the connected swarm per node and role versus what running services reserve.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "SwarmCapacity", DefaultParameterSetName = LiveSet)]
    [OutputType(typeof(SwarmCapacityRow))]
    public sealed class GetSwarmCapacityCommand : SwarmContextCmdlet
    {
        private const string ConfigSet = "Config";
        private const string LiveSet = "Live";

        /// <summary>A cluster file read by Import-SwarmClusterConfig.</summary>
        [Parameter(ParameterSetName = ConfigSet, Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public SwarmClusterConfig Config { get; set; }

        protected override object CurrentTarget => Config;

        protected override async Task ProcessRecordAsync()
        {
            if (ParameterSetName == ConfigSet)
            {
                WriteObject(SwarmCapacity.FromConfig(Config), true);
                return;
            }

            SwarmContext ctx = ResolveContext();
            IList<NodeListResponse> nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            ctx.LastKnownNodes = nodes;
            IList<Docker.DotNet.Models.SwarmService> services = await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t));
            var filter = new TasksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["desired-state"] = new Dictionary<string, bool> { ["running"] = true } },
            };
            IList<TaskResponse> tasks = await CallAsync(ctx, "GET /tasks", (c, t) => c.Tasks.ListAsync(filter, t));
            Verbose($"{nodes.Count} node(s), {services.Count} service(s), {tasks.Count} task(s) with desired state running (via {ctx.ActiveEndpoint}).");
            WriteObject(SwarmCapacity.FromSwarm(ctx.ClusterId, nodes, services, tasks), true);
        }
    }
}
