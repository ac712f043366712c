namespace ProxmoxSimulator;

/// <summary>
/// The invisible lock layer: flock(2) files per node (/var/lock/qemu-server/lock-&lt;id&gt;.conf,
/// /var/lock/pve-manager/pve-storage-&lt;id&gt;) plus cluster-wide cfs locks for shared storage.
/// Waiting ends in "can't lock file '…' - got timeout". Timeouts are simulated seconds.
/// The visible lock layer is the config property "lock" (checked in SimCore.CheckLock).
/// </summary>
public sealed class FlockTable
{
    private sealed class Entry
    {
        public int Shared;
        public bool Exclusive;
        public TaskCompletionSource Changed = NewTcs();
    }

    private static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly object _sync = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly SimClock _clock;

    public FlockTable(SimClock clock) => _clock = clock;

    public static string VmLockPath(int vmid) => $"/var/lock/qemu-server/lock-{vmid}.conf";
    public static string StorageLockPath(string storage) => $"/var/lock/pve-manager/pve-storage-{storage}";

    public Task<IDisposable> LockVmAsync(string node, int vmid, bool exclusive, double timeout, CancellationToken ct) =>
        AcquireAsync(node + "|" + VmLockPath(vmid), exclusive, timeout, ct,
            () => $"can't lock file '{VmLockPath(vmid)}' - got timeout");

    public Task<IDisposable> LockStorageAsync(StorageInfo st, string node, double timeout, CancellationToken ct) =>
        st.Shared
            ? AcquireAsync("cfs|storage-" + st.Id, true, timeout, ct, () => $"cfs-lock 'storage-{st.Id}' error: got lock request timeout")
            : AcquireAsync(node + "|" + StorageLockPath(st.Id), true, timeout, ct, () => $"can't lock file '{StorageLockPath(st.Id)}' - got timeout");

    public async Task<IDisposable> AcquireAsync(string key, bool exclusive, double timeoutSim, CancellationToken ct, Func<string> timeoutMessage)
    {
        double deadline = _clock.Now + timeoutSim;
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                if (!_entries.TryGetValue(key, out var e)) _entries[key] = e = new Entry();
                if (!e.Exclusive && (!exclusive || e.Shared == 0))
                {
                    if (exclusive) e.Exclusive = true; else e.Shared++;
                    return new Releaser(this, key, exclusive);
                }
                changed = e.Changed.Task;
            }
            double remaining = deadline - _clock.Now;
            if (remaining <= 0) throw PveException.Die(timeoutMessage());
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var delay = _clock.DelayAsync(remaining, cts.Token);
            await Task.WhenAny(changed, delay).ConfigureAwait(false);
            cts.Cancel();
            ct.ThrowIfCancellationRequested();
        }
    }

    private void Release(string key, bool exclusive)
    {
        TaskCompletionSource old;
        lock (_sync)
        {
            if (!_entries.TryGetValue(key, out var e)) return;
            if (exclusive) e.Exclusive = false; else e.Shared = Math.Max(0, e.Shared - 1);
            old = e.Changed;
            e.Changed = NewTcs();
            if (!e.Exclusive && e.Shared == 0) _entries.Remove(key);
        }
        old.TrySetResult();
    }

    /// <summary>Snapshot for /_sim/state.</summary>
    public List<object> Snapshot()
    {
        lock (_sync)
            return _entries.Select(kv => (object)new { key = kv.Key, exclusive = kv.Value.Exclusive, shared = kv.Value.Shared }).ToList();
    }

    public void Clear()
    {
        List<TaskCompletionSource> waiters;
        lock (_sync)
        {
            waiters = _entries.Values.Select(e => e.Changed).ToList();
            _entries.Clear();
        }
        foreach (var w in waiters) w.TrySetResult();
    }

    private sealed class Releaser : IDisposable
    {
        private FlockTable _t;
        private readonly string _key;
        private readonly bool _ex;
        public Releaser(FlockTable t, string key, bool ex) { _t = t; _key = key; _ex = ex; }
        public void Dispose() { Interlocked.Exchange(ref _t, null)?.Release(_key, _ex); }
    }
}
