using System.Text.Json.Nodes;

namespace ProxmoxSimulator;

public sealed class TaskFailFault
{
    public string TaskType;
    public string Vmid;           // optional: only tasks with this id
    public int Count = 1;
    public string ExitStatus;
    public double? AfterSeconds;
}

public sealed class NodeStatusFault
{
    public int Status = 596;
    public string Message;
    public int Count = 1;          // -1 = until cleared
    public double DelaySeconds;    // simulated seconds before answering
}

public sealed class LatencyFault
{
    public string Node;            // null = every request
    public double Seconds;
    public int Count = -1;
}

/// <summary>Fault injection registry (POST /_sim/faults). Thread-safe.</summary>
public sealed class Faults
{
    private readonly object _sync = new();
    private readonly List<TaskFailFault> _taskFails = new();
    private readonly Dictionary<string, NodeStatusFault> _nodeStatus = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _offline = new(StringComparer.Ordinal); // node → 595|596
    private readonly List<LatencyFault> _latency = new();
    private int _nextIdRaceLeft;
    private int? _nextIdRaceId;
    private readonly List<JsonObject> _log = new();

    public bool NoQuorum { get; private set; }
    public bool CertSwapped { get; set; }
    public bool LegacyErrorBody { get; private set; }

    public void Record(JsonObject f) { lock (_sync) _log.Add(f); }

    public JsonArray List()
    {
        lock (_sync)
        {
            var a = new JsonArray();
            foreach (var f in _log) a.Add(f.DeepClone());
            return a;
        }
    }

    public void Clear()
    {
        lock (_sync)
        {
            _taskFails.Clear();
            _nodeStatus.Clear();
            _offline.Clear();
            _latency.Clear();
            _nextIdRaceLeft = 0;
            _nextIdRaceId = null;
            NoQuorum = false;
            LegacyErrorBody = false;
            CertSwapped = false;
            _log.Clear();
        }
    }

    public void AddTaskFail(TaskFailFault f) { lock (_sync) _taskFails.Add(f); }
    public void SetNodeStatus(string node, NodeStatusFault f) { lock (_sync) _nodeStatus[node] = f; }
    public void SetOffline(string node, int status, bool offline) { lock (_sync) { if (offline) _offline[node] = status; else _offline.Remove(node); } }
    public bool IsOffline(string node) { lock (_sync) return _offline.ContainsKey(node); }
    public void SetNoQuorum(bool v) { lock (_sync) NoQuorum = v; }
    public void SetLegacyErrorBody(bool v) { lock (_sync) LegacyErrorBody = v; }
    public void AddLatency(LatencyFault f) { lock (_sync) _latency.Add(f); }
    public void SetNextIdRace(int count) { lock (_sync) { _nextIdRaceLeft = count; _nextIdRaceId = null; } }

    public TaskFailFault TakeTaskFail(string type, string id)
    {
        lock (_sync)
        {
            var f = _taskFails.FirstOrDefault(x => x.TaskType == type && (x.Vmid == null || x.Vmid == id));
            if (f == null) return null;
            if (--f.Count <= 0) _taskFails.Remove(f);
            return f;
        }
    }

    /// <summary>Relay failure for a request naming this node: (status, reason, delay) or null.</summary>
    public (int status, string reason, double delay)? TakeNodeFailure(string node)
    {
        lock (_sync)
        {
            if (_offline.TryGetValue(node, out var st))
                return (st, st == 595 ? "No route to host" : "Connection timed out", st == 596 ? 30 : 0);
            if (_nodeStatus.TryGetValue(node, out var f))
            {
                if (f.Count > 0 && --f.Count == 0) _nodeStatus.Remove(node);
                return (f.Status, f.Message ?? (f.Status == 595 ? "Connection refused" : f.Status == 596 ? "Connection timed out" : "Broken pipe"), f.DelaySeconds);
            }
            return null;
        }
    }

    public double TakeLatency(string node)
    {
        lock (_sync)
        {
            double total = 0;
            foreach (var l in _latency.ToList())
            {
                if (l.Node != null && l.Node != node) continue;
                total += l.Seconds;
                if (l.Count > 0 && --l.Count == 0) _latency.Remove(l);
            }
            return total;
        }
    }

    /// <summary>nextid-race: the next N callers get the same ID (the one computed for the first of them).</summary>
    public int NextId(Func<int> compute)
    {
        int computed = compute(); // outside our lock: compute takes State.Sync (lock order State → Faults)
        lock (_sync)
        {
            if (_nextIdRaceLeft <= 0) return computed;
            _nextIdRaceId ??= computed;
            int id = _nextIdRaceId.Value;
            if (--_nextIdRaceLeft == 0) _nextIdRaceId = null;
            return id;
        }
    }
}
