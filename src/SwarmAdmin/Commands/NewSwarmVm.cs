using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Proxmox;

namespace SwarmAdmin.Commands
{
    /// <summary>What New-SwarmVm waits for after starting a VM.</summary>
    public enum SwarmVmWait { None, Agent, Ssh }

    /// <summary>
    /// New-SwarmVm: clones cloud-init VMs from a template on Proxmox VE (the reference cluster's nodes), sets CPU, memory,
    /// disks, NIC/VLAN, cloud-init user, SSH keys and static IP, starts them and waits until the guest agent reports the
    /// address and SSH answers. Several VMs (piped nodes of a cluster file) are built in parallel.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "SwarmVm", SupportsShouldProcess = true, DefaultParameterSetName = "Manual")]
    [OutputType(typeof(SwarmVm))]
    public sealed class NewSwarmVmCommand : SwarmProxmoxCmdlet
    {
        private static readonly SemaphoreSlim VmIdLock = new SemaphoreSlim(1, 1);
        /// <summary>VMIDs whose clone task runs (their config does not exist yet, so nextid still offers them).</summary>
        private static readonly HashSet<int> InFlight = new HashSet<int>();

        /// <summary>Nodes of a cluster file (Import-SwarmClusterConfig), with their host, sizes, network and address.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "ClusterNode")]
        [ValidateNotNull]
        public SwarmClusterNode InputObject { get; set; }

        /// <summary>A whole cluster file (Import-SwarmClusterConfig): every node it declares.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "ClusterConfig")]
        [ValidateNotNull]
        public SwarmClusterConfig Config { get; set; }

        /// <summary>The VM name (also its hostname).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>The Proxmox node the VM is to run on (default: the template's node).</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string ProxmoxHost { get; set; }

        /// <summary>The template to clone: its name or VMID. A template on the target node is preferred.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Manual")]
        [Parameter(ParameterSetName = "ClusterNode")]
        [Parameter(ParameterSetName = "ClusterConfig")]
        [ValidateNotNullOrEmpty]
        public string Template { get; set; }

        /// <summary>CPU cores.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(1, 512)]
        public int Cores { get; set; }

        /// <summary>Memory in MiB.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(64, 16777216)]
        public long MemoryMB { get; set; }

        /// <summary>Size of the boot disk in GiB (the template's disk is grown to it; never shrunk).</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(1, 65536)]
        public double BootDiskGB { get; set; }

        /// <summary>Storage for a full clone's disks (linked clones stay on the template's storage).</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string BootStorage { get; set; }

        /// <summary>Size in GiB of an extra data disk (scsi1).</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(1, 65536)]
        public double DataDiskGB { get; set; }

        /// <summary>Storage of the data disk.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string DataStorage { get; set; }

        /// <summary>The bridge net0 attaches to (default vmbr0).</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string Bridge { get; set; }

        /// <summary>802.1Q VLAN tag of net0.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(1, 4094)]
        public int VlanTag { get; set; }

        /// <summary>MTU of net0.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(576, 65520)]
        public int Mtu { get; set; }

        /// <summary>Static address in CIDR form, e.g. 192.168.4.10/24.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string IPAddress { get; set; }

        /// <summary>Default gateway.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string Gateway { get; set; }

        /// <summary>DNS servers.</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateNotNullOrEmpty]
        public string[] DnsServer { get; set; }

        /// <summary>DNS search domain.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string SearchDomain { get; set; }

        /// <summary>The cloud-init user (default: the cluster file's ssh user, else root).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string CiUser { get; set; }

        /// <summary>SSH public keys (the key text) for the cloud-init user. Default: the .pub beside the cluster file's key.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] SshPublicKey { get; set; }

        /// <summary>Proxmox tags.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Tag { get; set; }

        /// <summary>A full clone (independent copy) instead of a linked clone.</summary>
        [Parameter]
        public SwitchParameter FullClone { get; set; }

        /// <summary>The VMID to use (default: the next free one, allocated safely for parallel clones).</summary>
        [Parameter(ParameterSetName = "Manual")]
        [ValidateRange(100, 999999999)]
        public int VmId { get; set; }

        /// <summary>Do not start the VM.</summary>
        [Parameter]
        public SwitchParameter NoStart { get; set; }

        /// <summary>After the start, wait for nothing, for the guest agent to report the address, or also for SSH (default).</summary>
        [Parameter]
        public SwarmVmWait WaitFor { get; set; } = SwarmVmWait.Ssh;

