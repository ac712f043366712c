using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ProxmoxSimulator;

/// <summary>pveproxy transport: status lines, bodies, auth, parameter decoding, routing and relay faults.</summary>
public sealed class ApiServer
{
    public const int MaxPost = 512 * 1024;
    private readonly Sim _sim;
    private readonly SimApi _simApi;

    public ApiServer(Sim sim)
    {
        _sim = sim;
        _simApi = new SimApi(sim);
    }

    private sealed class Reply
    {
        public int Status = 200;
        public string Reason;
        public string Body = "";
        public string ContentType;
        public double DelaySim;
    }

    public async Task HandleAsync(HttpContext ctx)
    {
        string path = ctx.Request.Path.HasValue ? ctx.Request.Path.Value : "/";
        if (path == "/_sim" || path.StartsWith("/_sim/", StringComparison.Ordinal))
        {
            await _simApi.HandleAsync(ctx, path);
            return;
        }

        var started = DateTime.UtcNow;
        string method = ctx.Request.Method;
        long? len = ctx.Request.ContentLength;
        bool chunked = ctx.Request.Headers.TransferEncoding.ToString().Contains("chunked", StringComparison.OrdinalIgnoreCase);
        string raw = "";
        if (!chunked && len is > 0 and <= MaxPost) raw = await ReadBodyAsync(ctx.Request);
        string query = ctx.Request.QueryString.HasValue ? ctx.Request.QueryString.Value[1..] : "";
        var entry = _sim.Requests.Add(method, path, query,
            ctx.Request.Headers.Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString())), raw, ctx.Request.Protocol, _sim.Clock.UnixNow);

        Reply reply;
        try
        {
            reply = await ProcessAsync(ctx, method, path, query, raw, len, chunked, started);
        }
        catch (PveException e)
        {
            reply = ErrorReply(e, started);
        }
        catch (Exception e)
        {
            reply = ErrorReply(PveException.Die("internal simulator error: " + e.Message), started);
        }
        _sim.Requests.Complete(entry, reply.Status, reply.Reason);
        await SendAsync(ctx, reply);
    }

    static async Task<string> ReadBodyAsync(HttpRequest req)
    {
        using var ms = new MemoryStream();
        await req.Body.CopyToAsync(ms);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private Reply ErrorReply(PveException e, DateTime started)
    {
        var msg = e.Message;
        var reason = FirstLine(msg);
        var r = new Reply { Status = e.Status, Reason = reason };
        if (e.EmptyBody)
        {
            r.DelaySim = D.AuthFailDelay;
            return r;
        }
        if (e.PlainBody)
        {
            r.Body = msg.TrimEnd('\n');
            r.ContentType = null;
            return r;
        }
        var o = new JsonObject { ["data"] = null };
        if (e.Errors != null)
        {
            var errs = new JsonObject();
            foreach (var (k, v) in e.Errors) errs[k] = v;
            o["errors"] = errs;
        }
        if (!(_sim.Settings.LegacyErrorBody || _sim.Faults.LegacyErrorBody)) o["message"] = msg;
        r.Body = o.ToJsonString(Json.Api);
        r.ContentType = "application/json;charset=UTF-8";
        if (e.Status == 401)
        {
            // handler-raised 401 (e.g. POST /access/ticket): delayed to 3 s after the request started
            double elapsedSim = (DateTime.UtcNow - started).TotalSeconds / _sim.Clock.Scale;
            r.DelaySim = Math.Max(0, D.AuthFailDelay - elapsedSim);
        }
        return r;
    }

    private Durations D => _sim.D;

    static string FirstLine(string msg)
    {
        var s = (msg ?? "").Split('\n')[0].TrimEnd('\r');
        return s;
    }

    private async Task<Reply> ProcessAsync(HttpContext ctx, string method, string path, string query, string raw, long? len, bool chunked, DateTime started)
    {
        if (chunked) throw new PveException("chunked transfer encoding not supported", 501) { PlainBody = true };
        const string Base = "/api2/json";
        if (!(path == Base || path.StartsWith(Base + "/", StringComparison.Ordinal)))
            throw new PveException($"Method '{method} {path}' not implemented", 501);
        string rel = path.Length > Base.Length ? path[Base.Length..] : "/";
        if (rel.Length > 1) rel = "/" + rel.Trim('/');

        var auth = _sim.Auth.Authenticate(method, rel,
            ctx.Request.Headers.Cookie.ToString(), ctx.Request.Headers.Authorization.ToString(), ctx.Request.Headers["CSRFPreventionToken"].ToString());

        var ctRaw = ctx.Request.ContentType;
        string ct = ctRaw?.Split(';')[0].Trim().ToLowerInvariant();
        if (len is > 0)
        {
            if (method != "POST" && method != "PUT")
                throw new PveException($"Unexpected content for method '{method}'", 501) { PlainBody = true };
            if (len > MaxPost) throw new PveException("for data too large", 501) { PlainBody = true };
            if (!(string.IsNullOrEmpty(ct) || ct == "application/x-www-form-urlencoded" || ct == "application/json"))
                throw new PveException($"upload 'Content-Type '{ctRaw}' not implemented", 506) { PlainBody = true };
        }

        // extract_params: body (form or JSON), then the query string over it
        var prms = new Dictionary<string, PV>(StringComparer.Ordinal);
        if (method is "POST" or "PUT")
        {
            if (ct == "application/json") DecodeJson(raw, prms);
            else DecodeUrlencoded(raw, prms);
        }
        var qp = new Dictionary<string, PV>(StringComparer.Ordinal);
        DecodeUrlencoded(query, qp);
        foreach (var (k, v) in qp) prms[k] = v;
        prms.Remove("_dc");

        var req = new ApiRequest { Http = ctx, Sim = _sim, Method = method, RelPath = rel, Params = prms, Auth = auth, StartedUtc = started };
        var route = _sim.Router.Find(method, rel, req.PathParams);
        if (route == null) throw new PveException($"Method '{method} {rel}' not implemented", 501);

        foreach (var (k, v) in req.PathParams)
        {
            if (prms.TryGetValue(k, out var pv) && pv.Defined && pv.S != v)
                throw PveException.Param(k, "duplicate parameter (already defined in URI) with conflicting values!");
            prms[k] = PV.Str(v);
        }

        // check_api2_permissions
        if (route.Perm != null && auth != null) route.Perm(req);

        // proxyto => 'node'
        if (route.ProxyToNode)
        {
            var node = req.PathParams["node"];
            bool known;
            lock (_sim.State.Sync) known = _sim.State.Nodes.ContainsKey(node);
            if (!known)
                throw PveException.Die($"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known");
            double lat = _sim.Faults.TakeLatency(node);
            if (lat > 0) await _sim.Clock.DelayAsync(lat);
            bool offline;
            lock (_sim.State.Sync) offline = !_sim.State.Nodes[node].Online;
            var fail = _sim.Faults.TakeNodeFailure(node);
            if (fail == null && offline) fail = (595, "No route to host", 0);
            if (fail is { } f)
                return new Reply { Status = f.status, Reason = f.reason, DelaySim = f.delay };
        }
        else
        {
            double lat = _sim.Faults.TakeLatency(null);
            if (lat > 0) await _sim.Clock.DelayAsync(lat);
        }

        // parameter verification
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        Validator.CheckParams(prms, route.Schema, route.Dynamic, errors);
        if (errors.Count > 0) throw PveException.Params(errors);

        var data = await route.Handler(req);
        var o = new JsonObject { ["data"] = data };
        if (req.Total is long total && total != 0) o["total"] = total;
        return new Reply { Status = 200, Reason = "OK", Body = o.ToJsonString(Json.Api), ContentType = "application/json;charset=UTF-8" };
    }

    // ------------------------------------------------------------------ decoding (AnyEvent.pm)

    /// <summary>decode_urlencoded: pairs split on &amp; and ;, key/value on every '=' (value truncated), '+' = space.</summary>
    public static void DecodeUrlencoded(string data, Dictionary<string, PV> res)
    {
        if (string.IsNullOrEmpty(data)) return;
        foreach (var kv in data.Split('&', ';'))
        {
            var fields = kv.Split('=').ToList();
            while (fields.Count > 0 && fields[^1].Length == 0) fields.RemoveAt(fields.Count - 1); // Perl split drops trailing empty fields
            if (fields.Count == 0) continue;
            string k = PercentDecode(fields[0]);
            if (fields.Count < 2) { res[k] = PV.Undef(); continue; }
            string v = PercentDecode(fields[1]);
            if (res.TryGetValue(k, out var old) && old.Defined)
            {
                var items = old.Kind == PVKind.Array ? old.Items : new List<string> { old.S };
                items.Add(v);
                res[k] = new PV { Kind = PVKind.Array, Items = items, S = string.Join("\0", items) };
            }
            else res[k] = PV.Str(v);
        }
    }

    static string PercentDecode(string s)
    {
        s = s.Replace('+', ' ');
        if (!s.Contains('%')) return s;
        var bytes = new List<byte>(s.Length);
        var buf = new byte[4];
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '%' && i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
                continue;
            }
            int n = char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1;
            int c = Encoding.UTF8.GetBytes(s, i, n, buf, 0);
            for (int j = 0; j < c; j++) bytes.Add(buf[j]);
            i += n - 1;
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    static void DecodeJson(string raw, Dictionary<string, PV> res)
    {
        JsonNode node;
        try { node = JsonNode.Parse(string.IsNullOrWhiteSpace(raw) ? "null" : raw); }
        catch (JsonException)
        {
            throw new PveException("malformed JSON string at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 937.", 500) { PlainBody = true };
        }
        if (node == null) return;
        if (node is not JsonObject obj)
            throw new PveException("Not a HASH reference at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 975.", 500) { PlainBody = true };
        foreach (var (k, v) in obj)
        {
            res[k] = v switch
            {
                null => PV.Undef(),
                JsonArray a => new PV { Kind = PVKind.Array, S = a.ToJsonString() },
                JsonObject o => new PV { Kind = PVKind.Object, S = o.ToJsonString() },
                JsonValue jv when jv.GetValueKind() == JsonValueKind.True => new PV { Kind = PVKind.JsonTrue, S = "1" },
                JsonValue jv when jv.GetValueKind() == JsonValueKind.False => new PV { Kind = PVKind.JsonFalse, S = "0" },
                JsonValue jv when jv.GetValueKind() == JsonValueKind.Number => new PV { Kind = PVKind.JsonNumber, S = jv.ToJsonString() },
                JsonValue jv => PV.Str(jv.GetValue<string>()),
                _ => PV.Undef(),
            };
        }
    }

    // ------------------------------------------------------------------ response (AnyEvent.pm::response)

    private async Task SendAsync(HttpContext ctx, Reply r)
    {
        if (r.DelaySim > 0)
        {
            try { await _sim.Clock.DelayAsync(r.DelaySim, ctx.RequestAborted); }
            catch (OperationCanceledException) { return; }
        }
        await WriteAsync(ctx, r.Status, r.Reason, r.Body, r.ContentType);
    }

    public static async Task WriteAsync(HttpContext ctx, int status, string reason, string body, string contentType, bool pveHeaders = true)
    {
        var resp = ctx.Response;
        resp.StatusCode = status;
        var rp = Sanitize(reason);
        ctx.Features.Get<IHttpResponseFeature>().ReasonPhrase = string.IsNullOrEmpty(rp) ? null : rp;
        if (pveHeaders)
        {
            var now = DateTime.UtcNow.ToString("R");
            resp.Headers["Server"] = "pve-api-daemon/3.0";
            resp.Headers["Expires"] = now;
            resp.Headers["Cache-Control"] = "max-age=0";
            resp.Headers["Pragma"] = "no-cache";
        }
        bool close = status >= 400 || CountRequest(ctx) >= 100;
        resp.Headers.Connection = close ? "close" : "Keep-Alive";
        if (contentType != null) resp.ContentType = contentType;
        var bytes = Encoding.UTF8.GetBytes(body ?? "");
        if (bytes.Length > 1024)
        {
            var ae = ctx.Request.Headers.AcceptEncoding.ToString();
            if (ae.Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                bytes = Compress(bytes, s => new GZipStream(s, CompressionLevel.Fastest, true));
                resp.Headers.ContentEncoding = "gzip";
            }
            else if (ae.Contains("deflate", StringComparison.OrdinalIgnoreCase))
            {
                bytes = Compress(bytes, s => new ZLibStream(s, CompressionLevel.Fastest, true));
                resp.Headers.ContentEncoding = "deflate";
            }
        }
        if (bytes.Length > 0 || status >= 200)
        {
            resp.ContentLength = bytes.Length;
            if (bytes.Length > 0) await resp.Body.WriteAsync(bytes);
        }
    }

    static byte[] Compress(byte[] data, Func<Stream, Stream> make)
    {
        using var ms = new MemoryStream();
        using (var z = make(ms)) z.Write(data);
        return ms.ToArray();
    }

    /// <summary>pveproxy allows 100 requests per keep-alive connection.</summary>
    static int CountRequest(HttpContext ctx)
    {
        var items = ctx.Features.Get<IConnectionItemsFeature>()?.Items;
        if (items == null) return 0;
        int n = items.TryGetValue("pve-req-count", out var o) ? (int)o + 1 : 1;
        items["pve-req-count"] = n;
        return n;
    }

    static string Sanitize(string s)
    {
        if (string.IsNullOrEmpty(s)) return s;
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) sb.Append(c >= 0x20 && c < 0x7F ? c : '?');
        return sb.ToString();
    }
}
