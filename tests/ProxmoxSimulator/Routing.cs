using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ProxmoxSimulator;

public sealed class ApiRequest
{
    public HttpContext Http;
    public Sim Sim;
    public string Method;
    public string RelPath;
    public Dictionary<string, PV> Params;
    public Dictionary<string, string> PathParams = new(StringComparer.Ordinal);
    public AuthInfo Auth;
    public long? Total;
    public DateTime StartedUtc;

    public string User => Auth?.UserId;
    public string Node => PathParams.GetValueOrDefault("node");
    public int Vmid => int.Parse(Params["vmid"].S);

    public bool Has(string k) => Params.TryGetValue(k, out var v) && v.Defined;
    public string Str(string k) => Params.TryGetValue(k, out var v) && v.Defined ? v.S : null;
    public bool Bool(string k) => Str(k) == "1";
    public bool? OptBool(string k) => Has(k) ? Bool(k) : null;
    public long? Int(string k) => Has(k) && long.TryParse(Str(k), out var l) ? l : null;

    /// <summary>Open the task gate once the HTTP response carrying the UPID has been sent.</summary>
    public string Upid(SimTask t)
    {
        Http.Response.OnCompleted(() => { t.Gate.TrySetResult(); return Task.CompletedTask; });
        return t.Upid;
    }

    public void Check(string path, params string[] privs) => Sim.Auth.Check(User, path, privs);
    public void CheckAny(string path, params string[] privs) => Sim.Auth.Check(User, path, privs, any: true);
}

public sealed class Route
{
    public string Method;
    public string Template;
    public string[] Segments;
    public bool ProxyToNode;
    /// <summary>Permission check (check_api2_permissions) — runs before proxying and validation. null: any authenticated user.</summary>
    public Action<ApiRequest> Perm;
    public Dictionary<string, PSpec> Schema = new(StringComparer.Ordinal);
    public Func<string, PSpec> Dynamic;
    public Func<ApiRequest, Task<JsonNode>> Handler;

    public bool Match(string method, string[] segs, Dictionary<string, string> pathParams)
    {
        if (method != Method || segs.Length != Segments.Length) return false;
        for (int i = 0; i < segs.Length; i++)
        {
            var t = Segments[i];
            if (t.StartsWith('{')) pathParams[t[1..^1]] = segs[i];
            else if (t != segs[i]) return false;
        }
        return true;
    }
}

public sealed class Router
{
    private readonly List<Route> _routes = new();

    public static readonly PSpec NodeSpec = new() { Optional = false, Format = Validator.NodeName };
    public static readonly PSpec VmidSpec = new() { Type = PType.Integer, Optional = false, Min = 100, Max = 999999999 };

    public Route Add(string method, string template, Func<ApiRequest, Task<JsonNode>> handler, Action<ApiRequest> perm = null,
        Dictionary<string, PSpec> schema = null, Func<string, PSpec> dynamic = null)
    {
        var r = new Route
        {
            Method = method,
            Template = template,
            Segments = template.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries),
            Handler = handler,
            Perm = perm,
            Dynamic = dynamic,
        };
        if (schema != null) foreach (var (k, v) in schema) r.Schema[k] = v;
        if (template.Contains("{node}")) { r.Schema.TryAdd("node", NodeSpec); r.ProxyToNode = true; }
        if (template.Contains("{vmid}")) r.Schema.TryAdd("vmid", VmidSpec);
        _routes.Add(r);
        return r;
    }

    public Route Find(string method, string relPath, Dictionary<string, string> pathParams)
    {
        var segs = relPath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var r in _routes)
        {
            pathParams.Clear();
            if (r.Match(method, segs, pathParams)) return r;
        }
        pathParams.Clear();
        return null;
    }
}
