using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net.Http;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Nodes;
using SwarmAdmin.Recovery;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Backup-SwarmManager: stops one manager's engine (only while the swarm keeps quorum without it), archives its
    /// swarm state directory into an encrypted file with metadata, starts the engine again and waits until the
    /// manager is Reachable.
    /// </summary>
    [Cmdlet(VerbsData.Backup, "SwarmManager", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmManagerBackup))]
    public sealed class BackupSwarmManagerCommand : SwarmNodeCmdlet
    {
        /// <summary>A folder (the file is named swarm-HOST-TIME.swarmbackup) or the backup file's path.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        /// <summary>The password the backup is encrypted with (Restore-SwarmManager needs it).</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNull]
        public SecureString Password { get; set; }

        /// <summary>Back up even when stopping this manager's engine leaves the swarm without quorum for a while.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds the manager may take to be Ready and Reachable again after the backup.</summary>
        [Parameter]
        [ValidateRange(10, 3600)]
        public int TimeoutSec { get; set; } = 120;

        /// <summary>SSH private key for the manager. Default: the context's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts for the manager. Default: the context's.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        protected override async Task ProcessNodeAsync(SwarmContext ctx, NodeListResponse node)
        {
            var watch = Stopwatch.StartNew();
            string host = node.Description?.Hostname ?? node.ID;
            if (!string.Equals(node.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase))
            {
                throw new SwarmException(SwarmErrorId.NotASwarmManager, ErrorCategory.InvalidArgument,
                    $"{Describe(node)} is a worker: only a manager holds the swarm's state.", SwarmNode.From(node, ctx))
                { RecommendedAction = "Back up one of the managers (Get-SwarmNode | Where-Object Role -eq Manager)." };
            }

            // Quorum while this manager's engine is down.
            var nodes = await CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var managers = nodes.Where(n => n.ManagerStatus != null).ToList();
            int reachable = managers.Count(n => n.IsReachableManager());
            bool self = managers.Any(m => m.ID == node.ID && m.IsReachableManager());
            int quorum = managers.Count / 2 + 1;
            int left = reachable - (self ? 1 : 0);
            if (left < quorum)
            {
                string why = $"Stopping the engine of {host} leaves {left} of {managers.Count} managers reachable; the swarm needs {quorum} for quorum, so it could not schedule or change anything until the backup ends.";
                if (!Force)
                {
                    throw new SwarmException(SwarmErrorId.QuorumGuard, ErrorCategory.InvalidOperation, why + " Nothing was changed.", SwarmNode.From(node, ctx))
                    { RecommendedAction = "Bring the unreachable managers back first (Test-SwarmQuorum lists them), back up when the swarm has a manager to spare, or use -Force to accept the outage." };
                }
                ((IOperationLog)this).Warning(why + " Going ahead because of -Force.");
            }

            string path = ResolveDestination(host);
            if (File.Exists(path))
            {
                throw new SwarmException(SwarmErrorId.BackupExists, ErrorCategory.ResourceExists, $"{path} already exists; a backup never overwrites a file.", path)
                { RecommendedAction = "Give another -Destination (a folder names each file by host and time), or remove the old file." };
            }
            if (!ShouldProcess(Describe(node), $"Stop its Docker engine, archive its swarm state into {path} (encrypted), start the engine again"))
                return;

            var progress = new ProgressRecord(4701, $"Backing up manager {host}", "Reading the swarm's metadata");
            WriteProgress(progress);
            SwarmBackupMetadata meta = await CallAsync(ctx, "describe the swarm", (c, t) => ManagerState.DescribeSwarmAsync(c, t));
            string unlockKey = null;
            if (meta.Autolocked)
            {
                // asked before the engine stops, so the restarted manager can be unlocked; never written anywhere
                unlockKey = await CallAsync(ctx, "GET /swarm/unlockkey", async (c, t) => (await c.Swarm.GetSwarmUnlockKeyAsync(t)).UnlockKey);
            }

            string address = node.Status?.Addr;
            SwarmEndpoint known = ctx.Endpoints.FirstOrDefault(e => e.Scheme == EndpointScheme.Ssh && string.Equals(e.Host, address, StringComparison.OrdinalIgnoreCase))
                                  ?? ctx.Endpoints.FirstOrDefault(e => e.Scheme == EndpointScheme.Ssh && string.Equals(e.Host, host, StringComparison.OrdinalIgnoreCase));
            var target = new SwarmNodeTarget(known?.ToString() ?? $"ssh://{ctx.User ?? "root"}@{address}");
            string keyFile = KeyFile != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile) : null;
            string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : null;

            byte[] password = SwarmBackupArchive.PasswordBytes(Password);
            TimeSpan downtime;
            try
            {
                using (NodeShell shell = await NodeShell.ConnectAsync(ctx, target, keyFile, knownHosts, StopToken))
                {
                    SystemInfoResponse info;
                    using (EngineConnection engine = await shell.OpenEngineAsync(StopToken))
                    using (var lim = ManagerState.Limit(StopToken, ctx.TimeoutSec))
                        info = await engine.Client.System.GetSystemInfoAsync(lim.Token);
                    if (info.Swarm?.NodeID != node.ID)
                    {
                        throw new SwarmException(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidResult,
                            $"{target} answers as node {info.Swarm?.NodeID ?? "(none)"} ({info.Name}), not {Describe(node)}: it is not the machine to back up.", SwarmNode.From(node, ctx))
                        { RecommendedAction = "Connect with an endpoint per manager (Connect-SwarmCluster -Endpoint ...), so the node's address leads to it over SSH." };
                    }
                    meta.CreatedAt = DateTime.UtcNow;
                    meta.NodeId = node.ID;
                    meta.NodeHostname = info.Name;
                    meta.NodeAddress = address;
                    meta.EngineVersion = info.ServerVersion;
                    meta.DataRoot = info.DockerRootDir;

                    progress.StatusDescription = $"Engine stopped on {host}: archiving {info.DockerRootDir}/swarm";
                    Directory.CreateDirectory(Path.GetDirectoryName(path));
                    progress.PercentComplete = 30;
                    WriteProgress(progress);
                    downtime = await ManagerState.WriteBackupAsync(shell, info.DockerRootDir, path, meta, password, unlockKey, this, StopToken);
                }
            }
            finally
            {
                Array.Clear(password, 0, password.Length);
                unlockKey = null;
            }

            await WaitForNodeAsync(ctx, node.ID, n => string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase) && n.IsReachableManager(),
                TimeSpan.FromSeconds(TimeoutSec), "come back Ready and Reachable after the backup");
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            Verbose($"{host} is Ready and Reachable again; its engine was down for {downtime.TotalSeconds:0.0} s.");

            var result = ToResult(path, meta);
            result.EngineDowntime = downtime;
            result.Duration = watch.Elapsed;
            WriteObject(result);
        }

        internal static SwarmManagerBackup ToResult(string path, SwarmBackupMetadata meta) => new SwarmManagerBackup
        {
            Path = path,
            Size = File.Exists(path) ? new FileInfo(path).Length : 0,
            CreatedAt = meta.CreatedAt,
            ClusterId = meta.ClusterId,
            NodeId = meta.NodeId,
            NodeHostname = meta.NodeHostname,
            NodeAddress = meta.NodeAddress,
            EngineVersion = meta.EngineVersion,
            RaftIndex = meta.RaftIndex,
            Autolocked = meta.Autolocked,
            Managers = meta.Managers ?? Array.Empty<string>(),
            Nodes = meta.Nodes,
            Services = meta.Services,
            Secrets = meta.Secrets,
            Configs = meta.Configs,
        };

        private string ResolveDestination(string host)
        {
            string full = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Destination);
            bool folder = Directory.Exists(full) || Destination.EndsWith("/", StringComparison.Ordinal) || Destination.EndsWith("\\", StringComparison.Ordinal);
            if (!folder) return full;
            return Path.Combine(full, BackupFileName(host, DateTime.UtcNow));
        }

        internal static string BackupFileName(string host, DateTime utc)
        {
            string safe = new string((host ?? "manager").Select(ch => char.IsLetterOrDigit(ch) || ch == '-' || ch == '.' || ch == '_' ? ch : '_').ToArray());
            return "swarm-" + safe + "-" + utc.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture) + ".swarmbackup";
        }
    }
}
