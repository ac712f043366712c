using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;

namespace SwarmAdmin.Quorum
{
    /// <summary>
    /// Raft quorum arithmetic and the rules of Test-SwarmQuorum, as pure functions of node facts
    /// (so they are tested for every manager count and reachability mix without a swarm).
    /// </summary>
    internal static class QuorumAnalyzer
    {
        public static int QuorumSize(int managers) => managers / 2 + 1;
        public static int FaultTolerance(int managers) => managers <= 0 ? 0 : (managers - 1) / 2;

        /// <summary>The daemon's own guard (swarmkit): removing or demoting one more reachable manager loses quorum.</summary>
        public static bool RemovingOneLosesQuorum(int reachable, int unreachable) => reachable - 2 <= unreachable;

        /// <summary>
        /// Whether taking one manager out of the raft group (demote or remove) leaves too few reachable managers,
        /// as the engine decides: for a reachable member its rule reachable-2 &lt;= unreachable; for an unreachable one
        /// (swarmkit's CanRemoveMember), the reachable managers must still be a majority of the managers left.
        /// </summary>
        public static bool RemovalLosesQuorum(int reachable, int unreachable, bool memberReachable)
        {
            if (memberReachable) return RemovingOneLosesQuorum(reachable, unreachable); // the engine's own rule
            int left = reachable + unreachable - 1;
            if (left <= 0) return true; // the last manager
            return reachable < QuorumSize(left);
        }

