using System;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Handler.Abstractions;
using Microsoft.Extensions.Logging;
using SwarmAdmin.Connection;
using SwarmAdmin.Ssh;
using SwarmAdmin.Transport;

namespace SwarmAdmin.Engine
{
    /// <summary>
    /// A live link to one Docker engine: the transport (SSH dial-stdio, unix socket or TCP), a pooled HTTP handler
    /// and a Docker.DotNet client speaking the API version negotiated with that engine.
    /// </summary>
    internal sealed class EngineConnection : IDisposable
    {
        /// <summary>The newest Engine API version our Docker.DotNet.Enhanced build knows (engine 29.4).</summary>
        public static readonly Version ClientMaxApiVersion = new Version(1, 54);
        /// <summary>The oldest we speak: engine 20.10 (API 1.41).</summary>
        public static readonly Version ClientMinApiVersion = new Version(1, 41);

        private readonly SshSession _ssh;
        private readonly PooledHttpHandler _handler;

        private EngineConnection(SwarmEndpoint endpoint, SshSession ssh, PooledHttpHandler handler, DockerClient client, Version apiVersion, string engineVersion, string serverApiVersion, string swarmHeader)
        {
            Endpoint = endpoint; _ssh = ssh; _handler = handler; Client = client; ApiVersion = apiVersion; EngineVersion = engineVersion; ServerApiVersion = serverApiVersion; SwarmHeader = swarmHeader;
        }

        /// <summary>The engine's own word on its swarm role from /_ping ("active/manager", "active/worker", "inactive"...), or null on old engines.</summary>
        public string SwarmHeader { get; }

        public SwarmEndpoint Endpoint { get; }
        public DockerClient Client { get; }
        public Version ApiVersion { get; }
        public string EngineVersion { get; }
        public string ServerApiVersion { get; }
        public int ConnectionsOpened => _handler.ConnectionsOpened;
        public string HostKeyFingerprint => _ssh?.HostKeyFingerprint;
        public System.Collections.Generic.IReadOnlyList<string> Notes => (System.Collections.Generic.IReadOnlyList<string>)_ssh?.Notes ?? Array.Empty<string>();

        /// <summary>The engine of a machine reached through an SSH session the caller keeps (and disposes) itself.</summary>
        public static Task<EngineConnection> OpenOverSessionAsync(SshSession session, TimeSpan timeout, CancellationToken ct)
            => OpenAsync(session.Endpoint, new SshOptions { Timeout = timeout }, ct, session);

        public static async Task<EngineConnection> OpenAsync(SwarmEndpoint endpoint, SshOptions sshOptions, CancellationToken ct)
            => await OpenAsync(endpoint, sshOptions, ct, null).ConfigureAwait(false);

        private static async Task<EngineConnection> OpenAsync(SwarmEndpoint endpoint, SshOptions sshOptions, CancellationToken ct, SshSession borrowed)
        {
            SshSession ssh = null;
            StreamConnector connector;
            switch (endpoint.Scheme)
            {
                case EndpointScheme.Ssh when borrowed != null:
                    connector = c => Task.FromResult(borrowed.OpenDialStdio());
                    break;
                case EndpointScheme.Ssh:
                    ssh = await SshSession.ConnectAsync(endpoint, sshOptions, ct).ConfigureAwait(false);
                    SshSession s = ssh;
                    connector = c => Task.FromResult(s.OpenDialStdio());
                    break;
                case EndpointScheme.Unix:
                    connector = SocketConnectors.Unix(endpoint.SocketPath, sshOptions.Timeout);
                    break;
                default:
                    connector = SocketConnectors.Tcp(endpoint.Host, endpoint.Port, sshOptions.Timeout);
                    break;
            }

            var handler = new PooledHttpHandler(connector);
            try
            {
                // Negotiate like the docker CLI: ask the engine (unversioned /_ping) which API it speaks, use the lower of its and ours.
                string serverApi, server, swarm;
                using (var http = new HttpClient(handler, disposeHandler: false) { Timeout = System.Threading.Timeout.InfiniteTimeSpan })
                using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
                {
                    cts.CancelAfter(sshOptions.Timeout);
                    using (var resp = await http.GetAsync(new Uri("http://docker/_ping"), cts.Token).ConfigureAwait(false))
                    {
                        await resp.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                        serverApi = resp.Headers.TryGetValues("Api-Version", out var v) ? v.FirstOrDefault() : null;
                        server = resp.Headers.TryGetValues("Server", out var sv) ? sv.FirstOrDefault() : null;
                        swarm = resp.Headers.TryGetValues("Swarm", out var sw) ? sw.FirstOrDefault() : null;
                    }
                }

                Version negotiated = Negotiate(serverApi);
                string engineVersion = ParseServerHeader(server);
                var client = new DockerClientBuilder()
                    .WithEndpoint(new Uri("http://docker/"))
                    .WithApiVersion(negotiated)
                    .WithTimeout(System.Threading.Timeout.InfiniteTimeSpan) // timeouts are ours, per call
                    .WithTransportOptions(EngineHandlerFactory.Instance, new EngineTransportOptions(handler))
                    .Build();
                return new EngineConnection(endpoint, ssh, handler, client, negotiated, engineVersion, serverApi, swarm);
            }
            catch
            {
                handler.Dispose();
                ssh?.Dispose();
                throw;
            }
        }

