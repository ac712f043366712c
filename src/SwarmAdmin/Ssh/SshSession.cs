using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Renci.SshNet;
using Renci.SshNet.Common;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;

namespace SwarmAdmin.Ssh
{
    /// <summary>How to authenticate and whom to trust when opening SSH connections.</summary>
    internal sealed class SshOptions
    {
        public string[] KeyFiles { get; set; } = Array.Empty<string>();
        public string KnownHostsPath { get; set; }
        public bool TrustOnFirstUse { get; set; }
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

        public static string DefaultKnownHostsPath =>
            System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts");

        public static IEnumerable<string> DefaultKeyFiles()
        {
            string dir = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");
            foreach (string name in new[] { "id_ed25519", "id_ecdsa", "id_rsa" })
            {
                string p = System.IO.Path.Combine(dir, name);
                if (File.Exists(p)) yield return p;
            }
        }
    }

    /// <summary>Raised when a host key is not trusted. Carries what the user needs to fix it.</summary>
    internal sealed class HostKeyException : Exception
    {
        public HostKeyException(HostKeyStatus status, string host, int port, string fingerprint, string knownHostsPath, int lineNumber, string message)
            : base(message)
        {
            Status = status; Host = host; Port = port; Fingerprint = fingerprint; KnownHostsPath = knownHostsPath; LineNumber = lineNumber;
        }
        public HostKeyStatus Status { get; }
        public string Host { get; }
        public int Port { get; }
        public string Fingerprint { get; }
        public string KnownHostsPath { get; }
        public int LineNumber { get; }
    }

    /// <summary>
    /// One authenticated SSH connection to a node. Many exec channels (one per engine connection) share it.
    /// Host keys are checked against an OpenSSH known_hosts file; unknown keys fail unless trust on first use was asked for.
    /// </summary>
    internal sealed class SshSession : IDisposable
    {
        private static readonly object KnownHostsWriteLock = new object();
        private readonly SshClient _client;
        private readonly SwarmEndpoint _endpoint;

        private SshSession(SshClient client, SwarmEndpoint endpoint)
        {
            _client = client;
            _endpoint = endpoint;
        }

        public SwarmEndpoint Endpoint => _endpoint;
        public bool IsConnected => _client.IsConnected;
        public string HostKeyFingerprint { get; private set; }

        /// <summary>Messages about trust decisions made during connect (shown by the cmdlet on the pipeline thread).</summary>
        public List<string> Notes { get; } = new List<string>();

        public static async Task<SshSession> ConnectAsync(SwarmEndpoint endpoint, SshOptions options, CancellationToken cancellationToken)
        {
            var keyFiles = options.KeyFiles != null && options.KeyFiles.Length > 0 ? options.KeyFiles : SshOptions.DefaultKeyFiles().ToArray();
            if (keyFiles.Length == 0)
            {
                throw new FileNotFoundException(
                    "No SSH private key was given and none was found in ~/.ssh (id_ed25519, id_ecdsa, id_rsa). Pass -KeyFile with the path of a private key that the node accepts.");
            }

            var keys = new List<IPrivateKeySource>();
            foreach (string path in keyFiles)
            {
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException($"The SSH key file '{path}' does not exist. Pass -KeyFile with the path of an existing private key.", path);
                }
                try
                {
                    keys.Add(new PrivateKeyFile(path));
                }
                catch (SshPassPhraseNullOrEmptyException ex)
                {
                    throw new InvalidDataException($"The SSH key file '{path}' is protected by a passphrase, which SwarmAdmin cannot prompt for. Use a key without a passphrase for automation.", ex);
                }
                catch (Exception ex) when (ex is SshException || ex is InvalidOperationException || ex is ArgumentException || ex is NotSupportedException)
                {
                    throw new InvalidDataException($"The file '{path}' is not a private key SwarmAdmin can read ({ex.Message}). Pass -KeyFile with an OpenSSH private key (ed25519, ecdsa or rsa).", ex);
                }
                catch (UnauthorizedAccessException ex)
                {
                    throw new UnauthorizedAccessException($"The SSH key file '{path}' cannot be read: {ex.Message}", ex);
                }
            }

            string knownHostsPath = options.KnownHostsPath ?? SshOptions.DefaultKnownHostsPath;
            KnownHostsFile knownHosts = KnownHostsFile.Load(knownHostsPath);

