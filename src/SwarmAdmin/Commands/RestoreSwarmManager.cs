using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Security.Cryptography;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Recovery;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Restore-SwarmManager: puts a Backup-SwarmManager archive on a machine and makes it the only manager of the
    /// backed-up swarm (force-new-cluster), with every service, secret, config, network and node label the backup holds.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "SwarmManager", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(SwarmManagerRestore))]
    public sealed class RestoreSwarmManagerCommand : SwarmContextCmdlet
    {
        /// <summary>The backup file (or a SwarmManagerBackup from Backup-SwarmManager).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Path", "FullName")]
        [ValidateNotNullOrEmpty]
        public string Backup { get; set; }

        /// <summary>The machine to restore on: an SSH target (root@10.0.0.11) or a node from Import-SwarmClusterConfig.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNull]
        public SwarmNodeTarget Node { get; set; }

        /// <summary>The backup's password.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNull]
        public SecureString Password { get; set; }

        /// <summary>The swarm's unlock key, when the backed-up swarm was autolocked.</summary>
        [Parameter]
        public SecureString UnlockKey { get; set; }

        /// <summary>The address the restored manager advertises. Default: the node's declared IP, or the target's host when it is an IP.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string AdvertiseAddress { get; set; }

        /// <summary>Restore even though the machine is a member of a swarm (its state is moved aside on the machine, not deleted).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Leave the old swarm's managers listed (Down) instead of removing them.</summary>
        [Parameter]
        public SwitchParameter KeepLostManagers { get; set; }

        /// <summary>Seconds the restored manager may take to lead a working swarm.</summary>
        [Parameter]
        [ValidateRange(10, 3600)]
        public int TimeoutSec { get; set; } = 120;

        /// <summary>SSH private key for the machine. Default: the node's from the cluster file, else the context's, else ~/.ssh's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts for the machine. Default: the node's from the cluster file, else the context's, else ~/.ssh/known_hosts.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        protected override object CurrentTarget => Node;

        protected override async Task ProcessRecordAsync()
        {
            var watch = Stopwatch.StartNew();
            SwarmContext ctx = Context ?? SwarmContext.Default;
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Backup);
            if (!File.Exists(path))
                throw new SwarmException(SwarmErrorId.BackupUnreadable, ErrorCategory.ObjectNotFound, $"No backup file at {path}.", Backup)
                { RecommendedAction = "Give the path of a file Backup-SwarmManager wrote (*.swarmbackup)." };

            byte[] password = SwarmBackupArchive.PasswordBytes(Password);
            try
            {
                using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    var (meta, tar) = OpenBackup(file, password, path);
                    using (tar)
                    {
                        string keyFile = KeyFile != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile) : null;
                        string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : null;
                        using (NodeShell shell = await NodeShell.ConnectAsync(ctx, Node, keyFile, knownHosts, StopToken))
                        {
                            SwarmEndpoint endpoint = shell.Endpoint;
                            string advertise = Node.ResolveAdvertiseAddress(endpoint, AdvertiseAddress);
                            string problem = SwarmNodeTarget.CheckAdvertiseAddress(advertise);
                            if (problem != null) throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"Cannot restore on {Node}: {problem}.", Node);

                            SystemInfoResponse info = null;
                            try
                            {
                                using (EngineConnection engine = await shell.OpenEngineAsync(StopToken))
                                using (var lim = ManagerState.Limit(StopToken, 30))
                                    info = await engine.Client.System.GetSystemInfoAsync(lim.Token);
                            }
                            catch (Exception ex) when (!StopToken.IsCancellationRequested) { Verbose($"The engine on {shell.Name} does not answer ({SwarmErrors.Unwrap(ex).Message}); it is started after the restore."); }
                            string state = info?.Swarm?.LocalNodeState ?? "inactive";
                            if (info == null)
                            {
                                // the engine is down: its state directory tells whether the machine is a swarm member
                                string probeRoot = (meta.DataRoot ?? "/var/lib/docker").TrimEnd('/');
                                string has = await shell.RunAsync("Looking for swarm state", $"test -d {NodeShell.Quote(probeRoot + "/swarm/raft")} && echo yes || true", timeout: TimeSpan.FromSeconds(30), ct: StopToken);
                                if ((has ?? "").Trim() == "yes") state = "unknown (the engine is down, but the machine holds swarm state)";
                            }
                            if (!string.Equals(state, "inactive", StringComparison.OrdinalIgnoreCase) && !Force)
                            {
                                string which = info == null ? "a swarm" : string.Equals(info.Swarm?.Cluster?.ID, meta.ClusterId, StringComparison.Ordinal) ? "the backed-up swarm" : $"swarm {(string.IsNullOrEmpty(info.Swarm?.Cluster?.ID) ? "(unknown)" : info.Swarm.Cluster.ID)}";
                                throw new SwarmException(SwarmErrorId.RestoreTargetInUse, ErrorCategory.ResourceExists,
                                    $"{shell.Name} ({info?.Name ?? shell.Endpoint.Host}) is a member of {which} (state {state}); restoring replaces its swarm state. Nothing was changed.", Node)
                                { RecommendedAction = "Restore on a machine that is in no swarm, or use -Force (its state is moved aside on the machine). To recover a swarm that lost its quorum from a surviving manager, use Restore-SwarmQuorum." };
                            }
                            string dataRoot = info?.DockerRootDir ?? meta.DataRoot ?? "/var/lib/docker";

                            if (!ShouldProcess($"{Node} ({shell.Endpoint.Host})", $"Replace its swarm state with the backup of {meta.NodeHostname} from {meta.CreatedAt:u} (cluster {meta.ClusterId}, raft index {meta.RaftIndex}) and force a new single-manager cluster advertising {advertise}"))
                                return;

                            var progress = new ProgressRecord(4702, $"Restoring {meta.NodeHostname}'s swarm state on {shell.Name}", "Stopping the engine and extracting the backup");
                            WriteProgress(progress);
                            string previous = await Task.Run(() => ManagerState.RestoreAsync(shell, dataRoot, tar, advertise, UnlockKey, this, StopToken));

                            progress.StatusDescription = "Waiting for the restored manager to lead the swarm";
                            progress.PercentComplete = 60;
                            WriteProgress(progress);
                            using (EngineConnection engine = await Task.Run(() => ManagerState.WaitForLeaderAsync(shell, TimeSpan.FromSeconds(TimeoutSec), StopToken)))
                            {
                                var removed = KeepLostManagers ? new System.Collections.Generic.List<string>()
                                    : await Task.Run(() => ManagerState.RemoveGhostManagersAsync(engine.Client, meta.NodeId, this, StopToken));
                                var now = await Task.Run(() => ManagerState.DescribeSwarmAsync(engine.Client, StopToken));
                                progress.RecordType = ProgressRecordType.Completed;
                                WriteProgress(progress);
                                SystemInfoResponse self;
                                using (var lim = ManagerState.Limit(StopToken, 30)) self = await engine.Client.System.GetSystemInfoAsync(lim.Token);
                                await WarnIfStaleAddressAsync(engine, self, advertise);
                                if (now.Nodes > 1)
                                    ((IOperationLog)this).Warning($"{now.Nodes - 1} other node(s) of the restored swarm are listed; workers that knew only the old managers' addresses must join again (Restore-SwarmQuorum, or Join-SwarmNode -Force).");
                                WriteObject(new SwarmManagerRestore
                                {
                                    Node = self.Name,
                                    Address = advertise,
                                    ClusterId = now.ClusterId,
                                    NodeId = self.Swarm?.NodeID,
                                    BackupPath = path,
                                    BackupCreatedAt = meta.CreatedAt,
                                    RaftIndex = meta.RaftIndex,
                                    RemovedManagers = removed.ToArray(),
                                    Nodes = now.Nodes,
                                    Services = now.Services,
                                    Secrets = now.Secrets,
                                    Configs = now.Configs,
                                    PreviousStatePath = previous,
                                    Duration = watch.Elapsed,
                                });
                            }
                        }
                    }
                }
            }
            finally
            {
                Array.Clear(password, 0, password.Length);
            }
        }

        /// <summary>
        /// The engine keeps the manager's raft address from the backed-up state even when the new cluster is forced with
        /// another advertise address (docker/for-linux#523): nodes told to reach it there would fail. Says so, with what to do.
        /// </summary>
        private async Task WarnIfStaleAddressAsync(EngineConnection engine, SystemInfoResponse self, string advertise)
        {
            string announced = null;
            try
            {
                using (var lim = ManagerState.Limit(StopToken, 30))
                    announced = (await engine.Client.Swarm.InspectNodeAsync(self.Swarm.NodeID, lim.Token)).ManagerStatus?.Addr;
            }
            catch (Exception) when (!StopToken.IsCancellationRequested) { return; }
            string host = Quorum.QuorumAnalyzer.HostOf(announced);
            string wanted = Quorum.QuorumAnalyzer.HostOf(advertise.Contains(":") ? advertise : advertise + ":2377");
            if (host == null || wanted == null || string.Equals(host, wanted, StringComparison.OrdinalIgnoreCase)) return;
            ((IOperationLog)this).Warning($"The restored manager still announces the backed-up node's address {announced}, not {advertise}: the engine keeps a manager's raft address across a forced new cluster (docker/for-linux#523). " +
                $"Nodes that look for the managers at {announced} cannot reach it. Restore on a machine that has the address {host} (a VM recreated from the cluster file keeps its static IP), or give that address to this machine and restart its engine.");
        }

        /// <summary>Opens and authenticates a backup file; errors say whether the file or the password is wrong.</summary>
        internal static (SwarmBackupMetadata, Stream) OpenBackup(Stream file, byte[] password, string path)
        {
            try { return SwarmBackupArchive.Open(file, password); }
            catch (Exception ex) when (ex is InvalidDataException || ex is FormatException)
            {
                throw new SwarmException(SwarmErrorId.BackupUnreadable, ErrorCategory.InvalidData, $"{path}: {ex.Message}", path, ex)
                { RecommendedAction = "Give a file Backup-SwarmManager wrote; a copy that was cut short cannot be restored." };
            }
            catch (CryptographicException ex)
            {
                throw new SwarmException(SwarmErrorId.BackupPasswordWrong, ErrorCategory.SecurityError, $"{path}: {ex.Message}", path, ex)
                { RecommendedAction = "Give the password the backup was made with. Nothing was changed on any node." };
            }
        }
    }
}