        internal static Version Negotiate(string serverApiVersion)
        {
            if (string.IsNullOrEmpty(serverApiVersion) || !Version.TryParse(serverApiVersion, out Version server))
            {
                // Very old engines do not send the header; 1.24 is what the CLI falls back to.
                return new Version(1, 24);
            }
            return server < ClientMaxApiVersion ? server : ClientMaxApiVersion;
        }

        internal static string ParseServerHeader(string server)
        {
            // "Docker/26.1.5 (linux)"
            if (string.IsNullOrEmpty(server)) return null;
            int slash = server.IndexOf('/');
            if (slash < 0) return null;
            string rest = server.Substring(slash + 1);
            int space = rest.IndexOf(' ');
            return space < 0 ? rest : rest.Substring(0, space);
        }

        /// <summary>
        /// One raw Engine API call on this connection's transport, for what Docker.DotNet cannot express (e.g. its
        /// swarm update spells the rotate flags in lower case, which the engine ignores). Non-2xx answers throw
        /// DockerApiException like Docker.DotNet does.
        /// </summary>
        public Task<string> SendAsync(HttpMethod method, string pathAndQuery, string jsonBody, CancellationToken ct)
            => SendAsync(method, pathAndQuery, jsonBody, null, ct);

        /// <summary>The same with extra request headers (e.g. X-Registry-Auth, which must never be logged).</summary>
        public async Task<string> SendAsync(HttpMethod method, string pathAndQuery, string jsonBody, System.Collections.Generic.IDictionary<string, string> headers, CancellationToken ct)
        {
            _raw = _raw ?? new HttpClient(_handler, disposeHandler: false) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
            using (var request = new HttpRequestMessage(method, new Uri($"http://docker/v{ApiVersion}/{pathAndQuery.TrimStart('/')}")))
            {
                if (jsonBody != null) request.Content = new StringContent(jsonBody, System.Text.Encoding.UTF8, "application/json");
                if (headers != null) foreach (var h in headers) request.Headers.TryAddWithoutValidation(h.Key, h.Value);
                using (var response = await _raw.SendAsync(request, ct).ConfigureAwait(false))
                {
                    string body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                    if (!response.IsSuccessStatusCode) throw new DockerApiException(response.StatusCode, body);
                    return body;
                }
            }
        }

        private HttpClient _raw;

        public void Dispose()
        {
            try { _raw?.Dispose(); } catch { }
            try { Client.Dispose(); } catch { }
            try { _handler.Dispose(); } catch { }
            _ssh?.Dispose();
        }
    }

    internal sealed class EngineTransportOptions
    {
        public EngineTransportOptions(HttpMessageHandler handler) { Handler = handler; }
        public HttpMessageHandler Handler { get; }
    }

    internal sealed class EngineHandlerFactory : IDockerHandlerFactory<EngineTransportOptions>
    {
        public static readonly EngineHandlerFactory Instance = new EngineHandlerFactory();

        public ResolvedTransport CreateHandler(ResolvedClientOptions clientOptions, ILogger logger)
            => throw new NotSupportedException("SwarmAdmin always passes its own transport.");

        public ResolvedTransport CreateHandler(EngineTransportOptions transportOptions, ResolvedClientOptions clientOptions, ILogger logger)
            => new ResolvedTransport(transportOptions.Handler, new Uri("http://docker/"));

        public Task<WriteClosableStream> HijackStreamAsync(HttpContent content)
            => throw new NotSupportedException("Attaching to container streams is not supported by SwarmAdmin's engine transport.");
    }
}
