using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace SwarmAdmin.Proxmox
{
    /// <summary>A task that ended with <c>OK</c> or <c>WARNINGS: n</c> (or a synchronous call that returned null).</summary>
    internal sealed class ProxmoxTaskResult
    {
        internal ProxmoxTaskResult(Upid upid, string exitStatus, int warnings, TimeSpan duration, IReadOnlyList<string> warningLines)
        {
            Upid = upid;
            ExitStatus = exitStatus;
            Warnings = warnings;
            Duration = duration;
            WarningLines = warningLines ?? Array.Empty<string>();
        }

        /// <summary>Null when the call completed synchronously (e.g. resize on PVE 7, config POST with background_delay).</summary>
        public Upid Upid { get; }

        /// <summary><c>OK</c> or <c>WARNINGS: n</c>.</summary>
        public string ExitStatus { get; }

        public int Warnings { get; }

        /// <summary>How long the client waited for the task to stop (zero for a synchronous result).</summary>
        public TimeSpan Duration { get; }

        /// <summary>The task log's <c>WARN:</c> lines when <see cref="Warnings"/> &gt; 0 (best effort).</summary>
        public IReadOnlyList<string> WarningLines { get; }

        public bool WasSynchronous => Upid == null;

        public override string ToString() => (Upid?.ToString() ?? "synchronous") + ": " + ExitStatus;
    }

    internal sealed class ProxmoxTaskProgress
    {
        internal ProxmoxTaskProgress(Upid upid, string status, TimeSpan elapsed, int polls, IReadOnlyList<string> newLogLines)
        {
            Upid = upid;
            Status = status;
            Elapsed = elapsed;
            Polls = polls;
            NewLogLines = newLogLines ?? Array.Empty<string>();
        }

        public Upid Upid { get; }

        /// <summary><c>running</c> or <c>stopped</c>.</summary>
        public string Status { get; }

        public TimeSpan Elapsed { get; }

        public int Polls { get; }

        /// <summary>Log lines added since the last report (only with <see cref="ProxmoxTaskWaitOptions.FollowLog"/>).</summary>
        public IReadOnlyList<string> NewLogLines { get; }
    }

    internal sealed class ProxmoxTaskWaitOptions
    {
        private static readonly Stopwatch Monotonic = Stopwatch.StartNew();

        /// <summary>Give up after this long (default 30 min: full clones of big templates take minutes). The task keeps running.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);

        public TimeSpan InitialPollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

        public TimeSpan MaxPollInterval { get; set; } = TimeSpan.FromSeconds(2);

        public Action<ProxmoxTaskProgress> Progress { get; set; }

        /// <summary>Also fetch new log lines on every poll and pass them to <see cref="Progress"/> (one extra request per poll).</summary>
        public bool FollowLog { get; set; }

        /// <summary>Log lines fetched after a failure (the tail of the log).</summary>
        public int FailureLogLines { get; set; } = 500;

        /// <summary>Consecutive transient poll failures (595/596, timeouts, connection errors) tolerated before giving up.</summary>
        public int MaxTransientPollErrors { get; set; } = 3;

        internal Func<TimeSpan, CancellationToken, Task> Delay { get; set; } = Task.Delay;

        internal Func<TimeSpan> Now { get; set; } = () => Monotonic.Elapsed;
    }

    /// <summary>Waiting for Proxmox tasks (UPIDs): poll the UPID's node until <c>stopped</c>, then judge <c>exitstatus</c>.</summary>
    internal static class ProxmoxTasks
    {
        private static readonly Regex WarningsRegex = new Regex(@"^WARNINGS:\s*(\d+)$", RegexOptions.CultureInvariant);

        /// <summary><c>OK</c> → (true, 0); <c>WARNINGS: n</c> → (true, n); anything else → (false, 0).</summary>
        public static bool IsSuccess(string exitStatus, out int warnings)
        {
            warnings = 0;
            if (exitStatus == null) return false;
            string s = exitStatus.Trim();
            if (s == "OK") return true;
            Match m = WarningsRegex.Match(s);
            if (m.Success)
            {
                int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out warnings);
                return true;
            }
            return false;
        }

        public static string StatusPath(Upid upid) => "nodes/" + upid.Node + "/tasks/" + upid + "/status";

        public static string LogPath(Upid upid) => "nodes/" + upid.Node + "/tasks/" + upid + "/log";

        /// <summary>Waits for a UPID string; null or empty means the call was synchronous and succeeded.</summary>
        public static Task<ProxmoxTaskResult> WaitAsync(
            ProxmoxClient client, string upid, Action<ProxmoxTaskProgress> progress = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            var options = new ProxmoxTaskWaitOptions { Progress = progress };
            if (timeout.HasValue) options.Timeout = timeout.Value;
            if (string.IsNullOrWhiteSpace(upid)) return Task.FromResult(SynchronousResult());
            return WaitAsync(client, Upid.Parse(upid), options, cancellationToken);
        }

        /// <summary>
        /// Waits for the <c>data</c> of an asynchronous call: a UPID string, or JSON null when the call completed
        /// synchronously (resize on PVE 7; config POST with <c>background_delay</c>).
        /// </summary>
        public static Task<ProxmoxTaskResult> WaitAsync(
            ProxmoxClient client, JsonElement callResult, Action<ProxmoxTaskProgress> progress = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
        {
            switch (callResult.ValueKind)
            {
                case JsonValueKind.Null:
                case JsonValueKind.Undefined:
                    return Task.FromResult(SynchronousResult());
                case JsonValueKind.String:
                    string text = callResult.GetString();
                    if (!string.IsNullOrEmpty(text) && !Upid.TryParse(text, out _))
                        throw new ProxmoxProtocolException("Proxmox returned '" + text + "' where a task ID (UPID) or null was expected.");
                    return WaitAsync(client, text, progress, timeout, cancellationToken);
                default:
                    throw new ProxmoxProtocolException("Proxmox returned " + callResult.ValueKind + " where a task ID (UPID) or null was expected.");
            }
        }

        public static async Task<ProxmoxTaskResult> WaitAsync(ProxmoxClient client, Upid upid, ProxmoxTaskWaitOptions options, CancellationToken cancellationToken = default)
        {
            if (client == null) throw new ArgumentNullException(nameof(client));
            if (upid == null) return SynchronousResult();
            options = options ?? new ProxmoxTaskWaitOptions();

            TimeSpan start = options.Now();
            TimeSpan interval = options.InitialPollInterval;
            int polls = 0, transientErrors = 0, logSeen = 0;
            string lastStatus = null;

            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                JsonElement? status = null;
                try
                {
                    status = await client.GetAsync(StatusPath(upid), null, cancellationToken).ConfigureAwait(false);
                    transientErrors = 0;
                }
                catch (Exception ex) when (IsTransient(ex, cancellationToken) && ++transientErrors <= options.MaxTransientPollErrors)
                {
                    // the node or its pvedaemon hiccuped: the task itself is unaffected; poll again
                }

                if (status is JsonElement st)
                {
                    polls++;
                    lastStatus = JsonRead.String(st, "status");
                    IReadOnlyList<string> newLines = Array.Empty<string>();
                    if (options.FollowLog)
                    {
                        var follow = await FollowLogAsync(client, upid, logSeen, cancellationToken).ConfigureAwait(false);
                        newLines = follow.Lines;
                        logSeen = follow.Seen;
                    }

                    if (string.Equals(lastStatus, "stopped", StringComparison.OrdinalIgnoreCase))
                    {
                        TimeSpan duration = options.Now() - start;
                        string exit = JsonRead.String(st, "exitstatus") ?? "unexpected status";
                        options.Progress?.Invoke(new ProxmoxTaskProgress(upid, "stopped", duration, polls, newLines));
                        if (IsSuccess(exit, out int warnings))
                        {
                            IReadOnlyList<string> warningLines = Array.Empty<string>();
                            if (warnings > 0)
                            {
                                IReadOnlyList<string> log = await TryGetLogTailAsync(client, upid, options.FailureLogLines, cancellationToken).ConfigureAwait(false);
                                warningLines = log.Where(l => l.StartsWith("WARN", StringComparison.Ordinal)).ToList();
                            }
                            return new ProxmoxTaskResult(upid, exit.Trim(), warnings, duration, warningLines);
                        }
                        IReadOnlyList<string> failureLog = await TryGetLogTailAsync(client, upid, options.FailureLogLines, cancellationToken).ConfigureAwait(false);
                        throw new ProxmoxTaskFailedException(upid, exit.Trim(), failureLog);
                    }
                    options.Progress?.Invoke(new ProxmoxTaskProgress(upid, lastStatus ?? "running", options.Now() - start, polls, newLines));
                }

                TimeSpan elapsed = options.Now() - start;
                if (elapsed >= options.Timeout) throw new ProxmoxTaskTimeoutException(upid, elapsed, lastStatus);
                TimeSpan wait = interval < options.Timeout - elapsed ? interval : options.Timeout - elapsed;
                await options.Delay(wait, cancellationToken).ConfigureAwait(false);
                interval = TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, options.MaxPollInterval.Ticks));
            }
        }

        /// <summary>Lines <paramref name="start"/> (0-based) onwards, at most <paramref name="limit"/> (0 = all), plus the log's total.</summary>
        public static async Task<(IReadOnlyList<string> Lines, int Total)> GetLogAsync(
            ProxmoxClient client, Upid upid, int start, int limit, CancellationToken cancellationToken = default)
        {
            JsonElement envelope = await client.GetEnvelopeAsync(LogPath(upid),
                new Dictionary<string, object> { ["start"] = start, ["limit"] = limit }, cancellationToken).ConfigureAwait(false);
            var lines = new List<string>();
            int maxN = 0;
            if (JsonRead.Member(envelope, "data") is JsonElement data)
            {
                foreach (JsonElement line in JsonRead.Array(data))
                {
                    lines.Add(JsonRead.String(line, "t") ?? string.Empty);
                    maxN = Math.Max(maxN, JsonRead.Int(line, "n") ?? 0);
                }
            }
            int total = JsonRead.Int(envelope, "total") ?? Math.Max(maxN, start + lines.Count);
            return (lines, total);
        }

        /// <summary>The last <paramref name="lines"/> lines of the log (one request, two when the log is longer).</summary>
        public static async Task<IReadOnlyList<string>> GetLogTailAsync(ProxmoxClient client, Upid upid, int lines, CancellationToken cancellationToken = default)
        {
            int limit = Math.Max(1, lines);
            var first = await GetLogAsync(client, upid, 0, limit, cancellationToken).ConfigureAwait(false);
            if (first.Total <= first.Lines.Count || first.Lines.Count < limit) return first.Lines;
            var tail = await GetLogAsync(client, upid, Math.Max(0, first.Total - limit), limit, cancellationToken).ConfigureAwait(false);
            return tail.Lines;
        }

        /// <summary>Stops a running task (<c>DELETE /nodes/{node}/tasks/{upid}</c>; it ends with <c>interrupted by signal</c>).</summary>
        public static Task<JsonElement> StopAsync(ProxmoxClient client, Upid upid, CancellationToken cancellationToken = default) =>
            client.DeleteAsync("nodes/" + upid.Node + "/tasks/" + upid, null, cancellationToken);

        private static async Task<IReadOnlyList<string>> TryGetLogTailAsync(ProxmoxClient client, Upid upid, int lines, CancellationToken cancellationToken)
        {
            try
            {
                return await GetLogTailAsync(client, upid, lines, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                return new[] { "(the task log could not be read: " + ex.Message + ")" };
            }
        }

        private static async Task<(IReadOnlyList<string> Lines, int Seen)> FollowLogAsync(ProxmoxClient client, Upid upid, int seen, CancellationToken cancellationToken)
        {
            try
            {
                JsonElement envelope = await client.GetEnvelopeAsync(LogPath(upid),
                    new Dictionary<string, object> { ["start"] = seen, ["limit"] = 0 }, cancellationToken).ConfigureAwait(false);
                var lines = new List<string>();
                int newSeen = seen;
                if (JsonRead.Member(envelope, "data") is JsonElement data)
                {
                    var entries = JsonRead.Array(data).ToList();
                    // An empty log reads [{n:1,t:"no content"}]; don't count that as a line.
                    if (seen == 0 && entries.Count == 1 && JsonRead.String(entries[0], "t") == "no content") return (lines, seen);
                    foreach (JsonElement e in entries)
                    {
                        int n = JsonRead.Int(e, "n") ?? newSeen + 1;
                        if (n <= seen) continue;
                        lines.Add(JsonRead.String(e, "t") ?? string.Empty);
                        newSeen = Math.Max(newSeen, n);
                    }
                }
                return (lines, newSeen);
            }
            catch (Exception ex) when (IsTransient(ex, cancellationToken))
            {
                return (Array.Empty<string>(), seen);
            }
        }

        private static bool IsTransient(Exception ex, CancellationToken cancellationToken)
        {
            switch (ex)
            {
                case ProxmoxApiException api: return api.IsNodeUnreachable || (api.StatusCode >= 500 && api.ProxmoxMessage != null && api.ProxmoxMessage.IndexOf("got timeout", StringComparison.OrdinalIgnoreCase) >= 0);
                case ProxmoxConnectionException _: return true;
                case TimeoutException _: return true;
                case HttpRequestException _: return true;
                case OperationCanceledException _: return !cancellationToken.IsCancellationRequested;
                default: return false;
            }
        }

        private static ProxmoxTaskResult SynchronousResult() => new ProxmoxTaskResult(null, "OK", 0, TimeSpan.Zero, null);
    }
}
