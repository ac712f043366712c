using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>Remove-SwarmStack: removes a stack's services, then (once their tasks are gone) its secrets, configs and networks.</summary>
    [Cmdlet(VerbsCommon.Remove, "SwarmStack", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(void))]
    public sealed class RemoveSwarmStackCommand : SwarmContextCmdlet
    {
        /// <summary>Names of the stacks to remove.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Stack")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Wait until the services' tasks have stopped before removing networks, secrets and configs (no "in use" races), and until everything is gone.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>Seconds -Wait may take.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 120;

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            foreach (string stack in Name)
            {
                try { await RemoveOneAsync(ctx, stack); }
                catch (Exception ex) when (!(ex is PipelineStoppedException) && !(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    WriteErrorFor(ex, stack);
                }
            }
        }

        private static bool InStack(IDictionary<string, string> labels, string stack) =>
            labels != null && labels.TryGetValue(SwarmService.StackLabel, out string v) && v == stack;

        private async Task RemoveOneAsync(SwarmContext ctx, string stack)
        {
            var services = (await CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t))).Where(s => InStack(s.Spec?.Labels, stack)).ToList();
            var networks = (await CallAsync(ctx, "GET /networks", (c, t) => c.Networks.ListNetworksAsync(new NetworksListParameters(), t))).Where(n => InStack(n.Labels, stack)).ToList();
            var secrets = (await CallAsync(ctx, "GET /secrets", (c, t) => c.Secrets.ListAsync(t))).Where(s => InStack(s.Spec?.Labels, stack)).ToList();
            var configs = (await CallAsync(ctx, "GET /configs", (c, t) => c.Configs.ListConfigsAsync(t))).Where(s => InStack(s.Spec?.Labels, stack)).ToList();
            if (services.Count + networks.Count + secrets.Count + configs.Count == 0)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.StackNotFound, ErrorCategory.ObjectNotFound, $"Nothing in the swarm belongs to stack '{stack}'. Run Get-SwarmStack to list the stacks.", stack));
                return;
            }
            if (!ShouldProcess($"stack {stack}", $"Remove {services.Count} service(s), {networks.Count} network(s), {secrets.Count} secret(s) and {configs.Count} config(s)")) return;

            foreach (var s in services.OrderBy(s => s.Spec?.Name, StringComparer.Ordinal))
            {
                Verbose($"Removing service {s.Spec?.Name}.");
                await Ignore404(() => CallAsync<bool>(ctx, $"DELETE /services/{s.ID}", async (c, t) => { await c.Swarm.RemoveServiceAsync(s.ID, t); return true; }, retryOnOtherManager: false));
            }

            if (Wait && services.Count > 0)
            {
                var ids = new HashSet<string>(services.Select(s => s.ID), StringComparer.Ordinal);
                var progress = new ProgressRecord(4301, $"Removing stack {stack}", "Waiting for its tasks to stop");
                var watch = Stopwatch.StartNew();
                while (true)
                {
                    var tasks = await CallAsync(ctx, "GET /tasks", (c, t) => c.Tasks.ListAsync(t));
                    int left = tasks.Count(t => ids.Contains(t.ServiceID ?? ""));
                    if (left == 0) break;
                    if (watch.Elapsed.TotalSeconds > TimeoutSec)
                    {
                        throw new SwarmException(SwarmErrorId.Timeout, ErrorCategory.OperationTimeout,
                            $"{left} task(s) of stack {stack} had not stopped after {TimeoutSec} s; its networks, secrets and configs were left in place.", stack)
                        { RecommendedAction = "Run Remove-SwarmStack again later, or look at Get-SwarmTask -Stack " + stack + "." };
                    }
                    progress.StatusDescription = $"{left} task(s) still stopping";
                    WriteProgress(progress);
                    await Task.Delay(500, StopToken);
                }
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }

            foreach (var s in secrets)
            {
                Verbose($"Removing secret {s.Spec?.Name}.");
                await Ignore404(() => CallAsync<bool>(ctx, $"DELETE /secrets/{s.ID}", async (c, t) => { await c.Secrets.DeleteAsync(s.ID, t); return true; }, retryOnOtherManager: false));
            }
            foreach (var s in configs)
            {
                Verbose($"Removing config {s.Spec?.Name}.");
                await Ignore404(() => CallAsync<bool>(ctx, $"DELETE /configs/{s.ID}", async (c, t) => { await c.Configs.RemoveConfigAsync(s.ID, t); return true; }, retryOnOtherManager: false));
            }
            foreach (var n in networks)
            {
                Verbose($"Removing network {n.Name}.");
                try
                {
                    await Ignore404(() => CallAsync<bool>(ctx, $"DELETE /networks/{n.ID}", async (c, t) => { await c.Networks.DeleteNetworkAsync(n.ID, t); return true; }, retryOnOtherManager: false));
                }
                catch (DockerApiException ex) when (!Wait)
                {
                    // what docker stack rm does too: a network still used by stopping tasks cannot go yet
                    WriteWarning($"Network {n.Name} was not removed yet ({SwarmErrors.ApiMessage(ex)}). Use -Wait to remove networks after the tasks have stopped.");
                }
            }
        }

        private static async Task Ignore404(Func<Task> call)
        {
            try { await call(); }
            catch (DockerApiException ex) when ((int)ex.StatusCode == 404) { /* already gone */ }
        }
    }
}
