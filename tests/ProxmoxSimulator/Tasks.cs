using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator;

public sealed class SimTask
{
    public string Upid, Node, Type, Id, User;
    public int Pid;
    public long PStart, StartTime, EndTime;
    public int Warnings;
    public volatile bool Stopped;
    public readonly CancellationTokenSource Cts = new();
    public readonly TaskCompletionSource Gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Injected failure (fault "task-fail") for bodies that fail mid-way themselves (qmclone).</summary>
    public string InjectedFailure;
    private readonly List<string> _log = new();

    public void Print(string text)
    {
        lock (_log)
            foreach (var line in text.TrimEnd('\n').Split('\n')) _log.Add(line);
    }

    public void Warn(string text)
    {
        Print("WARN: " + text.TrimEnd('\n'));
        Interlocked.Increment(ref Warnings);
    }

    public List<string> Log() { lock (_log) return _log.ToList(); }

    /// <summary>upid_read_status: from the last log line.</summary>
    public string ExitStatus()
    {
        if (!Stopped) return null;
        var last = Log().LastOrDefault() ?? "";
        if (last == "TASK OK") return "OK";
        var m = Regex.Match(last, "^TASK (WARNINGS: \\d+)$");
        if (m.Success) return m.Groups[1].Value;
        if (last.StartsWith("TASK ERROR: ")) return last["TASK ERROR: ".Length..];
        return "unexpected status";
    }

    public bool IsError => Stopped && ExitStatus() is var s && s != "OK" && !s.StartsWith("WARNINGS");

    internal void Finish(string lastLine, long endTime)
    {
        lock (_log) { _log.Add(lastLine); EndTime = endTime; Stopped = true; }
        Done.TrySetResult();
    }
}

public sealed class TaskManager
{
    private readonly ConcurrentDictionary<string, SimTask> _tasks = new(StringComparer.Ordinal);
    private readonly SimClock _clock;
    private readonly Func<Settings> _settings;
    private readonly Faults _faults;
    private int _pid = 0x3A000;
    private long _pstart = 0x0125F4E2;

    public TaskManager(SimClock clock, Func<Settings> settings, Faults faults)
    {
        _clock = clock;
        _settings = settings;
        _faults = faults;
    }

    public SimTask Get(string upid) => _tasks.TryGetValue(upid, out var t) ? t : null;
    public IEnumerable<SimTask> All() => _tasks.Values;
    public void Clear() { foreach (var t in _tasks.Values) t.Cts.Cancel(); _tasks.Clear(); }

    /// <summary>
    /// fork_worker: allocates the UPID and runs body in parallel once the gate opens (the HTTP response
    /// carrying the UPID was sent). The last log line is TASK OK / TASK WARNINGS: n / TASK ERROR: msg.
    /// </summary>
    public SimTask Start(string node, string type, string id, string user, Func<SimTask, Task> body)
    {
        int pid = Interlocked.Increment(ref _pid);
        long pstart = Interlocked.Add(ref _pstart, 37);
        long starttime = _clock.UnixNow;
        var t = new SimTask
        {
            Node = node, Type = type, Id = id ?? "", User = user, Pid = pid, PStart = pstart, StartTime = starttime,
            Upid = $"UPID:{node}:{pid:X8}:{pstart:X8}:{starttime:X8}:{type}:{id ?? ""}:{user}:",
        };
        _tasks[t.Upid] = t;
        var fault = _faults.TakeTaskFail(type, id);
        _ = Task.Run(() => RunAsync(t, body, fault));
        return t;
    }

    private async Task RunAsync(SimTask t, Func<SimTask, Task> body, TaskFailFault fault)
    {
        // safety net: never wait forever for the response hook
        await Task.WhenAny(t.Gate.Task, Task.Delay(TimeSpan.FromSeconds(30))).ConfigureAwait(false);
        var sw = Stopwatch.StartNew();
        string last;
        try
        {
            int extraWarnings = 0;
            if (fault != null)
            {
                var m = Regex.Match(fault.ExitStatus ?? "", @"^(?:TASK )?WARNINGS: (\d+)$");
                if (m.Success) extraWarnings = int.Parse(m.Groups[1].Value);
                else if (t.Type == "qmclone") t.InjectedFailure = fault.ExitStatus;
                else
                {
                    await _clock.DelayAsync(fault.AfterSeconds ?? 0.5, t.Cts.Token).ConfigureAwait(false);
                    throw new TaskErrorException(fault.ExitStatus);
                }
            }
            await body(t).ConfigureAwait(false);
            for (int i = 0; i < extraWarnings; i++) t.Warn("simulated warning (fault injection)");
            last = t.Warnings > 0 ? $"TASK WARNINGS: {t.Warnings}" : "TASK OK";
        }
        catch (OperationCanceledException) { last = "TASK ERROR: interrupted by signal"; }
        catch (TaskErrorException e) { last = "TASK ERROR: " + Fold(e.Message); }
        catch (PveException e) { last = "TASK ERROR: " + Fold(e.Message); }
        catch (Exception e) { last = "TASK ERROR: internal simulator error: " + Fold(e.Message); }
        var min = _settings().MinRunningRealSeconds;
        var left = TimeSpan.FromSeconds(min) - sw.Elapsed;
        if (left > TimeSpan.Zero) await Task.Delay(left).ConfigureAwait(false);
        t.Finish(last, _clock.UnixNow);
    }

    public static string Fold(string msg) => Regex.Replace((msg ?? "").TrimEnd('\n'), @"[\r\n]+", " ");
}
