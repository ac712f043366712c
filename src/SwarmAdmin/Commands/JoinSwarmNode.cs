using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Nodes;

namespace SwarmAdmin.Commands
{
    /// <summary>Join-SwarmNode: makes machines members of the connected swarm with the wanted role and labels.</summary>
    [Cmdlet(VerbsCommon.Join, "SwarmNode", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(SwarmNode))]
    public sealed class JoinSwarmNodeCommand : SwarmContextCmdlet
    {
        /// <summary>Machines to join: SSH targets (root@10.0.0.21) or nodes from Import-SwarmClusterConfig.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public SwarmNodeTarget[] Node { get; set; }

        /// <summary>The role; default: the role the cluster file declares, else Worker.</summary>
        [Parameter]
        public SwarmNodeRole Role { get; set; }

        /// <summary>The address the node advertises (one node only). Default: its declared IP, or the target's host when it is an IP.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string AdvertiseAddress { get; set; }

        /// <summary>A node that belongs to another swarm leaves it first (and a node stuck joining is reset).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>How many nodes join at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 4;

        /// <summary>Seconds a node may take to join and become Ready (and Reachable for a manager).</summary>
        [Parameter]
        [ValidateRange(5, 3600)]
        public int TimeoutSec { get; set; } = 120;

        /// <summary>SSH private key for the nodes. Default: the node's key from the cluster file, else the context's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts for the nodes. Default: the node's from the cluster file, else the context's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        private readonly List<SwarmNodeTarget> _targets = new List<SwarmNodeTarget>();

        protected override Task ProcessRecordAsync()
        {
            _targets.AddRange(Node.Where(n => n != null));
            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync()
        {
            if (_targets.Count == 0) return;
            SwarmContext ctx = ResolveContext();
            if (AdvertiseAddress != null && _targets.Count > 1)
            {
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    "-AdvertiseAddress names one node's address; join several nodes with their own addresses (from the cluster file or their SSH targets).", AdvertiseAddress));
            }
            bool roleGiven = MyInvocation.BoundParameters.ContainsKey(nameof(Role));
            string keyFile = KeyFile != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile) : null;
            string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : null;

            // Decide on the pipeline thread (ShouldProcess), then work in parallel; results come out in input order.
            var work = new List<(SwarmNodeTarget Target, SwarmNodeRole? Role)>();
            foreach (var t in _targets)
            {
                // The role asked for, else the one the cluster file declares; else a new member becomes a worker
                // and an existing member keeps its role.
                SwarmNodeRole? role = roleGiven ? Role : t.Role;
                string as_ = role.HasValue ? $"a {role.Value.ToString().ToLowerInvariant()}" : "a member (a worker unless it already is a manager)";
                if (ShouldProcess(t.ToString(), $"Make it {as_} of swarm {ctx.ClusterId}{(t.Labels.Count > 0 ? " with labels " + NodeLabels.Format(t.Labels) : "")}"))
                {
                    work.Add((t, role));
                }
            }
            if (work.Count == 0) return;

            var throttle = new SemaphoreSlim(ThrottleLimit);
            var tasks = work.Select(w => Task.Run(async () =>
            {
                await throttle.WaitAsync(StopToken).ConfigureAwait(false);
                try { return await JoinOneAsync(ctx, w.Target, w.Role, keyFile ?? w.Target.KeyFile, knownHosts ?? w.Target.KnownHostsPath).ConfigureAwait(false); }
                finally { throttle.Release(); }
            })).ToList();

