using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Connection
{
    /// <summary>
    /// A connection to a swarm through one of its managers, as returned by Connect-SwarmCluster.
    /// Calls go to the active manager; when it stops answering, the next endpoint in the list takes over.
    /// Contexts belong to the runspace that made them (jobs and -Parallel reconnect from Endpoints).
    /// </summary>
    public sealed class SwarmContext : IDisposable
    {
        private readonly object _sync = new object();
        private readonly SemaphoreSlim _connectLock = new SemaphoreSlim(1, 1);
        private EngineConnection _active;
        private int _activeIndex;
        private SwarmEndpoint _lastEndpoint;
        private bool _disposed;

        internal SwarmContext(IReadOnlyList<SwarmEndpoint> endpoints, SshOptions ssh, TimeSpan timeout)
        {
            Endpoints = endpoints.ToArray();
            Ssh = ssh;
            Timeout = timeout;
        }

        public SwarmEndpoint[] Endpoints { get; }
        public SwarmEndpoint ActiveEndpoint => _active?.Endpoint;
        public string ClusterId { get; private set; }
        public string NodeId { get; private set; }
        public string NodeHostname { get; private set; }
        public string EngineVersion => _active?.EngineVersion;
        public string ApiVersion => _active?.ApiVersion?.ToString();
        public int TimeoutSec => (int)Math.Ceiling(Timeout.TotalSeconds);
        public string KnownHostsPath => Ssh.KnownHostsPath ?? SshOptions.DefaultKnownHostsPath;
        /// <summary>Paths of the private keys used (paths only; key contents are never kept here).</summary>
        public string[] KeyFile => Ssh.KeyFiles;
        public string User => Endpoints.FirstOrDefault(e => e.Scheme == EndpointScheme.Ssh)?.User;
        public DateTime ConnectedAt { get; private set; }
        public bool IsConnected => !_disposed && _active != null;
        public int FailoverCount { get; private set; }

        internal SshOptions Ssh { get; }
        internal TimeSpan Timeout { get; }

        /// <summary>The connection in use right now, or null (never connects): for argument completers, which must not open connections.</summary>
        internal EngineConnection ActiveConnection => _disposed ? null : _active;

        /// <summary>The engine connections opened over the current transport (diagnostics: shows that calls share a connection).</summary>
        internal int EngineConnectionsOpened => _active?.ConnectionsOpened ?? 0;

        public override string ToString() => ActiveEndpoint?.ToString() ?? string.Join(",", Endpoints.Select(e => e.ToString()));

        #region Default context per runspace
        private static readonly ConditionalWeakTable<Runspace, StrongBox<SwarmContext>> Defaults = new ConditionalWeakTable<Runspace, StrongBox<SwarmContext>>();
        private static SwarmContext _fallbackDefault;

        internal static SwarmContext Default
        {
            get
            {
                Runspace rs = Runspace.DefaultRunspace;
                if (rs == null) return _fallbackDefault;
                return Defaults.TryGetValue(rs, out var box) ? box.Value : null;
            }
            set
            {
                Runspace rs = Runspace.DefaultRunspace;
                if (rs == null) { _fallbackDefault = value; return; }
                Defaults.GetValue(rs, _ => new StrongBox<SwarmContext>()).Value = value;
            }
        }
        #endregion

        /// <summary>
        /// Connects to the first endpoint (from the current one on) that answers and is a manager of an active swarm.
        /// Reasons for skipped endpoints go to <paramref name="log"/>.
        /// </summary>
        internal async Task<EngineConnection> EnsureConnectedAsync(IOperationLog log, CancellationToken ct)
        {
            EngineConnection current = _active;
            if (current != null) return current;
            if (_disposed) throw new SwarmException(SwarmErrorId.NotConnected, ErrorCategory.ConnectionError, "This swarm context was closed by Disconnect-SwarmCluster. Run Connect-SwarmCluster again.", this);

            await _connectLock.WaitAsync(ct);
            try
            {
                if (_active != null) return _active;
                var failures = new List<(SwarmEndpoint, Exception)>();
                for (int i = 0; i < Endpoints.Length; i++)
                {
                    int index = (_activeIndex + i) % Endpoints.Length;
                    SwarmEndpoint ep = Endpoints[index];
                    ct.ThrowIfCancellationRequested();
                    log?.Verbose($"Connecting to {ep} ...");
                    EngineConnection conn = null;
                    try
                    {
                        conn = await EngineConnection.OpenAsync(ep, Ssh, ct);
                        foreach (string note in conn.Notes) log?.Warning(note);
                        Docker.DotNet.Models.SystemInfoResponse info;
                        try
                        {
                            info = await WithTimeout((c, t) => c.System.GetSystemInfoAsync(t), conn, ct, $"GET /info on {ep}");
                        }
                        catch (TimeoutException) when (string.Equals(conn.SwarmHeader, "active/manager", StringComparison.OrdinalIgnoreCase))
                        {
                            // A manager whose swarm has just lost its leader can take long to report its swarm state,
                            // but its engine answers: keep the connection so that Test-SwarmQuorum can say what is wrong.
                            log?.Warning($"The manager at {ep} answers but did not report its swarm state within {Timeout.TotalSeconds:0.#} s: the swarm may have no leader. Run Test-SwarmQuorum.");
                            lock (_sync)
                            {
                                _lastEndpoint = ep;
                                _activeIndex = index;
                                _active = conn;
                                ConnectedAt = DateTime.Now;
                            }
                            return conn;
                        }
                        string state = info.Swarm?.LocalNodeState ?? "inactive";
                        if (!string.Equals(state, "active", StringComparison.OrdinalIgnoreCase))
                        {
                            throw new SwarmException(SwarmErrorId.SwarmNotActive, ErrorCategory.InvalidOperation,
                                $"The engine at {ep} ({info.Name}) is not part of an active swarm (state: {state}). Connect to a manager of an existing swarm, or create one with 'docker swarm init' (Initialize-Swarm).", ep);
                        }
                        if (!info.Swarm.ControlAvailable)
                        {
                            throw new SwarmException(SwarmErrorId.NotASwarmManager, ErrorCategory.InvalidOperation,
                                $"The engine at {ep} ({info.Name}) is a swarm worker, not a manager, so it cannot manage the swarm. Connect to a manager ('docker node ls' on any manager lists them).", ep);
                        }
                        lock (_sync)
                        {
                            if (ClusterId != null && info.Swarm.Cluster?.ID != null && ClusterId != info.Swarm.Cluster.ID)
                            {
                                throw new SwarmException(SwarmErrorId.NotASwarmManager, ErrorCategory.InvalidOperation,
                                    $"The engine at {ep} manages another swarm ({info.Swarm.Cluster.ID}) than this context ({ClusterId}); it was skipped.", ep);
                            }
                            ClusterId = info.Swarm.Cluster?.ID;
                            NodeId = info.Swarm.NodeID;
                            NodeHostname = info.Name;
                            if (_lastEndpoint != null && !ReferenceEquals(_lastEndpoint, ep)) FailoverCount++;
                            _lastEndpoint = ep;
                            _activeIndex = index;
                            _active = conn;
                            ConnectedAt = DateTime.Now;
                        }
                        log?.Verbose($"Connected to manager {info.Name} at {ep} (engine {conn.EngineVersion}, API {conn.ApiVersion}, host key {conn.HostKeyFingerprint ?? "n/a"}).");
                        if (!string.IsNullOrEmpty(info.Swarm.Error))
                        {
                            log?.Warning($"The manager {info.Name} reports a swarm error: {info.Swarm.Error}");
                        }
                        else if (LastKnownNodes == null)
                        {
                            // Remember who is who (hostnames, labels) while the swarm can tell: Test-SwarmQuorum needs it when it cannot.
                            try { LastKnownNodes = await WithTimeout((c, t) => c.Swarm.ListNodesAsync(t), conn, ct, $"GET /nodes on {ep}", TimeSpan.FromSeconds(Math.Min(2, Timeout.TotalSeconds))); }
                            catch (Exception ex) when (!ct.IsCancellationRequested) { log?.Debug($"Could not list the nodes yet: {ex.Message}"); }
                        }
                        return conn;
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        conn?.Dispose();
                        throw;
                    }
                    catch (Exception ex)
                    {
                        conn?.Dispose();
                        failures.Add((ep, SwarmErrors.Unwrap(ex)));
                        log?.Verbose($"Skipping {ep}: {SwarmErrors.Unwrap(ex).Message}");
                    }
                }
                throw Summarize(failures);
            }
            finally
            {
                _connectLock.Release();
            }
        }

        private Exception Summarize(List<(SwarmEndpoint Endpoint, Exception Error)> failures)
        {
            if (failures.Count == 1)
            {
                // One endpoint: keep its own error (HostKeyChanged, timeout, not a manager ...) so the ErrorId says what happened.
                return failures[0].Error;
            }
            // Several: a security or configuration problem on any endpoint wins over plain unreachability.
            var security = failures.FirstOrDefault(f => f.Error is HostKeyException).Error;
            string detail = string.Join(Environment.NewLine, failures.Select(f => $"  {f.Endpoint}: {f.Error.Message}"));
            if (security != null)
            {
                return security;
            }
            var notManager = failures.Where(f => f.Error is SwarmException).ToList();
            if (notManager.Count == failures.Count)
            {
                var first = (SwarmException)notManager[0].Error;
                return new SwarmException(first.ErrorId, first.Category, $"No endpoint is a manager of an active swarm:{Environment.NewLine}{detail}", this);
            }
            bool allTimeouts = failures.All(f => f.Error is TimeoutException);
            return new SwarmException(allTimeouts ? SwarmErrorId.Timeout : SwarmErrorId.EndpointUnreachable,
                allTimeouts ? ErrorCategory.OperationTimeout : ErrorCategory.ConnectionError,
                $"No swarm manager could be reached:{Environment.NewLine}{detail}", this)
            {
                RecommendedAction = "Check that the managers are up and reachable over SSH, or pass more manager endpoints to Connect-SwarmCluster -Endpoint."
            };
        }

        /// <summary>
        /// Runs one engine API call against the active manager with the context's timeout. If the manager does not
        /// answer (transport failure, timeout, 503 no leader), the next endpoint takes over and the call is repeated
        /// there — for calls that are safe to repeat. Errors the engine reports (404, 409 ...) are returned as they are.
        /// </summary>
        internal Task<T> InvokeAsync<T>(string operation, Func<DockerClient, CancellationToken, Task<T>> call, IOperationLog log, CancellationToken ct, bool retryOnOtherManager = true, TimeSpan? timeout = null)
            => InvokeOnConnectionAsync(operation, (conn, t) => call(conn.Client, t), log, ct, retryOnOtherManager, timeout);

        /// <summary>The same, handing the call the whole engine connection (for raw API calls).</summary>
        internal async Task<T> InvokeOnConnectionAsync<T>(string operation, Func<EngineConnection, CancellationToken, Task<T>> call, IOperationLog log, CancellationToken ct, bool retryOnOtherManager = true, TimeSpan? timeout = null)
        {
            Exception last = null;
            for (int attempt = 0; attempt < Math.Max(1, Endpoints.Length); attempt++)
            {
                EngineConnection conn = await EnsureConnectedAsync(log, ct);
                try
                {
                    log?.Debug($"{operation} on {conn.Endpoint}");
                    return await WithTimeout(call, conn, ct, $"{operation} on {conn.Endpoint}", timeout);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested && SwarmErrors.IsTransportFailure(ex))
                {
                    last = SwarmErrors.Unwrap(ex);
                    Drop(conn);
                    if (!retryOnOtherManager || Endpoints.Length == 1) throw;
                    log?.Warning($"Manager {conn.Endpoint} did not answer ({last.Message}); trying the next endpoint.");
                    lock (_sync) { _activeIndex = (_activeIndex + 1) % Endpoints.Length; }
                }
            }
            throw last ?? new SwarmException(SwarmErrorId.EndpointUnreachable, ErrorCategory.ConnectionError, "No swarm manager answered.", this);
        }

        private Task<T> WithTimeout<T>(Func<DockerClient, CancellationToken, Task<T>> call, EngineConnection conn, CancellationToken ct, string what, TimeSpan? timeout = null)
            => WithTimeout((EngineConnection c, CancellationToken t) => call(c.Client, t), conn, ct, what, timeout);

        private async Task<T> WithTimeout<T>(Func<EngineConnection, CancellationToken, Task<T>> call, EngineConnection conn, CancellationToken ct, string what, TimeSpan? timeout = null)
        {
            TimeSpan limit = timeout ?? Timeout;
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                cts.CancelAfter(limit);
                try
                {
                    return await call(conn, cts.Token);
                }
                catch (Exception ex) when (cts.IsCancellationRequested && !ct.IsCancellationRequested && (ex is OperationCanceledException || ex is System.IO.IOException || ex is ObjectDisposedException))
                {
                    throw new TimeoutException($"{what} did not answer within {limit.TotalSeconds:0.#} s.", ex);
                }
            }
        }

        /// <summary>
        /// Asks one endpoint's engine for /info over a connection of its own (not the context's), within
        /// <paramref name="timeout"/>: used when the managers cannot answer as a swarm (no leader).
        /// </summary>
        internal async Task<EngineProbe> ProbeInfoAsync(SwarmEndpoint endpoint, TimeSpan timeout, CancellationToken ct)
        {
            var options = new SshOptions { KeyFiles = Ssh.KeyFiles, KnownHostsPath = Ssh.KnownHostsPath, TrustOnFirstUse = false, Timeout = timeout };
            var probe = new EngineProbe { Endpoint = endpoint };
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                cts.CancelAfter(timeout);
                EngineConnection conn = null;
                try
                {
                    conn = await EngineConnection.OpenAsync(endpoint, options, cts.Token).ConfigureAwait(false);
                    probe.Alive = true;
                    probe.SwarmHeader = conn.SwarmHeader;
                    probe.EngineVersion = conn.EngineVersion;
                    probe.Info = await conn.Client.System.GetSystemInfoAsync(cts.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    probe.Error = cts.IsCancellationRequested && !(ex is TimeoutException)
                        ? new TimeoutException($"{endpoint} did not answer within {timeout.TotalSeconds:0.#} s.", ex)
                        : SwarmErrors.Unwrap(ex);
                }
                finally
                {
                    conn?.Dispose();
                }
            }
            return probe;
        }

        /// <summary>
        /// Opens the engine of a machine that is not (yet) reached through this context — a node to join, to make
        /// leave, to initialise — with this context's SSH settings unless the caller gives its own.
        /// </summary>
        internal Task<EngineConnection> OpenNodeEngineAsync(SwarmEndpoint endpoint, string keyFile, string knownHostsPath, CancellationToken ct)
        {
            var options = new SshOptions
            {
                KeyFiles = keyFile != null ? new[] { keyFile } : Ssh.KeyFiles,
                KnownHostsPath = knownHostsPath ?? Ssh.KnownHostsPath,
                TrustOnFirstUse = Ssh.TrustOnFirstUse,
                Timeout = Timeout,
            };
            return EngineConnection.OpenAsync(endpoint, options, ct);
        }

        /// <summary>The nodes as last read through this context (hostnames, labels, versions), for when no manager can list them.</summary>
        internal IList<Docker.DotNet.Models.NodeListResponse> LastKnownNodes { get; set; }

        private void Drop(EngineConnection conn)
        {
            lock (_sync)
            {
                if (ReferenceEquals(_active, conn)) _active = null;
            }
            conn.Dispose();
        }

        public void Dispose()
        {
            EngineConnection conn;
            lock (_sync)
            {
                _disposed = true;
                conn = _active;
                _active = null;
            }
            conn?.Dispose();
        }
    }

    /// <summary>What one engine said when probed directly: alive (answered /_ping), its swarm role header, and /info if it gave it in time.</summary>
    internal sealed class EngineProbe
    {
        public SwarmEndpoint Endpoint { get; set; }
        public bool Alive { get; set; }
        public string SwarmHeader { get; set; }
        public string EngineVersion { get; set; }
        public Docker.DotNet.Models.SystemInfoResponse Info { get; set; }
        public Exception Error { get; set; }
        public bool IsManager => Info?.Swarm?.ControlAvailable == true || string.Equals(SwarmHeader, "active/manager", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Where library code reports what it does; the cmdlet base writes it on the pipeline thread.</summary>
    internal interface IOperationLog
    {
        void Verbose(string message);
        void Debug(string message);
        void Warning(string message);
    }
}
