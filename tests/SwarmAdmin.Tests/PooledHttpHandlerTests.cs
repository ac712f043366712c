using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Engine;
using SwarmAdmin.Transport;
using Xunit;

namespace SwarmAdmin.Tests
{
    /// <summary>A scripted HTTP/1.1 peer on loopback standing in for the engine's end of dial-stdio.</summary>
    internal sealed class FakeEngine : IDisposable
    {
        private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
        private readonly Func<string, string> _respond;
        private readonly CancellationTokenSource _cts = new CancellationTokenSource();
        public int Accepted;
        public ConcurrentQueue<string> Requests = new ConcurrentQueue<string>();
        public bool CloseAfterEachResponse;
        public bool Hang;

        public FakeEngine(Func<string, string> respond)
        {
            _respond = respond;
            _listener.Start();
            _ = AcceptLoop();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        private async Task AcceptLoop()
        {
            while (!_cts.IsCancellationRequested)
            {
                TcpClient c;
                try { c = await _listener.AcceptTcpClientAsync(); } catch { return; }
                Interlocked.Increment(ref Accepted);
                _ = Serve(c);
            }
        }

        private async Task Serve(TcpClient client)
        {
            using (client)
            {
                var stream = client.GetStream();
                var reader = new StreamReader(stream, Encoding.ASCII);
                while (true)
                {
                    string requestLine;
                    try { requestLine = await reader.ReadLineAsync(); } catch { return; }
                    if (requestLine == null) return;
                    int length = 0;
                    string line;
                    while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
                    {
                        if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) length = int.Parse(line.Substring(15).Trim());
                    }
                    var body = new char[length];
                    int read = 0;
                    while (read < length) read += await reader.ReadAsync(body, read, length - read);
                    Requests.Enqueue(requestLine + (length > 0 ? " " + new string(body) : string.Empty));
                    if (Hang) { await Task.Delay(Timeout.Infinite, _cts.Token).ContinueWith(_ => { }); return; }
                    byte[] response = Encoding.ASCII.GetBytes(_respond(requestLine));
                    await stream.WriteAsync(response, 0, response.Length);
                    if (CloseAfterEachResponse) return;
                }
            }
        }

        public static string Ok(string body, string extraHeaders = "") =>
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extraHeaders}Content-Length: {Encoding.ASCII.GetByteCount(body)}\r\n\r\n{body}";

        public static string Chunked(params string[] chunks)
        {
            var sb = new StringBuilder("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            foreach (var c in chunks) sb.Append(Encoding.ASCII.GetByteCount(c).ToString("x")).Append("\r\n").Append(c).Append("\r\n");
            sb.Append("0\r\n\r\n");
            return sb.ToString();
        }

        public void Dispose()
        {
            _cts.Cancel();
            _listener.Stop();
        }
    }

    public class PooledHttpHandlerTests
    {
        private static HttpClient Client(FakeEngine engine, out PooledHttpHandler handler)
        {
            handler = new PooledHttpHandler(SocketConnectors.Tcp("127.0.0.1", engine.Port, TimeSpan.FromSeconds(5)));
            return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        }

        [Fact]
        public async Task Reuses_one_connection_for_sequential_requests()
        {
            using var engine = new FakeEngine(_ => FakeEngine.Ok("[1,2,3]"));
            using var http = Client(engine, out var handler);
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal("[1,2,3]", await http.GetStringAsync("http://docker/v1.45/nodes"));
            }
            Assert.Equal(1, engine.Accepted);
            Assert.Equal(1, handler.ConnectionsOpened);
            Assert.Equal(10, engine.Requests.Count);
            Assert.All(engine.Requests, r => Assert.Equal("GET /v1.45/nodes HTTP/1.1", r));
        }

        [Fact]
        public async Task Reads_chunked_bodies_and_keeps_the_connection()
        {
            using var engine = new FakeEngine(_ => FakeEngine.Chunked("{\"a\":", "1}"));
            using var http = Client(engine, out var handler);
            Assert.Equal("{\"a\":1}", await http.GetStringAsync("http://docker/info"));
            Assert.Equal("{\"a\":1}", await http.GetStringAsync("http://docker/info"));
            Assert.Equal(1, handler.ConnectionsOpened);
        }