            var progress = new ProgressRecord(4201, "Joining nodes", $"0 of {tasks.Count} done");
            while (true)
            {
                Task all = Task.WhenAll(tasks);
                if (await Task.WhenAny(all, Task.Delay(500)) == all) break;
                int done = tasks.Count(x => x.IsCompleted);
                progress.StatusDescription = $"{done} of {tasks.Count} done";
                progress.PercentComplete = done * 100 / tasks.Count;
                WriteProgress(progress);
            }
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);

            for (int i = 0; i < tasks.Count; i++)
            {
                if (tasks[i].Status == System.Threading.Tasks.TaskStatus.RanToCompletion) WriteObject(tasks[i].Result);
                else if (tasks[i].IsCanceled && StopToken.IsCancellationRequested) throw new PipelineStoppedException();
                else WriteErrorFor(tasks[i].Exception?.InnerException ?? new OperationCanceledException(), work[i].Target);
            }
        }

        private async Task<SwarmNode> JoinOneAsync(SwarmContext ctx, SwarmNodeTarget target, SwarmNodeRole? role, string keyFile, string knownHosts)
        {
            SwarmEndpoint endpoint;
            try { endpoint = target.ResolveEndpoint(ctx.User ?? "root"); }
            catch (FormatException ex) { throw new SwarmException(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidArgument, ex.Message, target.Text, ex); }
            string advertise = target.ResolveAdvertiseAddress(endpoint, AdvertiseAddress);
            string problem = SwarmNodeTarget.CheckAdvertiseAddress(advertise);
            if (problem != null) throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"Cannot join {target}: {problem}.", target);

            string wantedRole = role == SwarmNodeRole.Manager ? "manager" : "worker";
            bool keepRole = !role.HasValue;
            NodeListResponse node;
            using (EngineConnection engine = await ctx.OpenNodeEngineAsync(endpoint, keyFile, knownHosts, StopToken))
            {
                var info = await engine.Client.System.GetSystemInfoAsync(StopToken);
                string host = info.Name;
                string state = info.Swarm?.LocalNodeState ?? "inactive";
                node = null;
                if (state == "active")
                {
                    node = await FindInThisSwarmAsync(ctx, info.Swarm.NodeID);
                    if (node == null)
                    {
                        if (!Force)
                        {
                            throw new SwarmException(SwarmErrorId.NodeInOtherSwarm, ErrorCategory.InvalidOperation,
                                $"{host} ({endpoint}) belongs to another swarm (managers {string.Join(", ", (info.Swarm.RemoteManagers ?? new List<Peer>()).Select(p => p.Addr))}). Nothing was changed.",
                                target) { RecommendedAction = "Use -Force to make it leave that swarm and join this one." };
                        }
                        ((IOperationLog)this).Warning($"{host} leaves its other swarm (-Force).");
                        await engine.Client.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true }, StopToken);
                    }
                }
                else if (state != "inactive")
                {
                    if (!Force)
                    {
                        throw new SwarmException(SwarmErrorId.SwarmNotActive, ErrorCategory.InvalidOperation,
                            $"{host} ({endpoint}) is in swarm state '{state}'{(string.IsNullOrEmpty(info.Swarm?.Error) ? "" : ": " + info.Swarm.Error)}. Nothing was changed.",
                            target) { RecommendedAction = "Use -Force to reset it (swarm leave --force) and join again." };
                    }
                    await engine.Client.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true }, StopToken);
                }

                if (node == null)
                {
                    node = await JoinAsync(ctx, engine, host, endpoint, advertise, wantedRole);
                }
                else if (keepRole)
                {
                    wantedRole = string.Equals(node.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase) ? "manager" : "worker";
                    Verbose($"{Describe(node)} is already a {wantedRole} of this swarm.");
                }
                else if (!string.Equals(node.Spec?.Role, wantedRole, StringComparison.OrdinalIgnoreCase))
                {
                    if (wantedRole == "worker") await EnsureQuorumAllowsRemovalAsync(ctx, node, Force, "Demoting");
                    Verbose($"{Describe(node)} is already a member as {node.Spec?.Role}; changing its role to {wantedRole}.");
                    (node, _) = await UpdateNodeAsync(ctx, node, n => { var s = CopySpec(n); s.Role = wantedRole; return s; });
                }
                else
                {
                    Verbose($"{Describe(node)} is already a {wantedRole} of this swarm.");
                }
            }

            var timeout = TimeSpan.FromSeconds(TimeoutSec);
            node = await WaitForNodeAsync(ctx, node.ID, n => IsSettled(n, wantedRole), timeout, wantedRole == "manager" ? "become Ready and Reachable as a manager" : "become Ready as a worker");

            // Labels: what the cluster file declares, and what an earlier incarnation of the same host carried
            // (a rejoin gives the node a new ID and the swarm forgets its labels).
            var wanted = new Dictionary<string, string>(StringComparer.Ordinal);
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            foreach (var old in nodes.Where(n => n.ID != node.ID && string.Equals(n.Description?.Hostname, node.Description?.Hostname, StringComparison.OrdinalIgnoreCase)
                                               && !string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase)))
            {
                foreach (var kv in old.Spec?.Labels ?? new Dictionary<string, string>()) wanted[kv.Key] = kv.Value;
            }
            foreach (var kv in target.Labels) wanted[kv.Key] = kv.Value;
            foreach (string key in wanted.Keys)
            {
                string bad = NodeLabels.Validate(key);
                if (bad != null) throw new SwarmException(SwarmErrorId.InvalidLabel, ErrorCategory.InvalidData, $"{target} joined, but its labels were not set: {bad}.", target);
            }
            (node, _) = await UpdateNodeAsync(ctx, node, n =>
            {
                var after = NodeLabels.Apply(n.Spec?.Labels, wanted, null, null);
                if (NodeLabels.SameSet(n.Spec?.Labels, after)) return null;
                var s = CopySpec(n);
                s.Labels = after;
                return s;
            });
            return SwarmNode.From(node, ctx);
        }

        private async Task<NodeListResponse> FindInThisSwarmAsync(SwarmContext ctx, string nodeId)
        {
            if (string.IsNullOrEmpty(nodeId)) return null;
            try { return await CallAsync(ctx, $"GET /nodes/{nodeId}", (c, t) => c.Swarm.InspectNodeAsync(nodeId, t)); }
            catch (DockerApiException ex) when ((int)ex.StatusCode == 404) { return null; }
        }

        private async Task<NodeListResponse> JoinAsync(SwarmContext ctx, EngineConnection engine, string host, SwarmEndpoint endpoint, string advertise, string role)
        {
            // The managers to contact, and the token, fetched right before use. The token goes only into the
            // request body on the SSH channel: never a command line, an output stream or a file.
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var remotes = nodes.Where(n => n.IsReachableManager())
                .OrderByDescending(n => n.ManagerStatus.Leader == true).Select(n => n.ManagerStatus.Addr).Where(a => !string.IsNullOrEmpty(a)).ToList();
            if (remotes.Count == 0) throw new SwarmException(SwarmErrorId.JoinFailed, ErrorCategory.ResourceUnavailable, "No reachable manager address is known to join through. Run Test-SwarmQuorum.", ctx);

            var swarm = await CallAsync(ctx, "GET /swarm", (c, t) => c.Swarm.InspectSwarmAsync(t));
            var join = new SwarmJoinParameters
            {
                ListenAddr = "0.0.0.0:2377",
                AdvertiseAddr = advertise,
                RemoteAddrs = remotes,
                JoinToken = role == "manager" ? swarm.JoinTokens.Manager : swarm.JoinTokens.Worker,
            };
            swarm.JoinTokens.Manager = swarm.JoinTokens.Worker = null;
            Verbose($"Joining {host} ({endpoint}) as {role}, advertising {advertise}, through {string.Join(", ", remotes)}.");
            try
            {
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(StopToken))
                {
                    cts.CancelAfter(TimeSpan.FromSeconds(TimeoutSec));
                    await engine.Client.Swarm.JoinSwarmAsync(join, cts.Token);
                }
            }
            catch (DockerApiException ex)
            {
                throw new SwarmException(SwarmErrorId.JoinFailed, ErrorCategory.InvalidOperation,
                    $"{host} could not join: {SwarmErrors.ApiMessage(ex)}", endpoint.ToString(), ex)
                { RecommendedAction = "Check that TCP 2377 and 7946 and UDP 7946 and 4789 are open between the node and the managers." };
            }
            finally
            {
                join.JoinToken = null;
            }
            var info = await engine.Client.System.GetSystemInfoAsync(StopToken);
            string id = info.Swarm?.NodeID;
            Verbose($"{host} joined as node {id}.");
            return await CallAsync(ctx, $"GET /nodes/{id}", (c, t) => c.Swarm.InspectNodeAsync(id, t));
        }

        private static bool IsSettled(NodeListResponse n, string role)
        {
            bool ready = string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase);
            if (role == "manager")
                return ready && n.IsReachableManager();
            return ready && n.ManagerStatus == null;
        }
    }
}