        public static SwarmQuorumReport Analyze(IReadOnlyList<NodeFacts> nodes, string failureDomainLabel, string clusterId = null, string source = "manager API")
        {
            var managers = nodes.Where(n => n.IsManager).OrderBy(n => n.Hostname, StringComparer.OrdinalIgnoreCase).ToList();
            int total = managers.Count;
            var reachable = managers.Where(m => string.Equals(m.Reachability, "reachable", StringComparison.OrdinalIgnoreCase) || m.IsLeader).ToList();
            var unreachable = managers.Except(reachable).ToList();
            NodeFacts leader = managers.FirstOrDefault(m => m.IsLeader);
            int q = QuorumSize(total);
            var report = new SwarmQuorumReport
            {
                ClusterId = clusterId,
                Managers = total,
                Reachable = reachable.Count,
                Unreachable = unreachable.Count,
                Leader = leader?.Hostname,
                LeaderAddress = leader?.ManagerAddress,
                QuorumSize = q,
                FaultTolerance = FaultTolerance(total),
                RemainingTolerance = reachable.Count - q,
                HasQuorum = total > 0 && leader != null && reachable.Count >= q,
                ManagerNames = managers.Select(m => m.Hostname).ToArray(),
                UnreachableManagers = unreachable.Select(m => m.Hostname).ToArray(),
                FailureDomainLabel = failureDomainLabel,
                Source = source,
                CheckedAt = DateTime.UtcNow,
            };

            var f = new List<SwarmQuorumFinding>();
            if (total == 0)
            {
                f.Add(new SwarmQuorumFinding("NO-MANAGERS", FindingSeverity.Critical, "swarm", "No manager is known, so the swarm cannot be managed.",
                    "Connect to a manager of the swarm (Connect-SwarmCluster), or create the swarm with Initialize-Swarm."));
            }
            else
            {
                if (leader == null)
                {
                    f.Add(new SwarmQuorumFinding("NO-LEADER", FindingSeverity.Critical, "swarm",
                        $"The swarm has no leader: {reachable.Count} of {total} managers are reachable and {q} are needed. Nothing can be scheduled, updated or joined until a leader is elected; running tasks keep running.",
                        "Bring the unreachable managers back (start their VMs or engines). If a majority is lost for good, recover with 'docker swarm init --force-new-cluster' on a surviving manager (Restore-SwarmQuorum)."));
                }
                if (reachable.Count < q)
                {
                    f.Add(new SwarmQuorumFinding("QUORUM-LOST", FindingSeverity.Critical, "swarm",
                        $"Quorum is lost: {reachable.Count} of {total} managers are reachable, {q} are needed.",
                        "Start enough of the unreachable managers to reach a majority; otherwise force a new cluster from a survivor (Restore-SwarmQuorum)."));
                }
                foreach (var m in unreachable)
                {
                    f.Add(new SwarmQuorumFinding("MANAGER-UNREACHABLE", FindingSeverity.Warning, m.Hostname,
                        $"Manager {m.Hostname} ({m.ManagerAddress}) is {(string.IsNullOrEmpty(m.Reachability) ? "unknown" : m.Reachability)} to the other managers.",
                        $"Check that {m.Hostname} is running and that TCP 2377 and 7946 are open between managers; if it is gone for good, demote and remove it (docker node demote / node rm) so it stops counting toward quorum."));
                }
                if (report.HasQuorum && report.RemainingTolerance == 0)
                {
                    f.Add(new SwarmQuorumFinding("ONE-FAILURE-FROM-QUORUM-LOSS", FindingSeverity.Warning, "swarm",
                        $"One more manager failure loses quorum: {reachable.Count} of {total} managers are reachable and {q} are needed.",
                        total >= 3 ? "Bring the unreachable managers back before any maintenance; do not stop, drain-reboot or demote another manager now."
                                   : "Run 3 managers (one per failure domain) so the swarm survives the loss of one."));
                }
                if (total == 1)
                {
                    f.Add(new SwarmQuorumFinding("SINGLE-MANAGER", FindingSeverity.Warning, "swarm",
                        "The swarm has a single manager: losing it loses the control plane.",
                        "Promote two more nodes on other failure domains to managers (3 managers tolerate 1 failure)."));
                }
                else if (total == 2)
                {
                    f.Add(new SwarmQuorumFinding("TWO-MANAGERS", FindingSeverity.Warning, "swarm",
                        "Two managers tolerate no failure (quorum is 2 of 2): this is less available than a single manager.",
                        "Add a third manager on another failure domain, or demote one."));
                }
                else if (total % 2 == 0)
                {
                    f.Add(new SwarmQuorumFinding("EVEN-MANAGER-COUNT", FindingSeverity.Warning, "swarm",
                        $"{total} managers tolerate {FaultTolerance(total)} failure(s), the same as {total - 1}: the extra manager adds load and no resilience.",
                        $"Run an odd number of managers: demote one (to {total - 1}) or promote one (to {total + 1})."));
                }
                if (total > 7)
                {
                    f.Add(new SwarmQuorumFinding("TOO-MANY-MANAGERS", FindingSeverity.Info, "swarm",
                        $"{total} managers: every raft write waits for a majority of them; Docker recommends at most 7.",
                        "Demote managers down to 3, 5 or 7."));
                }
                AddFailureDomainFindings(f, managers, failureDomainLabel, total, q);
                foreach (var m in managers)
                {
                    string host = HostOf(m.ManagerAddress);
                    if (host != null && IsBadAdvertiseAddress(host))
                    {
                        f.Add(new SwarmQuorumFinding("MANAGER-ADDRESS", FindingSeverity.Error, m.Hostname,
                            $"Manager {m.Hostname} advertises {m.ManagerAddress}, which other nodes cannot reach.",
                            "Re-join the manager with an explicit --advertise-addr set to its static IP (Initialize-Swarm/Join-SwarmNode refuse 0.0.0.0 and loopback)."));
                    }
                    if (string.Equals(m.Availability, "pause", StringComparison.OrdinalIgnoreCase))
                    {
                        f.Add(new SwarmQuorumFinding("MANAGER-PAUSED", FindingSeverity.Warning, m.Hostname,
                            $"Manager {m.Hostname} is paused (probably left over from maintenance).",
                            $"Set-SwarmNodeAvailability -Name {m.Hostname} -Availability Active"));
                    }
                    else if (string.Equals(m.Availability, "drain", StringComparison.OrdinalIgnoreCase))
                    {
                        f.Add(new SwarmQuorumFinding("MANAGER-DRAINED", FindingSeverity.Info, m.Hostname,
                            $"Manager {m.Hostname} is drained: it runs no tasks (fine for dedicated managers; otherwise left over from maintenance).",
                            $"If it should run tasks: Set-SwarmNodeAvailability -Name {m.Hostname} -Availability Active"));
                    }
                }
            }

            foreach (var n in nodes.Where(n => !string.Equals(n.State, "ready", StringComparison.OrdinalIgnoreCase)))
            {
                if (n.IsManager && unreachable.Contains(n)) continue; // already reported as unreachable
                f.Add(new SwarmQuorumFinding("NODE-DOWN", FindingSeverity.Warning, n.Hostname,
                    $"{(n.IsManager ? "Manager" : "Worker")} {n.Hostname} is {n.State ?? "unknown"}: its tasks are rescheduled elsewhere.",
                    $"Start {n.Hostname} (or its engine). If it is gone for good, remove it: docker node rm {n.Hostname}."));
            }

            AddEngineFindings(f, nodes, leader, managers);
            var versions = nodes.Where(n => !string.IsNullOrEmpty(n.EngineVersion)).GroupBy(n => n.EngineVersion)
                .OrderByDescending(g => g.Count()).Select(g => g.Key).ToArray();
            report.EngineVersions = versions;

            report.Findings = f.OrderByDescending(x => x.Severity).ThenBy(x => x.Id, StringComparer.Ordinal).ThenBy(x => x.Target, StringComparer.Ordinal).ToArray();
            report.Status = !report.HasQuorum || report.Findings.Any(x => x.Severity == FindingSeverity.Critical) ? QuorumStatus.Critical
                : report.Findings.Any(x => x.Severity >= FindingSeverity.Warning) ? QuorumStatus.Degraded
                : QuorumStatus.Healthy;

            if (!string.IsNullOrEmpty(failureDomainLabel))
            {
                foreach (var g in managers.Where(m => m.Labels != null && m.Labels.ContainsKey(failureDomainLabel)).GroupBy(m => m.Labels[failureDomainLabel]))
                {
                    report.FailureDomains[g.Key] = g.Select(m => m.Hostname).ToArray();
                }
            }
            return report;
        }