        [Fact]
        public async Task Sends_bodies_with_content_length()
        {
            using var engine = new FakeEngine(_ => "HTTP/1.1 204 No Content\r\n\r\n");
            using var http = Client(engine, out _);
            var resp = await http.PostAsync("http://docker/nodes/x/update?version=7", new StringContent("{\"Role\":\"worker\"}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, resp.StatusCode);
            Assert.True(engine.Requests.TryDequeue(out var req));
            Assert.Equal("POST /nodes/x/update?version=7 HTTP/1.1 {\"Role\":\"worker\"}", req);
            // the connection went back to the pool after a bodiless response
            await http.PostAsync("http://docker/nodes/x/update?version=8", new StringContent("{}"));
            Assert.Equal(1, engine.Accepted);
        }

        [Fact]
        public async Task Passes_error_statuses_and_bodies_through()
        {
            using var engine = new FakeEngine(_ => "HTTP/1.1 404 Not Found\r\nContent-Length: 33\r\n\r\n{\"message\":\"node nope not found\"}");
            using var http = Client(engine, out _);
            var resp = await http.GetAsync("http://docker/nodes/nope");
            Assert.Equal(HttpStatusCode.NotFound, resp.StatusCode);
            Assert.Equal("{\"message\":\"node nope not found\"}", await resp.Content.ReadAsStringAsync());
        }

        [Fact]
        public async Task Opens_a_new_connection_when_the_engine_closed_the_idle_one()
        {
            using var engine = new FakeEngine(_ => FakeEngine.Ok("{}")) { CloseAfterEachResponse = true };
            using var http = Client(engine, out var handler);
            for (int i = 0; i < 3; i++)
            {
                await Task.Delay(50); // let the close reach us
                Assert.Equal("{}", await http.GetStringAsync("http://docker/_ping"));
            }
            Assert.Equal(3, engine.Accepted);
        }

        [Fact]
        public async Task Does_not_reuse_a_connection_after_Connection_close()
        {
            using var engine = new FakeEngine(_ => FakeEngine.Ok("{}", "Connection: close\r\n"));
            using var http = Client(engine, out var handler);
            await http.GetStringAsync("http://docker/a");
            await http.GetStringAsync("http://docker/b");
            Assert.Equal(2, handler.ConnectionsOpened);
        }

        [Fact]
        public async Task Cancellation_aborts_a_request_the_engine_never_answers()
        {
            using var engine = new FakeEngine(_ => FakeEngine.Ok("{}")) { Hang = true };
            using var http = Client(engine, out _);
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            var task = http.GetAsync("http://docker/nodes", cts.Token);
            var finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30)));
            Assert.Same(task, finished); // hang guard: it ended because of the token
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        }

        [Fact]
        public async Task A_refused_connection_is_an_IOException_that_names_the_endpoint()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            var handler = new PooledHttpHandler(SocketConnectors.Tcp("127.0.0.1", port, TimeSpan.FromSeconds(5)));
            using var http = new HttpClient(handler);
            var ex = await Assert.ThrowsAnyAsync<Exception>(() => http.GetAsync("http://docker/_ping"));
            var io = ex as IOException ?? ex.InnerException as IOException;
            Assert.NotNull(io);
            Assert.Contains($"127.0.0.1:{port}", io.Message);
        }
    }

    public class ApiVersionNegotiationTests
    {
        [Theory]
        [InlineData("1.45", "1.45")]   // engine 26.1 speaks 1.45: use it
        [InlineData("1.41", "1.41")]   // engine 20.10
        [InlineData("1.54", "1.54")]
        [InlineData("1.60", "1.54")]   // a newer engine than our client: our newest
        [InlineData(null, "1.24")]     // no header (very old engine): what the CLI falls back to
        [InlineData("garbage", "1.24")]
        public void Uses_the_lower_of_the_engine_and_client_versions(string server, string expected)
        {
            Assert.Equal(Version.Parse(expected), EngineConnection.Negotiate(server));
        }

        [Theory]
        [InlineData("Docker/26.1.5+dfsg1 (linux)", "26.1.5+dfsg1")]
        [InlineData("Docker/20.10.24+dfsg1 (linux)", "20.10.24+dfsg1")]
        [InlineData("Docker/28.2.2", "28.2.2")]
        [InlineData(null, null)]
        [InlineData("nginx", null)]
        public void Reads_the_engine_version_from_the_Server_header(string header, string expected)
        {
            Assert.Equal(expected, EngineConnection.ParseServerHeader(header));
        }
    }
}
