using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net.Http;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Recovery
{
    /// <summary>
    /// Moving a manager's swarm state in and out of a node: shared by Backup-SwarmManager, Restore-SwarmManager and
    /// Restore-SwarmQuorum. Every method runs off the pipeline thread and reports through <see cref="IOperationLog"/>.
    /// </summary>
    internal static class ManagerState
    {
        /// <summary>What the swarm says about itself (counts, managers, the highest version index), when it can answer.</summary>
        public static async Task<SwarmBackupMetadata> DescribeSwarmAsync(DockerClient client, CancellationToken ct)
        {
            var meta = new SwarmBackupMetadata();
            ulong max = 0;
            void Seen(Docker.DotNet.Models.Version v) { if (v?.Index != null && v.Index.Value > max) max = v.Index.Value; }
            var swarm = await client.Swarm.InspectSwarmAsync(ct).ConfigureAwait(false);
            Seen(swarm.Version);
            meta.ClusterId = swarm.ID;
            meta.Autolocked = swarm.Spec?.EncryptionConfig?.AutoLockManagers == true;
            var nodes = await client.Swarm.ListNodesAsync(ct).ConfigureAwait(false);
            foreach (var n in nodes) Seen(n.Version);
            meta.Nodes = nodes.Count;
            meta.Managers = nodes.Where(n => n.ManagerStatus != null).Select(n => $"{n.Description?.Hostname} ({n.ManagerStatus.Addr})").OrderBy(s => s, StringComparer.Ordinal).ToArray();
            var services = await client.Swarm.ListServicesAsync(null, ct).ConfigureAwait(false);
            foreach (var s in services) Seen(s.Version);
            meta.Services = services.Count();
            var secrets = await client.Secrets.ListAsync(ct).ConfigureAwait(false);
            foreach (var s in secrets) Seen(s.Version);
            meta.Secrets = secrets.Count;
            var configs = await client.Configs.ListConfigsAsync(ct).ConfigureAwait(false);
            foreach (var c in configs) Seen(c.Version);
            meta.Configs = configs.Count;
            meta.RaftIndex = max;
            return meta;
        }

        /// <summary>A token that ends after <paramref name="seconds"/> or when <paramref name="ct"/> does: every engine call gets one.</summary>
        public static CancellationTokenSource Limit(CancellationToken ct, double seconds)
        {
            var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(seconds));
            return cts;
        }

        /// <summary>
        /// Stops the node's engine, writes its swarm state directory into an encrypted backup file, and starts the
        /// engine again (always once the stop was sent, also when the archive fails or Ctrl+C is pressed), unlocking it
        /// when <paramref name="unlockKey"/> is given. Returns how long the engine was down.
        /// </summary>
        public static async Task<TimeSpan> WriteBackupAsync(NodeShell shell, string dataRoot, string path, SwarmBackupMetadata meta, byte[] password, string unlockKey, IOperationLog log, CancellationToken ct)
        {
            string partial = path + ".partial";
            string root = (dataRoot ?? "/var/lib/docker").TrimEnd('/');
            var down = Stopwatch.StartNew();
            ct.ThrowIfCancellationRequested();
            try
            {
                log.Verbose($"Stopping the Docker engine on {shell.Name}.");
                // not cancellable once sent: a stop that is still running when we start again would win
                await shell.StopEngineAsync(CancellationToken.None).ConfigureAwait(false);
                log.Verbose($"Archiving {root}/swarm on {shell.Name} into {path}.");
                await Task.Run(() =>
                {
                    using (var file = CreatePrivateFile(partial))
                    {
                        SwarmBackupArchive.Write(file, meta, password, tar =>
                            shell.RunAsync("Archiving the swarm state", $"cd {NodeShell.Quote(root)} && test -d swarm && tar -cf - swarm", stdout: tar, timeout: TimeSpan.FromMinutes(10), ct: ct).GetAwaiter().GetResult());
                    }
                }, ct).ConfigureAwait(false);
            }
            catch
            {
                try { File.Delete(partial); } catch { /* best effort */ }
                throw;
            }
            finally
            {
                await StartAgainAsync(shell, unlockKey, log).ConfigureAwait(false);
                down.Stop();
            }
            try { File.Move(partial, path); }
            catch (IOException) when (File.Exists(path))
            {
                throw new SwarmException(SwarmErrorId.BackupExists, ErrorCategory.ResourceExists, $"{path} appeared while the backup was written; the new backup stays in {partial}.", path)
                { RecommendedAction = "Rename one of the two files." };
            }
            return down.Elapsed;
        }

        /// <summary>Starts the engine, waits for it and unlocks it, with a deadline of its own that Ctrl+C does not cut short.</summary>
        private static async Task StartAgainAsync(NodeShell shell, string unlockKey, IOperationLog log)
        {
            log.Verbose($"Starting the Docker engine on {shell.Name}.");
            using (var startCt = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
            {
                await shell.StartEngineAsync(startCt.Token).ConfigureAwait(false);
                using (var e = await shell.WaitForEngineAsync(TimeSpan.FromSeconds(90), startCt.Token).ConfigureAwait(false))
                {
                    if (unlockKey != null) await UnlockIfLockedAsync(e, shell.Name, unlockKey, log, startCt.Token).ConfigureAwait(false);
                }
            }
        }

        /// <summary>Unlocks an autolocked engine (the key goes only into the request body on the SSH channel).</summary>
        public static async Task UnlockIfLockedAsync(EngineConnection engine, string name, string unlockKey, IOperationLog log, CancellationToken ct)
        {
            SystemInfoResponse info;
            using (var lim = Limit(ct, 30)) info = await engine.Client.System.GetSystemInfoAsync(lim.Token).ConfigureAwait(false);
            if (!string.Equals(info.Swarm?.LocalNodeState, "locked", StringComparison.OrdinalIgnoreCase)) return;
            log.Verbose($"Unlocking the swarm state on {name}.");
            string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["UnlockKey"] = unlockKey });
            try
            {
                using (var lim = Limit(ct, 30)) await engine.SendAsync(HttpMethod.Post, "swarm/unlock", body, lim.Token).ConfigureAwait(false);
            }
            catch (DockerApiException ex)
            {
                throw new SwarmException(SwarmErrorId.SwarmLocked, ErrorCategory.SecurityError, $"The unlock key does not open the swarm state on {name} ({(int)ex.StatusCode}).", name)
                { RecommendedAction = $"Check the unlock key (the one in force when the state was written), then unlock {name} by hand: docker swarm unlock." };
            }
        }

        /// <summary>
        /// Puts a backup's swarm state on the node (extracted beside the node's own state first; the node's state is
        /// moved aside only once the backup is complete, and never deleted), starts the engine, unlocks it when the
        /// swarm was autolocked, and forces a new single-manager cluster from that state.
        /// Returns where the node's previous state went (or null when it had none).
        /// </summary>
        public static async Task<string> RestoreAsync(NodeShell shell, string dataRoot, Stream tar, string advertiseAddress, System.Security.SecureString unlockKey, IOperationLog log, CancellationToken ct)
        {
            string root = (dataRoot ?? "/var/lib/docker").TrimEnd('/');
            string previous;
            ct.ThrowIfCancellationRequested();
            try
            {
                log.Verbose($"Stopping the Docker engine on {shell.Name}.");
                await shell.StopEngineAsync(CancellationToken.None).ConfigureAwait(false);
                log.Verbose($"Extracting the backup into {root}/swarm on {shell.Name} (the node's own state is kept aside).");
                string out_ = await shell.RunAsync("Extracting the backup",
                    $"set -e; mkdir -p {NodeShell.Quote(root)}; cd {NodeShell.Quote(root)}; " +
                    "rm -rf swarm.restore-tmp; mkdir swarm.restore-tmp; trap 'rm -rf swarm.restore-tmp' EXIT; " +
                    "tar -C swarm.restore-tmp -xf -; test -d swarm.restore-tmp/swarm/raft; " +
                    "if [ -e swarm ]; then p=swarm.before-restore-$(date -u +%Y%m%d%H%M%S); mv swarm \"$p\"; echo \"$PWD/$p\"; fi; " +
                    "mv swarm.restore-tmp/swarm swarm",
                    stdin: tar, timeout: TimeSpan.FromMinutes(10), ct: ct).ConfigureAwait(false);
                previous = (out_ ?? string.Empty).Trim();
                if (previous.Length == 0) previous = null;
            }
            finally
            {
                await StartAgainAsync(shell, null, log).ConfigureAwait(false);
            }
            await ForceNewClusterAsync(shell, advertiseAddress, unlockKey, log, ct).ConfigureAwait(false);
            return previous;
        }

        /// <summary>
        /// docker swarm init --force-new-cluster on a node that holds a manager's state: the raft group becomes this
        /// node alone, with every service, secret, config, network and node label the state holds.
        /// </summary>
        public static async Task ForceNewClusterAsync(NodeShell shell, string advertiseAddress, System.Security.SecureString unlockKey, IOperationLog log, CancellationToken ct)
        {
            using (EngineConnection engine = await shell.WaitForEngineAsync(TimeSpan.FromSeconds(90), ct).ConfigureAwait(false))
            {
                SystemInfoResponse info;
                using (var lim = Limit(ct, 30)) info = await engine.Client.System.GetSystemInfoAsync(lim.Token).ConfigureAwait(false);
                if (string.Equals(info.Swarm?.LocalNodeState, "locked", StringComparison.OrdinalIgnoreCase))
                {
                    if (unlockKey == null)
                    {
                        throw new SwarmException(SwarmErrorId.SwarmLocked, ErrorCategory.SecurityError,
                            $"The swarm state on {shell.Name} is autolocked and no -UnlockKey was given.", shell.Name)
                        { RecommendedAction = "Run the command again with -UnlockKey (Read-Host -AsSecureString; the key 'docker swarm unlock-key' showed when autolock was turned on)." };
                    }
                    await UnlockIfLockedAsync(engine, shell.Name, SecureStrings.ToPlain(unlockKey), log, ct).ConfigureAwait(false);
                }
                log.Verbose($"Forcing a new cluster from the state on {shell.Name} (advertise address {advertiseAddress}).");
                string req = JsonSerializer.Serialize(new Dictionary<string, object> { ["ListenAddr"] = "0.0.0.0:2377", ["AdvertiseAddr"] = advertiseAddress, ["ForceNewCluster"] = true });
                using (var lim = Limit(ct, 60)) await engine.SendAsync(HttpMethod.Post, "swarm/init", req, lim.Token).ConfigureAwait(false);
            }
        }

        /// <summary>Waits until the node's engine answers as the leader of a working swarm (it can list the nodes).</summary>
        public static async Task<EngineConnection> WaitForLeaderAsync(NodeShell shell, TimeSpan timeout, CancellationToken ct)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            Exception last = null;
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                EngineConnection engine = null;
                try
                {
                    engine = await shell.OpenEngineAsync(ct).ConfigureAwait(false);
                    using (var call = CancellationTokenSource.CreateLinkedTokenSource(ct))
                    {
                        call.CancelAfter(TimeSpan.FromSeconds(10));
                        var nodes = await engine.Client.Swarm.ListNodesAsync(call.Token).ConfigureAwait(false);
                        if (nodes.Any(n => n.ManagerStatus?.Leader == true)) return engine;
                    }
                }
                catch (Exception ex) when (!ct.IsCancellationRequested) { last = ex; }
                engine?.Dispose();
                if (DateTime.UtcNow > deadline)
                {
                    throw new SwarmException(SwarmErrorId.Timeout, ErrorCategory.OperationTimeout,
                        $"{shell.Name} did not become the leader of a working swarm within {timeout.TotalSeconds:0} s: {SwarmErrors.Unwrap(last)?.Message ?? "no leader yet"}", shell.Name)
                    { RecommendedAction = $"Look at the engine log on {shell.Name}; 'docker node ls' there shows what it sees." };
                }
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Removes the managers that are not part of the raft group any more (after a forced new cluster they stay
        /// listed as Down managers and cannot come back): demote, then remove with force. Returns their hostnames.
        /// </summary>
        public static async Task<List<string>> RemoveGhostManagersAsync(DockerClient client, string keepNodeId, IOperationLog log, CancellationToken ct, IDictionary<string, IDictionary<string, string>> labelsByHost = null)
        {
            var removed = new List<string>();
            IList<NodeListResponse> nodes;
            using (var lim = Limit(ct, 30)) nodes = await client.Swarm.ListNodesAsync(lim.Token).ConfigureAwait(false);
            foreach (var n in nodes.Where(n => n.ID != keepNodeId && (n.ManagerStatus != null || string.Equals(n.Spec?.Role, "manager", StringComparison.OrdinalIgnoreCase))))
            {
                bool alive = string.Equals(n.ManagerStatus?.Reachability, "reachable", StringComparison.OrdinalIgnoreCase);
                if (alive) continue;
                string name = n.Description?.Hostname ?? n.ID;
                log.Verbose($"Removing the lost manager {name} ({n.ID}) from the swarm.");
                try { using (var lim = Limit(ct, 30)) await client.Swarm.RemoveNodeAsync(n.ID, true, lim.Token).ConfigureAwait(false); }
                catch (DockerApiException ex) when ((int)ex.StatusCode == 400 || (int)ex.StatusCode == 412 || (int)ex.StatusCode == 500)
                {
                    // still listed in the raft member list: demote first, then remove
                    log.Verbose($"{name} is still a raft member ({ex.Message.Trim()}); demoting it first.");
                    using (var lim = Limit(ct, 60))
                    {
                        var fresh = await client.Swarm.InspectNodeAsync(n.ID, lim.Token).ConfigureAwait(false);
                        var spec = fresh.Spec;
                        spec.Role = "worker";
                        await client.Swarm.UpdateNodeAsync(n.ID, fresh.Version.Index ?? 0, spec, lim.Token).ConfigureAwait(false);
                        await client.Swarm.RemoveNodeAsync(n.ID, true, lim.Token).ConfigureAwait(false);
                    }
                }
                removed.Add(name);
                if (labelsByHost != null && n.Spec?.Labels != null && n.Spec.Labels.Count > 0 && n.Description?.Hostname != null)
                    labelsByHost[n.Description.Hostname] = new Dictionary<string, string>(n.Spec.Labels, StringComparer.Ordinal);
            }
            return removed;
        }

        /// <summary>A file only its owner can read (mode 0600 on Linux/macOS), created exclusively.</summary>
        internal static FileStream CreatePrivateFile(string path)
        {
            var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                try { if (chmod(path, 0x180) != 0) throw new IOException($"chmod 600 {path} failed (errno {Marshal.GetLastWin32Error()})."); }
                catch (EntryPointNotFoundException) { }
                catch (DllNotFoundException) { }
            }
            return fs;
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int chmod(string pathname, uint mode);

    }
}
