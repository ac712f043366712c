using System.Diagnostics;
using System.Text;

namespace ProxmoxSimulator;

public sealed record HookResult(bool Ok, int ExitCode, string Stdout, string Stderr, bool TimedOut);

/// <summary>
/// Lab hooks: --on-start / --on-stop commands run through /bin/sh -c with SIM_* variables describing the VM.
/// </summary>
public sealed class Hooks
{
    private readonly SimOptions _o;
    public Hooks(SimOptions o) => _o = o;

    public bool HasStart => !string.IsNullOrWhiteSpace(_o.OnStart);
    public bool HasStop => !string.IsNullOrWhiteSpace(_o.OnStop);

    public static Dictionary<string, string> Env(VmInfo vm, IReadOnlyDictionary<string, string> conf, string evt)
    {
        string ip = "", prefix = "", gw = "";
        if (conf.TryGetValue("ipconfig0", out var ipc))
        {
            try
            {
                var p = Validator.ParsePropertyString(Validator.IpConfigFormat, ipc, "ipconfig0");
                if (p.TryGetValue("ip", out var cidr) && cidr.Contains('/'))
                {
                    ip = cidr.Split('/')[0];
                    prefix = cidr.Split('/')[1];
                }
                gw = p.GetValueOrDefault("gw") ?? "";
            }
            catch (FormatError) { }
        }
        string keys = "";
        if (conf.TryGetValue("sshkeys", out var sk))
            try { keys = Uri.UnescapeDataString(sk); } catch { keys = sk; }
        return new Dictionary<string, string>
        {
            ["SIM_EVENT"] = evt,
            ["SIM_VMID"] = vm.Vmid.ToString(),
            ["SIM_NODE"] = vm.Node,
            ["SIM_NAME"] = conf.GetValueOrDefault("name") ?? "",
            ["SIM_IP"] = ip,
            ["SIM_PREFIX"] = prefix,
            ["SIM_GW"] = gw,
            ["SIM_CIUSER"] = conf.GetValueOrDefault("ciuser") ?? "",
            ["SIM_SSHKEYS"] = keys,
            ["SIM_CORES"] = (conf.TryGetValue("cores", out var c) ? c : "1"),
            ["SIM_MEMORY_MB"] = SimState.MemoryMiB(conf.GetValueOrDefault("memory")).ToString(),
            ["SIM_TAGS"] = conf.GetValueOrDefault("tags") ?? "",
        };
    }

    public Task<HookResult> RunStartAsync(Dictionary<string, string> env, CancellationToken ct) => RunAsync(_o.OnStart, env, ct);
    public Task<HookResult> RunStopAsync(Dictionary<string, string> env, CancellationToken ct) => RunAsync(_o.OnStop, env, ct);

    private async Task<HookResult> RunAsync(string command, Dictionary<string, string> env, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = new Process { StartInfo = psi };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        try { p.Start(); }
        catch (Exception e) { return new HookResult(false, -1, "", "unable to run hook: " + e.Message, false); }
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(_o.HookTimeoutSeconds));
        bool timedOut = false;
        try { await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            timedOut = !ct.IsCancellationRequested;
            try { p.Kill(entireProcessTree: true); } catch { }
            try { p.WaitForExit(5000); } catch { }
            if (!timedOut) throw;
        }
        p.WaitForExit(); // flush async readers
        string so, se;
        lock (stdout) so = stdout.ToString();
        lock (stderr) se = stderr.ToString();
        if (timedOut) return new HookResult(false, -1, so, se + $"hook timed out after {_o.HookTimeoutSeconds} s\n", true);
        return new HookResult(p.ExitCode == 0, p.ExitCode, so, se, false);
    }

    /// <summary>The last lines of stderr, folded to one line (the task exit status).</summary>
    public static string Tail(string text, int maxChars = 400)
    {
        var lines = (text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var s = string.Join(" ", lines.TakeLast(3));
        return s.Length > maxChars ? s[^maxChars..] : s;
    }
}