        /// <summary>Seconds each VM may take from clone to SSH.</summary>
        [Parameter]
        [ValidateRange(10, 7200)]
        public int TimeoutSec { get; set; } = 600;

        /// <summary>How many VMs are built at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 4;

        private sealed class VmPlan
        {
            public string Name, Host, Template, Bridge, Ip, Gateway, SearchDomain, CiUser, BootStorage, DataStorage, Description, Role;
            public int? Cores, VlanTag, Mtu, VmId;
            public long? MemoryMB;
            public double? BootDiskGB, DataDiskGB;
            public string[] Dns = Array.Empty<string>(), SshKeys = Array.Empty<string>(), Tags = Array.Empty<string>();
            public Dictionary<string, string> Labels = new Dictionary<string, string>(StringComparer.Ordinal);
            public string KeyFile, KnownHostsPath, SshUser;
            public object Target;
        }

        private readonly List<VmPlan> _plans = new List<VmPlan>();

        protected override Task ProcessRecordAsync()
        {
            var nodes = ParameterSetName == "ClusterConfig" ? Config.Nodes : ParameterSetName == "ClusterNode" ? new[] { InputObject } : null;
            if (nodes == null)
            {
                try { _plans.Add(FromParameters()); }
                catch (SwarmException ex) { WriteError(SwarmErrors.ToRecord(ex, ex.Target ?? Name)); }
                return Task.CompletedTask;
            }
            foreach (var n in nodes)
            {
                try { _plans.Add(FromClusterNode(n)); }
                catch (SwarmException ex) { WriteError(SwarmErrors.ToRecord(ex, ex.Target ?? n)); }
            }
            return Task.CompletedTask;
        }

