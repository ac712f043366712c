using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Quorum;

namespace SwarmAdmin.Commands
{
    /// <summary>Test-SwarmQuorum: the managers' raft quorum, fault tolerance and the risks to it, as one report.</summary>
    [Cmdlet(VerbsDiagnostic.Test, "SwarmQuorum")]
    [OutputType(typeof(SwarmQuorumReport), typeof(bool))]
    public sealed class TestSwarmQuorumCommand : SwarmContextCmdlet
    {
        /// <summary>The node label that names each manager's failure domain (the Proxmox host it runs on).</summary>
        [Parameter]
        [AllowEmptyString]
        public string FailureDomainLabel { get; set; } = "proxmox.host";

        /// <summary>Return only $true (Healthy) or $false, for scheduled scripts.</summary>
        [Parameter]
        public SwitchParameter Quiet { get; set; }

        /// <summary>Seconds the whole check may take; when the managers cannot answer as a swarm, what the reachable nodes report is used.</summary>
        [Parameter]
        [ValidateRange(2, 600)]
        public int TimeoutSec { get; set; } = 15;

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            var watch = Stopwatch.StartNew();
            TimeSpan budget = TimeSpan.FromSeconds(TimeoutSec);
            SwarmQuorumReport report = null;

            // 1. Ask the swarm (the leader answers /nodes through any manager), within ~60% of the budget.
            TimeSpan firstTry = TimeSpan.FromMilliseconds(budget.TotalMilliseconds * 0.6);
            using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(StopToken))
            {
                deadline.CancelAfter(firstTry);
                try
                {
                    TimeSpan perCall = firstTry < ctx.Timeout ? firstTry : ctx.Timeout;
                    IList<NodeListResponse> nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t), deadline.Token, perCall);
                    ctx.LastKnownNodes = nodes;
                    Verbose($"{nodes.Count} node(s) listed by the swarm through {ctx.ActiveEndpoint}.");
                    report = QuorumAnalyzer.Analyze(nodes.Select(ToFacts).ToList(), FailureDomainLabel, ctx.ClusterId, "manager API");
                }
                catch (Exception ex) when (!StopToken.IsCancellationRequested && !(ex is PipelineStoppedException))
                {
                    string why = SwarmErrors.Unwrap(ex) is OperationCanceledException ? $"no answer within {firstTry.TotalSeconds:0.#} s" : SwarmErrors.Unwrap(ex).Message;
                    Verbose($"The managers did not list the nodes ({why}); asking each manager endpoint what it sees.");
                }
            }

            // 2. No leader answered: probe every endpoint's engine in parallel with what is left of the budget.
            if (report == null)
            {
                TimeSpan left = budget - watch.Elapsed - TimeSpan.FromMilliseconds(250);
                if (left < TimeSpan.FromSeconds(1)) left = TimeSpan.FromSeconds(1);
                report = await ProbeAsync(ctx, left);
            }

            report.Duration = watch.Elapsed;
            foreach (var f in report.Findings.Where(x => x.Severity >= FindingSeverity.Warning))
            {
                Verbose($"{f.Severity} {f.Id} {f.Target}: {f.Message}");
            }
            if (Quiet) WriteObject(report.Status == QuorumStatus.Healthy);
            else WriteObject(report);
        }

        private async Task<SwarmQuorumReport> ProbeAsync(SwarmContext ctx, TimeSpan timeout)
        {
            EngineProbe[] probes = await Task.WhenAll(ctx.Endpoints.Select(ep => ctx.ProbeInfoAsync(ep, timeout, StopToken)));
            StopToken.ThrowIfCancellationRequested();
            foreach (var p in probes)
            {
                if (p.Info != null)
                    Verbose($"{p.Endpoint} ({p.Info.Name}) answered: swarm state {p.Info.Swarm?.LocalNodeState}, manager {p.Info.Swarm?.ControlAvailable}{(string.IsNullOrEmpty(p.Info.Swarm?.Error) ? "" : ", error: " + p.Info.Swarm.Error)}.");
                else if (p.Alive)
                    Verbose($"{p.Endpoint}'s engine answers (swarm: {p.SwarmHeader ?? "unknown"}) but did not report its swarm state in time: {p.Error?.Message}");
                else
                    Verbose($"{p.Endpoint} did not answer: {p.Error?.Message ?? "cancelled"}");
            }

            // Who the managers are: what the managers that answered believe (RemoteManagers), plus themselves;
            // else what this context last saw.
            var managers = new Dictionary<string, string>(StringComparer.Ordinal); // id -> raft address
            int declared = 0;
            foreach (var info in probes.Select(p => p.Info).Where(i => i?.Swarm != null))
            {
                foreach (var peer in info.Swarm.RemoteManagers ?? new List<Peer>()) managers[peer.NodeID] = peer.Addr;
                if (info.Swarm.ControlAvailable && !managers.ContainsKey(info.Swarm.NodeID)) managers[info.Swarm.NodeID] = info.Swarm.NodeAddr + ":2377";
                declared = Math.Max(declared, (int)(info.Swarm.Managers ?? 0));
            }
            var known = (ctx.LastKnownNodes ?? new List<NodeListResponse>()).ToDictionary(n => n.ID, StringComparer.Ordinal);
            if (managers.Count == 0)
            {
                foreach (var n in known.Values.Where(n => n.ManagerStatus != null)) managers[n.ID] = n.ManagerStatus.Addr;
            }

            // A manager counts as reachable when its engine answered and says it is a manager.
            var aliveHosts = new HashSet<string>(probes.Where(p => p.Alive && p.IsManager).Select(p => p.Endpoint.Host ?? "").Where(h => h.Length > 0), StringComparer.OrdinalIgnoreCase);
            var aliveIds = new HashSet<string>(probes.Where(p => p.Info?.Swarm?.ControlAvailable == true).Select(p => p.Info.Swarm.NodeID), StringComparer.Ordinal);
            var names = probes.Where(p => p.Info?.Swarm != null).ToDictionary(p => p.Info.Swarm.NodeID, p => p.Info.Name, StringComparer.Ordinal);
            var facts = new List<NodeFacts>();
            foreach (var kv in managers)
            {
                known.TryGetValue(kv.Key, out NodeListResponse last);
                string host = QuorumAnalyzer.HostOf(kv.Value);
                bool alive = aliveIds.Contains(kv.Key) || (host != null && aliveHosts.Contains(host));
                var probe = probes.FirstOrDefault(p => p.Info?.Swarm?.NodeID == kv.Key) ?? probes.FirstOrDefault(p => p.Alive && string.Equals(p.Endpoint.Host, host, StringComparison.OrdinalIgnoreCase));
                facts.Add(new NodeFacts
                {
                    Id = kv.Key,
                    Hostname = (names.TryGetValue(kv.Key, out string nm) ? nm : null) ?? last?.Description?.Hostname ?? host ?? kv.Key,
                    IsManager = true,
                    Reachability = alive ? "reachable" : "unreachable",
                    IsLeader = false, // no leader answered
                    State = alive ? "ready" : "down",
                    Availability = last?.Spec?.Availability ?? "active",
                    ManagerAddress = kv.Value,
                    EngineVersion = probe?.EngineVersion ?? last?.Description?.Engine?.EngineVersion,
                    Labels = last?.Spec?.Labels ?? new Dictionary<string, string>(),
                });
            }
            if (facts.Count == 0)
            {
                // Nothing known by ID: every endpoint whose engine says it is a manager, alive or not.
                foreach (var p in probes)
                {
                    facts.Add(new NodeFacts { Id = p.Endpoint.ToString(), Hostname = p.Endpoint.Host, IsManager = true, Reachability = p.Alive && p.IsManager ? "reachable" : "unreachable", State = p.Alive ? "ready" : "down", EngineVersion = p.EngineVersion });
                }
            }
            for (int i = facts.Count; i < declared; i++)
            {
                facts.Add(new NodeFacts { Id = "unknown-" + i, Hostname = "(unknown manager)", IsManager = true, Reachability = "unknown", State = "unknown" });
            }
            string clusterId = probes.Select(p => p.Info?.Swarm?.Cluster?.ID).FirstOrDefault(x => !string.IsNullOrEmpty(x)) ?? ctx.ClusterId;
            return QuorumAnalyzer.Analyze(facts, FailureDomainLabel, clusterId, "node probes (no leader answered)");
        }

        internal static NodeFacts ToFacts(NodeListResponse n) => new NodeFacts
        {
            Id = n.ID,
            Hostname = n.Description?.Hostname ?? n.ID,
            IsManager = string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase),
            Reachability = n.ManagerStatus?.Reachability,
            IsLeader = n.ManagerStatus?.Leader == true,
            State = n.Status?.State,
            Availability = n.Spec?.Availability,
            ManagerAddress = n.ManagerStatus?.Addr,
            EngineVersion = n.Description?.Engine?.EngineVersion,
            Labels = n.Spec?.Labels ?? new Dictionary<string, string>(),
        };
    }
}
