using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Proxmox;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>Error ids of the VM power cmdlets (stable: scripts may match on them).</summary>
    internal static class SwarmVmErrorId
    {
        public const string IsTemplate = "SwarmVmIsTemplate";
        public const string IsSwarmMember = "SwarmVmIsSwarmMember";
        public const string ShutdownTimeout = "SwarmVmShutdownTimeout";
        public const string Protected = "SwarmVmProtected";
        public const string Paused = "SwarmVmPaused";
        public const string NoGuestAgent = "SwarmVmNoGuestAgent";
    }

    /// <summary>Proxmox VM calls shared by Start-, Stop- and Remove-SwarmVm (safe to call off the pipeline thread).</summary>
    internal static class SwarmVmOps
    {
        public static string Describe(SwarmVm vm) => $"VM {vm.Name ?? "(no name)"} ({vm.VmId}) on {vm.Node}";

        public static string Path(SwarmVm vm, string tail = null) =>
            $"nodes/{vm.Node}/qemu/{vm.VmId.ToString(CultureInfo.InvariantCulture)}" + (tail == null ? "" : "/" + tail);

        public static TimeSpan Remaining(DateTime deadline)
        {
            var left = deadline - DateTime.UtcNow;
            return left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left;
        }

        public static Task<JsonElement> StatusAsync(SwarmVm vm, CancellationToken ct) =>
            vm.Connection.Client.GetAsync(Path(vm, "status/current"), null, ct);

        /// <summary>running, stopped or paused (from status and qmpstatus).</summary>
        public static string State(JsonElement status)
        {
            string s = JsonRead.String(status, "status") ?? "unknown";
            string qmp = JsonRead.String(status, "qmpstatus");
            if (s == "running" && (qmp == "paused" || qmp == "suspended")) return "paused";
            return s;
        }

        public static bool IsTemplate(JsonElement status) => JsonRead.Bool(status, "template") == true;

        /// <summary>A copy of <paramref name="basis"/> (which keeps Role, Labels, SSH settings and Pool) with the live state of status/current.</summary>
        public static SwarmVm Refresh(SwarmVm basis, JsonElement status, string[] ipv4)
        {
            long? maxmem = JsonRead.Long(status, "maxmem");
            long? maxdisk = JsonRead.Long(status, "maxdisk");
            long? uptime = JsonRead.Long(status, "uptime");
            string tags = JsonRead.String(status, "tags");
            var labels = new Dictionary<string, string>(basis.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            if (labels.ContainsKey("proxmox.host")) labels["proxmox.host"] = basis.Node;
            return new SwarmVm
            {
                VmId = basis.VmId,
                Name = JsonRead.String(status, "name") ?? basis.Name,
                Node = basis.Node,
                Status = State(status),
                Cores = JsonRead.Int(status, "cpus") ?? basis.Cores,
                MemoryMB = maxmem.HasValue ? maxmem / (1024 * 1024) : basis.MemoryMB,
                DiskGB = maxdisk.HasValue && maxdisk.Value > 0 ? Math.Round(maxdisk.Value / 1073741824.0, 1) : basis.DiskGB,
                Tags = tags == null ? basis.Tags : tags.Split(new[] { ';', ',', ' ' }, StringSplitOptions.RemoveEmptyEntries),
                IsTemplate = IsTemplate(status),
                Lock = JsonRead.String(status, "lock"),
                Uptime = uptime.HasValue && uptime.Value > 0 ? TimeSpan.FromSeconds(uptime.Value) : (TimeSpan?)null,
                Pool = basis.Pool,
                IPv4 = ipv4 ?? Array.Empty<string>(),
                Role = basis.Role,
                Labels = labels,
                SshUser = basis.SshUser,
                KeyFile = basis.KeyFile,
                KnownHostsPath = basis.KnownHostsPath,
                Connection = basis.Connection,
            };
        }

        /// <summary>Waits for a task, retrying the call while the VM is locked (clone, backup, another power task).</summary>
        public static async Task<ProxmoxTaskResult> RunTaskAsync(SwarmVm vm, Func<Task<JsonElement>> call, DateTime deadline, IOperationLog log, CancellationToken ct)
        {
            var client = vm.Connection.Client;
            var options = new ProxmoxRetryOptions
            {
                OnRetry = (ex, attempt, wait) => log.Verbose($"{Describe(vm)} is locked ({SwarmErrors.Unwrap(ex).Message.Split('\n')[0].Trim()}); trying again in {wait.TotalSeconds:0.#} s."),
            };
            var result = await ProxmoxRetry.RetryOnLockAsync(async () =>
            {
                JsonElement upid = await call().ConfigureAwait(false);
                return await ProxmoxTasks.WaitAsync(client, upid, null, Remaining(deadline), ct).ConfigureAwait(false);
            }, options, ct).ConfigureAwait(false);
            foreach (string line in result.WarningLines) log.Warning($"{Describe(vm)}: Proxmox reported: {line}");
            return result;
        }

        /// <summary>Polls status/current until the VM is in <paramref name="state"/> (HA-managed VMs change state after their task ends).</summary>
        public static async Task<JsonElement> WaitForStateAsync(SwarmVm vm, string state, DateTime deadline, int timeoutSec, CancellationToken ct)
        {
            while (true)
            {
                JsonElement status = await StatusAsync(vm, ct).ConfigureAwait(false);
                string now = State(status);
                if (now == state || (state == "running" && now == "paused")) return status;
                if (DateTime.UtcNow >= deadline)
                    throw new SwarmException(SwarmErrorId.Timeout, ErrorCategory.OperationTimeout,
                        $"{Describe(vm)} was still {now} {timeoutSec} s later, not {state}. If it is HA-managed, check the HA manager (ha-manager status).", vm);
                await Task.Delay(500, ct).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Polls the guest agent until the interface with <paramref name="mac"/> (any but lo without one) carries an IPv4
        /// address (<paramref name="expected"/> when given); the same wait as New-SwarmVm's.
        /// </summary>
        public static async Task<string[]> WaitForAgentAddressAsync(ProxmoxClient client, string host, int vmid, string mac, string expected, DateTime deadline, string name, int timeoutSec, CancellationToken ct)
        {
            string last = "the guest agent did not answer";
            while (DateTime.UtcNow < deadline)
            {
                try
                {
                    var data = await client.GetAsync($"nodes/{host}/qemu/{vmid}/agent/network-get-interfaces", null, ct).ConfigureAwait(false);
                    var result = JsonRead.Member(data, "result") ?? data;
                    var addresses = new List<string>();
                    foreach (var iface in JsonRead.Array(result))
                    {
                        string hw = JsonRead.String(iface, "hardware-address");
                        if (mac != null && !ProxmoxNetConfig.SameMac(hw, mac)) continue;
                        if (mac == null && JsonRead.String(iface, "name") == "lo") continue;
                        foreach (var a in JsonRead.Array(JsonRead.Member(iface, "ip-addresses") ?? default))
                            if (JsonRead.String(a, "ip-address-type") == "ipv4") addresses.Add(JsonRead.String(a, "ip-address"));
                    }
                    if (addresses.Count > 0 && (expected == null || addresses.Contains(expected))) return addresses.ToArray();
                    last = addresses.Count == 0 ? "the guest has no IPv4 address yet" : $"the guest reports {string.Join(", ", addresses)}, not {expected}";
                }
                catch (ProxmoxApiException ex) when (ex.StatusCode != 403 && ex.StatusCode != 401)
                {
                    last = ex.ProxmoxMessage?.Trim() ?? ex.Message;
                }
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
            throw new SwarmException(SwarmErrorId.Timeout, ErrorCategory.OperationTimeout,
                $"VM {name} ({vmid}) runs, but within {timeoutSec} s the guest agent did not report {(expected ?? "an IPv4 address")}: {last}. Check cloud-init in the VM's console (qemu-guest-agent must be installed in the guest).", vmid)
            { RecommendedAction = "Look at the VM's console, or wait longer with a larger -TimeoutSec." };
        }
    }

    /// <summary>
    /// Base of Start-, Stop- and Remove-SwarmVm: takes SwarmVm objects from the pipeline, -Name (wildcards) or -VmId;
    /// reads each VM's live state, asks ShouldProcess on the pipeline thread, then acts on up to -ThrottleLimit VMs at
    /// once. One VM that fails gives an error for that VM; the others go on.
    /// </summary>
    public abstract class SwarmVmActionCmdlet : SwarmProxmoxCmdlet
    {
        protected const string ByName = "ByName";
        protected const string ById = "ById";
        protected const string ByInputObject = "ByInputObject";

        /// <summary>VMs from Get-SwarmVm or New-SwarmVm. Each is looked up again (by VMID) before it is handled.</summary>
        [Parameter(ParameterSetName = ByInputObject, Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public SwarmVm InputObject { get; set; }

        /// <summary>VM names; wildcards allowed (they never match templates). A name that is a number also matches that VMID.</summary>
        [Parameter(ParameterSetName = ByName, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Hostname")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmVmNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>VM IDs.</summary>
        [Parameter(ParameterSetName = ById, Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [ValidateRange(100, 999999999)]
        public int[] VmId { get; set; }

        /// <summary>How many VMs are handled at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 4;

        protected override object CurrentTarget => (object)InputObject ?? (object)Name ?? VmId;

        /// <summary>One VM to handle: as resolved from the cluster list, the object errors are reported against, its live status.</summary>
        protected sealed class VmTarget
        {
            public SwarmVm Vm;
            public object Target;
            public JsonElement Status;
            public SwarmContext Swarm;
            public bool WaitOnly;
            public string State => SwarmVmOps.State(Status);
        }

        private readonly List<VmTarget> _targets = new List<VmTarget>();
        private readonly Dictionary<SwarmProxmoxConnection, List<SwarmVm>> _lists = new Dictionary<SwarmProxmoxConnection, List<SwarmVm>>();

        private protected IOperationLog Log => this;

        /// <summary>The progress activity, e.g. "Starting VMs".</summary>
        protected abstract string Activity { get; }

        protected abstract int ProgressId { get; }

        /// <summary>The swarm a target's membership is checked against (Remove-SwarmVm); null elsewhere.</summary>
        protected virtual SwarmContext TargetSwarm => null;

        /// <summary>
        /// On the pipeline thread, after the live status of every target was read: the checks and ShouldProcess.
        /// Returns the targets to act on; writes output/errors for the others itself.
        /// </summary>
        protected abstract Task<List<VmTarget>> SelectAsync(List<VmTarget> targets);

        /// <summary>The action for one VM, off the pipeline thread (log through <see cref="Log"/>). Returns the object to output, or null.</summary>
        protected abstract Task<SwarmVm> ActAsync(VmTarget t, Action<string> state, CancellationToken ct);

        protected override async Task ProcessRecordAsync()
        {
            SwarmProxmoxConnection c = Connection;
            if (c == null && InputObject?.Connection != null)
            {
                // never fall back to another cluster for a VM that came from a connection that is closed now
                if (InputObject.Connection.Client == null)
                {
                    WriteError(SwarmErrors.Record(SwarmErrorId.ProxmoxNotConnected, ErrorCategory.ConnectionError,
                        $"VM {InputObject.Name} ({InputObject.VmId}) came from the Proxmox connection {InputObject.Connection.Endpoint}, which is closed. Get the VM again (Get-SwarmVm) after Connect-SwarmProxmox, or pass -Connection.", InputObject));
                    return;
                }
                c = InputObject.Connection;
            }
            if (c == null) c = ResolveConnection();
            else if (c.Client == null) c = ResolveConnection(); // a closed connection: the terminating error says what to do
            var swarm = TargetSwarm;

            if (!_lists.TryGetValue(c, out var vms))
            {
                vms = await ListVmsAsync(c, StopToken);
                _lists[c] = vms;
            }

            void Add(SwarmVm vm, object target)
            {
                if (_targets.Any(t => t.Vm.VmId == vm.VmId && ReferenceEquals(t.Vm.Connection, vm.Connection))) return;
                _targets.Add(new VmTarget { Vm = vm, Target = target, Swarm = swarm });
            }

            switch (ParameterSetName)
            {
                case ByInputObject:
                {
                    var listed = vms.FirstOrDefault(v => v.VmId == InputObject.VmId);
                    // a VMID can be reused after a destroy: the name must still match
                    if (listed != null && InputObject.Name != null && listed.Name != null && !string.Equals(listed.Name, InputObject.Name, StringComparison.OrdinalIgnoreCase)) listed = null;
                    if (listed == null)
                    {
                        WriteError(SwarmErrors.Record(SwarmErrorId.VmNotFound, ErrorCategory.ObjectNotFound,
                            $"VM {InputObject.Name} ({InputObject.VmId}) no longer exists in the Proxmox cluster {c.Endpoint}. Run Get-SwarmVm to list the VMs.", InputObject));
                        return;
                    }
                    // the live list says where the VM is now; the piped object adds what Proxmox does not know
                    // (role, labels, SSH settings for Join-SwarmNode, the address New-SwarmVm saw)
                    var labels = new Dictionary<string, string>(InputObject.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal);
                    if (labels.ContainsKey("proxmox.host")) labels["proxmox.host"] = listed.Node;
                    Add(new SwarmVm
                    {
                        VmId = listed.VmId, Name = listed.Name ?? InputObject.Name, Node = listed.Node, Status = listed.Status, IsTemplate = listed.IsTemplate,
                        Pool = listed.Pool, Tags = listed.Tags, Cores = listed.Cores, MemoryMB = listed.MemoryMB, DiskGB = listed.DiskGB,
                        Lock = listed.Lock, Uptime = listed.Uptime, IPv4 = InputObject.IPv4 ?? Array.Empty<string>(),
                        Role = InputObject.Role, Labels = labels, SshUser = InputObject.SshUser, KeyFile = InputObject.KeyFile,
                        KnownHostsPath = InputObject.KnownHostsPath, Connection = c,
                    }, InputObject);
                    break;
                }
                case ById:
                    foreach (int id in VmId)
                    {
                        var vm = vms.FirstOrDefault(v => v.VmId == id);
                        if (vm == null) WriteError(SwarmErrors.Record(SwarmErrorId.VmNotFound, ErrorCategory.ObjectNotFound, $"No VM {id} exists in the Proxmox cluster. Run Get-SwarmVm to list the VMs.", id));
                        else Add(vm, id);
                    }
                    break;
                default:
                    await FillMissingNamesAsync(vms);
                    foreach (string pattern in Name)
                    {
                        bool wildcard = WildcardPattern.ContainsWildcardCharacters(pattern);
                        var wp = new WildcardPattern(pattern, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);
                        var matches = vms.Where(v => (!wildcard || !v.IsTemplate) &&
                            ((v.Name != null && wp.IsMatch(v.Name)) || v.VmId.ToString(CultureInfo.InvariantCulture) == pattern)).ToList();
                        if (matches.Count == 0 && !wildcard)
                            WriteError(SwarmErrors.Record(SwarmErrorId.VmNotFound, ErrorCategory.ObjectNotFound, $"No VM named '{pattern}' exists in the Proxmox cluster. Run Get-SwarmVm to list the VMs.", pattern));
                        foreach (var vm in matches) Add(vm, pattern);
                    }
                    break;
            }
        }

        /// <summary>Proxmox lists a VM created seconds ago without a name (the name comes with the next statistics round): ask status/current for those.</summary>
        private async Task FillMissingNamesAsync(List<SwarmVm> vms)
        {
            foreach (var vm in vms.Where(v => v.Name == null && v.Node != null))
            {
                try
                {
                    JsonElement st = await SwarmVmOps.StatusAsync(vm, StopToken);
                    vm.Name = JsonRead.String(st, "name");
                    vm.Status = SwarmVmOps.State(st);
                    vm.IsTemplate = SwarmVmOps.IsTemplate(st);
                }
                catch (ProxmoxApiException ex)
                {
                    Verbose($"VM {vm.VmId} on {vm.Node} is listed without a name, and its status could not be read: {ex.ProxmoxMessage ?? ex.Message}");
                }
            }
        }

        protected override async Task EndProcessingAsync()
        {
            if (_targets.Count == 0) return;

            // the live state of every VM (status/current), read at once
            var reads = _targets.Select(async t =>
            {
                try { t.Status = await SwarmVmOps.StatusAsync(t.Vm, StopToken); return (t, (Exception)null); }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested)) { return (t, ex); }
            }).ToList();
            await Task.WhenAll(reads);
            var live = new List<VmTarget>();
            foreach (var r in reads)
            {
                var (t, error) = r.Result;
                if (error != null) WriteVmError(error, t);
                else
                {
                    t.Vm.Name = JsonRead.String(t.Status, "name") ?? t.Vm.Name;
                    t.Vm.IsTemplate = SwarmVmOps.IsTemplate(t.Status);
                    t.Vm.Status = t.State;
                    live.Add(t);
                }
            }

            var todo = await SelectAsync(live);
            if (todo.Count == 0) return;

            var progress = new ProgressRecord(ProgressId, Activity, $"0 of {todo.Count} done");
            WriteProgress(progress);
            var gate = new SemaphoreSlim(ThrottleLimit);
            var states = todo.ToDictionary(t => t, t => "waiting");
            var results = new Dictionary<VmTarget, (SwarmVm Vm, Exception Error)>();
            var work = todo.Select(async t =>
            {
                await gate.WaitAsync(StopToken).ConfigureAwait(false);
                try
                {
                    var vm = await ActAsync(t, s => { lock (states) states[t] = s; }, StopToken).ConfigureAwait(false);
                    lock (results) results[t] = (vm, null);
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    lock (results) results[t] = (null, ex);
                }
                finally
                {
                    lock (states) states[t] = "done";
                    gate.Release();
                }
            }).ToList();
            var all = Task.WhenAll(work);
            while (!all.IsCompleted)
            {
                await Task.WhenAny(all, Task.Delay(500));
                int done = work.Count(w => w.IsCompleted);
                lock (states)
                    progress.StatusDescription = $"{done} of {todo.Count} done; " + string.Join(", ", states.Where(kv => kv.Value != "done").Take(4).Select(kv => $"{kv.Key.Vm.Name ?? kv.Key.Vm.VmId.ToString(CultureInfo.InvariantCulture)}: {kv.Value}"));
                progress.PercentComplete = 100 * done / todo.Count;
                WriteProgress(progress);
            }
            await all;
            await Task.Yield(); // lets the pump write the workers' last verbose messages before the results
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            foreach (var t in todo)
            {
                var (vm, error) = results[t];
                if (error != null) WriteVmError(error, t);
                else if (vm != null) WriteObject(vm);
            }
        }

        protected void WriteVmError(Exception error, VmTarget t)
        {
            var record = SwarmErrors.ToRecord(error, t.Vm);
            if (record.ErrorDetails == null) record.ErrorDetails = new ErrorDetails($"{SwarmVmOps.Describe(t.Vm)}: {SwarmErrors.Unwrap(error).Message}");
            WriteError(record);
        }
    }

    /// <summary>Start-SwarmVm: starts Proxmox VMs (status/start) and optionally waits until the guest agent reports their IPv4 address.</summary>
    [Cmdlet(VerbsLifecycle.Start, "SwarmVm", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmVm))]
    public sealed class StartSwarmVmCommand : SwarmVmActionCmdlet
    {
        /// <summary>Wait until the guest agent reports the VM's IPv4 address (the ipconfig0 address when one is set).</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>Seconds each VM may take to start (and with -Wait, to report its address).</summary>
        [Parameter]
        [ValidateRange(5, 7200)]
        public int TimeoutSec { get; set; } = 300;

        protected override string Activity => "Starting VMs";
        protected override int ProgressId => 4502;

        protected override Task<List<VmTarget>> SelectAsync(List<VmTarget> targets)
        {
            var todo = new List<VmTarget>();
            foreach (var t in targets)
            {
                if (t.Vm.IsTemplate)
                {
                    WriteError(SwarmErrors.Record(SwarmVmErrorId.IsTemplate, ErrorCategory.InvalidOperation,
                        $"{SwarmVmOps.Describe(t.Vm)} is a template, and templates cannot be started. Clone it with New-SwarmVm -Template {t.Vm.VmId}.", t.Vm));
                    continue;
                }
                if (t.State == "running" || t.State == "paused")
                {
                    if (t.State == "paused") WriteWarning($"{SwarmVmOps.Describe(t.Vm)} is paused; Start-SwarmVm does not resume it (run 'qm resume {t.Vm.VmId}' on {t.Vm.Node}).");
                    else Verbose($"{SwarmVmOps.Describe(t.Vm)} is already running; nothing was sent.");
                    if (!Wait) { WriteObject(SwarmVmOps.Refresh(t.Vm, t.Status, t.Vm.IPv4)); continue; }
                    t.WaitOnly = true; // only the agent is waited for: no change, so no ShouldProcess, and never a start
                    todo.Add(t);
                    continue;
                }
                if (!ShouldProcess(SwarmVmOps.Describe(t.Vm), Wait ? "Start, and wait for its IPv4 address" : "Start")) continue;
                todo.Add(t);
            }
            return Task.FromResult(todo);
        }

        protected override async Task<SwarmVm> ActAsync(VmTarget t, Action<string> state, CancellationToken ct)
        {
            var vm = t.Vm;
            var client = vm.Connection.Client;
            var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
            JsonElement status = await SwarmVmOps.StatusAsync(vm, ct).ConfigureAwait(false);
            string current = SwarmVmOps.State(status);
            if (t.WaitOnly && current != "running")
                throw new SwarmException("SwarmVmNotRunning", ErrorCategory.InvalidOperation,
                    $"{SwarmVmOps.Describe(vm)} stopped while Start-SwarmVm -Wait was waiting for it; it was not started again. Run Start-SwarmVm again to start it.", vm);
            if (current != "running" && current != "paused")
            {
                state("starting");
                Log.Verbose($"{SwarmVmOps.Describe(vm)}: starting (POST status/start).");
                try
                {
                    await SwarmVmOps.RunTaskAsync(vm, () => client.PostAsync(SwarmVmOps.Path(vm, "status/start"), null, ct), deadline, Log, ct).ConfigureAwait(false);
                }
                catch (ProxmoxTaskFailedException ex) when (ex.ExitStatus != null && ex.ExitStatus.IndexOf("already running", StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    Log.Verbose($"{SwarmVmOps.Describe(vm)} was started by someone else meanwhile.");
                }
                state("waiting until it runs");
                status = await SwarmVmOps.WaitForStateAsync(vm, "running", deadline, TimeoutSec, ct).ConfigureAwait(false);
                Log.Verbose($"{SwarmVmOps.Describe(vm)} runs.");
            }
            if (!Wait) return SwarmVmOps.Refresh(vm, status, Array.Empty<string>());

            state("waiting for the guest agent");
            var config = new ProxmoxVmConfig(await client.GetAsync(SwarmVmOps.Path(vm, "config"), null, ct).ConfigureAwait(false));
            if (!config.AgentEnabled)
                throw new SwarmException(SwarmVmErrorId.NoGuestAgent, ErrorCategory.NotEnabled,
                    $"{SwarmVmOps.Describe(vm)} runs, but it has no guest agent configured (agent: 0), so its address cannot be read and -Wait cannot wait for it.", vm)
                { RecommendedAction = $"Enable the agent (qm set {vm.VmId} --agent 1, and qemu-guest-agent in the guest), restart the VM, or start it without -Wait." };
            string mac = null, expected = null;
            try { mac = config.Net(0)?.MacAddress; } catch (FormatException) { }
            try { expected = config.IpConfig(0)?.Address; } catch (FormatException) { }
            Log.Verbose($"{SwarmVmOps.Describe(vm)}: waiting for the guest agent to report {(expected ?? "an IPv4 address")}{(mac != null ? " on " + mac : "")}.");
            string[] ipv4 = await SwarmVmOps.WaitForAgentAddressAsync(client, vm.Node, vm.VmId, mac, expected, deadline, vm.Name, TimeoutSec, ct).ConfigureAwait(false);
            Log.Verbose($"{SwarmVmOps.Describe(vm)} has {string.Join(", ", ipv4)}.");
            status = await SwarmVmOps.StatusAsync(vm, ct).ConfigureAwait(false);
            return SwarmVmOps.Refresh(vm, status, ipv4);
        }
    }

    /// <summary>Stop-SwarmVm: shuts Proxmox VMs down (ACPI or guest agent, optionally forced after the timeout), or stops them at once with -Kill.</summary>
    [Cmdlet(VerbsLifecycle.Stop, "SwarmVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
    [OutputType(typeof(SwarmVm))]
    public sealed class StopSwarmVmCommand : SwarmVmActionCmdlet
    {
        /// <summary>Seconds the guest has to shut down (passed to Proxmox as the shutdown timeout).</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 120;

        /// <summary>Stop the VM hard when it has not shut down within -TimeoutSec (forceStop=1).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Stop the VM at once (status/stop: like pulling the plug), without asking the guest.</summary>
        [Parameter]
        public SwitchParameter Kill { get; set; }

        protected override string Activity => "Stopping VMs";
        protected override int ProgressId => 4503;

        protected override Task<List<VmTarget>> SelectAsync(List<VmTarget> targets)
        {
            var todo = new List<VmTarget>();
            foreach (var t in targets)
            {
                if (t.State == "stopped")
                {
                    Verbose($"{SwarmVmOps.Describe(t.Vm)} is already stopped; nothing was sent.");
                    WriteObject(SwarmVmOps.Refresh(t.Vm, t.Status, Array.Empty<string>()));
                    continue;
                }
                string action = Kill ? "Stop at once (power off)" : Force ? $"Shut down, and stop hard after {TimeoutSec} s" : $"Shut down (within {TimeoutSec} s)";
                if (!ShouldProcess(SwarmVmOps.Describe(t.Vm), action)) continue;
                todo.Add(t);
            }
            return Task.FromResult(todo);
        }

        protected override async Task<SwarmVm> ActAsync(VmTarget t, Action<string> state, CancellationToken ct)
        {
            var vm = t.Vm;
            var client = vm.Connection.Client;
            // the guest's time, then PVE's SIGTERM→SIGKILL (10 s) and the VM lock wait (10 s), and slack for the API
            var deadline = DateTime.UtcNow.AddSeconds((Kill ? 0 : TimeoutSec) + (Force || Kill ? 10 : 0) + 60);
            if (Kill)
            {
                state("stopping");
                Log.Verbose($"{SwarmVmOps.Describe(vm)}: stopping at once (POST status/stop).");
                await SwarmVmOps.RunTaskAsync(vm, () => client.PostAsync(SwarmVmOps.Path(vm, "status/stop"), null, ct), deadline, Log, ct).ConfigureAwait(false);
            }
            else
            {
                state("shutting down");
                var form = new Dictionary<string, object> { ["timeout"] = TimeoutSec };
                if (Force) form["forceStop"] = true;
                Log.Verbose($"{SwarmVmOps.Describe(vm)}: shutting down (POST status/shutdown, timeout {TimeoutSec} s{(Force ? ", then stopped hard" : "")}).");
                try
                {
                    await SwarmVmOps.RunTaskAsync(vm, () => client.PostAsync(SwarmVmOps.Path(vm, "status/shutdown"), form, ct), deadline, Log, ct).ConfigureAwait(false);
                }
                catch (ProxmoxTaskFailedException ex) when (ex.ExitStatus != null && ex.ExitStatus.IndexOf("got timeout", StringComparison.OrdinalIgnoreCase) >= 0 && !ex.IsLockError)
                {
                    throw new SwarmException(SwarmVmErrorId.ShutdownTimeout, ErrorCategory.OperationTimeout,
                        $"{SwarmVmOps.Describe(vm)} did not shut down within {TimeoutSec} s: the guest ignored the shutdown request (ACPI, or the guest agent). It is still running. ({ex.ExitStatus})", vm, ex)
                    { RecommendedAction = "Check the guest (acpid or qemu-guest-agent must run in it), or run Stop-SwarmVm -Force to stop it hard after the timeout, or -Kill to stop it at once." };
                }
                catch (ProxmoxApiException ex) when (ex.ProxmoxMessage != null && ex.ProxmoxMessage.IndexOf("paused", StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    throw new SwarmException(SwarmVmErrorId.Paused, ErrorCategory.InvalidOperation,
                        $"{SwarmVmOps.Describe(vm)} is paused, and a paused guest cannot shut down ({ex.ProxmoxMessage.Trim()}).", vm, ex)
                    { RecommendedAction = $"Resume it first (qm resume {vm.VmId}), or use -Kill or -Force." };
                }
            }
            state("waiting until it is stopped");
            JsonElement status = await SwarmVmOps.WaitForStateAsync(vm, "stopped", deadline, TimeoutSec, ct).ConfigureAwait(false);
            Log.Verbose($"{SwarmVmOps.Describe(vm)} is stopped.");
            return SwarmVmOps.Refresh(vm, status, Array.Empty<string>());
        }
    }

    /// <summary>
    /// Remove-SwarmVm: deletes Proxmox VMs with their disks (stops them first), after making sure none is still a node of the
    /// swarm (Remove-SwarmNode first) and none is a template, unless -Force.
    /// </summary>
    [Cmdlet(VerbsCommon.Remove, "SwarmVm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
    [OutputType(typeof(void))]
    public sealed class RemoveSwarmVmCommand : SwarmVmActionCmdlet
    {
        /// <summary>The swarm whose nodes the VMs are checked against; default: the session's (Connect-SwarmCluster).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("Context")]
        [ValidateNotNull]
        public SwarmContext SwarmContext { get; set; }

        /// <summary>Remove VMs that are still swarm nodes, and templates.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Seconds each step (stop, destroy) may take.</summary>
        [Parameter]
        [ValidateRange(5, 7200)]
        public int TimeoutSec { get; set; } = 300;

        protected override string Activity => "Removing VMs";
        protected override int ProgressId => 4504;
        protected override SwarmContext TargetSwarm => SwarmContext;

        protected override async Task<List<VmTarget>> SelectAsync(List<VmTarget> targets)
        {
            // swarm membership: the node list of each swarm, once
            var notChecked = new List<VmTarget>();
            var nodesBySwarm = new Dictionary<SwarmContext, IList<NodeListResponse>>();
            var failedSwarms = new Dictionary<SwarmContext, string>();
            foreach (var t in targets)
            {
                if (t.Vm.IsTemplate) continue;
                var ctx = t.Swarm ?? global::SwarmAdmin.Connection.SwarmContext.Default;
                t.Swarm = ctx;
                if (ctx == null) { notChecked.Add(t); continue; }
                if (nodesBySwarm.ContainsKey(ctx) || failedSwarms.ContainsKey(ctx)) continue;
                try
                {
                    nodesBySwarm[ctx] = await ctx.InvokeAsync("GET /nodes", (c, ct) => c.Swarm.ListNodesAsync(ct), this, StopToken);
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    failedSwarms[ctx] = SwarmErrors.Unwrap(ex).Message;
                }
            }
            if (notChecked.Count > 0 && !Force)
                WriteWarning($"No swarm is connected (Connect-SwarmCluster or -SwarmContext), so it could not be checked whether {string.Join(", ", notChecked.Select(t => t.Vm.Name ?? t.Vm.VmId.ToString(CultureInfo.InvariantCulture)))} {(notChecked.Count == 1 ? "is a swarm node" : "are swarm nodes")}. A swarm node must be taken out with Remove-SwarmNode before its VM is deleted.");
            // a connected swarm that cannot say who its nodes are: refuse (unless -Force) rather than delete a manager blindly
            var unknown = new HashSet<VmTarget>(targets.Where(t => !t.Vm.IsTemplate && t.Swarm != null && failedSwarms.ContainsKey(t.Swarm)));
            if (!Force)
                foreach (var t in unknown)
                    WriteError(SwarmErrors.Record(SwarmVmErrorId.IsSwarmMember, ErrorCategory.ResourceBusy,
                        $"{SwarmVmOps.Describe(t.Vm)} was not removed: the swarm at {t.Swarm} could not list its nodes ({failedSwarms[t.Swarm]}), so it could not be checked whether the VM is one of them. Check the swarm (Test-SwarmQuorum), or use -Force.", t.Vm));
            if (!Force) targets = targets.Where(t => !unknown.Contains(t)).ToList();

            var todo = new List<VmTarget>();
            foreach (var t in targets)
            {
                string what = SwarmVmOps.Describe(t.Vm);
                if (t.Vm.IsTemplate)
                {
                    if (!Force)
                    {
                        WriteError(SwarmErrors.Record(SwarmVmErrorId.IsTemplate, ErrorCategory.InvalidOperation,
                            $"{what} is a template; it was not removed. Linked clones may still use its disks. Name it with -Force to remove it anyway.", t.Vm));
                        continue;
                    }
                    WriteWarning($"{what} is a template; removing it because of -Force. Disks that linked clones still use are kept by Proxmox.");
                }
                else if (t.Swarm != null && nodesBySwarm.TryGetValue(t.Swarm, out var nodes))
                {
                    var member = nodes.FirstOrDefault(n => SameHost(n.Description?.Hostname, t.Vm.Name));
                    if (member != null)
                    {
                        string node = $"{member.Description?.Hostname} (ID {member.ID}, {member.Spec?.Role}, {member.Status?.State})";
                        if (!Force)
                        {
                            WriteError(SwarmErrors.ToRecord(new SwarmException(SwarmVmErrorId.IsSwarmMember, ErrorCategory.ResourceBusy,
                                $"{what} is still the swarm node {node}; it was not removed. Deleting it would leave the swarm with a dead node{(member.ManagerStatus != null ? " and one manager less for its quorum" : "")}.", t.Vm)
                            {
                                RecommendedAction = $"Run Remove-SwarmNode -Name {member.Description?.Hostname} first (it drains the node and takes it out of the swarm), or use -Force to delete the VM anyway.",
                            }, t.Vm));
                            continue;
                        }
                        WriteWarning($"{what} is still the swarm node {node}; removing the VM anyway because of -Force. Run Remove-SwarmNode -Stale afterwards to clean up the node list.");
                    }
                }
                if (!ShouldProcess(what, t.State == "stopped" ? "Delete the VM and its disks" : "Stop, then delete the VM and its disks")) continue;
                todo.Add(t);
            }
            return todo;
        }

        /// <summary>The VM name equals the swarm hostname, or its first label (swarm-w1 ~ swarm-w1.lab.example), ignoring case.</summary>
        private static bool SameHost(string hostname, string vmName)
        {
            if (string.IsNullOrEmpty(hostname) || string.IsNullOrEmpty(vmName)) return false;
            if (string.Equals(hostname, vmName, StringComparison.OrdinalIgnoreCase)) return true;
            return hostname.StartsWith(vmName + ".", StringComparison.OrdinalIgnoreCase) || vmName.StartsWith(hostname + ".", StringComparison.OrdinalIgnoreCase);
        }

        protected override async Task<SwarmVm> ActAsync(VmTarget t, Action<string> state, CancellationToken ct)
        {
            var vm = t.Vm;
            var client = vm.Connection.Client;
            state("checking");
            var config = new ProxmoxVmConfig(await client.GetAsync(SwarmVmOps.Path(vm, "config"), null, ct).ConfigureAwait(false));
            if (config["protection"] == "1")
                throw new SwarmException(SwarmVmErrorId.Protected, ErrorCategory.PermissionDenied,
                    $"{SwarmVmOps.Describe(vm)} has protection enabled, so Proxmox refuses to delete it; it was left as it is.", vm)
                { RecommendedAction = $"Turn protection off first (qm set {vm.VmId} --protection 0), then run Remove-SwarmVm again." };

            JsonElement status = await SwarmVmOps.StatusAsync(vm, ct).ConfigureAwait(false);
            if (SwarmVmOps.State(status) != "stopped")
            {
                state("stopping");
                var stopDeadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
                Log.Verbose($"{SwarmVmOps.Describe(vm)} runs; stopping it first (POST status/stop).");
                await SwarmVmOps.RunTaskAsync(vm, () => client.PostAsync(SwarmVmOps.Path(vm, "status/stop"), null, ct), stopDeadline, Log, ct).ConfigureAwait(false);
                await SwarmVmOps.WaitForStateAsync(vm, "stopped", stopDeadline, TimeoutSec, ct).ConfigureAwait(false);
            }

            state("deleting");
            var query = new Dictionary<string, object> { ["purge"] = true, ["destroy-unreferenced-disks"] = true };
            Log.Verbose($"{SwarmVmOps.Describe(vm)}: deleting the VM and its disks (DELETE ?purge=1&destroy-unreferenced-disks=1).");
            await SwarmVmOps.RunTaskAsync(vm, () => client.DeleteAsync(SwarmVmOps.Path(vm), query, ct), DateTime.UtcNow.AddSeconds(TimeoutSec), Log, ct).ConfigureAwait(false);
            Log.Verbose($"{SwarmVmOps.Describe(vm)} is removed.");
            return null;
        }
    }
}