        private static void AddFailureDomainFindings(List<SwarmQuorumFinding> f, List<NodeFacts> managers, string label, int total, int q)
        {
            if (string.IsNullOrEmpty(label)) return;
            var labelled = managers.Where(m => m.Labels != null && m.Labels.TryGetValue(label, out string v) && !string.IsNullOrEmpty(v)).ToList();
            var unlabelled = managers.Except(labelled).ToList();
            if (labelled.Count == 0)
            {
                f.Add(new SwarmQuorumFinding("FAILURE-DOMAIN-UNKNOWN", FindingSeverity.Info, "swarm",
                    $"No manager carries the node label '{label}', so failure domains cannot be checked.",
                    $"Label each manager with where it runs: Get-SwarmNode -Role Manager | Set-SwarmNodeLabel -Add @{{ '{label}' = '<host>' }}."));
                return;
            }
            foreach (var m in unlabelled)
            {
                f.Add(new SwarmQuorumFinding("FAILURE-DOMAIN-UNKNOWN", FindingSeverity.Warning, m.Hostname,
                    $"Manager {m.Hostname} has no '{label}' label, so its failure domain is unknown.",
                    $"Set-SwarmNodeLabel -Name {m.Hostname} -Add @{{ '{label}' = '<host>' }}"));
            }
            foreach (var g in labelled.GroupBy(m => m.Labels[label], StringComparer.Ordinal))
            {
                int d = g.Count();
                if (d < 2) continue;
                string names = string.Join(", ", g.Select(m => m.Hostname));
                if (total - d < q)
                {
                    f.Add(new SwarmQuorumFinding("FAILURE-DOMAIN", FindingSeverity.Error, g.Key,
                        $"Managers {names} share the failure domain {label}={g.Key}: losing it leaves {total - d} of {total} managers and {q} are needed, so the swarm loses quorum.",
                        $"Move managers so that no {label} holds more than {total - q} of them (one per Proxmox host for 3 managers), e.g. migrate the VM and relabel it, or use an HA anti-affinity rule."));
                }
                else
                {
                    f.Add(new SwarmQuorumFinding("FAILURE-DOMAIN-SHARED", FindingSeverity.Warning, g.Key,
                        $"Managers {names} share the failure domain {label}={g.Key}: losing it uses up {d} of the swarm's tolerance of {FaultTolerance(total)}.",
                        $"Spread managers across distinct {label} values."));
                }
            }
        }

