using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ProxmoxSimulator;

public sealed class AuthInfo
{
    public string UserId;      // "root@pam" or "root@pam!swarmadmin" (the task "user" field)
    public bool IsToken;
    public string Ticket;
}

/// <summary>API tokens, tickets + CSRF tokens, and the privilege model (ACL paths propagate to sub-paths).</summary>
public sealed class Auth
{
    public const int TicketLifetime = 7200;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly SimState _state;
    private readonly SimClock _clock;

    public Auth(SimState state, SimClock clock)
    {
        _state = state;
        _clock = clock;
    }

    public static readonly string[] AllPrivileges =
    {
        "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
        "Group.Allocate", "Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify", "Pool.Allocate", "Pool.Audit",
        "Realm.Allocate", "Realm.AllocateUser", "SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.AccessNetwork", "Sys.Audit",
        "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog", "User.Modify",
        "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit",
        "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console",
        "VM.GuestAgent.Audit", "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite",
        "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.Monitor", "VM.PowerMgmt", "VM.Replicate", "VM.Snapshot",
        "VM.Snapshot.Rollback",
    };

    // ------------------------------------------------------------------ header parsing

    public static string ExtractAuthValue(string header, string key)
    {
        if (string.IsNullOrEmpty(header)) return null;
        var m = Regex.Match(header, @"(?:^|\s)" + Regex.Escape(key) + @"(?:=| )([^;]*)");
        if (!m.Success || m.Groups[1].Value.Length == 0) return null;
        try { return Uri.UnescapeDataString(m.Groups[1].Value); } catch { return m.Groups[1].Value; }
    }

    static PveException Unauthorized(string msg) => new(msg + "\n", 401) { EmptyBody = true };

    /// <summary>auth_handler of pve-manager's HTTPServer.pm. Returns null for calls that need no auth.</summary>
    public AuthInfo Authenticate(string method, string relUri, string cookie, string authorization, string csrf)
    {
        bool requireAuth = !((relUri == "/access/domains" && method == "GET") || (relUri == "/access/ticket" && (method == "GET" || method == "POST")));
        var ticket = ExtractAuthValue(cookie, "PVEAuthCookie") ?? ExtractAuthValue(authorization, "PVEAuthCookie");
        string apiToken = ticket == null ? ExtractAuthValue(authorization, "PVEAPIToken") : null;
        if (!requireAuth) return null;

        if (apiToken != null)
        {
            var user = VerifyToken(apiToken);
            if (user == null) throw Unauthorized("Authentication failed!");
            return new AuthInfo { UserId = user, IsToken = true };
        }
        if (ticket == null) throw Unauthorized("No ticket");
        var username = VerifyTicket(ticket);
        if (username == null) throw Unauthorized("Authentication failed!");
        if (method != "GET" && !VerifyCsrf(username, csrf)) throw Unauthorized("Permission denied - invalid csrf token");
        return new AuthInfo { UserId = username, Ticket = ticket };
    }