            var connectionInfo = new ConnectionInfo(endpoint.Host, endpoint.Port, endpoint.User, new PrivateKeyAuthenticationMethod(endpoint.User, keys.ToArray()))
            {
                Timeout = options.Timeout,
                ChannelCloseTimeout = TimeSpan.FromSeconds(2),
            };
            PreferKnownKeyTypes(connectionInfo, knownHosts.KeyTypesFor(endpoint.Host, endpoint.Port));

            var client = new SshClient(connectionInfo) { KeepAliveInterval = TimeSpan.FromSeconds(15) };
            var session = new SshSession(client, endpoint);
            HostKeyException rejected = null;

            client.HostKeyReceived += (sender, e) =>
            {
                // Runs on SSH.NET's thread: decide from data only, never touch the PowerShell host here.
                string fp = "SHA256:" + e.FingerPrintSHA256;
                session.HostKeyFingerprint = fp;
                HostKeyCheckResult check = knownHosts.Check(endpoint.Host, endpoint.Port, e.HostKey);
                switch (check.Status)
                {
                    case HostKeyStatus.Trusted:
                        e.CanTrust = true;
                        return;
                    case HostKeyStatus.Unknown when options.TrustOnFirstUse:
                        try
                        {
                            lock (KnownHostsWriteLock) // parallel connections (Join-SwarmNode) must not interleave lines
                            {
                                // another connection may have recorded this very key meanwhile
                                if (KnownHostsFile.Load(knownHostsPath).Check(endpoint.Host, endpoint.Port, e.HostKey).Status != HostKeyStatus.Trusted)
                                {
                                    KnownHostsFile.Append(knownHostsPath, endpoint.Host, endpoint.Port, e.HostKey);
                                }
                            }
                            session.Notes.Add($"Trusted the new {KnownHostsFile.KeyTypeOf(e.HostKey)} host key {fp} of {KnownHostsFile.HostPattern(endpoint.Host, endpoint.Port)} on first use and recorded it in '{knownHostsPath}'.");
                            e.CanTrust = true;
                        }
                        catch (Exception ex)
                        {
                            rejected = new HostKeyException(HostKeyStatus.Unknown, endpoint.Host, endpoint.Port, fp, knownHostsPath, 0,
                                $"The host key {fp} of {endpoint.Host} could not be recorded in '{knownHostsPath}': {ex.Message}");
                            e.CanTrust = false;
                        }
                        return;
                    case HostKeyStatus.Unknown:
                        rejected = new HostKeyException(HostKeyStatus.Unknown, endpoint.Host, endpoint.Port, fp, knownHostsPath, 0,
                            $"The {KnownHostsFile.KeyTypeOf(e.HostKey)} host key {fp} of {KnownHostsFile.HostPattern(endpoint.Host, endpoint.Port)} is not in '{knownHostsPath}'. " +
                            $"Check the fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it to that file, or connect once with -TrustOnFirstUse to record it.");
                        e.CanTrust = false;
                        return;
                    case HostKeyStatus.Revoked:
                        rejected = new HostKeyException(HostKeyStatus.Revoked, endpoint.Host, endpoint.Port, fp, knownHostsPath, check.MatchedEntry?.LineNumber ?? 0,
                            $"The host key {fp} of {endpoint.Host} is marked @revoked in '{knownHostsPath}' line {check.MatchedEntry?.LineNumber}. The connection was refused.");
                        e.CanTrust = false;
                        return;
                    default:
                        int line = check.MatchedEntry?.LineNumber ?? 0;
                        rejected = new HostKeyException(HostKeyStatus.Changed, endpoint.Host, endpoint.Port, fp, knownHostsPath, line,
                            $"WARNING: the host key of {KnownHostsFile.HostPattern(endpoint.Host, endpoint.Port)} has CHANGED: it now presents {fp}, which does not match '{knownHostsPath}' line {line}. " +
                            "Someone could be intercepting the connection, or the node was rebuilt. If the change is expected, remove that line (ssh-keygen -R) and connect again; SwarmAdmin never overrides a changed key.");
                        e.CanTrust = false;
                        return;
                }
            };

            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(options.Timeout);
                try
                {
                    await client.ConnectAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    client.Dispose();
                    if (rejected != null) throw rejected;
                    if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
                    if (ex is OperationCanceledException || ex is SshOperationTimeoutException)
                    {
                        throw new TimeoutException($"SSH connection to {endpoint} did not complete within {options.Timeout.TotalSeconds:0.#} s. Check that the node is up and that port {endpoint.Port} is reachable.", ex);
                    }
                    if (ex is SshAuthenticationException)
                    {
                        throw new UnauthorizedAccessException($"SSH authentication as '{endpoint.User}' on {endpoint.Host} failed with the key(s) {string.Join(", ", keyFiles)}. Check that the public key is in the node's authorized_keys for that user.", ex);
                    }
                    if (ex is SocketException se)
                    {
                        throw new IOException($"Cannot reach {endpoint}: {se.Message}. Check the address, the port and that sshd runs on the node.", ex);
                    }
                    throw new IOException($"SSH connection to {endpoint} failed: {ex.Message}", ex);
                }
            }