        private VmPlan FromParameters()
        {
            bool Has(string p) => MyInvocation.BoundParameters.ContainsKey(p);
            var plan = new VmPlan
            {
                Name = Name, Host = ProxmoxHost, Template = Template, Bridge = Bridge ?? "vmbr0",
                Ip = IPAddress, Gateway = Gateway, SearchDomain = SearchDomain, CiUser = CiUser, BootStorage = BootStorage,
                DataStorage = DataStorage, Cores = Has(nameof(Cores)) ? Cores : (int?)null, VlanTag = Has(nameof(VlanTag)) ? VlanTag : (int?)null,
                Mtu = Has(nameof(Mtu)) ? Mtu : (int?)null, VmId = Has(nameof(VmId)) ? VmId : (int?)null, MemoryMB = Has(nameof(MemoryMB)) ? MemoryMB : (long?)null,
                BootDiskGB = Has(nameof(BootDiskGB)) ? BootDiskGB : (double?)null, DataDiskGB = Has(nameof(DataDiskGB)) ? DataDiskGB : (double?)null,
                Dns = DnsServer ?? Array.Empty<string>(), SshKeys = SshPublicKey ?? Array.Empty<string>(), Tags = Tag ?? Array.Empty<string>(),
                Target = Name,
            };
            if (plan.Ip != null && plan.Ip.IndexOf('/') < 0)
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"-IPAddress {plan.Ip} needs a prefix length, e.g. {plan.Ip}/24.", Name);
            if (plan.DataDiskGB.HasValue && plan.DataStorage == null)
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, "-DataDiskGB needs -DataStorage (the storage the data disk is allocated on).", Name);
            CheckAddress(plan);
            return plan;
        }

        private VmPlan FromClusterNode(SwarmClusterNode n)
        {
            var config = n.Config;
            var net = config?.Networks?.FirstOrDefault(x => string.Equals(x.Name, n.Network, StringComparison.OrdinalIgnoreCase));
            var tpl = config?.Templates?.FirstOrDefault(t => string.Equals(t.Name, n.Template, StringComparison.OrdinalIgnoreCase));
            var plan = new VmPlan
            {
                Name = n.Name, Host = n.ProxmoxHost, Template = Template ?? (tpl != null ? tpl.VmId.ToString(CultureInfo.InvariantCulture) : n.Template),
                Bridge = net?.Bridge ?? "vmbr0", VlanTag = n.VlanTag ?? net?.VlanTag, Mtu = net?.Mtu,
                Ip = n.Address == null ? null : n.Address + "/" + (net != null && net.PrefixLength > 0 ? net.PrefixLength : 24),
                Gateway = net?.Gateway, Dns = net?.Dns ?? Array.Empty<string>(), SearchDomain = SearchDomain,
                CiUser = CiUser ?? n.SshUser ?? config?.Ssh?.User ?? "root",
                Cores = n.Cores > 0 ? n.Cores : (int?)null, MemoryMB = n.MemoryMB > 0 ? n.MemoryMB : (long?)null,
                BootDiskGB = n.BootDiskGB > 0 ? n.BootDiskGB : (double?)null, BootStorage = n.BootStorage,
                DataDiskGB = n.DataDiskGB > 0 ? n.DataDiskGB : (double?)null, DataStorage = n.DataStorage,
                VmId = n.VmId, Description = n.Description, Role = n.Role.ToString(),
                Tags = (Tag ?? new[] { "swarm", n.Role.ToString().ToLowerInvariant() }),
                Labels = new Dictionary<string, string>(n.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
                KeyFile = n.KeyFile ?? config?.Ssh?.KeyFile, KnownHostsPath = n.KnownHostsPath ?? config?.Ssh?.KnownHostsPath, SshUser = n.SshUser ?? config?.Ssh?.User,
                Target = n,
            };
            if (plan.Template == null)
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    $"node {n.Name}: no template is named in the cluster file; pass -Template <name or VMID>.", n);
            if (plan.DataDiskGB.HasValue && string.IsNullOrEmpty(plan.DataStorage))
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"node {n.Name}: its data disk names no storage; add storage: to dataDisk in the cluster file.", n);
            CheckAddress(plan);
            if (SshPublicKey != null) plan.SshKeys = SshPublicKey;
            else if (plan.KeyFile != null && File.Exists(plan.KeyFile + ".pub")) plan.SshKeys = new[] { File.ReadAllText(plan.KeyFile + ".pub").Trim() };
            return plan;
        }

        /// <summary>The ipconfig0 the VM would get, checked before anything is cloned.</summary>
        private static void CheckAddress(VmPlan plan)
        {
            if (plan.Ip == null) return;
            try { ProxmoxIpConfig.Static(plan.Ip, plan.Gateway).Validate(); }
            catch (FormatException ex)
            {
                throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"VM {plan.Name}: address {plan.Ip}{(plan.Gateway != null ? " gateway " + plan.Gateway : "")}: {ex.Message}", plan.Target);
            }
        }

        protected override async Task EndProcessingAsync()
        {
            if (_plans.Count == 0) return;
            var c = ResolveConnection();

            // failure domains: two managers on one Proxmox host
            foreach (var g in _plans.Where(p => string.Equals(p.Role, "Manager", StringComparison.OrdinalIgnoreCase) && p.Host != null)
                                   .GroupBy(p => p.Host, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
                WriteWarning($"Managers {string.Join(", ", g.Select(p => p.Name))} would share Proxmox host {g.Key}: losing that host loses {g.Count()} managers at once. Put each manager on its own host.");

            var vms = await ListVmsAsync(c, StopToken);
            var todo = new List<VmPlan>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var p in _plans)
            {
                if (!seen.Add(p.Name))
                {
                    WriteError(SwarmErrors.Record("SwarmVmExists", ErrorCategory.InvalidArgument, $"VM {p.Name} is asked for twice in this command; it is built once.", p.Target));
                    continue;
                }
                if (vms.Any(v => string.Equals(v.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
                {
                    WriteError(SwarmErrors.Record("SwarmVmExists", ErrorCategory.ResourceExists,
                        $"A VM named {p.Name} already exists (Get-SwarmVm {p.Name}); nothing was cloned. Remove it first, or use Sync-SwarmCluster to converge an existing cluster.", p.Target));
                    continue;
                }
                if (!ShouldProcess($"VM {p.Name} on {p.Host ?? "the template's node"}", $"Clone template {p.Template}{(FullClone ? " (full)" : "")}, configure and {(NoStart ? "leave stopped" : "start")}")) continue;
                todo.Add(p);
            }
            if (todo.Count == 0) return;

            var progress = new ProgressRecord(4501, "Creating VMs", $"0 of {todo.Count} done");
            WriteProgress(progress);
            var gate = new SemaphoreSlim(ThrottleLimit);
            var states = todo.ToDictionary(p => p, p => "waiting");
            var results = new Dictionary<VmPlan, (SwarmVm Vm, Exception Error)>();
            var work = todo.Select(async p =>
            {
                await gate.WaitAsync(StopToken).ConfigureAwait(false);
                try
                {
                    var vm = await BuildAsync(c, p, vms, s => { lock (states) states[p] = s; }).ConfigureAwait(false);
                    lock (results) results[p] = (vm, null);
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    lock (results) results[p] = (null, ex);
                }
                finally { gate.Release(); }
            }).ToList();
            var all = Task.WhenAll(work);
            while (!all.IsCompleted)
            {
                await Task.WhenAny(all, Task.Delay(500));
                int done = work.Count(w => w.IsCompleted);
                lock (states)
                    progress.StatusDescription = $"{done} of {todo.Count} done; " + string.Join(", ", states.Where(kv => kv.Value != "done").Take(4).Select(kv => $"{kv.Key.Name}: {kv.Value}"));
                progress.PercentComplete = 100 * done / todo.Count;
                WriteProgress(progress);
            }
            await all;
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            foreach (var p in todo)
            {
                var (vm, error) = results[p];
                if (error != null)
                {
                    var r0 = SwarmErrors.ToRecord(error, p.Target);
                    // the target is always what was piped in (the cluster node or the name), so callers can match errors to inputs
                    var record = new ErrorRecord(r0.Exception, r0.FullyQualifiedErrorId, r0.CategoryInfo.Category, p.Target)
                    {
                        ErrorDetails = r0.ErrorDetails ?? new ErrorDetails($"VM {p.Name}: {SwarmErrors.Unwrap(error).Message}"),
                    };
                    WriteError(record);
                }
                else WriteObject(vm);
            }
        }

        private IOperationLog Log => this;

        private async Task<SwarmVm> BuildAsync(SwarmProxmoxConnection c, VmPlan p, List<SwarmVm> known, Action<string> state)
        {
            var deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
            var client = c.Client;
            CancellationToken ct = StopToken;

            // 1. the template: by VMID or name, preferring one on the target node
            var templates = known.Where(v => v.IsTemplate && (string.Equals(v.Name, p.Template, StringComparison.OrdinalIgnoreCase) || v.VmId.ToString(CultureInfo.InvariantCulture) == p.Template)).ToList();
            if (templates.Count == 0)
                throw new SwarmException(SwarmErrorId.VmNotFound, ErrorCategory.ObjectNotFound,
                    $"VM {p.Name}: no template '{p.Template}' exists in the Proxmox cluster. Get-SwarmVm -IncludeTemplate lists them.", p.Template);
            var tpl = templates.FirstOrDefault(t => p.Host == null || string.Equals(t.Node, p.Host, StringComparison.OrdinalIgnoreCase)) ?? templates[0];
            string host = p.Host ?? tpl.Node;
            bool moveToHost = !string.Equals(tpl.Node, host, StringComparison.OrdinalIgnoreCase);

            // 2. VMID + clone; a VMID another parallel clone took is retried with the next free one
            state("cloning");
            int vmid = 0;
            for (int attempt = 1; ; attempt++)
            {
                await VmIdLock.WaitAsync(ct).ConfigureAwait(false);
                string upid;
                try
                {
                    vmid = p.VmId ?? await NextFreeIdAsync(client, ct).ConfigureAwait(false);
                    lock (InFlight) InFlight.Add(vmid);
                    var form = new Dictionary<string, object> { ["newid"] = vmid, ["name"] = p.Name };
                    if (FullClone) { form["full"] = true; if (p.BootStorage != null) form["storage"] = p.BootStorage; }
                    if (moveToHost) form["target"] = host;
                    if (p.Description != null) form["description"] = p.Description;
                    Log.Verbose($"VM {p.Name}: cloning template {tpl.Name} ({tpl.VmId}, {tpl.Node}) to VMID {vmid}{(moveToHost ? " on " + host : "")}{(FullClone ? ", full clone" : ", linked clone")}.");
                    upid = JsonRead.AsString(await client.PostAsync($"nodes/{tpl.Node}/qemu/{tpl.VmId}/clone", form, ct).ConfigureAwait(false));
                }
                catch (ProxmoxApiException ex) when (p.VmId == null && attempt < 5 && IsIdTaken(ex.ProxmoxMessage))
                {
                    lock (InFlight) InFlight.Remove(vmid);
                    Log.Verbose($"VM {p.Name}: VMID {vmid} was taken meanwhile ({ex.ProxmoxMessage.Trim()}); trying the next free one.");
                    continue;
                }
                catch { lock (InFlight) InFlight.Remove(vmid); throw; }
                finally { VmIdLock.Release(); }
                try
                {
                    try { await ProxmoxTasks.WaitAsync(client, upid, null, Remaining(deadline), ct).ConfigureAwait(false); }
                    catch (Exception) when (Release(vmid)) { throw; }
                    Release(vmid);
                    break;
                }
                catch (ProxmoxTaskFailedException ex) when (p.VmId == null && attempt < 5 && IsIdTaken(ex.ExitStatus))
                {
                    Log.Verbose($"VM {p.Name}: the clone to VMID {vmid} lost a race ({ex.ExitStatus}); trying the next free one.");
                }
                catch (ProxmoxTaskFailedException ex) when (attempt < 5 && ex.IsLockError)
                {
                    // a lock held by another task (a backup, a migration, another clone of the template): wait and retry
                    var wait = TimeSpan.FromSeconds(Math.Min(15, Math.Pow(2, attempt - 1)));
                    Log.Verbose($"VM {p.Name}: the clone could not take its lock ({ex.ExitStatus.Trim()}); trying again in {wait.TotalSeconds} s.");
                    await Task.Delay(wait, ct).ConfigureAwait(false);
                }
            }

            // 3. configuration (cores, memory, NIC, cloud-init, agent, tags, data disk); retried while the VM is locked
            state("configuring");
            var config = new ProxmoxVmConfig(await client.GetAsync($"nodes/{host}/qemu/{vmid}/config", null, ct).ConfigureAwait(false));
            if (!config.HasCloudInitDrive)
                throw new SwarmException("SwarmVmNoCloudInit", ErrorCategory.InvalidData,
                    $"VM {p.Name} ({vmid}): template {tpl.Name} has no cloud-init drive, so the address and SSH keys cannot be set. Add one to the template (qm set {tpl.VmId} --ide2 <storage>:cloudinit).", vmid);
            var net = config.Net(0) ?? new ProxmoxNetConfig();
            net.Bridge = p.Bridge ?? net.Bridge ?? "vmbr0";
            if (p.VlanTag.HasValue) net.Tag = p.VlanTag;
            if (p.Mtu.HasValue) net.Mtu = p.Mtu;
            var set = new Dictionary<string, object> { ["net0"] = net.ToString(), ["agent"] = "1", ["onboot"] = true };
            if (p.Cores.HasValue) set["cores"] = p.Cores.Value;
            if (p.MemoryMB.HasValue) set["memory"] = p.MemoryMB.Value;
            if (p.Ip != null) set["ipconfig0"] = ProxmoxIpConfig.Static(p.Ip, p.Gateway).ToString();
            if (p.CiUser != null) set["ciuser"] = p.CiUser;
            if (p.SshKeys.Length > 0) set["sshkeys"] = ProxmoxSshKeys.Encode(p.SshKeys);
            if (p.Dns.Length > 0) set["nameserver"] = string.Join(" ", p.Dns);
            if (p.SearchDomain != null) set["searchdomain"] = p.SearchDomain;
            if (p.Tags.Length > 0) set["tags"] = string.Join(";", p.Tags.Select(t => t.ToLowerInvariant()));
            if (p.DataDiskGB.HasValue) set["scsi1"] = $"{p.DataStorage}:{Math.Ceiling(p.DataDiskGB.Value).ToString(CultureInfo.InvariantCulture)}";
            Log.Verbose($"VM {p.Name} ({vmid}) on {host}: setting {string.Join(", ", set.Keys.OrderBy(k => k, StringComparer.Ordinal))}.");
            await ProxmoxRetry.RetryOnLockAsync(async () =>
            {
                var r = await client.PostAsync($"nodes/{host}/qemu/{vmid}/config", set, ct).ConfigureAwait(false);
                await ProxmoxTasks.WaitAsync(client, r, null, Remaining(deadline), ct).ConfigureAwait(false);
            }, null, ct).ConfigureAwait(false);

            // 4. boot disk size (grow only)
            if (p.BootDiskGB.HasValue)
            {
                var disk = config.Drives.FirstOrDefault(d => d.Key == "scsi0" || d.Key == "virtio0" || d.Key == "sata0");
                long want = (long)Math.Ceiling(p.BootDiskGB.Value * 1073741824.0);
                if (disk.Value != null && (disk.Value.SizeBytes ?? 0) < want)
                {
                    state("resizing");
                    Log.Verbose($"VM {p.Name} ({vmid}): growing {disk.Key} to {p.BootDiskGB.Value} GiB.");
                    await ProxmoxRetry.RetryOnLockAsync(async () =>
                    {
                        var r = await client.PutAsync($"nodes/{host}/qemu/{vmid}/resize",
                            new Dictionary<string, object> { ["disk"] = disk.Key, ["size"] = Math.Ceiling(p.BootDiskGB.Value).ToString(CultureInfo.InvariantCulture) + "G" }, ct).ConfigureAwait(false);
                        await ProxmoxTasks.WaitAsync(client, r, null, Remaining(deadline), ct).ConfigureAwait(false);
                    }, null, ct).ConfigureAwait(false);
                }
            }

            var vm = new SwarmVm
            {
                VmId = vmid, Name = p.Name, Node = host, Status = "stopped", Cores = p.Cores ?? config.Cores,
                MemoryMB = p.MemoryMB ?? config.MemoryMiB, Tags = p.Tags, Role = p.Role, Connection = c,
                Labels = new Dictionary<string, string>(p.Labels, StringComparer.Ordinal) { ["proxmox.host"] = host },
                SshUser = p.SshUser ?? p.CiUser, KeyFile = p.KeyFile, KnownHostsPath = p.KnownHostsPath,
            };
            if (NoStart) { state("done"); return vm; }

            // 5. start, then the guest agent's address, then SSH
            state("starting");
            Log.Verbose($"VM {p.Name} ({vmid}): starting on {host}.");
            await ProxmoxRetry.RetryOnLockAsync(async () =>
            {
                var r = await client.PostAsync($"nodes/{host}/qemu/{vmid}/status/start", null, ct).ConfigureAwait(false);
                await ProxmoxTasks.WaitAsync(client, r, null, Remaining(deadline), ct).ConfigureAwait(false);
            }, null, ct).ConfigureAwait(false);
            vm.Status = "running";
            if (WaitFor == SwarmVmWait.None) { state("done"); return vm; }

            state("waiting for the guest agent");
            string expected = p.Ip?.Split('/')[0];
            vm.IPv4 = await SwarmVmOps.WaitForAgentAddressAsync(client, host, vmid, net.MacAddress, expected, deadline, p.Name, TimeoutSec, ct).ConfigureAwait(false);
            if (WaitFor == SwarmVmWait.Ssh)
            {
                state("waiting for SSH");
                await WaitForSshAsync(expected ?? vm.Address, deadline, p.Name, ct).ConfigureAwait(false);
            }
            state("done");
            return vm;
        }

        /// <summary>Forgets an in-flight VMID (always returns false, for use in exception filters).</summary>
        private static bool Release(int vmid)
        {
            lock (InFlight) InFlight.Remove(vmid);
            return false;
        }

        /// <summary>The lowest free VMID that no clone of this process is still creating (nextid reserves nothing).</summary>
        private static async Task<int> NextFreeIdAsync(ProxmoxClient client, CancellationToken ct)
        {
            int id = int.Parse(JsonRead.AsString(await client.GetAsync("cluster/nextid", null, ct).ConfigureAwait(false)), CultureInfo.InvariantCulture);
            for (int i = 0; i < 100; i++)
            {
                bool busy;
                lock (InFlight) busy = InFlight.Contains(id);
                if (!busy) return id;
                id++;
                try { id = int.Parse(JsonRead.AsString(await client.GetAsync("cluster/nextid", new Dictionary<string, object> { ["vmid"] = id }, ct).ConfigureAwait(false)), CultureInfo.InvariantCulture); }
                catch (ProxmoxApiException) { /* taken: try the next one */ }
            }
            return id;
        }

        private static bool IsIdTaken(string message) =>
            message != null && (message.IndexOf("already exists", StringComparison.OrdinalIgnoreCase) >= 0 || message.IndexOf("File exists", StringComparison.OrdinalIgnoreCase) >= 0);

        private static TimeSpan Remaining(DateTime deadline)
        {
            var left = deadline - DateTime.UtcNow;
            return left < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : left;
        }

        private async Task WaitForSshAsync(string address, DateTime deadline, string name, CancellationToken ct)
        {
            string last = "no answer";
            while (DateTime.UtcNow < deadline)
            {
                using (var tcp = new TcpClient())
                {
                    try
                    {
                        var connect = tcp.ConnectAsync(address, 22);
                        if (await Task.WhenAny(connect, Task.Delay(2000, ct)).ConfigureAwait(false) == connect && tcp.Connected) return;
                        last = "timed out";
                    }
                    catch (SocketException ex) { last = ex.Message; }
                }
                await Task.Delay(1000, ct).ConfigureAwait(false);
            }
            throw new SwarmException(SwarmErrorId.Timeout, ErrorCategory.OperationTimeout,
                $"VM {name} has address {address}, but SSH (port 22) did not answer within {TimeoutSec} s ({last}). Check that sshd runs and that this machine can reach {address}.", name);
        }
    }
}
