using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Text.Json;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Proxmox;

namespace SwarmAdmin
{
    /// <summary>What Sync-SwarmCluster does (or would do) to one node of the cluster file.</summary>
    public enum SwarmSyncActionKind { CreateVm, UpdateVm, StartVm, InitializeSwarm, Join, SetRole, SetLabels }

    public enum SwarmSyncStatus { Planned, Done, Failed, Skipped }

    /// <summary>One step of a Sync-SwarmCluster plan.</summary>
    public sealed class SwarmSyncAction
    {
        public string Node { get; set; }
        public SwarmSyncActionKind Action { get; set; }
        /// <summary>What differs: "missing VM on pve02", "cores 2 -> 4", "worker -> manager", "proxmox.host=(none) -> pve01".</summary>
        public string Detail { get; set; }
        public SwarmSyncStatus Status { get; set; }
        public string Error { get; set; }
        public override string ToString() => $"{Node}: {Action} ({Detail})";
    }
}

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Sync-SwarmCluster: compares a cluster file with reality (Proxmox VMs and their CPU/memory, power state, swarm
    /// membership, roles, labels), writes the plan, and converges: creates missing VMs (New-SwarmVm), updates VM
    /// settings, starts stopped VMs, initialises the swarm if there is none, and joins/promotes/demotes/labels the nodes
    /// (Join-SwarmNode). A second run plans nothing.
    /// </summary>
    [Cmdlet(VerbsData.Sync, "SwarmCluster", SupportsShouldProcess = true, DefaultParameterSetName = "Config")]
    [OutputType(typeof(SwarmSyncAction))]
    public sealed class SyncSwarmClusterCommand : SwarmProxmoxCmdlet
    {
        /// <summary>The cluster file, from Import-SwarmClusterConfig.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Config")]
        [ValidateNotNull]
        public SwarmClusterConfig Config { get; set; }

        /// <summary>The path of the cluster file (read with Import-SwarmClusterConfig).</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Path")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>The template to clone missing VMs from (when the cluster file names none).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Template { get; set; }

        /// <summary>The swarm to converge (default: the session's, from Connect-SwarmCluster or Initialize-Swarm). Without one, a new swarm is initialised on the first manager.</summary>
        [Parameter]
        [ValidateNotNull]
        public SwarmContext SwarmContext { get; set; }

        /// <summary>How many VMs are built and nodes joined at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 4;

        /// <summary>Seconds each VM may take from clone to SSH.</summary>
        [Parameter]
        [ValidateRange(10, 7200)]
        public int TimeoutSec { get; set; } = 600;

        protected override async Task ProcessRecordAsync()
        {
            SwarmClusterConfig config = Config;
            if (ParameterSetName == "Path")
            {
                var loaded = InvokeCommand.InvokeScript(false, ScriptBlock.Create("param($p) Import-SwarmClusterConfig -Path $p -ErrorAction Stop"), null, Path);
                config = loaded.Select(o => o?.BaseObject).OfType<SwarmClusterConfig>().FirstOrDefault();
                if (config == null) return;
            }
            var c = ResolveConnection();
            SwarmContext swarm = SwarmContext ?? SwarmContext.Default;

            // reality
            var vms = (await ListVmsAsync(c, StopToken)).Where(v => !v.IsTemplate).ToList();
            if (swarm == null)
            {
                // no swarm in this session: the file's running manager VMs may already be one (never start a second swarm)
                var endpoints = config.Nodes.Where(n => n.Role == SwarmNodeRole.Manager && n.Address != null &&
                        vms.Any(v => string.Equals(v.Name, n.Name, StringComparison.OrdinalIgnoreCase) && v.Status == "running"))
                    .Select(n => n.Endpoint).ToArray();
                if (endpoints.Length > 0)
                {
                    var ssh = config.Ssh ?? new SwarmClusterSsh();
                    var found = Nested("param($e, $k, $kh) $a = @{ Endpoint = $e; NoDefault = $true; TimeoutSec = 5 }; if ($k) { $a.KeyFile = $k }; if ($kh) { $a.KnownHostsPath = $kh }; Connect-SwarmCluster @a",
                        endpoints, ssh.KeyFile, ssh.KnownHostsPath);
                    swarm = found.Output.Select(o => o?.BaseObject).OfType<SwarmContext>().FirstOrDefault();
                    if (swarm != null) Verbose($"Found the swarm of the cluster file through {swarm.ActiveEndpoint} ({swarm.ClusterId}).");
                }
            }
            var swarmNodes = new List<NodeListResponse>();
            if (swarm != null && swarmNodes.Count == 0)
            {
                try { swarmNodes = (await swarm.InvokeAsync("GET /nodes", (cl, t) => cl.Swarm.ListNodesAsync(t), this, StopToken)).ToList(); }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    throw new TerminatingErrorException(SwarmErrors.ToRecord(ex, swarm));
                }
            }

            // the plan
            var plan = new List<(SwarmClusterNode Node, SwarmSyncAction Step)>();
            void Add(SwarmClusterNode n, SwarmSyncActionKind kind, string detail) => plan.Add((n, new SwarmSyncAction { Node = n.Name, Action = kind, Detail = detail, Status = SwarmSyncStatus.Planned }));
            var managers = config.Nodes.Where(n => n.Role == SwarmNodeRole.Manager).ToList();
            bool noSwarm = swarm == null;
            var first = managers.FirstOrDefault();
            foreach (var n in config.Nodes)
            {
                var vm = vms.FirstOrDefault(v => string.Equals(v.Name, n.Name, StringComparison.OrdinalIgnoreCase));
                string host = vm?.Node ?? n.ProxmoxHost;
                if (vm == null) Add(n, SwarmSyncActionKind.CreateVm, $"no VM {n.Name}: clone on {n.ProxmoxHost}");
                else
                {
                    Dictionary<string, (string Live, string Wanted)> drift;
                    try { drift = await VmDriftAsync(c, vm, n); }
                    catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                    {
                        WriteWarning($"The settings of VM {vm.Name} ({vm.VmId}) on {vm.Node} could not be read ({SwarmErrors.Unwrap(ex).Message}); they are not compared this time.");
                        drift = new Dictionary<string, (string, string)>();
                    }
                    if (drift.Count > 0) Add(n, SwarmSyncActionKind.UpdateVm, string.Join(", ", drift.Select(d => $"{d.Key} {d.Value.Live} -> {d.Value.Wanted}")));
                    if (!string.Equals(vm.Status, "running", StringComparison.OrdinalIgnoreCase)) Add(n, SwarmSyncActionKind.StartVm, $"VM {vm.VmId} is {vm.Status}");
                    if (n.ProxmoxHost != null && !string.Equals(vm.Node, n.ProxmoxHost, StringComparison.OrdinalIgnoreCase))
                        WriteWarning($"VM {n.Name} runs on {vm.Node}, not on {n.ProxmoxHost} as the cluster file says; its proxmox.host label follows where it runs. Migrate it (qm migrate) to restore the failure domains.");
                }
                var wanted = new Dictionary<string, string>(n.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal) { ["proxmox.host"] = host };
                if (noSwarm)
                {
                    Add(n, ReferenceEquals(n, first) ? SwarmSyncActionKind.InitializeSwarm : SwarmSyncActionKind.Join,
                        ReferenceEquals(n, first) ? "no swarm is connected: initialise one here" : $"join as {n.Role.ToString().ToLowerInvariant()}");
                    continue;
                }
                if (vm == null)
                {
                    // a VM still to be created is a new machine: it joins, whatever the swarm still remembers of the old one
                    Add(n, SwarmSyncActionKind.Join, $"new VM: join as {n.Role.ToString().ToLowerInvariant()}");
                    continue;
                }
                var member = swarmNodes.FirstOrDefault(s => string.Equals(s.Description?.Hostname, n.Name, StringComparison.OrdinalIgnoreCase)
                                                           && !string.Equals(s.Status?.State, "down", StringComparison.OrdinalIgnoreCase));
                if (member == null) { Add(n, SwarmSyncActionKind.Join, $"not in the swarm: join as {n.Role.ToString().ToLowerInvariant()}"); continue; }
                string role = member.Spec?.Role ?? "worker";
                if (!string.Equals(role, n.Role.ToString(), StringComparison.OrdinalIgnoreCase))
                    Add(n, SwarmSyncActionKind.SetRole, $"{role} -> {n.Role.ToString().ToLowerInvariant()}");
                var labels = member.Spec?.Labels ?? new Dictionary<string, string>();
                var diff = wanted.Where(kv => !labels.TryGetValue(kv.Key, out string v) || v != kv.Value)
                                 .Select(kv => $"{kv.Key}={(labels.TryGetValue(kv.Key, out string old) ? old : "(none)")} -> {kv.Value}").ToList();
                if (diff.Count > 0) Add(n, SwarmSyncActionKind.SetLabels, string.Join(", ", diff));
            }

            if (plan.Count == 0)
            {
                Verbose($"The cluster matches {config.Path ?? config.Name}: nothing to do.");
                return;
            }
            var approved = plan.Where(p => ShouldProcess(p.Node.Name, $"{p.Step.Action}: {p.Step.Detail}")).ToList();
            foreach (var p in plan.Except(approved)) p.Step.Status = SwarmSyncStatus.Skipped;
            if (approved.Count == 0 || IsWhatIf())
            {
                foreach (var p in plan) p.Step.Status = SwarmSyncStatus.Planned;
                WriteObject(plan.Select(p => p.Step), true);
                return;
            }

            // 1. VMs: create, update, start
            var create = approved.Where(p => p.Step.Action == SwarmSyncActionKind.CreateVm).ToList();
            if (create.Count > 0)
            {
                // -Template only when given: otherwise each node's own template from the file (New-SwarmVm resolves its alias)
                var made = Nested("param($n, $t, $c, $tl, $to) $a = @{ Connection = $c; ThrottleLimit = $tl; TimeoutSec = $to; Confirm = $false }; if ($t) { $a.Template = $t }; $n | New-SwarmVm @a",
                    create.Select(p => p.Node).ToArray(), Template, c, ThrottleLimit, TimeoutSec);
                var vmsMade = made.Output.Select(o => o?.BaseObject).OfType<SwarmVm>().ToList();
                foreach (var p in create)
                    MarkByOutput(p.Step, vmsMade.Any(v => string.Equals(v.Name, p.Node.Name, StringComparison.OrdinalIgnoreCase)), made, p.Node.Name);
            }
            foreach (var p in approved.Where(x => x.Step.Action == SwarmSyncActionKind.UpdateVm))
            {
                var vm = vms.First(v => string.Equals(v.Name, p.Node.Name, StringComparison.OrdinalIgnoreCase));
                try
                {
                    var set = new Dictionary<string, object>();
                    if (p.Node.Cores > 0) set["cores"] = p.Node.Cores;
                    if (p.Node.MemoryMB > 0) set["memory"] = p.Node.MemoryMB;
                    Verbose($"VM {vm.Name} ({vm.VmId}) on {vm.Node}: {p.Step.Detail} (a running VM applies it at its next restart).");
                    var r = await c.Client.PostAsync($"nodes/{vm.Node}/qemu/{vm.VmId}/config", set, StopToken);
                    await ProxmoxTasks.WaitAsync(c.Client, r, null, TimeSpan.FromSeconds(TimeoutSec), StopToken);
                    p.Step.Status = SwarmSyncStatus.Done;
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    Fail(p.Step, ex, p.Node);
                }
            }
            foreach (var p in approved.Where(x => x.Step.Action == SwarmSyncActionKind.StartVm))
            {
                var vm = vms.First(v => string.Equals(v.Name, p.Node.Name, StringComparison.OrdinalIgnoreCase));
                try
                {
                    Verbose($"Starting VM {vm.Name} ({vm.VmId}) on {vm.Node}.");
                    var r = await c.Client.PostAsync($"nodes/{vm.Node}/qemu/{vm.VmId}/status/start", null, StopToken);
                    await ProxmoxTasks.WaitAsync(c.Client, r, null, TimeSpan.FromSeconds(TimeoutSec), StopToken);
                    p.Step.Status = SwarmSyncStatus.Done;
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    Fail(p.Step, ex, p.Node);
                }
            }

            // 2. the swarm: initialise if needed, then join / set roles / set labels through Join-SwarmNode (idempotent)
            vms = (await ListVmsAsync(c, StopToken)).Where(v => !v.IsTemplate).ToList();
            SwarmNodeTarget Target(SwarmClusterNode n)
            {
                var vm = vms.FirstOrDefault(v => string.Equals(v.Name, n.Name, StringComparison.OrdinalIgnoreCase));
                var t = new SwarmVm
                {
                    VmId = vm?.VmId ?? 0, Name = n.Name, Node = vm?.Node ?? n.ProxmoxHost, IPv4 = n.Address == null ? Array.Empty<string>() : new[] { n.Address },
                    Role = n.Role.ToString(), SshUser = n.SshUser ?? config.Ssh?.User, KeyFile = n.KeyFile ?? config.Ssh?.KeyFile, KnownHostsPath = n.KnownHostsPath ?? config.Ssh?.KnownHostsPath,
                    Labels = new Dictionary<string, string>(n.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal) { ["proxmox.host"] = vm?.Node ?? n.ProxmoxHost },
                };
                return new SwarmNodeTarget(t);
            }
            var init = approved.FirstOrDefault(p => p.Step.Action == SwarmSyncActionKind.InitializeSwarm);
            if (init.Node != null)
            {
                NestedResult r;
                try { r = Nested("param($t) Initialize-Swarm -Node $t -Confirm:$false", Target(init.Node)); }
                catch (ArgumentException ex) { r = new NestedResult(); r.Errors.Add(new ErrorRecord(ex, "InvalidArgument", ErrorCategory.InvalidArgument, init.Node)); }
                MarkByOutput(init.Step, r.Output.Select(o => o?.BaseObject).OfType<SwarmContext>().Any(), r, init.Node.Name);
                if (init.Step.Status == SwarmSyncStatus.Failed)
                {
                    foreach (var p in approved.Where(x => x.Step.Status == SwarmSyncStatus.Planned)) { p.Step.Status = SwarmSyncStatus.Skipped; p.Step.Error = "the swarm could not be initialised"; }
                    Finish(plan);
                    return;
                }
            }
            var joins = approved.Where(p => p.Step.Status == SwarmSyncStatus.Planned &&
                (p.Step.Action == SwarmSyncActionKind.Join || p.Step.Action == SwarmSyncActionKind.SetRole || p.Step.Action == SwarmSyncActionKind.SetLabels)).ToList();
            var joinNodes = joins.Select(p => p.Node).Distinct().ToList();
            if (joinNodes.Count > 0)
            {
                var targets = new List<SwarmNodeTarget>();
                foreach (var n in joinNodes)
                {
                    try { targets.Add(Target(n)); }
                    catch (ArgumentException ex) { foreach (var p in joins.Where(x => ReferenceEquals(x.Node, n))) Fail(p.Step, ex, n); }
                }
                var ctx = init.Node != null ? null : swarm;   // after Initialize-Swarm, its context is the session default
                var r = Nested("param($t, $tl, $ctx) if ($ctx) { $t | Join-SwarmNode -Context $ctx -ThrottleLimit $tl -Confirm:$false } else { $t | Join-SwarmNode -ThrottleLimit $tl -Confirm:$false }",
                    targets.ToArray(), ThrottleLimit, ctx);
                var joined = r.Output.Select(o => o?.BaseObject).OfType<SwarmNode>().ToList();
                foreach (var p in joins.Where(x => x.Step.Status == SwarmSyncStatus.Planned))
                    MarkByOutput(p.Step, joined.Any(j => string.Equals(j.Hostname, p.Node.Name, StringComparison.OrdinalIgnoreCase)), r, p.Node.Name);
            }
            Finish(plan);
        }

        private void Finish(List<(SwarmClusterNode Node, SwarmSyncAction Step)> plan)
        {
            WriteObject(plan.Select(p => p.Step), true);
            foreach (var p in plan.Where(x => x.Step.Status == SwarmSyncStatus.Failed))
                WriteError(SwarmErrors.Record("SwarmSyncStepFailed", ErrorCategory.NotSpecified, $"{p.Node.Name}: {p.Step.Action} failed: {p.Step.Error}", p.Node));
        }

        private bool IsWhatIf()
        {
            if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out object wi)) return wi is SwitchParameter sw ? sw.IsPresent : LanguagePrimitives.IsTrue(wi);
            return LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));
        }

        /// <summary>Done only when the cmdlet returned the object for this node; else Failed with its error, or any error of the batch.</summary>
        private static void MarkByOutput(SwarmSyncAction step, bool produced, NestedResult result, string node)
        {
            if (produced) { step.Status = SwarmSyncStatus.Done; return; }
            var error = result.Errors.FirstOrDefault(e => string.Equals(e.TargetObject?.ToString(), node, StringComparison.OrdinalIgnoreCase)
                                                        || (e.TargetObject?.ToString() ?? string.Empty).IndexOf(node, StringComparison.OrdinalIgnoreCase) >= 0)
                        ?? result.Errors.FirstOrDefault();
            step.Status = SwarmSyncStatus.Failed;
            step.Error = error == null ? "the step produced no result" : error.ErrorDetails?.Message ?? error.Exception?.Message;
        }

        private static void Mark(SwarmSyncAction step, ErrorRecord error)
        {
            if (error == null) step.Status = SwarmSyncStatus.Done;
            else { step.Status = SwarmSyncStatus.Failed; step.Error = error.ErrorDetails?.Message ?? error.Exception?.Message; }
        }

        private void Fail(SwarmSyncAction step, Exception ex, object target)
        {
            step.Status = SwarmSyncStatus.Failed;
            step.Error = SwarmErrors.Unwrap(ex).Message;
        }

        /// <summary>Cores and memory of a VM (pending values, as PVE's config call gives them) against the cluster file.</summary>
        private async Task<Dictionary<string, (string Live, string Wanted)>> VmDriftAsync(SwarmProxmoxConnection c, SwarmVm vm, SwarmClusterNode n)
        {
            var drift = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
            var config = new ProxmoxVmConfig(await c.Client.GetAsync($"nodes/{vm.Node}/qemu/{vm.VmId}/config", null, StopToken));
            if (n.Cores > 0 && config.Cores != n.Cores) drift["cores"] = ((config.Cores?.ToString(CultureInfo.InvariantCulture)) ?? "(unset)", n.Cores.ToString(CultureInfo.InvariantCulture));
            if (n.MemoryMB > 0 && config.MemoryMiB != n.MemoryMB) drift["memory"] = ((config.MemoryMiB?.ToString(CultureInfo.InvariantCulture)) ?? "(unset)", n.MemoryMB.ToString(CultureInfo.InvariantCulture));
            return drift;
        }
    }
}
