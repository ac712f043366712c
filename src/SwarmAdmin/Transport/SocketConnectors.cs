using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Transport
{
    internal static class SocketConnectors
    {
        public static StreamConnector Unix(string path, TimeSpan timeout) => async ct =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await WithTimeout(socket.ConnectAsync(new UnixEndPoint(path)), socket, timeout, ct, $"unix://{path}").ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new IOException($"Cannot connect to the engine socket '{path}': {ex.Message}. Check that the Docker engine runs and that you may use its socket.", ex);
            }
        };

        public static StreamConnector Tcp(string host, int port, TimeSpan timeout) => async ct =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await WithTimeout(socket.ConnectAsync(host, port), socket, timeout, ct, $"tcp://{host}:{port}").ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new IOException($"Cannot connect to tcp://{host}:{port}: {ex.Message}.", ex);
            }
        };

        private static async Task WithTimeout(Task connect, Socket socket, TimeSpan timeout, CancellationToken ct, string what)
        {
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                cts.CancelAfter(timeout);
                var tcs = new TaskCompletionSource<bool>();
                using (cts.Token.Register(() => tcs.TrySetResult(true)))
                {
                    if (await Task.WhenAny(connect, tcs.Task).ConfigureAwait(false) != connect)
                    {
                        socket.Dispose();
                        _ = connect.ContinueWith(t => { _ = t.Exception; }, TaskScheduler.Default);
                        ct.ThrowIfCancellationRequested();
                        throw new TimeoutException($"Connecting to {what} did not complete within {timeout.TotalSeconds:0.#} s.");
                    }
                    await connect.ConfigureAwait(false);
                }
            }
        }

        /// <summary>netstandard2.0 has no UnixDomainSocketEndPoint; this is the sockaddr_un it would make.</summary>
        private sealed class UnixEndPoint : EndPoint
        {
            private readonly string _path;
            public UnixEndPoint(string path) { _path = path; }
            public override AddressFamily AddressFamily => AddressFamily.Unix;

            public override SocketAddress Serialize()
            {
                byte[] bytes = Encoding.UTF8.GetBytes(_path);
                var sa = new SocketAddress(AddressFamily.Unix, 2 + bytes.Length + 1);
                for (int i = 0; i < bytes.Length; i++) sa[2 + i] = bytes[i];
                sa[2 + bytes.Length] = 0;
                return sa;
            }

            public override EndPoint Create(SocketAddress socketAddress) => this;
            public override string ToString() => _path;
        }
    }
}
