using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Nodes;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Commands
{
    /// <summary>Initialize-Swarm: creates a swarm on one node (docker swarm init) and connects to it.</summary>
    [Cmdlet(VerbsData.Initialize, "Swarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(SwarmContext))]
    public sealed class InitializeSwarmCommand : SwarmCmdlet
    {
        /// <summary>The first manager: an SSH target (root@10.0.0.5) or a node from Import-SwarmClusterConfig.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public SwarmNodeTarget Node { get; set; }

        /// <summary>The address other nodes reach this manager on. Default: the node's declared IP, or the target's host when it is an IP.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string AdvertiseAddress { get; set; }

        /// <summary>UDP port for overlay (VXLAN) traffic. Use another than 4789 on Proxmox hosts whose own VXLAN uses it.</summary>
        [Parameter]
        [ValidateRange(1024, 49151)]
        public int DataPathPort { get; set; }

        /// <summary>Address pools (CIDR) overlay networks are carved from, e.g. 10.20.0.0/16.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] DefaultAddressPool { get; set; }

        /// <summary>Prefix length of each overlay network taken from the pools.</summary>
        [Parameter]
        [ValidateRange(16, 29)]
        public int SubnetSize { get; set; }

        /// <summary>Availability of the first manager.</summary>
        [Parameter]
        public SwarmNodeAvailability Availability { get; set; } = SwarmNodeAvailability.Active;

        /// <summary>Lock the managers' raft keys at rest: a restarted manager needs the unlock key.</summary>
        [Parameter]
        public SwitchParameter AutoLock { get; set; }

        /// <summary>SSH private key. Default: the node's key from the cluster file, else ~/.ssh/id_*.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts file for host key checks. Default: the node's from the cluster file, else ~/.ssh/known_hosts.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        /// <summary>Seconds each remote call may take.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 30;

        /// <summary>Do not make the new swarm's context the session default.</summary>
        [Parameter]
        public SwitchParameter NoDefault { get; set; }

        private bool _done;

        protected override object CurrentTarget => Node;

        protected override async Task ProcessRecordAsync()
        {
            if (_done)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    $"A swarm is initialised on one node only; {Node} was skipped. Add the other nodes with Join-SwarmNode.", Node));
                return;
            }
            _done = true;

            SwarmEndpoint endpoint;
            try { endpoint = Node.ResolveEndpoint("root"); }
            catch (FormatException ex) { throw new SwarmException(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidArgument, ex.Message, Node.Text, ex); }

            string advertise = Node.ResolveAdvertiseAddress(endpoint, AdvertiseAddress);
            string problem = SwarmNodeTarget.CheckAdvertiseAddress(advertise);
            if (problem != null)
            {
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"Cannot initialise a swarm on {Node}: {problem}.", Node);
            }
            foreach (string pool in DefaultAddressPool ?? Array.Empty<string>())
            {
                if (!IsCidr(pool))
                    throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"'{pool}' is not an IPv4 CIDR such as 10.20.0.0/16.", pool);
            }

            var options = new SshOptions
            {
                KeyFiles = new[] { KeyFile ?? Node.KeyFile }.Where(k => k != null).Select(k => SessionState.Path.GetUnresolvedProviderPathFromPSPath(k)).ToArray(),
                KnownHostsPath = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : Node.KnownHostsPath,
                Timeout = TimeSpan.FromSeconds(TimeoutSec),
            };

            using (EngineConnection engine = await EngineConnection.OpenAsync(endpoint, options, StopToken))
            {
                var info = await engine.Client.System.GetSystemInfoAsync(StopToken);
                string state = info.Swarm?.LocalNodeState ?? "inactive";
                if (state == "active" && info.Swarm.ControlAvailable)
                {
                    Verbose($"{info.Name} already manages swarm {info.Swarm.Cluster?.ID}; nothing to initialise.");
                    if (Node.Labels.Count > 0 && !ShouldProcess($"{info.Name} ({endpoint})", $"Connect to its swarm and make sure it has the labels {NodeLabels.Format(Node.Labels)}")) return;
                }
                else if (state == "active")
                {
                    throw new SwarmException(SwarmErrorId.NodeInOtherSwarm, ErrorCategory.InvalidOperation,
                        $"{info.Name} ({endpoint}) is already a worker of another swarm (manager {string.Join(", ", (info.Swarm.RemoteManagers ?? new List<Peer>()).Select(p => p.Addr))}). Make it leave that swarm first, or join it to that swarm with Join-SwarmNode.", Node);
                }
                else if (state != "inactive")
                {
                    throw new SwarmException(SwarmErrorId.SwarmNotActive, ErrorCategory.InvalidOperation,
                        $"{info.Name} ({endpoint}) is in swarm state '{state}'{(string.IsNullOrEmpty(info.Swarm?.Error) ? "" : ": " + info.Swarm.Error)}. Resolve that first (docker swarm leave --force on the node).", Node);
                }
                else
                {
                    if (!ShouldProcess($"{info.Name} ({endpoint})", $"Initialise a new swarm advertising {advertise}")) return;
                    var init = new SwarmInitParameters
                    {
                        ListenAddr = "0.0.0.0:2377",
                        AdvertiseAddr = advertise,
                        DataPathPort = (uint)DataPathPort,
                        DefaultAddrPool = DefaultAddressPool?.ToList(),
                        SubnetSize = (uint)SubnetSize,
                        Availability = Availability.ToString().ToLowerInvariant(),
                        AutoLockManagers = AutoLock.IsPresent,
                        Spec = new Spec(),
                    };
                    Verbose($"Initialising a swarm on {info.Name} ({endpoint}), advertising {advertise}{(DataPathPort > 0 ? $", data path port {DataPathPort}" : "")}.");
                    string nodeId = await engine.Client.Swarm.InitSwarmAsync(init, StopToken);
                    Verbose($"Swarm created; {info.Name} is its first manager (node {nodeId}).");
                    if (AutoLock)
                    {
                        WriteWarning("The managers are auto-locked: a restarted manager stays locked until it is given the unlock key. Save the key now ('docker swarm unlock-key' on a manager) somewhere safe.");
                    }
                }
            }

            var context = new SwarmContext(new[] { endpoint }, options, TimeSpan.FromSeconds(TimeoutSec));
            try
            {
                await context.EnsureConnectedAsync(this, StopToken);
                if (Node.Labels.Count > 0)
                {
                    string id = context.NodeId;
                    var node = await context.InvokeAsync($"GET /nodes/{id}", (c, t) => c.Swarm.InspectNodeAsync(id, t), this, StopToken);
                    var labels = NodeLabels.Apply(node.Spec?.Labels, Node.Labels, null, null);
                    if (!NodeLabels.SameSet(node.Spec?.Labels, labels))
                    {
                        var spec = SwarmNodeCmdlet.CopySpec(node);
                        spec.Labels = labels;
                        ulong version = node.Version?.Index ?? 0;
                        await context.InvokeAsync($"POST /nodes/{id}/update", async (c, t) => { await c.Swarm.UpdateNodeAsync(id, version, spec, t); return true; }, this, StopToken, false);
                        Verbose($"Labels of {context.NodeHostname} set to {NodeLabels.Format(labels)}.");
                    }
                }
            }
            catch
            {
                context.Dispose();
                throw;
            }
            if (!NoDefault) SwarmContext.Default = context;
            WriteObject(context);
        }

        private static bool IsCidr(string text)
        {
            int slash = text.IndexOf('/');
            return slash > 0 && IPAddress.TryParse(text.Substring(0, slash), out IPAddress ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                && int.TryParse(text.Substring(slash + 1), out int len) && len >= 8 && len <= 30;
        }
    }
}