        private static void AddEngineFindings(List<SwarmQuorumFinding> f, IReadOnlyList<NodeFacts> nodes, NodeFacts leader, List<NodeFacts> managers)
        {
            var groups = nodes.Where(n => !string.IsNullOrEmpty(n.EngineVersion)).GroupBy(n => n.EngineVersion).ToList();
            if (groups.Count > 1)
            {
                string detail = string.Join("; ", groups.OrderByDescending(g => ParseVersion(g.Key)).Select(g => $"{g.Key}: {string.Join(", ", g.Select(n => n.Hostname))}"));
                f.Add(new SwarmQuorumFinding("ENGINE-VERSION-SKEW", FindingSeverity.Warning, "swarm",
                    $"Nodes run different Docker engine versions ({detail}).",
                    "Upgrade every node to the same engine version: managers first, one at a time, draining each (Invoke-SwarmNodeMaintenance)."));
            }
            if (leader != null && !string.IsNullOrEmpty(leader.EngineVersion))
            {
                Version lv = ParseVersion(leader.EngineVersion);
                var newer = managers.Where(m => m != leader && !string.IsNullOrEmpty(m.EngineVersion) && ParseVersion(m.EngineVersion) > lv).ToList();
                if (newer.Count > 0)
                {
                    f.Add(new SwarmQuorumFinding("LEADER-ENGINE-OLDER", FindingSeverity.Error, leader.Hostname,
                        $"The leader {leader.Hostname} runs engine {leader.EngineVersion}, older than manager(s) {string.Join(", ", newer.Select(m => $"{m.Hostname} ({m.EngineVersion})"))}: newer API calls routed to it can fail (e.g. 'unknown method').",
                        "Upgrade the leader's engine (or move leadership to an upgraded manager) so that the leader is never older than the other managers."));
                }
            }
        }

        /// <summary>"26.1.5+dfsg1" → 26.1.5; unparsable → 0.0.</summary>
        internal static Version ParseVersion(string text)
        {
            if (string.IsNullOrEmpty(text)) return new Version(0, 0);
            int end = 0;
            while (end < text.Length && (char.IsDigit(text[end]) || text[end] == '.')) end++;
            string core = text.Substring(0, end).Trim('.');
            if (!core.Contains(".")) core += ".0";
            return Version.TryParse(core, out Version v) ? v : new Version(0, 0);
        }

        internal static string HostOf(string address)
        {
            if (string.IsNullOrEmpty(address)) return null;
            if (address.StartsWith("[", StringComparison.Ordinal))
            {
                int close = address.IndexOf(']');
                return close > 0 ? address.Substring(1, close - 1) : address;
            }
            int colon = address.LastIndexOf(':');
            return colon > 0 && address.IndexOf(':') == colon ? address.Substring(0, colon) : address;
        }

        internal static bool IsBadAdvertiseAddress(string host)
        {
            if (!IPAddress.TryParse(host, out IPAddress ip)) return string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase);
            return IPAddress.IsLoopback(ip) || ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any);
        }
    }
}
