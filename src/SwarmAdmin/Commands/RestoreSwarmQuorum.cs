using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Recovery;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Restore-SwarmQuorum: after a majority of managers is lost, brings the swarm back from the best surviving
    /// manager (or from a backup): backs the survivor up, forces a new cluster on it, removes the lost managers,
    /// promotes or joins machines until the wanted number of managers, rejoins workers that cannot find the
    /// managers, re-applies the cluster file's labels and ends with a quorum check.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "SwarmQuorum", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(SwarmQuorumRecovery))]
    public sealed class RestoreSwarmQuorumCommand : SwarmContextCmdlet
    {
        /// <summary>The swarm's machines: SSH targets or nodes from Import-SwarmClusterConfig (roles and labels come from the file).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Nodes")]
        [ValidateNotNull]
        public SwarmNodeTarget[] Node { get; set; }

        /// <summary>A Backup-SwarmManager file to restore from when no manager survives.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Backup { get; set; }

        /// <summary>Password of -Backup, and of the backup taken of the survivor before anything changes.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNull]
        public SecureString Password { get; set; }

        /// <summary>Folder for the survivor's backup. Default: the current folder.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string BackupDirectory { get; set; }

        /// <summary>How many managers the swarm should have at the end. Default: the managers the cluster file declares, else 3.</summary>
        [Parameter]
        [ValidateRange(1, 9)]
        public int ManagerCount { get; set; }

        /// <summary>The swarm's unlock key, when it is autolocked.</summary>
        [Parameter]
        public SecureString UnlockKey { get; set; }

        /// <summary>The node label naming each manager's failure domain, for the final quorum check.</summary>
        [Parameter]
        [AllowEmptyString]
        public string FailureDomainLabel { get; set; } = "proxmox.host";

        /// <summary>Seconds each step may take (a node joining, the new leader answering).</summary>
        [Parameter]
        [ValidateRange(10, 3600)]
        public int TimeoutSec { get; set; } = 180;

        /// <summary>SSH private key for the machines. Default: each node's from the cluster file, else the context's, else ~/.ssh's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts for the machines. Default: each node's from the cluster file, else the context's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        private readonly List<SwarmNodeTarget> _targets = new List<SwarmNodeTarget>();

        protected override Task ProcessRecordAsync()
        {
            _targets.AddRange(Node.Where(n => n != null));
            return Task.CompletedTask;
        }

        private sealed class Probe
        {
            public SwarmNodeTarget Target;
            public NodeShell Shell;
            public SystemInfoResponse Info;
            public Exception Error;
            public SwarmStateFacts State;
            public ulong RaftIndex => State?.SnapshotIndex ?? 0;
            public DateTime? RaftWrite => State?.LastWrite;
            public bool HasLeader;
            public bool Locked => string.Equals(Info?.Swarm?.LocalNodeState, "locked", StringComparison.OrdinalIgnoreCase);
            /// <summary>A manager: it says so, or (locked, so it cannot say) its certificate does.</summary>
            public bool IsManager => Info?.Swarm?.ControlAvailable == true || (Locked && State?.IsManager == true);
            public string ClusterId => string.IsNullOrEmpty(Info?.Swarm?.Cluster?.ID) ? State?.ClusterId : Info.Swarm.Cluster.ID;
            public string Name => Target.Name ?? Info?.Name ?? Target.Text;
            public bool DeclaredManager => Target.Role == SwarmNodeRole.Manager;
        }

        protected override async Task EndProcessingAsync()
        {
            if (_targets.Count == 0) return;
            var watch = Stopwatch.StartNew();
            SwarmContext userCtx = Context ?? SwarmContext.Default;
            string keyFile = KeyFile != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile) : null;
            string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : null;
            string backupPath = Backup != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Backup) : null;
            string backupDir = SessionState.Path.GetUnresolvedProviderPathFromPSPath(BackupDirectory ?? ".");
            int declaredManagers = _targets.Count(t => t.Role == SwarmNodeRole.Manager);
            int wanted = MyInvocation.BoundParameters.ContainsKey(nameof(ManagerCount)) ? ManagerCount : declaredManagers > 0 ? declaredManagers : Math.Min(3, _targets.Count);
            var progress = new ProgressRecord(4703, "Restoring the swarm's quorum", $"Asking {_targets.Count} machine(s) what they hold");
            WriteProgress(progress);

            // 1. What every machine holds.
            var probeTasks = _targets.Select(t => Task.Run(() => ProbeAsync(userCtx, t, keyFile, knownHosts))).ToList();
            Probe[] probes;
            try { probes = await Task.WhenAll(probeTasks); }
            catch
            {
                foreach (var t in probeTasks.Where(x => x.Status == System.Threading.Tasks.TaskStatus.RanToCompletion)) t.Result.Shell?.Dispose();
                throw;
            }
            try
            {
                foreach (var p in probes)
                {
                    if (p.Error != null) Verbose($"{p.Name}: does not answer ({SwarmErrors.Unwrap(p.Error).Message}).");
                    else Verbose($"{p.Name}: engine {p.Info.ServerVersion}, swarm {p.Info.Swarm?.LocalNodeState}, cluster {p.ClusterId ?? "-"}, manager {p.IsManager}, raft snapshot {p.RaftIndex}, raft log written {(p.RaftWrite.HasValue ? p.RaftWrite.Value.ToString("u") : "-")}{(p.HasLeader ? ", the swarm has a leader" : "")}.");
                }
                var recovery = new SwarmQuorumRecovery { TargetManagers = wanted, BackupPath = null };
                var steps = new List<SwarmRecoveryStep>();
                SwarmRecoveryStep Step(SwarmRecoveryAction a, string target, string detail) { var s = new SwarmRecoveryStep { Order = steps.Count + 1, Action = a, Target = target, Detail = detail }; steps.Add(s); return s; }

                // 2. The source of the recovered swarm.
                Probe intact = probes.FirstOrDefault(p => p.HasLeader);
                Probe source;
                if (intact != null)
                {
                    source = intact;
                    recovery.Source = "Intact";
                    Verbose($"The swarm still has a leader (asked through {intact.Name}): no new cluster is forced; only the manager count and labels are checked.");
                }
                else
                {
                    var clusters = probes.Where(p => p.IsManager && p.ClusterId != null).GroupBy(p => p.ClusterId).OrderByDescending(g => g.Count()).ToList();
                    source = clusters.FirstOrDefault()?.OrderByDescending(p => p.RaftIndex).ThenByDescending(p => p.RaftWrite ?? DateTime.MinValue).ThenByDescending(p => p.DeclaredManager).First();
                    if (source != null)
                    {
                        recovery.Source = "Survivor";
                        if (clusters.Count > 1) ((IOperationLog)this).Warning($"The machines hold managers of {clusters.Count} different swarms; recovering {source.ClusterId}, which most of them belong to.");
                    }
                    else if (backupPath != null)
                    {
                        recovery.Source = "Backup";
                        // the engine keeps the backed-up manager's raft address (docker/for-linux#523): restore on the
                        // machine that has that address when there is one
                        string backedUp = null;
                        try { using (var f = new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.Read)) backedUp = SwarmBackupArchive.ReadMetadata(f).NodeAddress; }
                        catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is UnauthorizedAccessException) { /* reported when it is opened with the password */ }
                        var usable = probes.Where(p => p.Error == null && !p.IsManager).ToList();
                        source = usable.Where(p => backedUp != null && string.Equals(p.Shell.Endpoint.Host, backedUp, StringComparison.OrdinalIgnoreCase))
                            .Concat(usable.Where(p => p.DeclaredManager)).Concat(usable).FirstOrDefault();
                        if (source == null)
                        {
                            throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.RecoveryNoSource, ErrorCategory.ResourceUnavailable,
                                "No machine answers over SSH to restore the backup on. Nothing was changed.", backupPath));
                        }
                    }
                    else
                    {
                        string seen = string.Join("; ", probes.Select(p => p.Error != null ? $"{p.Name}: no answer ({SwarmErrors.Unwrap(p.Error).Message})" : $"{p.Name}: swarm {p.Info.Swarm?.LocalNodeState}, not a manager"));
                        var rec = SwarmErrors.Record(SwarmErrorId.RecoveryNoSource, ErrorCategory.ResourceUnavailable,
                            $"No manager of the swarm answers among the machines given, and no -Backup was given. Nothing was changed. {seen}", _targets.ToArray());
                        rec.ErrorDetails = new ErrorDetails(rec.Exception.Message) { RecommendedAction = "Give every machine of the swarm (Import-SwarmClusterConfig cluster.yml | Restore-SwarmQuorum), fix what keeps them from answering, or restore a backup with -Backup." };
                        throw new TerminatingErrorException(rec);
                    }
                }
                recovery.Survivor = source.Name;
                if (source.Locked && UnlockKey == null)
                {
                    var rec = SwarmErrors.Record(SwarmErrorId.SwarmLocked, ErrorCategory.SecurityError,
                        $"The swarm is autolocked: {source.Name} holds its state locked, and no -UnlockKey was given. Nothing was changed.", source.Name);
                    rec.ErrorDetails = new ErrorDetails(rec.Exception.Message) { RecommendedAction = "Run Restore-SwarmQuorum again with -UnlockKey (Read-Host -AsSecureString)." };
                    throw new TerminatingErrorException(rec);
                }
                SwarmBackupMetadata backupMeta = null;
                byte[] password = SwarmBackupArchive.PasswordBytes(Password);
                try
                {
                    if (recovery.Source == "Backup")
                    {
                        using (var f = new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.Read))
                        {
                            var (meta, tar) = RestoreSwarmManagerCommand.OpenBackup(f, password, backupPath);
                            tar.Dispose();
                            backupMeta = meta;
                        }
                    }
                    string clusterId = recovery.Source == "Backup" ? backupMeta.ClusterId : source.ClusterId;
                    recovery.ClusterId = clusterId;
                    string advertise = source.Target.ResolveAdvertiseAddress(source.Shell.Endpoint, null) ?? source.Info?.Swarm?.NodeAddr;
                    string survivorBackup = null;

                    // 3. The plan.
                    if (recovery.Source == "Survivor")
                    {
                        survivorBackup = Path.Combine(backupDir, BackupSwarmManagerCommand.BackupFileName(source.Info.Name, DateTime.UtcNow));
                        Step(SwarmRecoveryAction.Backup, source.Name, $"Back up its swarm state (raft log written {(source.RaftWrite.HasValue ? source.RaftWrite.Value.ToString("u") : "?")}) to {survivorBackup} before anything changes");
                        Step(SwarmRecoveryAction.ForceNewCluster, source.Name, $"Force a new cluster from its state (cluster {clusterId}), advertising {advertise}");
                        var lost = (source.Info.Swarm.RemoteManagers ?? new List<Peer>()).Where(pe => pe.NodeID != source.Info.Swarm.NodeID).Select(pe => pe.Addr).ToList();
                        Step(SwarmRecoveryAction.RemoveManager, string.Join(", ", lost), "Remove the managers that are no longer part of the raft group");
                    }
                    else if (recovery.Source == "Backup")
                    {
                        Step(SwarmRecoveryAction.RestoreBackup, source.Name, $"Put the backup of {backupMeta.NodeHostname} from {backupMeta.CreatedAt:u} (raft index {backupMeta.RaftIndex}) on it and force a new cluster advertising {advertise}");
                        Step(SwarmRecoveryAction.RemoveManager, string.Join(", ", backupMeta.Managers ?? Array.Empty<string>()), "Remove the backup's other managers");
                    }

                    int managers = recovery.Source == "Intact" ? probes.Count(p => p.IsManager && p.ClusterId == clusterId) : 1;
                    var candidates = probes.Where(p => p != source).OrderByDescending(p => p.DeclaredManager).ToList();
                    var roleSteps = new List<(SwarmRecoveryStep Step, Probe P)>();
                    foreach (var p in candidates)
                    {
                        bool eligible = declaredManagers > 0 ? p.DeclaredManager : true;
                        if (!eligible || managers >= wanted) continue;
                        if (recovery.Source == "Intact" && p.IsManager && p.ClusterId == clusterId) continue; // already counted
                        if (p.Error != null)
                        {
                            var s = Step(SwarmRecoveryAction.Join, p.Name, "Does not answer over SSH: recreate the machine (Sync-SwarmCluster or New-SwarmVm) and run Restore-SwarmQuorum again");
                            s.Status = SwarmRecoveryStatus.Skipped;
                            continue;
                        }
                        bool memberWorker = p.ClusterId == clusterId && !p.IsManager && string.Equals(p.Info.Swarm?.LocalNodeState, "active", StringComparison.OrdinalIgnoreCase) && recovery.Source != "Backup";
                        roleSteps.Add(memberWorker
                            ? (Step(SwarmRecoveryAction.Promote, p.Name, "Promote this worker to manager"), p)
                            : (Step(SwarmRecoveryAction.Join, p.Name, p.ClusterId != null ? $"Leave its old swarm state and join as a manager" : "Join as a manager"), p));
                        managers++;
                    }
                    if (managers < wanted)
                        ((IOperationLog)this).Warning($"Only {managers} of the {wanted} wanted managers can be reached; recreate the missing machines and run Restore-SwarmQuorum again.");
                    var workers = probes.Where(p => p != source && p.Error == null && !roleSteps.Any(r => r.P == p) && !(p.IsManager && recovery.Source == "Intact")).ToList();
                    _workers = workers;
                    if (workers.Count > 0) Step(SwarmRecoveryAction.Rejoin, string.Join(", ", workers.Select(w => w.Name)), "Rejoin those that do not find the managers within 30 s (their labels are carried over)");
                    var labelled = probes.Where(p => p.Error == null && p.Target.Labels.Count > 0).ToList();
                    Step(SwarmRecoveryAction.SetLabels, labelled.Count > 0 ? string.Join(", ", labelled.Select(p => p.Name)) : "(recreated managers)", "Add the labels the cluster file declares, and give recreated managers the labels of the lost node with the same hostname");
                    Step(SwarmRecoveryAction.TestQuorum, clusterId, "Test-SwarmQuorum");
                    recovery.Steps = steps.ToArray();

                    // 4. Do it, step by step (each asks ShouldProcess, so -WhatIf lists them all and changes nothing).
                    bool Go(SwarmRecoveryStep s) => s.Status == SwarmRecoveryStatus.Planned && ShouldProcess(s.Target, $"{s.Action}: {s.Detail}");
                    var todo = steps.Where(s => s.Status == SwarmRecoveryStatus.Planned).ToList();
                    var approved = new HashSet<SwarmRecoveryStep>(todo.Where(Go));
                    if (approved.Count != todo.Count)
                    {
                        // -WhatIf, or the user declined a step: a partial recovery is worse than none
                        recovery.Duration = watch.Elapsed;
                        progress.RecordType = ProgressRecordType.Completed;
                        WriteProgress(progress);
                        if (approved.Count > 0) ((IOperationLog)this).Warning("Not every step was confirmed: nothing was changed.");
                        WriteObject(recovery);
                        return;
                    }

                    EngineConnection leader = null;
                    try
                    {
                        int done = 0;
                        void Report(SwarmRecoveryStep s) { progress.StatusDescription = $"{s.Action} {s.Target}"; progress.PercentComplete = Math.Min(99, done++ * 100 / steps.Count); WriteProgress(progress); }
                        foreach (var s in steps.Where(x => x.Status == SwarmRecoveryStatus.Planned))
                        {
                            Report(s);
                            try
                            {
                                await RunStepAsync(s, source, probes, roleSteps, recovery, survivorBackup, backupPath, password, advertise, clusterId, keyFile, knownHosts, () => leader, c => leader = c);
                                if (s.Status == SwarmRecoveryStatus.Planned) s.Status = SwarmRecoveryStatus.Done;
                            }
                            catch (Exception ex) when (!(ex is PipelineStoppedException) && !StopToken.IsCancellationRequested)
                            {
                                s.Status = SwarmRecoveryStatus.Failed;
                                s.Error = SwarmErrors.Unwrap(ex).Message;
                                WriteErrorFor(ex, s.Target);
                                if (s.Action == SwarmRecoveryAction.Backup || s.Action == SwarmRecoveryAction.ForceNewCluster || s.Action == SwarmRecoveryAction.RestoreBackup)
                                {
                                    foreach (var rest in steps.Where(x => x.Status == SwarmRecoveryStatus.Planned)) rest.Status = SwarmRecoveryStatus.Skipped;
                                    break;
                                }
                            }
                        }
                    }
                    finally { leader?.Dispose(); }
                    recovery.Managers = recovery.Quorum?.Managers ?? 0;
                }
                finally { Array.Clear(password, 0, password.Length); }

                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
                recovery.Duration = watch.Elapsed;
                WriteObject(recovery);
            }
            finally
            {
                foreach (var p in probes) p.Shell?.Dispose();
                _newCtx?.Dispose();
                _newCtx = null;
            }
        }

        private SwarmContext _newCtx;
        private List<Probe> _workers;
        /// <summary>Labels of the removed managers by hostname: a machine recreated under the same name gets them back.</summary>
        private readonly Dictionary<string, IDictionary<string, string>> _lostLabels = new Dictionary<string, IDictionary<string, string>>(StringComparer.OrdinalIgnoreCase);

        private async Task RunStepAsync(SwarmRecoveryStep s, Probe source, Probe[] probes, List<(SwarmRecoveryStep Step, Probe P)> roleSteps, SwarmQuorumRecovery recovery,
            string survivorBackup, string backupPath, byte[] password, string advertise, string clusterId, string keyFile, string knownHosts,
            Func<EngineConnection> getLeader, Action<EngineConnection> setLeader)
        {
            switch (s.Action)
            {
                case SwarmRecoveryAction.Backup:
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(survivorBackup));
                    var meta = new SwarmBackupMetadata
                    {
                        CreatedAt = DateTime.UtcNow, ClusterId = source.ClusterId, NodeId = source.Info.Swarm.NodeID, NodeHostname = source.Info.Name,
                        NodeAddress = source.Info.Swarm.NodeAddr, EngineVersion = source.Info.ServerVersion, RaftIndex = source.RaftIndex, DataRoot = source.Info.DockerRootDir,
                        Managers = (source.Info.Swarm.RemoteManagers ?? new List<Peer>()).Select(pe => pe.Addr).OrderBy(a => a, StringComparer.Ordinal).ToArray(),
                        Nodes = (int)(source.Info.Swarm.Nodes ?? 0),
                    };
                    await Task.Run(() => ManagerState.WriteBackupAsync(source.Shell, source.Info.DockerRootDir, survivorBackup, meta, password, null, this, StopToken));
                    recovery.BackupPath = survivorBackup;
                    s.Detail += " (written)";
                    break;
                }
                case SwarmRecoveryAction.ForceNewCluster:
                    await Task.Run(() => ManagerState.ForceNewClusterAsync(source.Shell, advertise, UnlockKey, this, StopToken));
                    setLeader(await Task.Run(() => ManagerState.WaitForLeaderAsync(source.Shell, TimeSpan.FromSeconds(TimeoutSec), StopToken)));
                    break;
                case SwarmRecoveryAction.RestoreBackup:
                {
                    using (var f = new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.Read))
                    {
                        var (meta, tar) = RestoreSwarmManagerCommand.OpenBackup(f, password, backupPath);
                        using (tar)
                        {
                            string dataRoot = source.Info?.DockerRootDir ?? meta.DataRoot;
                            await Task.Run(() => ManagerState.RestoreAsync(source.Shell, dataRoot, tar, advertise, UnlockKey, this, StopToken));
                        }
                    }
                    recovery.BackupPath = backupPath;
                    setLeader(await Task.Run(() => ManagerState.WaitForLeaderAsync(source.Shell, TimeSpan.FromSeconds(TimeoutSec), StopToken)));
                    break;
                }
                case SwarmRecoveryAction.RemoveManager:
                {
                    string keep = (source.Info?.Swarm?.NodeID is string id && id.Length > 0 && recovery.Source != "Backup") ? id : await SelfIdAsync(getLeader());
                    var removed = await Task.Run(() => ManagerState.RemoveGhostManagersAsync(getLeader().Client, keep, this, StopToken, _lostLabels));
                    s.Target = removed.Count > 0 ? string.Join(", ", removed) : "(none)";
                    break;
                }
                case SwarmRecoveryAction.Promote:
                {
                    var p = roleSteps.First(r => r.Step == s).P;
                    var r2 = Nested("param($c, $id, $to) Set-SwarmNodeRole -Context $c -Id $id -Role Manager -TimeoutSec $to -Confirm:$false", Ctx(source, keyFile, knownHosts), p.Info.Swarm.NodeID, TimeoutSec);
                    ThrowFirst(r2, p.Name);
                    break;
                }
                case SwarmRecoveryAction.Join:
                {
                    var p = roleSteps.First(r => r.Step == s).P;
                    var r2 = Nested("param($c, $t, $k, $kh, $to) $a = @{ Context = $c; Role = 'Manager'; Force = $true; TimeoutSec = $to; Confirm = $false }; if ($k) { $a.KeyFile = $k }; if ($kh) { $a.KnownHostsPath = $kh }; $t | Join-SwarmNode @a",
                        Ctx(source, keyFile, knownHosts), p.Target, keyFile, knownHosts, TimeoutSec);
                    ThrowFirst(r2, p.Name);
                    break;
                }
                case SwarmRecoveryAction.Rejoin:
                    await RejoinWorkersAsync(s, source, probes, roleSteps, keyFile, knownHosts);
                    break;
                case SwarmRecoveryAction.SetLabels:
                {
                    var ctx = Ctx(source, keyFile, knownHosts);
                    var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
                    var changed = new List<string>();
                    foreach (var p in probes.Where(x => x.Error == null && (x.Target.Labels.Count > 0 || _lostLabels.ContainsKey(x.Info.Name))))
                    {
                        var n = nodes.Where(x => string.Equals(x.Description?.Hostname, p.Info.Name, StringComparison.OrdinalIgnoreCase))
                                     .OrderByDescending(x => string.Equals(x.Status?.State, "ready", StringComparison.OrdinalIgnoreCase)).FirstOrDefault();
                        var wantedLabels = new Dictionary<string, string>(StringComparer.Ordinal);
                        if (_lostLabels.TryGetValue(p.Info.Name, out var lost)) foreach (var kv in lost) wantedLabels[kv.Key] = kv.Value;
                        foreach (var kv in p.Target.Labels) wantedLabels[kv.Key] = kv.Value;
                        if (n == null) continue;
                        var (_, did) = await UpdateNodeAsync(ctx, n, cur =>
                        {
                            var after = Nodes.NodeLabels.Apply(cur.Spec?.Labels, wantedLabels, null, null);
                            if (Nodes.NodeLabels.SameSet(cur.Spec?.Labels, after)) return null;
                            var spec = CopySpec(cur); spec.Labels = after; return spec;
                        });
                        if (did) changed.Add(p.Name);
                    }
                    s.Detail += changed.Count > 0 ? $" (changed: {string.Join(", ", changed)})" : " (all present)";
                    break;
                }
                case SwarmRecoveryAction.TestQuorum:
                {
                    var r2 = Nested("param($c, $l) Test-SwarmQuorum -Context $c -FailureDomainLabel $l", Ctx(source, keyFile, knownHosts), FailureDomainLabel ?? "");
                    ThrowFirst(r2, clusterId);
                    recovery.Quorum = r2.Output.Select(o => o.BaseObject).OfType<SwarmQuorumReport>().FirstOrDefault();
                    break;
                }
            }
        }

        /// <summary>Workers that do not come back on their own (they only knew lost managers) leave and join again.</summary>
        private async Task RejoinWorkersAsync(SwarmRecoveryStep s, Probe source, Probe[] probes, List<(SwarmRecoveryStep Step, Probe P)> roleSteps, string keyFile, string knownHosts)
        {
            var ctx = Ctx(source, keyFile, knownHosts);
            var workers = _workers ?? new List<Probe>();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            List<Probe> missing;
            while (true)
            {
                var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
                missing = workers.Where(w => !nodes.Any(n => n.ID == w.Info.Swarm?.NodeID && string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase))).ToList();
                if (missing.Count == 0 || DateTime.UtcNow > deadline) break;
                await Task.Delay(2000, StopToken);
            }
            if (missing.Count == 0) { s.Detail = "Every worker found the managers on its own"; s.Target = string.Join(", ", workers.Select(w => w.Name)); return; }
            var rejoined = new List<string>();
            var failed = new List<string>();
            foreach (var w in missing)
            {
                try
                {
                    Verbose($"{w.Name} did not come back within 30 s: it leaves its old swarm state and joins again.");
                    using (EngineConnection engine = await w.Shell.OpenEngineAsync(StopToken))
                    {
                        if (!string.Equals(engine.SwarmHeader, "inactive", StringComparison.OrdinalIgnoreCase))
                            using (var lim = ManagerState.Limit(StopToken, 60))
                                await engine.Client.Swarm.LeaveSwarmAsync(new SwarmLeaveParameters { Force = true }, lim.Token);
                    }
                    var r = Nested("param($c, $t, $k, $kh, $to) $a = @{ Context = $c; Role = 'Worker'; TimeoutSec = $to; Confirm = $false }; if ($k) { $a.KeyFile = $k }; if ($kh) { $a.KnownHostsPath = $kh }; $t | Join-SwarmNode @a",
                        ctx, w.Target, keyFile, knownHosts, TimeoutSec);
                    ThrowFirst(r, w.Name);
                    // older incarnations (not Ready, same hostname) gave their labels to the new one in Join-SwarmNode; they go now
                    var joined = r.Output.Select(o => o.BaseObject).OfType<SwarmNode>().FirstOrDefault();
                    var all = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
                    foreach (var old in all.Where(n => string.Equals(n.Description?.Hostname, w.Info.Name, StringComparison.OrdinalIgnoreCase) && n.ID != joined?.Id
                                                       && !string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase) && n.ManagerStatus == null))
                    {
                        try { await CallAsync(ctx, $"DELETE /nodes/{old.ID}", async (c, t) => { await c.Swarm.RemoveNodeAsync(old.ID, true, t); return true; }); }
                        catch (Docker.DotNet.DockerApiException ex) when ((int)ex.StatusCode == 404) { }
                    }
                    rejoined.Add(w.Name);
                }
                catch (Exception ex) when (!(ex is PipelineStoppedException) && !StopToken.IsCancellationRequested)
                {
                    failed.Add(w.Name);
                    WriteErrorFor(new SwarmException(SwarmErrorId.JoinFailed, ErrorCategory.ConnectionError,
                        $"{w.Name} did not rejoin the recovered swarm: {SwarmErrors.Unwrap(ex).Message}", w.Name, ex)
                    { RecommendedAction = $"Join it by hand: Join-SwarmNode -Node {w.Target.Text} -Force (its old node entry can go with Remove-SwarmNode -Stale)." }, w.Name);
                }
            }
            if (failed.Count > 0) { s.Status = SwarmRecoveryStatus.Failed; s.Error = "Not rejoined: " + string.Join(", ", failed); }
            s.Target = string.Join(", ", rejoined);
            s.Detail = "Rejoined (they did not find the managers on their own)";
        }

        private SwarmContext Ctx(Probe source, string keyFile, string knownHosts)
        {
            if (_newCtx != null) return _newCtx;
            var r = Nested("param($e, $k, $kh) $a = @{ Endpoint = $e; NoDefault = $true }; if ($k) { $a.KeyFile = $k }; if ($kh) { $a.KnownHostsPath = $kh }; Connect-SwarmCluster @a",
                source.Shell.Endpoint.ToString(), keyFile ?? source.Target.KeyFile ?? (Context ?? SwarmContext.Default)?.KeyFile?.FirstOrDefault(), knownHosts ?? source.Target.KnownHostsPath ?? (Context ?? SwarmContext.Default)?.KnownHostsPath);
            ThrowFirst(r, source.Name);
            _newCtx = r.Output.Select(o => o.BaseObject).OfType<SwarmContext>().FirstOrDefault()
                      ?? throw new SwarmException(SwarmErrorId.NotConnected, ErrorCategory.ConnectionError, $"Could not connect to the recovered manager {source.Name}.", source.Name);
            return _newCtx;
        }

        private async Task<string> SelfIdAsync(EngineConnection engine)
        {
            using (var lim = ManagerState.Limit(StopToken, 30)) return (await engine.Client.System.GetSystemInfoAsync(lim.Token)).Swarm?.NodeID;
        }

        private static void ThrowFirst(NestedResult r, object target)
        {
            var e = r.Errors.FirstOrDefault();
            if (e != null) throw new SwarmException(e.FullyQualifiedErrorId?.Split(',')[0] ?? SwarmErrorId.Unexpected, e.CategoryInfo.Category, e.Exception?.Message ?? e.ToString(), target, e.Exception);
        }

        private async Task<Probe> ProbeAsync(SwarmContext ctx, SwarmNodeTarget t, string keyFile, string knownHosts)
        {
            var p = new Probe { Target = t };
            try
            {
                p.Shell = await NodeShell.ConnectAsync(ctx, t, keyFile, knownHosts, StopToken).ConfigureAwait(false);
                using (EngineConnection engine = await p.Shell.OpenEngineAsync(StopToken).ConfigureAwait(false))
                {
                    using (var lim = ManagerState.Limit(StopToken, 30)) p.Info = await engine.Client.System.GetSystemInfoAsync(lim.Token).ConfigureAwait(false);
                    if (p.IsManager)
                    {
                        using (var call = CancellationTokenSource.CreateLinkedTokenSource(StopToken))
                        {
                            call.CancelAfter(TimeSpan.FromSeconds(5));
                            try
                            {
                                var nodes = await engine.Client.Swarm.ListNodesAsync(call.Token).ConfigureAwait(false);
                                // a leader that has not yet noticed it lost its majority still answers for a few seconds:
                                // count the managers it sees as reachable too
                                var managers = nodes.Where(n => n.ManagerStatus != null).ToList();
                                int reachable = managers.Count(n => string.Equals(n.ManagerStatus.Reachability, "reachable", StringComparison.OrdinalIgnoreCase));
                                p.HasLeader = nodes.Any(n => n.ManagerStatus?.Leader == true) && reachable >= managers.Count / 2 + 1;
                            }
                            catch (Exception) when (!StopToken.IsCancellationRequested) { p.HasLeader = false; }
                        }
                    }
                    if (!string.Equals(p.Info.Swarm?.LocalNodeState, "inactive", StringComparison.OrdinalIgnoreCase))
                        p.State = await p.Shell.ReadStateFactsAsync(p.Info.DockerRootDir, StopToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!StopToken.IsCancellationRequested)
            {
                p.Error = ex;
                if (p.Info == null) { p.Shell?.Dispose(); p.Shell = null; }
            }
            return p;
        }
    }
}
