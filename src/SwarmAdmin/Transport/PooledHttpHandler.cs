using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Transport
{
    /// <summary>Opens one byte stream to the engine (an SSH dial-stdio channel, a unix socket, a TCP socket).</summary>
    internal delegate Task<Stream> StreamConnector(CancellationToken cancellationToken);

    /// <summary>
    /// A small HTTP/1.1 client over any byte stream, keeping idle connections for reuse (keep-alive).
    /// Docker.DotNet's own ManagedHandler opens a new stream per request; over SSH that costs a new channel
    /// and a new `docker system dial-stdio` process per API call, so we pool instead.
    /// Cancellation aborts the connection in use, so a hung engine never hangs the caller.
    /// </summary>
    internal sealed class PooledHttpHandler : HttpMessageHandler
    {
        private readonly StreamConnector _connector;
        private readonly ConcurrentBag<HttpConnection> _idle = new ConcurrentBag<HttpConnection>();
        private readonly int _maxIdle;
        private volatile bool _disposed;

        public PooledHttpHandler(StreamConnector connector, int maxIdle = 4)
        {
            _connector = connector ?? throw new ArgumentNullException(nameof(connector));
            _maxIdle = maxIdle;
        }

        /// <summary>Number of connections opened so far (for diagnostics and tests).</summary>
        public int ConnectionsOpened => _opened;
        private int _opened;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(PooledHttpHandler));
            byte[] body = request.Content == null ? null : await request.Content.ReadAsByteArrayAsync().ConfigureAwait(false);

            for (int attempt = 0; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                bool reused = _idle.TryTake(out HttpConnection conn);
                if (!reused)
                {
                    Stream s = await _connector(cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _opened);
                    conn = new HttpConnection(s);
                }

                CancellationTokenRegistration reg = cancellationToken.Register(c => ((HttpConnection)c).Abort(), conn);
                try
                {
                    return await conn.SendAsync(request, body, this, reg, cancellationToken).ConfigureAwait(false);
                }
                catch (StaleConnectionException) when (reused && attempt < 2)
                {
                    // The engine side closed an idle connection before we sent: try another one.
                    reg.Dispose();
                    conn.Abort();
                }
                catch (Exception ex)
                {
                    reg.Dispose();
                    conn.Abort();
                    if (cancellationToken.IsCancellationRequested)
                    {
                        throw new OperationCanceledException("The request was cancelled.", ex, cancellationToken);
                    }
                    if (ex is StaleConnectionException) throw new IOException("The engine closed the connection.", ex);
                    throw;
                }
            }
        }

        internal void Return(HttpConnection conn)
        {
            if (_disposed || _idle.Count >= _maxIdle)
            {
                conn.Abort();
                return;
            }
            _idle.Add(conn);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_disposed)
            {
                _disposed = true;
                while (_idle.TryTake(out HttpConnection c)) c.Abort();
            }
            base.Dispose(disposing);
        }

        private sealed class StaleConnectionException : IOException
        {
            public StaleConnectionException(string message, Exception inner = null) : base(message, inner) { }
        }

        internal sealed class HttpConnection
        {
            private readonly Stream _stream;
            private readonly byte[] _buf = new byte[16 * 1024];
            private int _pos, _len;
            private int _aborted;

            public HttpConnection(Stream stream) { _stream = stream; }

            public void Abort()
            {
                if (Interlocked.Exchange(ref _aborted, 1) == 0)
                {
                    try { _stream.Dispose(); } catch { /* best effort */ }
                }
            }

            public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, byte[] body, PooledHttpHandler owner,
                CancellationTokenRegistration reg, CancellationToken ct)
            {
                var sb = new StringBuilder(256);
                sb.Append(request.Method.Method).Append(' ').Append(request.RequestUri.PathAndQuery).Append(" HTTP/1.1\r\n");
                sb.Append("Host: ").Append(request.Headers.Host ?? "docker").Append("\r\n");
                foreach (var h in request.Headers)
                {
                    if (string.Equals(h.Key, "Host", StringComparison.OrdinalIgnoreCase)) continue;
                    sb.Append(h.Key).Append(": ").Append(string.Join(", ", h.Value)).Append("\r\n");
                }
                if (request.Content != null)
                {
                    foreach (var h in request.Content.Headers)
                    {
                        if (string.Equals(h.Key, "Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
                        sb.Append(h.Key).Append(": ").Append(string.Join(", ", h.Value)).Append("\r\n");
                    }
                }
                if (body != null || request.Method == HttpMethod.Post || request.Method == HttpMethod.Put)
                {
                    sb.Append("Content-Length: ").Append((body?.Length ?? 0).ToString(CultureInfo.InvariantCulture)).Append("\r\n");
                }
                sb.Append("\r\n");
                byte[] head = Encoding.ASCII.GetBytes(sb.ToString());
                try
                {
                    await _stream.WriteAsync(head, 0, head.Length, ct).ConfigureAwait(false);
                    if (body != null && body.Length > 0) await _stream.WriteAsync(body, 0, body.Length, ct).ConfigureAwait(false);
                    await _stream.FlushAsync(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (!(ex is OperationCanceledException))
                {
                    throw new StaleConnectionException("Writing the request failed.", ex);
                }

                string statusLine = await ReadLineAsync(ct, allowEofAtStart: true).ConfigureAwait(false);
                if (statusLine == null) throw new StaleConnectionException("The connection was closed before a response arrived.");
                string[] parts = statusLine.Split(new[] { ' ' }, 3);
                if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
                    !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int status))
                {
                    throw new IOException("The engine sent an invalid HTTP status line.");
                }

                var response = new HttpResponseMessage((HttpStatusCode)status)
                {
                    ReasonPhrase = parts.Length > 2 ? parts[2] : string.Empty,
                    RequestMessage = request,
                    Version = new Version(1, 1)
                };
                var contentHeaders = new List<KeyValuePair<string, string>>();
                long? contentLength = null;
                bool chunked = false, close = false;
                while (true)
                {
                    string line = await ReadLineAsync(ct, allowEofAtStart: false).ConfigureAwait(false);
                    if (line.Length == 0) break;
                    int colon = line.IndexOf(':');
                    if (colon <= 0) continue;
                    string name = line.Substring(0, colon).Trim();
                    string value = line.Substring(colon + 1).Trim();
                    if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                    {
                        contentLength = long.Parse(value, CultureInfo.InvariantCulture);
                    }
                    else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.IndexOf("chunked", StringComparison.OrdinalIgnoreCase) >= 0)
                    {
                        chunked = true;
                    }
                    else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && value.IndexOf("close", StringComparison.OrdinalIgnoreCase) >= 0)
                    {
                        close = true;
                    }
                    if (!response.Headers.TryAddWithoutValidation(name, value)) contentHeaders.Add(new KeyValuePair<string, string>(name, value));
                }

                Stream bodyStream;
                bool noBody = request.Method == HttpMethod.Head || status == 204 || status == 304 || (status >= 100 && status < 200);
                if (status == 101)
                {
                    // Upgraded (hijacked) stream: the connection now belongs to the caller.
                    reg.Dispose();
                    bodyStream = new RawStream(this);
                }
                else if (noBody || contentLength == 0)
                {
                    bodyStream = new BodyStream(this, owner, reg, 0, chunked: false, keepAlive: !close);
                    ((BodyStream)bodyStream).CompleteIfDone();
                }
                else if (chunked)
                {
                    bodyStream = new BodyStream(this, owner, reg, -1, chunked: true, keepAlive: !close);
                }
                else if (contentLength.HasValue)
                {
                    bodyStream = new BodyStream(this, owner, reg, contentLength.Value, chunked: false, keepAlive: !close);
                }
                else
                {
                    bodyStream = new BodyStream(this, owner, reg, -1, chunked: false, keepAlive: false);
                }

                var content = new StreamContent(bodyStream);
                foreach (var kv in contentHeaders) content.Headers.TryAddWithoutValidation(kv.Key, kv.Value);
                response.Content = content;
                return response;
            }

            private async Task<bool> FillAsync(CancellationToken ct)
            {
                if (_pos > 0 && _pos == _len) { _pos = _len = 0; }
                if (_len == _buf.Length)
                {
                    if (_pos == 0) throw new IOException("An HTTP header line from the engine is too long.");
                    Buffer.BlockCopy(_buf, _pos, _buf, 0, _len - _pos);
                    _len -= _pos; _pos = 0;
                }
                int n = await _stream.ReadAsync(_buf, _len, _buf.Length - _len, ct).ConfigureAwait(false);
                if (n <= 0) return false;
                _len += n;
                return true;
            }

            private async Task<string> ReadLineAsync(CancellationToken ct, bool allowEofAtStart)
            {
                bool any = false;
                while (true)
                {
                    for (int i = _pos; i < _len; i++)
                    {
                        if (_buf[i] == (byte)'\n')
                        {
                            int end = i > _pos && _buf[i - 1] == (byte)'\r' ? i - 1 : i;
                            string s = Encoding.ASCII.GetString(_buf, _pos, end - _pos);
                            _pos = i + 1;
                            return s;
                        }
                    }
                    any |= _len > _pos;
                    if (!await FillAsync(ct).ConfigureAwait(false))
                    {
                        if (allowEofAtStart && !any) return null;
                        throw new IOException("The engine closed the connection in the middle of a response.");
                    }
                }
            }

            /// <summary>Reads up to count buffered-or-fresh bytes; 0 at end of stream.</summary>
            internal async Task<int> ReadRawAsync(byte[] buffer, int offset, int count, CancellationToken ct)
            {
                if (_pos < _len)
                {
                    int n = Math.Min(count, _len - _pos);
                    Buffer.BlockCopy(_buf, _pos, buffer, offset, n);
                    _pos += n;
                    return n;
                }
                return await _stream.ReadAsync(buffer, offset, count, ct).ConfigureAwait(false);
            }

            internal Task WriteRawAsync(byte[] buffer, int offset, int count, CancellationToken ct) => _stream.WriteAsync(buffer, offset, count, ct);

            internal async Task<string> ReadChunkLineAsync(CancellationToken ct) => await ReadLineAsync(ct, allowEofAtStart: false).ConfigureAwait(false);
        }

        /// <summary>The body of one response; returns the connection to the pool once fully read.</summary>
        private sealed class BodyStream : ForwardOnlyStream
        {
            private readonly HttpConnection _conn;
            private readonly PooledHttpHandler _owner;
            private CancellationTokenRegistration _reg;
            private long _remaining; // bytes left in the body (or the current chunk); -1 = unknown
            private readonly bool _chunked;
            private readonly bool _keepAlive;
            private bool _done;
            private bool _released;

            public BodyStream(HttpConnection conn, PooledHttpHandler owner, CancellationTokenRegistration reg, long length, bool chunked, bool keepAlive)
            {
                _conn = conn; _owner = owner; _reg = reg; _remaining = chunked ? 0 : length; _chunked = chunked; _keepAlive = keepAlive;
            }

            internal void CompleteIfDone()
            {
                if (!_chunked && _remaining == 0) { _done = true; Release(reuse: _keepAlive); }
            }

            private void Release(bool reuse)
            {
                if (_released) return;
                _released = true;
                _reg.Dispose();
                if (reuse) _owner.Return(_conn); else _conn.Abort();
            }

            public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct)
            {
                if (_done || count == 0) return 0;
                using (ct.Register(c => ((HttpConnection)c).Abort(), _conn))
                {
                    try
                    {
                        if (_chunked)
                        {
                            if (_remaining == 0)
                            {
                                string sizeLine = await _conn.ReadChunkLineAsync(ct).ConfigureAwait(false);
                                int semi = sizeLine.IndexOf(';');
                                if (semi >= 0) sizeLine = sizeLine.Substring(0, semi);
                                _remaining = long.Parse(sizeLine.Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                                if (_remaining == 0)
                                {
                                    // trailers until empty line
                                    while ((await _conn.ReadChunkLineAsync(ct).ConfigureAwait(false)).Length > 0) { }
                                    _done = true;
                                    Release(reuse: _keepAlive);
                                    return 0;
                                }
                            }
                            int n = await _conn.ReadRawAsync(buffer, offset, (int)Math.Min(count, _remaining), ct).ConfigureAwait(false);
                            if (n <= 0) throw new IOException("The engine closed the connection in the middle of a chunked response.");
                            _remaining -= n;
                            if (_remaining == 0) await _conn.ReadChunkLineAsync(ct).ConfigureAwait(false); // CRLF after chunk
                            return n;
                        }

                        if (_remaining < 0)
                        {
                            int n = await _conn.ReadRawAsync(buffer, offset, count, ct).ConfigureAwait(false);
                            if (n <= 0) { _done = true; Release(reuse: false); }
                            return Math.Max(n, 0);
                        }

                        int m = await _conn.ReadRawAsync(buffer, offset, (int)Math.Min(count, _remaining), ct).ConfigureAwait(false);
                        if (m <= 0) throw new IOException("The engine closed the connection in the middle of a response.");
                        _remaining -= m;
                        if (_remaining == 0) { _done = true; Release(reuse: _keepAlive); }
                        return m;
                    }
                    catch
                    {
                        _done = true;
                        Release(reuse: false);
                        if (ct.IsCancellationRequested) throw new OperationCanceledException(ct);
                        throw;
                    }
                }
            }

            public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

            protected override void Dispose(bool disposing)
            {
                if (disposing && !_released)
                {
                    // Not fully read: the connection is in an unknown position and cannot be reused.
                    _done = true;
                    Release(reuse: false);
                }
                base.Dispose(disposing);
            }

            public override bool CanRead => true;
            public override bool CanWrite => false;
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        /// <summary>A hijacked (101 Upgrade) connection: raw read and write.</summary>
        private sealed class RawStream : ForwardOnlyStream
        {
            private readonly HttpConnection _conn;
            public RawStream(HttpConnection conn) { _conn = conn; }
            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => _conn.ReadRawAsync(buffer, offset, count, ct);
            public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => _conn.WriteRawAsync(buffer, offset, count, ct);
            public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
            protected override void Dispose(bool disposing) { if (disposing) _conn.Abort(); base.Dispose(disposing); }
            public override bool CanRead => true;
            public override bool CanWrite => true;
        }
    }
}
