using System.Net;
using System.Security.Authentication;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace ProxmoxSimulator;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        SimOptions opts;
        try { opts = SimOptions.Parse(args); }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        var certs = new CertStore();
        var sim = new Sim(opts, certs);
        if (!string.IsNullOrEmpty(opts.StateFile) && File.Exists(opts.StateFile) && new FileInfo(opts.StateFile).Length > 0)
        {
            var doc = JsonSerializer.Deserialize<StateDoc>(await File.ReadAllTextAsync(opts.StateFile), Json.StateOptions);
            sim.State.Load(doc, sim.Clock.Now);
        }
        else sim.Reset(null);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Array.Empty<string>() });
        builder.Logging.ClearProviders();
        if (opts.Verbose)
            builder.Logging.AddSimpleConsole().AddFilter("Microsoft", LogLevel.Information)
                .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(5);
            k.Limits.MaxRequestBodySize = 64L << 20;
            var addr = opts.Listen is "localhost" ? IPAddress.Loopback : IPAddress.Parse(opts.Listen);
            k.Listen(addr, opts.Port, lo =>
            {
                lo.Protocols = HttpProtocols.Http1;
                lo.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificateSelector = (_, _) => certs.Current,
                    SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                });
            });
        });

        var app = builder.Build();
        var server = new ApiServer(sim);
        app.Run(ctx => server.HandleAsync(ctx));
        sim.Shutdown = () => app.Lifetime.StopApplication();

        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        int port = new Uri(address.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "127.0.0.1")).Port;
        string host = opts.Listen is "0.0.0.0" or "localhost" ? "127.0.0.1" : opts.Listen.Contains(':') ? $"[{opts.Listen}]" : opts.Listen;
        var ready = new JsonObject
        {
            ["url"] = $"https://{host}:{port}",
            ["fingerprint"] = CertStore.Fingerprint(certs.Original),
            ["pid"] = Environment.ProcessId,
            ["adminToken"] = sim.AdminToken,
            ["readonlyToken"] = sim.ReadonlyToken,
        }.ToJsonString(Json.Api);
        if (!string.IsNullOrEmpty(opts.ReadyFile))
        {
            var tmp = opts.ReadyFile + ".tmp";
            await File.WriteAllTextAsync(tmp, ready + "\n");
            File.Move(tmp, opts.ReadyFile, true);
        }
        Console.Out.WriteLine(ready);
        Console.Out.Flush();

        using var stop = new CancellationTokenSource();
        var rrd = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try { await sim.Clock.DelayAsync(sim.D.RrdRefresh, stop.Token); } catch (OperationCanceledException) { break; }
                sim.State.RefreshRrd(sim.Clock.Now);
            }
        });
        var persist = Task.Run(async () =>
        {
            long saved = -1;
            while (true)
            {
                long rev = Interlocked.Read(ref sim.State.Revision);
                if (rev != saved && !string.IsNullOrEmpty(opts.StateFile))
                {
                    try { SaveState(sim, opts.StateFile); saved = rev; }
                    catch (Exception e) { Console.Error.WriteLine($"state file: {e.Message}"); }
                }
                if (stop.IsCancellationRequested) break;
                try { await Task.Delay(250, stop.Token); } catch (OperationCanceledException) { }
            }
        });

        await app.WaitForShutdownAsync();
        stop.Cancel();
        await Task.WhenAll(rrd, persist);
        return 0;
    }

    static void SaveState(Sim sim, string path)
    {
        var json = JsonSerializer.Serialize(sim.State.ToDoc(), Json.StateOptions);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, json);
        File.Move(tmp, path, true);
    }
}
