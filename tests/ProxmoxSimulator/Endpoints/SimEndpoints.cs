using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace ProxmoxSimulator;

/// <summary>/_sim test hooks: JSON in/out, no auth, loopback clients only.</summary>
public sealed class SimApi
{
    private readonly Sim _sim;
    public SimApi(Sim sim) => _sim = sim;

    public async Task HandleAsync(HttpContext ctx, string path)
    {
        var remote = ctx.Connection.RemoteIpAddress;
        if (remote == null || !IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote))
        {
            await Reply(ctx, 403, new JsonObject { ["error"] = "/_sim is only available from loopback" });
            return;
        }
        string method = ctx.Request.Method;
        JsonObject body = null;
        try
        {
            using var ms = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(ms);
            var text = Encoding.UTF8.GetString(ms.ToArray());
            if (!string.IsNullOrWhiteSpace(text)) body = JsonNode.Parse(text) as JsonObject ?? throw new JsonException("body must be a JSON object");
        }
        catch (JsonException e)
        {
            await Reply(ctx, 400, new JsonObject { ["error"] = "invalid JSON: " + e.Message });
            return;
        }
        body ??= new JsonObject();
        try
        {
            JsonNode result = (method, path.TrimEnd('/')) switch
            {
                ("GET", "/_sim" or "/_sim/state") => State(),
                ("POST", "/_sim/reset") => Reset(body),
                ("GET", "/_sim/faults") => _sim.Faults.List(),
                ("POST", "/_sim/faults") => AddFault(body),
                ("DELETE", "/_sim/faults") => ClearFaults(),
                ("GET", "/_sim/requests") => _sim.Requests.Snapshot(),
                ("DELETE", "/_sim/requests") => ClearRequests(),
                ("POST", "/_sim/time-scale") => TimeScale(body),
                ("POST", "/_sim/config") => Config(body),
                ("GET", "/_sim/config") => JsonSerializer.SerializeToNode(_sim.Settings, Json.StateOptions),
                ("POST", "/_sim/tokens") => Token(body),
                ("POST", "/_sim/rrd-refresh") => RrdRefresh(),
                ("POST", "/_sim/shutdown") => Shutdown(ctx),
                _ => throw new ArgumentException($"no such simulator endpoint: {method} {path}"),
            };
            await Reply(ctx, 200, result);
        }
        catch (ArgumentException e)
        {
            await Reply(ctx, 400, new JsonObject { ["error"] = e.Message });
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            await Reply(ctx, 400, new JsonObject { ["error"] = e.Message });
        }
    }

    static Task Reply(HttpContext ctx, int status, JsonNode body) =>
        ApiServer.WriteAsync(ctx, status, null, body?.ToJsonString(Json.StateOptions) ?? "null", "application/json", pveHeaders: false);

    static string S(JsonObject b, string k) => b.TryGetPropertyValue(k, out var v) && v != null ? (v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString()) : null;
    static double? D(JsonObject b, string k) => S(b, k) is string s ? double.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : null;
    static int? I(JsonObject b, string k) => S(b, k) is string s ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : null;
    static bool? B(JsonObject b, string k) => S(b, k) is string s ? s is "true" or "1" : null;
    static string Req(JsonObject b, string k) => S(b, k) ?? throw new ArgumentException($"'{k}' is required");

    JsonNode State()
    {
        var st = _sim.State;
        var now = _sim.Clock.Now;
        var vms = new JsonArray();
        lock (st.Sync)
        {
            foreach (var vm in st.Vms.Values)
            {
                var cfg = new JsonObject();
                foreach (var (k, v) in vm.Config) cfg[k] = v;
                var pend = new JsonObject();
                foreach (var (k, v) in vm.Pending) pend[k] = v;
                double agentAt = vm.Run.StartedAt + (vm.Guest.AgentDelaySeconds ?? _sim.D.AgentDelay);
                double netAt = agentAt + (vm.Guest.NetDelaySeconds ?? _sim.D.NetDelay);
                vms.Add(new JsonObject
                {
                    ["vmid"] = vm.Vmid,
                    ["node"] = vm.Node,
                    ["name"] = vm.Name(),
                    ["template"] = vm.IsTemplate,
                    ["lock"] = vm.Lock,
                    ["creating"] = vm.Creating,
                    ["digest"] = vm.Digest(),
                    ["config"] = cfg,
                    ["pending"] = pend,
                    ["pendingDelete"] = new JsonArray(vm.PendingDelete.Select(x => (JsonNode)x).ToArray()),
                    ["pool"] = vm.Pool,
                    ["run"] = new JsonObject
                    {
                        ["status"] = vm.Run.Status,
                        ["pid"] = vm.Running ? vm.Run.Pid : null,
                        ["uptime"] = (long)st.Uptime(vm, now),
                        ["ip"] = vm.Run.Ip,
                        ["prefix"] = vm.Running ? vm.Run.Prefix : null,
                        ["gw"] = vm.Run.Gw,
                        ["mac"] = vm.Run.Mac,
                        ["agentUp"] = vm.Running && vm.Run.AgentEnabledAtStart && !vm.Guest.NoAgent && now >= agentAt,
                        ["ipUp"] = vm.Running && vm.Run.Ip != null && !vm.Guest.NoIp && now >= netAt,
                    },
                    ["guest"] = JsonSerializer.SerializeToNode(vm.Guest, Json.StateOptions),
                });
            }
        }
        var tasks = new JsonArray();
        foreach (var t in _sim.Tasks.All().OrderBy(t => t.StartTime).ThenBy(t => t.Pid))
            tasks.Add(new JsonObject { ["upid"] = t.Upid, ["type"] = t.Type, ["id"] = t.Id, ["node"] = t.Node, ["status"] = t.Stopped ? "stopped" : "running", ["exitstatus"] = t.ExitStatus() });
        var doc = JsonSerializer.SerializeToNode(_sim.State.ToDoc(), Json.StateOptions)!.AsObject();
        doc["vms"] = vms;
        doc["tasks"] = tasks;
        doc["flocks"] = new JsonArray(_sim.Flocks.Snapshot().Select(x => JsonSerializer.SerializeToNode(x)).ToArray());
        doc["faults"] = _sim.Faults.List();
        doc["clock"] = new JsonObject { ["now"] = now, ["unix"] = _sim.Clock.UnixNow, ["scale"] = _sim.Clock.Scale };
        doc["settings"] = JsonSerializer.SerializeToNode(_sim.Settings, Json.StateOptions);
        doc["fingerprint"] = CertStore.Fingerprint(_sim.Certs.Current);
        doc["adminToken"] = _sim.AdminToken;
        doc["readonlyToken"] = _sim.ReadonlyToken;
        return doc;
    }

    JsonNode Reset(JsonObject body)
    {
        StateDoc doc = null;
        if (body.Count > 0)
        {
            doc = body.Deserialize<StateDoc>(Json.StateOptions);
            var seed = SimState.SeedDoc(_sim.Options.Password, _sim.Options.Seed, _sim.Options.AdminSecret, _sim.Options.ReadonlySecret);
            doc.Cluster ??= seed.Cluster;
            doc.Nodes ??= seed.Nodes;
            doc.Storages ??= seed.Storages;
            doc.Volumes ??= doc.Vms == null ? seed.Volumes : new();
            doc.Vms ??= seed.Vms;
            doc.Tokens ??= seed.Tokens;
            doc.Users ??= seed.Users;
            doc.Pools ??= seed.Pools;
        }
        ClearFaults();
        _sim.Reset(doc);
        return new JsonObject { ["ok"] = true, ["adminToken"] = _sim.AdminToken, ["readonlyToken"] = _sim.ReadonlyToken };
    }

    JsonNode ClearFaults()
    {
        _sim.Faults.Clear();
        _sim.Certs.Restore();
        return new JsonObject { ["ok"] = true };
    }

    JsonNode ClearRequests()
    {
        _sim.Requests.Clear();
        return new JsonObject { ["ok"] = true };
    }

    JsonNode TimeScale(JsonObject body)
    {
        var scale = D(body, "scale") ?? throw new ArgumentException("'scale' is required");
        if (scale <= 0) throw new ArgumentException("'scale' must be > 0");
        _sim.Clock.SetScale(scale);
        return new JsonObject { ["scale"] = _sim.Clock.Scale };
    }

    JsonNode Config(JsonObject body)
    {
        var cur = JsonSerializer.SerializeToNode(_sim.Settings, Json.StateOptions)!.AsObject();
        Merge(cur, body);
        _sim.Settings = cur.Deserialize<Settings>(Json.StateOptions);
        if (body.ContainsKey("version") && !body.ContainsKey("release"))
            _sim.Settings.Release = string.Join('.', _sim.Settings.Version.Split('.').Take(2));
        return JsonSerializer.SerializeToNode(_sim.Settings, Json.StateOptions);
    }

    static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (k, v) in patch)
        {
            var key = target.Select(kv => kv.Key).FirstOrDefault(x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase)) ?? k;
            if (v is JsonObject po && target[key] is JsonObject to) Merge(to, po);
            else target[key] = v?.DeepClone();
        }
    }

    JsonNode Token(JsonObject body)
    {
        var id = Req(body, "id");
        if (!System.Text.RegularExpressions.Regex.IsMatch(id, @"^[^\s:/]+@[A-Za-z][A-Za-z0-9\.\-_]+![A-Za-z][A-Za-z0-9\.\-_]+$"))
            throw new ArgumentException("id must look like user@realm!name");
        var t = new TokenInfo
        {
            Id = id,
            Secret = S(body, "secret") ?? Guid.NewGuid().ToString(),
            Privsep = I(body, "privsep") ?? 1,
            Enabled = B(body, "enabled") ?? true,
            Expire = I(body, "expire") ?? 0,
            Acl = body["acl"] is JsonObject acl ? acl.Deserialize<Dictionary<string, List<string>>>() : new(),
        };
        var st = _sim.State;
        lock (st.Sync)
        {
            var user = t.User;
            if (!st.Users.ContainsKey(user)) st.Users[user] = new UserInfo { Id = user, Acl = new() };
            st.Tokens[id] = t;
            st.Touch();
        }
        return new JsonObject { ["token"] = $"{t.Id}={t.Secret}" };
    }

    JsonNode RrdRefresh()
    {
        _sim.State.RefreshRrd(_sim.Clock.Now);
        return new JsonObject { ["ok"] = true };
    }

    JsonNode Shutdown(HttpContext ctx)
    {
        ctx.Response.OnCompleted(() => { _ = Task.Run(async () => { await Task.Delay(100); _sim.Shutdown?.Invoke(); }); return Task.CompletedTask; });
        return new JsonObject { ["ok"] = true };
    }

    JsonNode AddFault(JsonObject b)
    {
        var type = Req(b, "type");
        var st = _sim.State;
        JsonObject extra = new();
        switch (type)
        {
            case "task-fail":
                _sim.Faults.AddTaskFail(new TaskFailFault
                {
                    TaskType = Req(b, "taskType"),
                    Vmid = S(b, "vmid"),
                    Count = I(b, "count") ?? 1,
                    ExitStatus = S(b, "exitStatus") ?? "simulated task failure",
                    AfterSeconds = D(b, "afterSeconds"),
                });
                break;
            case "flock":
            {
                double seconds = D(b, "seconds") ?? throw new ArgumentException("'seconds' is required");
                var node = S(b, "node");
                string key;
                if (S(b, "vmid") is string vmidStr)
                {
                    int vmid = int.Parse(vmidStr);
                    lock (st.Sync) node ??= st.Vms.TryGetValue(vmid, out var vm) ? vm.Node : _sim.Options.EntryNode;
                    key = node + "|" + FlockTable.VmLockPath(vmid);
                }
                else if (S(b, "storage") is string sid)
                {
                    StorageInfo sto;
                    lock (st.Sync) sto = st.Storages.GetValueOrDefault(sid) ?? throw new ArgumentException($"no storage '{sid}'");
                    node ??= _sim.Options.EntryNode;
                    key = sto.Shared ? "cfs|storage-" + sid : node + "|" + FlockTable.StorageLockPath(sid);
                }
                else throw new ArgumentException("'vmid' or 'storage' is required");
                bool exclusive = B(b, "exclusive") ?? true;
                var acquired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        using var l = await _sim.Flocks.AcquireAsync(key, exclusive, 1e9, CancellationToken.None, () => "timeout");
                        acquired.TrySetResult();
                        await _sim.Clock.DelayAsync(seconds);
                    }
                    catch (Exception e) { acquired.TrySetException(e); }
                });
                acquired.Task.Wait(TimeSpan.FromSeconds(5));
                extra["key"] = key;
                break;
            }
            case "node-status":
            {
                var node = Req(b, "node");
                int status = I(b, "status") ?? 596;
                if (status is < 595 or > 599) throw new ArgumentException("status must be 595..599");
                _sim.Faults.SetNodeStatus(node, new NodeStatusFault { Status = status, Count = I(b, "count") ?? 1, Message = S(b, "message"), DelaySeconds = D(b, "delaySeconds") ?? 0 });
                break;
            }
            case "offline":
            {
                var node = Req(b, "node");
                _sim.Faults.SetOffline(node, I(b, "status") ?? 595, B(b, "offline") ?? true);
                break;
            }
            case "online":
                _sim.Faults.SetOffline(Req(b, "node"), 595, false);
                break;
            case "no-quorum":
                _sim.Faults.SetNoQuorum(!(B(b, "quorate") ?? false));
                break;
            case "nextid-race":
                _sim.Faults.SetNextIdRace(I(b, "count") ?? 2);
                break;
            case "agent":
            {
                int vmid = I(b, "vmid") ?? throw new ArgumentException("'vmid' is required");
                lock (st.Sync)
                {
                    if (!st.Vms.TryGetValue(vmid, out var vm)) throw new ArgumentException($"no VM {vmid}");
                    var g = vm.Guest;
                    if (D(b, "agentDelaySeconds") is double ad) g.AgentDelaySeconds = ad;
                    if (D(b, "netDelaySeconds") is double nd) g.NetDelaySeconds = nd;
                    if (B(b, "noAgent") is bool na) g.NoAgent = na;
                    if (B(b, "docker0") is bool d0) g.Docker0 = d0;
                    if (B(b, "noIp") is bool ni) g.NoIp = ni;
                    if (B(b, "hang") is bool h) g.AgentHang = h;
                    if (B(b, "acpi") is bool ac) g.AcpiResponsive = ac;
                    st.Touch();
                }
                break;
            }
            case "cert-swap":
                if (B(b, "restore") == true) _sim.Certs.Restore();
                else extra["fingerprint"] = _sim.Certs.Swap();
                break;
            case "legacy-error-body":
                _sim.Faults.SetLegacyErrorBody(B(b, "enabled") ?? true);
                break;
            case "latency":
                _sim.Faults.AddLatency(new LatencyFault { Node = S(b, "node"), Seconds = D(b, "seconds") ?? throw new ArgumentException("'seconds' is required"), Count = I(b, "count") ?? -1 });
                break;
            default:
                throw new ArgumentException($"unknown fault type '{type}'");
        }
        var rec = (JsonObject)b.DeepClone();
        foreach (var (k, v) in extra) rec[k] = v?.DeepClone();
        _sim.Faults.Record(rec);
        return rec;
    }
}
