using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Recovery
{
    /// <summary>
    /// An SSH session to one machine for work around its engine: stop and start the engine with the machine's own
    /// service manager (systemd, else /etc/init.d/docker, else OpenRC), move its swarm state in and out as a tar,
    /// and talk to the engine over the same session while it runs.
    /// </summary>
    internal sealed class NodeShell : IDisposable
    {
        private readonly SshSession _session;
        private readonly TimeSpan _timeout;

        private NodeShell(SshSession session, string name, TimeSpan timeout)
        {
            _session = session; Name = name; _timeout = timeout;
        }

        /// <summary>How the node is called in messages (its name from the cluster file, else its SSH host).</summary>
        public string Name { get; }
        public SwarmEndpoint Endpoint => _session.Endpoint;
        private bool IsRoot => string.Equals(Endpoint.User, "root", StringComparison.Ordinal);

        public static async Task<NodeShell> ConnectAsync(SwarmContext ctx, SwarmNodeTarget target, string keyFile, string knownHosts, CancellationToken ct)
        {
            SwarmEndpoint endpoint;
            try { endpoint = target.ResolveEndpoint(ctx?.User ?? "root"); }
            catch (FormatException ex) { throw new SwarmException(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidArgument, ex.Message, target.Text, ex); }
            if (endpoint.Scheme != EndpointScheme.Ssh)
                throw new SwarmException(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidArgument, $"{target} is not an SSH target: this needs a shell on the machine (root@host or ssh://user@host).", target.Text);
            var options = new SshOptions
            {
                KeyFiles = keyFile != null ? new[] { keyFile } : target.KeyFile != null ? new[] { target.KeyFile } : ctx?.Ssh.KeyFiles ?? SshOptions.DefaultKeyFiles().ToArray(),
                KnownHostsPath = knownHosts ?? target.KnownHostsPath ?? ctx?.Ssh.KnownHostsPath,
                TrustOnFirstUse = ctx?.Ssh.TrustOnFirstUse ?? false,
                Timeout = ctx?.Timeout ?? TimeSpan.FromSeconds(15),
            };
            SshSession session = await SshSession.ConnectAsync(endpoint, options, ct).ConfigureAwait(false);
            return new NodeShell(session, target.Name ?? endpoint.Host, options.Timeout);
        }

        /// <summary>Runs a POSIX shell script as root (through sudo -n for another user). Never put a secret in it.</summary>
        public async Task<string> RunAsync(string what, string script, Stream stdin = null, Stream stdout = null, TimeSpan? timeout = null, CancellationToken ct = default)
        {
            string command = (IsRoot ? "sh -c " : "sudo -n sh -c ") + Quote(script);
            SshExecResult r = await _session.RunAsync(command, stdin, stdout, timeout ?? TimeSpan.FromSeconds(120), ct).ConfigureAwait(false);
            if (r.ExitCode != 0)
            {
                string err = string.IsNullOrEmpty(r.StdErr) ? "(no error output)" : r.StdErr;
                throw new SwarmException(SwarmErrorId.NodeCommandFailed, ErrorCategory.InvalidResult,
                    $"{what} on {Name} failed (exit {r.ExitCode}): {err}", Name)
                { RecommendedAction = IsRoot ? "Look at the node's engine log (journalctl -u docker, or /var/log/dockerd.log) and run the step again." : $"'{Endpoint.User}' needs passwordless sudo on {Name} for this, or connect as root." };
            }
            return r.StdOut;
        }

        /// <summary>
        /// Runs a POSIX shell script as root (sudo -n for another user) and returns its exit code and output without
        /// judging them. The script sees the SSH connection's addresses in $SWARMADMIN_SSH (what $SSH_CONNECTION says
        /// before sudo resets the environment). Never put a secret in it.
        /// </summary>
        public Task<SshExecResult> ExecAsync(string script, Stream stdin = null, TimeSpan? timeout = null, CancellationToken ct = default)
        {
            string command = (IsRoot ? "SWARMADMIN_SSH=\"$SSH_CONNECTION\" sh -c " : "sudo -n env SWARMADMIN_SSH=\"$SSH_CONNECTION\" sh -c ") + Quote(script);
            return _session.RunAsync(command, stdin, null, timeout ?? TimeSpan.FromSeconds(120), ct);
        }

        /// <summary>True when commands run through sudo -n (the SSH user is not root).</summary>
        public bool UsesSudo => !IsRoot;

        /// <summary>The engine over this session; fails while the engine is stopped.</summary>
        public Task<EngineConnection> OpenEngineAsync(CancellationToken ct) => EngineConnection.OpenOverSessionAsync(_session, _timeout, ct);

        /// <summary>Waits until the engine answers, then returns a connection to it.</summary>
        public async Task<EngineConnection> WaitForEngineAsync(TimeSpan timeout, CancellationToken ct)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            Exception last = null;
            while (DateTime.UtcNow < deadline)
            {
                ct.ThrowIfCancellationRequested();
                try { return await OpenEngineAsync(ct).ConfigureAwait(false); }
                catch (Exception ex) when (!ct.IsCancellationRequested) { last = ex; }
                await Task.Delay(500, ct).ConfigureAwait(false);
            }
            throw new SwarmException(SwarmErrorId.EngineUnavailable, ErrorCategory.ResourceUnavailable,
                $"The engine on {Name} did not answer within {timeout.TotalSeconds:0} s after it was started: {SwarmErrors.Unwrap(last)?.Message}", Name)
            { RecommendedAction = $"Look at the engine's log on {Name} (journalctl -u docker, or /var/log/dockerd.log) and start it by hand (systemctl start docker)." };
        }

        public Task StopEngineAsync(CancellationToken ct) => RunAsync("Stopping the Docker engine", ServiceScript("stop") + @"
i=0
while pidof dockerd >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 240 ] && { echo 'dockerd still runs 120 s after it was told to stop' >&2; exit 4; }
  sleep 0.5
done", timeout: TimeSpan.FromSeconds(180), ct: ct);

        public Task StartEngineAsync(CancellationToken ct) => RunAsync("Starting the Docker engine", ServiceScript("start"), timeout: TimeSpan.FromSeconds(180), ct: ct);

        /// <summary>
        /// What the node's swarm state directory shows without asking the swarm (which has no leader): the cluster and
        /// node IDs and role from its TLS certificate (O=cluster, CN=node, OU=swarm-manager|swarm-worker), the highest
        /// raft snapshot index in the snapshot file names (term-index.snap, hex; 0 before the first snapshot), and when
        /// the raft log was last written.
        /// </summary>
        public async Task<SwarmStateFacts> ReadStateFactsAsync(string dataRoot, CancellationToken ct)
        {
            string swarm = (dataRoot ?? "/var/lib/docker").TrimEnd('/') + "/swarm";
            string out_ = await RunAsync("Reading the swarm state", $"cd {Quote(swarm)} 2>/dev/null || exit 0; ls raft/snap-v3-encrypted 2>/dev/null; " +
                "echo \"@wal $(date -u +%s -r \"$(ls -t raft/wal-v3-encrypted/*.wal 2>/dev/null | head -n 1)\" 2>/dev/null)\"; cat certificates/swarm-node.crt 2>/dev/null",
                timeout: TimeSpan.FromSeconds(30), ct: ct).ConfigureAwait(false);
            var facts = new SwarmStateFacts();
            var pem = new System.Text.StringBuilder();
            bool inPem = false;
            foreach (string raw in (out_ ?? string.Empty).Split('\n'))
            {
                string line = raw.Trim();
                if (line.StartsWith("-----BEGIN CERTIFICATE", StringComparison.Ordinal)) { inPem = pem.Length == 0; continue; }
                if (line.StartsWith("-----END CERTIFICATE", StringComparison.Ordinal)) { inPem = false; continue; }
                if (inPem) { pem.Append(line); continue; }
                if (line.EndsWith(".snap", StringComparison.Ordinal))
                {
                    string stem = line.Substring(0, line.Length - 5);
                    int dash = stem.LastIndexOf('-');
                    if (dash > 0 && ulong.TryParse(stem.Substring(dash + 1), System.Globalization.NumberStyles.HexNumber, null, out ulong idx) && idx > facts.SnapshotIndex) facts.SnapshotIndex = idx;
                }
                else if (line.StartsWith("@wal ", StringComparison.Ordinal) && long.TryParse(line.Substring(5).Trim(), out long epoch) && epoch > 0)
                {
                    facts.LastWrite = DateTimeOffset.FromUnixTimeSeconds(epoch).UtcDateTime;
                }
            }
            if (pem.Length > 0)
            {
                try
                {
                    using (var cert = new System.Security.Cryptography.X509Certificates.X509Certificate2(Convert.FromBase64String(pem.ToString())))
                    {
                        foreach (string part in cert.Subject.Split(','))
                        {
                            string kv = part.Trim();
                            if (kv.StartsWith("O=", StringComparison.Ordinal)) facts.ClusterId = kv.Substring(2);
                            else if (kv.StartsWith("CN=", StringComparison.Ordinal)) facts.NodeId = kv.Substring(3);
                            else if (kv.StartsWith("OU=", StringComparison.Ordinal)) facts.IsManager = kv.Substring(3) == "swarm-manager";
                        }
                    }
                }
                catch (Exception) { /* an unreadable certificate: the facts stay unknown */ }
            }
            return facts;
        }

        private static string ServiceScript(string verb) => $@"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  {(verb == "stop" ? "systemctl stop docker.socket docker.service 2>/dev/null || systemctl stop docker.service" : "systemctl start docker.service")}
elif [ -x /etc/init.d/docker ]; then
  /etc/init.d/docker {verb}
elif command -v rc-service >/dev/null 2>&1; then
  rc-service docker {verb}
else
  echo 'no service manager found (systemd, /etc/init.d/docker or OpenRC): cannot {verb} the engine' >&2; exit 3
fi";

        /// <summary>Single-quotes a string for a POSIX shell.</summary>
        internal static string Quote(string s) => "'" + (s ?? string.Empty).Replace("'", "'\\''") + "'";

        public void Dispose() => _session.Dispose();
    }

    /// <summary>What a node's swarm state directory says about itself.</summary>
    internal sealed class SwarmStateFacts
    {
        public string ClusterId { get; set; }
        public string NodeId { get; set; }
        public bool IsManager { get; set; }
        public ulong SnapshotIndex { get; set; }
        public DateTime? LastWrite { get; set; }
    }
}
