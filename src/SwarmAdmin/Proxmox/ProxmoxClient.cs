using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Proxmox
{
    internal sealed class ProxmoxClientOptions
    {
        /// <summary>Default per-call timeout (30 s). pveproxy's own relay gives up after 30 s.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Certificate policy; null = system trust store.</summary>
        public ProxmoxTls Tls { get; set; }

        public string UserAgent { get; set; } = "SwarmAdmin";

        /// <summary>Log in again (password credentials) once the ticket is this old; tickets live 2 h.</summary>
        public TimeSpan TicketRenewAfter { get; set; } = TimeSpan.FromMinutes(110);

        /// <summary>At most this many connections to the API host (pvedaemon has 3 workers; keep it low).</summary>
        public int MaxConnectionsPerServer { get; set; } = 4;

        internal Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// A small Proxmox VE API client: one shared HttpClient, form-encoded bodies (booleans 0/1, invariant numbers),
    /// parameters of GET/DELETE in the query string only, the <c>data</c> member of the envelope as result,
    /// <see cref="ProxmoxApiException"/> for error answers, token or ticket (+CSRF) authentication and pinned or
    /// system-trusted TLS. Thread-safe.
    /// </summary>
    internal sealed class ProxmoxClient : IDisposable
    {
        private static readonly JsonElement NullElement = CreateNull();

        private readonly HttpClient _http;
        private readonly ProxmoxClientOptions _options;
        private readonly ProxmoxCertificateValidator _validator;
        private readonly SemaphoreSlim _loginLock = new SemaphoreSlim(1, 1);
        private volatile ProxmoxTicket _ticket;
        private int _disposed;

        /// <summary>A client with its own HTTPS handler, checking certificates as <paramref name="options"/>.Tls says.</summary>
        public ProxmoxClient(ProxmoxEndpoint endpoint, ProxmoxCredential credential, ProxmoxClientOptions options = null)
        {
            Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            Credential = credential ?? throw new ArgumentNullException(nameof(credential));
            _options = options ?? new ProxmoxClientOptions();
            _validator = new ProxmoxCertificateValidator(_options.Tls, endpoint.Authority);
            _http = new HttpClient(CreateHandler(_validator, _options), disposeHandler: true) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
            Timeout = _options.Timeout;
        }

        /// <summary>A client over a given handler (tests, or a handler with its own certificate checks).</summary>
        public ProxmoxClient(ProxmoxEndpoint endpoint, ProxmoxCredential credential, HttpMessageHandler handler, ProxmoxClientOptions options = null, bool disposeHandler = true)
        {
            Endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
            Credential = credential ?? throw new ArgumentNullException(nameof(credential));
            if (handler == null) throw new ArgumentNullException(nameof(handler));
            _options = options ?? new ProxmoxClientOptions();
            _http = new HttpClient(handler, disposeHandler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
            Timeout = _options.Timeout;
        }

        public ProxmoxEndpoint Endpoint { get; }

        public ProxmoxCredential Credential { get; }

        /// <summary>Per-call timeout used when a call does not give its own.</summary>
        public TimeSpan Timeout { get; set; }

        public Task<JsonElement> GetAsync(string path, IDictionary<string, object> query = null, CancellationToken cancellationToken = default) =>
            SendAsync(HttpMethod.Get, path, query, null, cancellationToken);

        public Task<JsonElement> PostAsync(string path, IDictionary<string, object> form = null, CancellationToken cancellationToken = default) =>
            SendAsync(HttpMethod.Post, path, form, null, cancellationToken);

        public Task<JsonElement> PutAsync(string path, IDictionary<string, object> form = null, CancellationToken cancellationToken = default) =>
            SendAsync(HttpMethod.Put, path, form, null, cancellationToken);

        /// <summary>DELETE with the parameters in the query string (pveproxy rejects a body on DELETE with 501).</summary>
        public Task<JsonElement> DeleteAsync(string path, IDictionary<string, object> query = null, CancellationToken cancellationToken = default) =>
            SendAsync(HttpMethod.Delete, path, query, null, cancellationToken);

        /// <summary>
        /// One API call. GET/DELETE parameters go in the query string, POST/PUT parameters in a form body.
        /// Returns a clone of the envelope's <c>data</c> (JSON null when absent). <paramref name="timeout"/> overrides <see cref="Timeout"/>.
        /// </summary>
        public Task<JsonElement> SendAsync(HttpMethod method, string path, IEnumerable<KeyValuePair<string, object>> parameters, TimeSpan? timeout, CancellationToken cancellationToken = default) =>
            SendCoreAsync(method, path, parameters, timeout, wholeEnvelope: false, cancellationToken);

        /// <summary>GET returning the whole envelope (e.g. to read <c>total</c> next to <c>data</c>).</summary>
        internal Task<JsonElement> GetEnvelopeAsync(string path, IDictionary<string, object> query, CancellationToken cancellationToken) =>
            SendCoreAsync(HttpMethod.Get, path, query, null, wholeEnvelope: true, cancellationToken);

        /// <summary>For password credentials: logs in now (otherwise the first call does). No-op for tokens.</summary>
        public async Task LoginAsync(CancellationToken cancellationToken = default)
        {
            if (!(Credential is ProxmoxPasswordCredential)) return;
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (Timeout != System.Threading.Timeout.InfiniteTimeSpan) cts.CancelAfter(Timeout);
                try
                {
                    await GetTicketAsync(null, cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException("Proxmox did not answer the login (POST /access/ticket) within " + Describe(Timeout) + ".");
                }
                catch (HttpRequestException ex)
                {
                    throw TranslateTransportError(ex, HttpMethod.Post, "access/ticket");
                }
            }
        }

        private async Task<JsonElement> SendCoreAsync(
            HttpMethod method, string path, IEnumerable<KeyValuePair<string, object>> parameters, TimeSpan? timeout, bool wholeEnvelope, CancellationToken cancellationToken)
        {
            if (method == null) throw new ArgumentNullException(nameof(method));
            if (Volatile.Read(ref _disposed) != 0) throw new ObjectDisposedException(nameof(ProxmoxClient));
            string relPath = ProxmoxEndpoint.NormalizePath(path);
            string encoded = ProxmoxForm.Encode(parameters);
            bool hasBody = method == HttpMethod.Post || method == HttpMethod.Put;
            TimeSpan limit = timeout ?? Timeout;

            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (limit != System.Threading.Timeout.InfiniteTimeSpan) cts.CancelAfter(limit);
                try
                {
                    ProxmoxTicket stale = null;
                    for (int attempt = 0; ; attempt++)
                    {
                        ProxmoxTicket ticket = Credential is ProxmoxPasswordCredential
                            ? await GetTicketAsync(stale, cts.Token).ConfigureAwait(false)
                            : null;
                        using (HttpRequestMessage request = BuildRequest(method, relPath, encoded, hasBody, ticket))
                        using (HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cts.Token).ConfigureAwait(false))
                        {
                            string body = response.Content == null ? string.Empty : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                            int status = (int)response.StatusCode;
                            if (status >= 200 && status < 300) return ParseSuccess(body, wholeEnvelope, method, relPath);

                            // An expired ticket (2 h) or a server restart: log in again once and repeat. 401 means the
                            // request was refused before any handler ran, so repeating a write is safe.
                            if (status == 401 && ticket != null && attempt == 0)
                            {
                                stale = ticket;
                                continue;
                            }
                            throw ProxmoxApiException.FromResponse(status, response.ReasonPhrase, body, method.Method, StripQuery(relPath), Credential, afterRelogin: attempt > 0);
                        }
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException("Proxmox did not answer " + method.Method + " /" + StripQuery(relPath) + " within " + Describe(limit) + ".");
                }
                catch (HttpRequestException ex)
                {
                    throw TranslateTransportError(ex, method, relPath);
                }
            }
        }

        private HttpRequestMessage BuildRequest(HttpMethod method, string relPath, string encoded, bool hasBody, ProxmoxTicket ticket)
        {
            var request = new HttpRequestMessage(method, Endpoint.BuildUri(relPath, hasBody ? null : encoded)) { Version = HttpVersion.Version11 };
            request.Headers.ExpectContinue = false;
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            if (!string.IsNullOrEmpty(_options.UserAgent)) request.Headers.TryAddWithoutValidation("User-Agent", _options.UserAgent);

            switch (Credential)
            {
                case ProxmoxApiTokenCredential token:
                    request.Headers.TryAddWithoutValidation("Authorization", token.AuthorizationHeaderValue());
                    break;
                case ProxmoxPasswordCredential _ when ticket != null:
                    request.Headers.TryAddWithoutValidation("Cookie", "PVEAuthCookie=" + ticket.Ticket);
                    if (method != HttpMethod.Get) request.Headers.TryAddWithoutValidation("CSRFPreventionToken", ticket.CsrfToken);
                    break;
            }

            if (hasBody)
            {
                var content = new ByteArrayContent(Encoding.ASCII.GetBytes(encoded));
                content.Headers.ContentType = new MediaTypeHeaderValue(ProxmoxForm.ContentType);
                request.Content = content;
            }
            return request;
        }

        private async Task<ProxmoxTicket> GetTicketAsync(ProxmoxTicket stale, CancellationToken cancellationToken)
        {
            ProxmoxTicket current = _ticket;
            if (current != null && current != stale && !IsOld(current)) return current;
            await _loginLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                current = _ticket;
                if (current != null && current != stale && !IsOld(current)) return current; // another caller logged in meanwhile
                _ticket = null;
                current = await LoginCoreAsync(cancellationToken).ConfigureAwait(false);
                _ticket = current;
                return current;
            }
            finally
            {
                _loginLock.Release();
            }
        }

        private bool IsOld(ProxmoxTicket ticket) => _options.Clock() - ticket.IssuedAt >= _options.TicketRenewAfter;

        private async Task<ProxmoxTicket> LoginCoreAsync(CancellationToken cancellationToken)
        {
            var user = (ProxmoxPasswordCredential)Credential;
            const string path = "access/ticket";
            string body = ProxmoxForm.Encode(new[]
            {
                new KeyValuePair<string, object>("username", user.UserId),
                new KeyValuePair<string, object>("password", user.PlainPassword()),
            });
            using (HttpRequestMessage request = BuildRequest(HttpMethod.Post, path, body, hasBody: true, ticket: null))
            using (HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false))
            {
                string text = response.Content == null ? string.Empty : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                int status = (int)response.StatusCode;
                if (status < 200 || status >= 300)
                    throw ProxmoxApiException.FromResponse(status, response.ReasonPhrase, text, "POST", path, Credential);

                JsonElement data = ParseSuccess(text, false, HttpMethod.Post, path);
                if (JsonRead.Bool(data, "NeedTFA") == true)
                    throw new ProxmoxApiException(401, response.ReasonPhrase, "two-factor authentication required", null, "POST", path,
                        "The Proxmox user " + user.UserId + " requires two-factor authentication, which SwarmAdmin's password login does not support; use an API token instead.");
                string ticket = JsonRead.String(data, "ticket");
                string csrf = JsonRead.String(data, "CSRFPreventionToken");
                if (string.IsNullOrEmpty(ticket) || string.IsNullOrEmpty(csrf))
                    throw new ProxmoxProtocolException("Proxmox answered the login of " + user.UserId + " without a ticket or CSRF prevention token.");
                return new ProxmoxTicket(JsonRead.String(data, "username") ?? user.UserId, ticket, csrf, _options.Clock());
            }
        }

        private JsonElement ParseSuccess(string body, bool wholeEnvelope, HttpMethod method, string relPath)
        {
            if (string.IsNullOrWhiteSpace(body)) return NullElement;
            try
            {
                using (JsonDocument doc = JsonDocument.Parse(body))
                {
                    JsonElement root = doc.RootElement;
                    if (wholeEnvelope) return root.Clone();
                    if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out JsonElement data)) return data.Clone();
                    return NullElement;
                }
            }
            catch (JsonException ex)
            {
                throw new ProxmoxProtocolException(
                    "Proxmox answered " + method.Method + " /" + StripQuery(relPath) + " with a body that is not JSON; is " + Endpoint + " a Proxmox VE API?", ex);
            }
        }

        private Exception TranslateTransportError(HttpRequestException ex, HttpMethod method, string relPath)
        {
            ProxmoxCertificateValidator.Rejection rejection = _validator?.LastRejection;
            if (rejection != null)
            {
                _validator.ClearRejection();
                return _validator.CreateException(rejection, ex);
            }
            var sb = new StringBuilder();
            for (Exception e = ex; e != null; e = e.InnerException)
            {
                if (sb.Length > 0) sb.Append(" → ");
                sb.Append(e.Message.TrimEnd('.'));
                if (e is AuthenticationException) break;
            }
            return new ProxmoxConnectionException(
                "Cannot reach the Proxmox API at " + Endpoint + " (" + method.Method + " /" + StripQuery(relPath) + "): " + sb + ".", ex);
        }

        private static string StripQuery(string relPath)
        {
            int q = relPath.IndexOf('?');
            return q < 0 ? relPath : relPath.Substring(0, q);
        }

        private static string Describe(TimeSpan t) =>
            t.TotalSeconds < 120 ? t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " s" : t.ToString();

        private static JsonElement CreateNull()
        {
            using (JsonDocument doc = JsonDocument.Parse("null")) return doc.RootElement.Clone();
        }

        /// <summary>
        /// The HTTPS handler: SocketsHttpHandler when the runtime has it (idle connections dropped after 3 s, below
        /// pveproxy's 5 s keep-alive), else HttpClientHandler (TLS 1.2 forced on .NET Framework). Certificates are
        /// decided by <paramref name="validator"/> only.
        /// </summary>
        internal static HttpMessageHandler CreateHandler(ProxmoxCertificateValidator validator, ProxmoxClientOptions options)
        {
            if (validator == null) throw new ArgumentNullException(nameof(validator));
            HttpMessageHandler sockets = TryCreateSocketsHandler(validator, options);
            if (sockets != null) return sockets;

            var handler = new HttpClientHandler
            {
                UseCookies = false,
                AllowAutoRedirect = false,
                AutomaticDecompression = DecompressionMethods.GZip | DecompressionMethods.Deflate,
                ServerCertificateCustomValidationCallback = (message, cert, chain, errors) => validator.Validate(cert, chain, errors),
            };
            try { handler.MaxConnectionsPerServer = Math.Max(1, options.MaxConnectionsPerServer); } catch (PlatformNotSupportedException) { }
            if (RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase))
            {
                try { handler.SslProtocols = SslProtocols.Tls12; } catch (PlatformNotSupportedException) { }
            }
            return handler;
        }

        private static HttpMessageHandler TryCreateSocketsHandler(ProxmoxCertificateValidator validator, ProxmoxClientOptions options)
        {
            Type type = Type.GetType("System.Net.Http.SocketsHttpHandler, System.Net.Http", throwOnError: false);
            if (type == null) return null;
            HttpMessageHandler handler = null;
            try
            {
                handler = (HttpMessageHandler)Activator.CreateInstance(type);
                Set(handler, "UseCookies", false);
                Set(handler, "AllowAutoRedirect", false);
                Set(handler, "AutomaticDecompression", DecompressionMethods.GZip | DecompressionMethods.Deflate);
                Set(handler, "PooledConnectionIdleTimeout", TimeSpan.FromSeconds(3));
                Set(handler, "ConnectTimeout", TimeSpan.FromSeconds(15));
                Set(handler, "MaxConnectionsPerServer", Math.Max(1, options.MaxConnectionsPerServer));
                object ssl = type.GetProperty("SslOptions")?.GetValue(handler);
                var callbackProperty = ssl?.GetType().GetProperty("RemoteCertificateValidationCallback");
                if (callbackProperty == null) throw new MissingMemberException("SslOptions.RemoteCertificateValidationCallback");
                RemoteCertificateValidationCallback callback = (sender, cert, chain, errors) => validator.Validate(cert, chain, errors);
                callbackProperty.SetValue(ssl, callback);
                return handler;
            }
            catch (Exception)
            {
                handler?.Dispose();
                return null;
            }
        }

        private static void Set(object target, string property, object value)
        {
            var p = target.GetType().GetProperty(property);
            if (p == null) throw new MissingMemberException(target.GetType().Name + "." + property);
            p.SetValue(target, value);
        }

        public override string ToString() => "Proxmox " + Endpoint + " as " + Credential;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _http.Dispose();
            _loginLock.Dispose();
            _ticket = null;
        }
    }

    /// <summary>Proxmox (or whatever answered) sent something that is not the API's JSON.</summary>
    internal sealed class ProxmoxProtocolException : ProxmoxException
    {
        internal ProxmoxProtocolException(string message, Exception inner = null) : base(message, inner) { }
    }
}
