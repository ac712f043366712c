using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator.Endpoints;

/// <summary>/nodes/{node}/tasks: list, status, log, stop.</summary>
public static class TaskEndpoints
{
    static readonly Regex UpidRe = new(@"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$", RegexOptions.Compiled);

    public static void Register(Sim sim)
    {
        var r = sim.Router;
        r.Add("GET", "/nodes/{node}/tasks", List, schema: new()
        {
            ["start"] = PSpec.Int(0),
            ["limit"] = PSpec.Int(0),
            ["userfilter"] = PSpec.Str(),
            ["typefilter"] = PSpec.Str(),
            ["vmid"] = PSpec.Int(100, 999999999),
            ["errors"] = PSpec.Bool(),
            ["source"] = PSpec.Enu("archive", "active", "all"),
            ["statusfilter"] = PSpec.Str(),
            ["since"] = PSpec.Int(),
            ["until"] = PSpec.Int(),
        });
        r.Add("GET", "/nodes/{node}/tasks/{upid}", req =>
        {
            Find(req, requireFile: true);
            return Task.FromResult<JsonNode>(new JsonArray(new JsonObject { ["name"] = "log" }, new JsonObject { ["name"] = "status" }));
        }, schema: new() { ["upid"] = new PSpec { Optional = false } });
        r.Add("GET", "/nodes/{node}/tasks/{upid}/status", Status, schema: new() { ["upid"] = new PSpec { Optional = false } });
        r.Add("GET", "/nodes/{node}/tasks/{upid}/log", Log, schema: new()
        {
            ["upid"] = new PSpec { Optional = false },
            ["start"] = PSpec.Int(0),
            ["limit"] = PSpec.Int(0),
            ["download"] = PSpec.Bool(),
        });
        r.Add("DELETE", "/nodes/{node}/tasks/{upid}", Stop, schema: new() { ["upid"] = new PSpec { Optional = false } });
    }

    static (string user, string tokenid) SplitUser(string user)
    {
        int i = user.IndexOf('!');
        return i > 0 ? (user[..i], user[(i + 1)..]) : (user, null);
    }

    /// <summary>check_task_user: a token sees only its own tasks, a user also those of its tokens.</summary>
    static bool IsOwner(SimTask t, string user)
    {
        var (u, tok) = SplitUser(t.User);
        return tok != null ? user == u || user == t.User : user == u;
    }

    static SimTask Find(ApiRequest req, bool requireFile, string priv = "Sys.Audit")
    {
        var upid = req.Str("upid");
        var m = UpidRe.Match(upid ?? "");
        if (!m.Success) throw PveException.Param("upid", "unable to parse worker upid");
        var t = req.Sim.Tasks.Get(upid);
        if (t != null && t.Node != req.Node) t = null;
        if (t == null)
        {
            if (requireFile) throw PveException.Param("upid", "no such task");
            return null;
        }
        if (!IsOwner(t, req.User)) req.Check("/nodes/" + req.Node, priv);
        return t;
    }

    static JsonObject Describe(SimTask t)
    {
        var (user, tokenid) = SplitUser(t.User);
        var o = new JsonObject
        {
            ["upid"] = t.Upid,
            ["node"] = t.Node,
            ["pid"] = t.Pid,
            ["pstart"] = t.PStart,
            ["starttime"] = t.StartTime,
            ["type"] = t.Type,
            ["id"] = t.Id,
            ["user"] = user,
        };
        if (tokenid != null) o["tokenid"] = tokenid;
        return o;
    }

    static Task<JsonNode> Status(ApiRequest req)
    {
        var t = Find(req, requireFile: true);
        var o = Describe(t);
        bool stopped = t.Stopped;
        o["status"] = stopped ? "stopped" : "running";
        if (stopped) o["exitstatus"] = t.ExitStatus();
        return Task.FromResult<JsonNode>(o);
    }

    static Task<JsonNode> Log(ApiRequest req)
    {
        var t = Find(req, requireFile: false);
        if (req.Bool("download") && (req.Has("start") || req.Has("limit")))
            throw PveException.Die("'download' cannot be used together with 'start' or 'limit' parameters");
        long start = req.Int("start") ?? 0, limit = req.Int("limit") ?? 50;
        var lines = t?.Log() ?? new List<string> { "unable to open file - No such file or directory" };
        var a = new JsonArray();
        int count = 0;
        foreach (var line in lines)
        {
            if (count++ < start) continue;
            if (limit > 0 && a.Count >= limit) continue;
            a.Add(new JsonObject { ["n"] = count, ["t"] = line });
        }
        if (count == 0)
        {
            count = 1;
            a.Add(new JsonObject { ["n"] = 1, ["t"] = "no content" });
        }
        req.Total = count;
        return Task.FromResult<JsonNode>(a);
    }

    static Task<JsonNode> Stop(ApiRequest req)
    {
        var t = Find(req, requireFile: true, priv: "Sys.Modify");
        if (!t.Stopped) t.Cts.Cancel();
        return Task.FromResult<JsonNode>(null);
    }

    static Task<JsonNode> List(ApiRequest req)
    {
        var sim = req.Sim;
        var source = req.Str("source") ?? "archive";
        long start = req.Int("start") ?? 0, limit = req.Int("limit") ?? 50;
        bool auditor = sim.Auth.Has(req.User, "/nodes/" + req.Node, "Sys.Audit");
        var vmid = req.Str("vmid");
        var type = req.Str("typefilter");
        var userfilter = req.Str("userfilter");
        bool errorsOnly = req.Bool("errors");
        var tasks = sim.Tasks.All().Where(t => t.Node == req.Node)
            .Where(t => auditor || IsOwner(t, req.User))
            .Where(t => source == "all" || (source == "active" ? !t.Stopped : t.Stopped))
            .Where(t => vmid == null || t.Id == vmid)
            .Where(t => type == null || t.Type == type)
            .Where(t => userfilter == null || t.User.Contains(userfilter))
            .Where(t => !errorsOnly || t.IsError)
            .OrderByDescending(t => t.StartTime).ThenByDescending(t => t.Pid).ToList();
        var a = new JsonArray();
        int count = 0;
        foreach (var t in tasks)
        {
            if (count++ < start) continue;
            if (limit > 0 && a.Count >= limit) continue;
            var o = Describe(t);
            if (t.Stopped)
            {
                o["status"] = t.ExitStatus();
                o["endtime"] = t.EndTime;
            }
            a.Add(o);
        }
        req.Total = count;
        return Task.FromResult<JsonNode>(a);
    }
}