            return session;
        }

        private static void PreferKnownKeyTypes(ConnectionInfo info, IReadOnlyList<string> knownTypes)
        {
            if (knownTypes == null || knownTypes.Count == 0) return;
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (string t in knownTypes)
            {
                wanted.Add(t);
                if (t == "ssh-rsa") { wanted.Add("rsa-sha2-512"); wanted.Add("rsa-sha2-256"); }
            }
            var keep = info.HostKeyAlgorithms.Keys.Where(k => wanted.Contains(k) || wanted.Any(w => k.StartsWith(w + "-cert", StringComparison.Ordinal))).ToList();
            if (keep.Count == 0) return; // we know no algorithm for those types: let negotiation report it
            foreach (string k in info.HostKeyAlgorithms.Keys.ToList())
            {
                if (!keep.Contains(k)) info.HostKeyAlgorithms.Remove(k);
            }
        }

        /// <summary>Runs `docker system dial-stdio` on the node and returns the channel as a byte stream to its engine.</summary>
        public Stream OpenDialStdio(string command = "docker system dial-stdio")
        {
            var cmd = _client.CreateCommand(command);
            cmd.CommandTimeout = System.Threading.Timeout.InfiniteTimeSpan;
            Task exec = cmd.ExecuteAsync();
            Stream input = cmd.CreateInputStream();
            return new ExecChannelStream(cmd, input, exec, _endpoint);
        }

        /// <summary>
        /// Runs one command on the machine: <paramref name="stdin"/> (optional) is streamed to it, its stdout is copied to
        /// <paramref name="stdout"/> (or kept as text when null). Never put a secret in <paramref name="command"/>: it is
        /// visible in the machine's process list; pass secrets on stdin.
        /// </summary>
        public async Task<SshExecResult> RunAsync(string command, Stream stdin, Stream stdout, TimeSpan timeout, CancellationToken ct)
        {
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
            using (SshCommand cmd = _client.CreateCommand(command))
            {
                cts.CancelAfter(timeout);
                cmd.CommandTimeout = System.Threading.Timeout.InfiniteTimeSpan;
                Task exec = cmd.ExecuteAsync(cts.Token);
                Stream input;
                // ExecuteAsync opens the channel before it returns; a quick command (date) may already have finished
                // and closed it, and then SSH.NET refuses an input stream ("can be used only during execution"):
                // such a command read no input, so there is nothing to send
                try { input = cmd.CreateInputStream(); }
                catch (InvalidOperationException) { input = null; }
                // Both copies block a thread while they wait for the channel (SSH.NET's streams have no truly
                // asynchronous read, and a write waits for the peer's window): they get threads of their own. On pool
                // threads, a few commands running side by side (Install-SwarmEngine on three nodes) starved the pool
                // on a small machine, and every continuation waited for the pool to grow (seconds per step).
                Task pumpIn = stdin != null && input != null
                    ? DedicatedThread.Run(() => { try { Copy(stdin, input, cts.Token); } finally { input.Dispose(); } })
                    : Task.Run(() => input?.Dispose());
                var text = stdout == null ? new MemoryStream() : null;
                Task pumpOut = DedicatedThread.Run(() => Copy(cmd.OutputStream, stdout ?? text, cts.Token));
                try
                {
                    await exec.ConfigureAwait(false);
                    await pumpOut.ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException($"'{FirstLine(command)}' on {_endpoint.Host} did not finish within {timeout.TotalSeconds:0} s.");
                }
                finally
                {
                    // never leave a copy running into (or out of) a stream the caller is about to dispose
                    if (!exec.IsCompleted || !pumpOut.IsCompleted || !pumpIn.IsCompleted) cts.Cancel();
                    try { await pumpOut.ConfigureAwait(false); } catch { /* reported through exec */ }
                    try { await pumpIn.ConfigureAwait(false); } catch { /* the command may exit before reading all its input: its exit code says why */ }
                }
                return new SshExecResult
                {
                    ExitCode = cmd.ExitStatus ?? -1,
                    StdErr = (cmd.Error ?? string.Empty).Trim(),
                    StdOut = text != null ? System.Text.Encoding.UTF8.GetString(text.ToArray()) : null,
                };
            }
        }

        /// <summary>A blocking copy that checks the token between reads (a read itself ends when the channel closes).</summary>
        private static void Copy(Stream from, Stream to, CancellationToken ct)
        {
            var buffer = new byte[81920];
            int n;
            while (!ct.IsCancellationRequested && (n = from.Read(buffer, 0, buffer.Length)) > 0)
            {
                to.Write(buffer, 0, n);
            }
            ct.ThrowIfCancellationRequested();
        }

        private static string FirstLine(string command)
        {
            string line = command.Split('\n')[0].Trim();
            return line.Length > 80 ? line.Substring(0, 80) + "..." : line;
        }

        public void Dispose()
        {
            try { if (_client.IsConnected) _client.Disconnect(); } catch { /* closing anyway */ }
            _client.Dispose();
        }

        /// <summary>stdin/stdout of one exec channel as a single duplex stream.</summary>
        private sealed class ExecChannelStream : Transport.ForwardOnlyStream
        {
            private readonly SshCommand _cmd;
            private readonly Stream _input;
            private readonly Stream _output;
            private readonly Task _exec;
            private readonly SwarmEndpoint _endpoint;
            private int _disposed;

            public ExecChannelStream(SshCommand cmd, Stream input, Task exec, SwarmEndpoint endpoint)
            {
                _cmd = cmd; _input = input; _output = cmd.OutputStream; _exec = exec; _endpoint = endpoint;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                int n = _output.Read(buffer, offset, count);
                if (n == 0 && _exec.IsCompleted && _cmd.ExitStatus.HasValue && _cmd.ExitStatus.Value != 0 && _disposed == 0)
                {
                    string err = (_cmd.Error ?? string.Empty).Trim();
                    throw new IOException($"'{_cmd.CommandText}' failed on {_endpoint.Host} (exit {_cmd.ExitStatus}): {err}. Check that the Docker CLI and engine are installed on the node and that '{_endpoint.User}' may use them.");
                }
                return n;
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            {
                // bytes already there (SSH.NET's pipe counts what it holds): read them here; else wait on a thread of
                // its own (a pool thread blocked in the pipe's wait would starve the pool)
                if (Available() > 0)
                {
                    try { return Task.FromResult(Read(buffer, offset, count)); }
                    catch (Exception ex) { return Task.FromException<int>(ex); }
                }
                return DedicatedThread.Run(() => Read(buffer, offset, count), cancellationToken);
            }

            private long Available()
            {
                try { return _output.Length; }
                catch (NotSupportedException) { return 0; }
                catch (ObjectDisposedException) { return 0; }
            }

            public override void Write(byte[] buffer, int offset, int count)
            {
                if (_exec.IsCompleted) throw new IOException($"The engine channel to {_endpoint.Host} is closed.");
                _input.Write(buffer, offset, count);
            }

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            {
                Write(buffer, offset, count);
                return Task.CompletedTask;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    try { _input.Dispose(); } catch { }
                    try { _cmd.Dispose(); } catch { }
                    try { _output.Dispose(); } catch { }
                }
                base.Dispose(disposing);
            }

            public override bool CanRead => true;
            public override bool CanWrite => true;
        }
    }

    internal sealed class SshExecResult
    {
        public int ExitCode { get; set; }
        public string StdErr { get; set; }
        public string StdOut { get; set; }
    }
}
