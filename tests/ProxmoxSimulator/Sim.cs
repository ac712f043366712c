using System.Text.Json.Nodes;

namespace ProxmoxSimulator;

/// <summary>The simulator: state, clock, locks, tasks, faults, auth and the shared PVE semantics.</summary>
public sealed class Sim
{
    public SimOptions Options { get; }
    private volatile Settings _settings;
    public Settings Settings { get => _settings; set => _settings = value; }
    public Durations D => _settings.Durations;
    public SimState State { get; } = new();
    public SimClock Clock { get; }
    public FlockTable Flocks { get; }
    public Faults Faults { get; } = new();
    public TaskManager Tasks { get; }
    public Auth Auth { get; }
    public CertStore Certs { get; }
    public RequestLog Requests { get; } = new();
    public Hooks Hooks { get; }
    public Router Router { get; } = new();
    public Action Shutdown { get; set; }

    public Sim(SimOptions options, CertStore certs)
    {
        Options = options;
        _settings = options.Settings;
        Clock = new SimClock(options.TimeScale);
        Flocks = new FlockTable(Clock);
        Tasks = new TaskManager(Clock, () => _settings, Faults);
        Auth = new Auth(State, Clock);
        Certs = certs;
        Hooks = new Hooks(options);
        State.Rng = new Random(options.Seed);
        Endpoints.ClusterEndpoints.Register(this);
        Endpoints.QemuEndpoints.Register(this);
        Endpoints.ConfigEndpoints.Register(this);
        Endpoints.PowerEndpoints.Register(this);
        Endpoints.TaskEndpoints.Register(this);
        Endpoints.AgentEndpoints.Register(this);
    }

    public string AdminToken
    {
        get
        {
            lock (State.Sync)
                return State.Tokens.TryGetValue("root@pam!swarmadmin", out var t) ? $"{t.Id}={t.Secret}" : null;
        }
    }

    public string ReadonlyToken
    {
        get
        {
            lock (State.Sync)
                return State.Tokens.TryGetValue("root@pam!readonly", out var t) ? $"{t.Id}={t.Secret}" : null;
        }
    }

    /// <summary>Reset to the seed (or to a given document): drops tasks, flocks and request log.</summary>
    public void Reset(StateDoc doc)
    {
        Tasks.Clear();
        Flocks.Clear();
        doc ??= SimState.SeedDoc(Options.Password, Options.Seed, Options.AdminSecret ?? CurrentSecret("root@pam!swarmadmin"), Options.ReadonlySecret ?? CurrentSecret("root@pam!readonly"));
        State.Load(doc, Clock.Now);
        lock (State.Sync) State.Rng = new Random(Options.Seed);
    }

    private string CurrentSecret(string id)
    {
        lock (State.Sync) return State.Tokens.TryGetValue(id, out var t) ? t.Secret : null;
    }

    // ------------------------------------------------------------------ shared PVE semantics

    /// <summary>PVE::QemuConfig->load_config on a node. Call under State.Sync.</summary>
    public VmInfo LoadConfigLocked(string node, int vmid)
    {
        if (State.Vms.TryGetValue(vmid, out var vm) && vm.Node == node) return vm;
        throw PveException.Die($"Configuration file '{SimState.ConfPath(node, vmid)}' does not exist");
    }

    public VmInfo LoadConfig(string node, int vmid)
    {
        lock (State.Sync) return LoadConfigLocked(node, vmid);
    }

    /// <summary>check_running → assert_config_exists_on_node.</summary>
    public void AssertConfigOnNode(string node, int vmid)
    {
        lock (State.Sync)
            if (!(State.Vms.TryGetValue(vmid, out var vm) && vm.Node == node))
                throw PveException.Die($"unable to find configuration file for VM {vmid} on node '{node}'");
    }

    public static void CheckLock(VmInfo vm)
    {
        var l = vm.Lock;
        if (!string.IsNullOrEmpty(l)) throw PveException.Die($"VM is locked ({l})");
    }

    public void CheckQuorum()
    {
        bool quorate;
        lock (State.Sync) quorate = State.Cluster.Quorate;
        if (!quorate || Faults.NoQuorum) throw PveException.Die("cluster not ready - no quorum?");
    }

    /// <summary>check_bridge_access: SDN.Use on /sdn/zones/localnetwork/&lt;bridge&gt;[/&lt;tag&gt;].</summary>
    public void CheckBridgeAccess(string user, IEnumerable<KeyValuePair<string, string>> config)
    {
        foreach (var (k, v) in config)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(k, @"^net\d+$")) continue;
            Dictionary<string, string> net;
            try { net = Validator.ParsePropertyString(Validator.NetFormat, v, k); } catch (FormatError) { continue; }
            if (!net.TryGetValue("bridge", out var bridge)) continue;
            var path = $"/sdn/zones/localnetwork/{bridge}";
            if (net.TryGetValue("tag", out var tag)) Auth.Check(user, $"{path}/{tag}", new[] { "SDN.Use" });
            else if (!Auth.HasAny(user, path, "SDN.Use")) Auth.Check(user, path, new[] { "SDN.Use" }, any: true);
        }
    }

    public StorageInfo StorageCheckEnabled(string storage, string node)
    {
        lock (State.Sync)
        {
            if (!State.Storages.TryGetValue(storage, out var st)) throw PveException.Die($"storage '{storage}' does not exist");
            if (!st.Enabled) throw PveException.Die($"storage '{storage}' is disabled");
            if (!st.OnNode(node)) throw PveException.Die($"storage '{storage}' is not available on node '{node}'");
            return st;
        }
    }

    public StorageInfo StorageOf(string volid)
    {
        lock (State.Sync) return State.Storages.GetValueOrDefault(volid.Split(':')[0]);
    }

    public bool HasCloudInitDrive(IDictionary<string, string> conf) =>
        conf.Any(kv => Drive.IsDriveKey(kv.Key) && Drive.Parse(kv.Value).IsCloudInit);

    public JsonObject Envelope(JsonNode data) => new() { ["data"] = data };
}
