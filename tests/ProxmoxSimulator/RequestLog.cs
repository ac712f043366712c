using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator;

/// <summary>The request log (GET/DELETE /_sim/requests). Secrets are replaced by "***".</summary>
public sealed class RequestLog
{
    private const int Max = 20000;
    private readonly object _sync = new();
    private readonly List<JsonObject> _entries = new();
    private long _seq;

    public JsonObject Add(string method, string path, string query, IEnumerable<KeyValuePair<string, string>> headers, string body, string protocol, long simTime)
    {
        var h = new JsonObject();
        foreach (var (k, v) in headers) h[k] = Mask(k, v);
        var e = new JsonObject
        {
            ["seq"] = Interlocked.Increment(ref _seq),
            ["time"] = simTime,
            ["method"] = method,
            ["path"] = path,
            ["query"] = query ?? "",
            ["protocol"] = protocol,
            ["headers"] = h,
            ["body"] = path.EndsWith("/access/ticket") ? MaskPassword(body) : body,
        };
        lock (_sync)
        {
            _entries.Add(e);
            if (_entries.Count > Max) _entries.RemoveRange(0, _entries.Count - Max);
        }
        return e;
    }

    public void Complete(JsonObject e, int status, string reason)
    {
        lock (_sync)
        {
            e["status"] = status;
            e["reason"] = reason;
        }
    }

    public JsonArray Snapshot()
    {
        lock (_sync)
        {
            var a = new JsonArray();
            foreach (var e in _entries) a.Add(e.DeepClone());
            return a;
        }
    }

    public void Clear() { lock (_sync) _entries.Clear(); }

    static string Mask(string name, string value)
    {
        switch (name.ToLowerInvariant())
        {
            case "authorization":
                // keep the scheme and token id: "PVEAPIToken=root@pam!x=***", "PVEAuthCookie=***"
                var m = Regex.Match(value, @"^(.*PVEAPIToken(?:=| )[^;]*=)[^;=]*(.*)$");
                if (m.Success) return m.Groups[1].Value + "***" + m.Groups[2].Value;
                return Regex.Replace(value, @"(PVEAuthCookie(?:=| ))[^;]*", "$1***");
            case "cookie":
                return Regex.Replace(value, @"(PVEAuthCookie=)[^;]*", "$1***");
            case "csrfpreventiontoken":
                return "***";
            default:
                return value;
        }
    }

    static string MaskPassword(string body)
    {
        if (string.IsNullOrEmpty(body)) return body;
        body = Regex.Replace(body, "(\"password\"\\s*:\\s*\")(?:[^\"\\\\]|\\\\.)*(\")", "$1***$2");
        return Regex.Replace(body, @"((?:^|[&;])password=)[^&;]*", "$1***");
    }
}