    public string VerifyToken(string value)
    {
        var m = Regex.Match(value, @"^(.*)=(.*)$", RegexOptions.Singleline);
        if (!m.Success) return null;
        string tokenId = m.Groups[1].Value, secret = m.Groups[2].Value;
        if (!Regex.IsMatch(tokenId, @"^([^\s:/]+@[A-Za-z][A-Za-z0-9\.\-_]+)!([A-Za-z][A-Za-z0-9\.\-_]+)$")) return null;
        lock (_state.Sync)
        {
            if (!_state.Tokens.TryGetValue(tokenId, out var t)) return null;
            if (!t.Enabled || (t.Expire > 0 && t.Expire < _clock.UnixNow)) return null;
            if (!_state.Users.TryGetValue(t.User, out var u) || !u.Enabled) return null;
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(t.Secret ?? ""), Encoding.UTF8.GetBytes(secret))) return null;
            return tokenId;
        }
    }

    // ------------------------------------------------------------------ tickets

    string Sign(string data) => Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(data)));

    public string CreateTicket(string user)
    {
        var plain = $"PVE:{user}:{_clock.UnixNow:X8}";
        return plain + "::" + Sign(plain);
    }

    public string CreateCsrf(string user)
    {
        var ts = _clock.UnixNow.ToString("X8");
        return ts + ":" + Sign(ts + ":" + user);
    }

    public string VerifyTicket(string ticket)
    {
        var m = Regex.Match(ticket ?? "", @"^(PVE:(\S+?):([A-Fa-f0-9]{8}))::(.+)$");
        if (!m.Success || Sign(m.Groups[1].Value) != m.Groups[4].Value) return null;
        long age = _clock.UnixNow - Convert.ToInt64(m.Groups[3].Value, 16);
        if (age < -300 || age > TicketLifetime) return null;
        var user = m.Groups[2].Value;
        lock (_state.Sync)
            return _state.Users.TryGetValue(user, out var u) && u.Enabled ? user : null;
    }

    public bool VerifyCsrf(string user, string token)
    {
        var m = Regex.Match(token ?? "", @"^([A-Fa-f0-9]{8}):(\S+)$");
        if (!m.Success || Sign(m.Groups[1].Value + ":" + user) != m.Groups[2].Value) return false;
        long age = _clock.UnixNow - Convert.ToInt64(m.Groups[1].Value, 16);
        return age > -300 && age < TicketLifetime;
    }

    /// <summary>Password (or valid-ticket renewal) check for POST /access/ticket.</summary>
    public bool CheckPassword(string user, string password)
    {
        if (VerifyTicket(password) == user) return true;
        lock (_state.Sync)
            return _state.Users.TryGetValue(user, out var u) && u.Enabled && u.Password != null && u.Password == password;
    }

    // ------------------------------------------------------------------ privileges

    static IEnumerable<string> AclPrivs(Dictionary<string, List<string>> acl, string path)
    {
        foreach (var (p, privs) in acl)
        {
            var ap = p.TrimEnd('/');
            if (ap.Length == 0 || path == ap || path.StartsWith(ap + "/", StringComparison.Ordinal))
                foreach (var x in privs) yield return x;
        }
    }

    /// <summary>Effective privileges of a user or token on a path; null means "all" (root@pam).</summary>
    public HashSet<string> Permissions(string userid, string path)
    {
        lock (_state.Sync)
        {
            string user = userid;
            TokenInfo token = null;
            int bang = userid.IndexOf('!');
            if (bang > 0)
            {
                user = userid[..bang];
                _state.Tokens.TryGetValue(userid, out token);
                if (token == null) return new HashSet<string>();
            }
            HashSet<string> userPrivs = null;
            if (_state.Users.TryGetValue(user, out var u) && u.Acl != null)
                userPrivs = AclPrivs(u.Acl, path).ToHashSet(StringComparer.Ordinal);
            else if (u == null) userPrivs = new HashSet<string>();
            if (token == null || token.Privsep == 0) return userPrivs;
            var tokenPrivs = AclPrivs(token.Acl ?? new(), path).ToHashSet(StringComparer.Ordinal);
            if (userPrivs != null) tokenPrivs.IntersectWith(userPrivs);
            return tokenPrivs;
        }
    }

    public bool Has(string userid, string path, params string[] privs)
    {
        var p = Permissions(userid, path);
        return p == null || privs.All(p.Contains);
    }

    public bool HasAny(string userid, string path, params string[] privs)
    {
        var p = Permissions(userid, path);
        return p == null || privs.Any(p.Contains);
    }

    /// <summary>RPCEnvironment::check / check_any: 403 "Permission check failed (path, priv[|priv])".</summary>
    public void Check(string userid, string path, string[] privs, bool any = false)
    {
        var p = Permissions(userid, path);
        if (p == null) return;
        if (any)
        {
            if (privs.Any(p.Contains)) return;
            throw PveException.Perm(path + ", " + string.Join("|", privs));
        }
        foreach (var priv in privs)
            if (!p.Contains(priv)) throw PveException.Perm(path + ", " + priv);
    }

    public JsonCap Cap(string user) => new(Permissions(user, "/") == null);

    public sealed record JsonCap(bool All);
}
