using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Stacks;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Deploy-SwarmStack: docker stack deploy through the Engine API (same names, labels, specs, create-versus-update
    /// rules), plus: no update for an unchanged service, a -WhatIf diff, content-versioned secrets and configs, a
    /// placement pre-check against the live nodes, secret-looking environment warnings, a parallel -Wait with a timeout,
    /// and -RollbackOnFailure.
    /// </summary>
    [Cmdlet("Deploy", "SwarmStack", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(SwarmStackDeployment))]
    public sealed class DeploySwarmStackCommand : SwarmContextCmdlet
    {
        internal const string LabelKey = "com.swarmadmin.stack.key";
        private const int Parallelism = 8;

        /// <summary>The stack name (services become NAME_service).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Stack")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string Name { get; set; }

        /// <summary>Compose files, merged in order; relative paths in them resolve against the folder of the first.</summary>
        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [Alias("ComposeFile", "File")]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; }

        /// <summary>A .env file for variable interpolation (default: .env beside the first compose file, when it exists).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string EnvFile { get; set; }

        /// <summary>Remove services of the stack that are no longer in the files (after the others are deployed).</summary>
        [Parameter]
        public SwitchParameter Prune { get; set; }

        /// <summary>When to ask the registry for the image digest: Always (docker's default), Changed (only for new or changed images), Never.</summary>
        [Parameter]
        [ValidateSet("Always", "Changed", "Never", IgnoreCase = true)]
        public string ResolveImage { get; set; } = "Always";

        /// <summary>Send the registry credentials of this machine (docker config.json / credential helpers) with each service so the nodes can pull private images.</summary>
        [Parameter]
        public SwitchParameter WithRegistryAuth { get; set; }

        /// <summary>Wait until every service runs its new tasks (all services in parallel), or fails, or -TimeoutSec passes.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>Seconds -Wait may take.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSec { get; set; } = 300;

        /// <summary>With -Wait: when the stack does not converge, put the previous spec back on the services this deploy updated and remove the ones it created.</summary>
        [Parameter]
        public SwitchParameter RollbackOnFailure { get; set; }

        /// <summary>How many content versions of each stack secret/config to keep (the one in use counts).</summary>
        [Parameter]
        [ValidateRange(1, 100)]
        public int KeepVersions { get; set; } = 2;

        /// <summary>Deploy even when a placement constraint matches no ready node.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override object CurrentTarget => Name;

        protected override async Task ProcessRecordAsync()
        {
            if (RollbackOnFailure && !Wait)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    "-RollbackOnFailure needs -Wait: only a deploy that waits can tell that the stack did not converge.", Name));
                return;
            }
            string nameProblem = ComposeConverter.ValidateStackName(Name);
            if (nameProblem != null)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    nameProblem + ". Use letters, digits, '-' and '_' (e.g. 'web' or 'monitoring').", Name));
                return;
            }
            ComposeProject project = Load();
            if (project == null) return;
            SwarmContext ctx = ResolveContext();
            try
            {
                var result = await DeployAsync(ctx, project);
                if (result != null) WriteObject(result);
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException) && !(ex is ActionPreferenceStopException) && !(ex is TerminatingErrorException) && !(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
            {
                WriteErrorFor(ex, Name);
            }
        }

        // ------------------------------------------------------------------ loading

        private ComposeProject Load()
        {
            var paths = new List<string>();
            foreach (string p in Path) paths.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
            string env = EnvFile == null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(EnvFile);
            var warnings = new List<ComposeWarning>();
            try
            {
                ComposeProject project = ComposeLoader.Load(paths, env, n =>
                {
                    string v = Environment.GetEnvironmentVariable(n);
                    return (v != null, v);
                }, warnings);
                foreach (var w in warnings) WriteWarning(w.ToString());
                foreach (var svc in project.Services.Values)
                {
                    string problem = ComposeConverter.ValidateServiceName(Name, svc.Name);
                    if (problem != null) throw new ComposeFileException(svc.Source.File, svc.Source.Line, svc.Source.Column, "services." + svc.Name, problem);
                    foreach (var kv in svc.Environment)
                        if (!string.IsNullOrEmpty(kv.Value) && SpecDiff.IsSecretLikeKey(kv.Key))
                            WriteWarning($"service {svc.Name}: environment variable {kv.Key} has a literal value, which anyone who can inspect the service can read. Put it in a secret (secrets: + {kv.Key}_FILE=/run/secrets/...) instead.");
                    if (svc.DependsOn.Count > 0)
                        WriteWarning($"service {svc.Name}: depends_on is ignored by swarm (no start order); use healthchecks and retries in the service instead.");
                }
                return project;
            }
            catch (ComposeFileException ex)
            {
                foreach (var w in warnings) WriteWarning(w.ToString());
                foreach (ComposeFileException e in ex.Errors)
                {
                    var record = new ErrorRecord(e, "ComposeFileInvalid", ErrorCategory.ParserError, e.File);
                    if (e.Suggestion != null) record.ErrorDetails = new ErrorDetails(e.Message) { RecommendedAction = e.Suggestion };
                    WriteError(record);
                }
                return null;
            }
            catch (ArgumentException ex)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, ex.Message, Name, ex));
                return null;
            }
        }

        // ------------------------------------------------------------------ the plan

        private sealed class ObjectPlan
        {
            public string Key, Name, ExistingId;
            public bool Versioned, Create, UpdateLabels;
            public SwarmSecretSpec Secret;
            public SwarmConfigSpec Config;
            public ulong ExistingVersion;
        }

        private sealed class ServicePlan
        {
            public string Key;
            public ServiceSpec Spec;
            public Docker.DotNet.Models.SwarmService Live;
            public List<SpecChange> Changes = new List<SpecChange>();
            public SwarmDeployAction Action;
            public string Id;
            public bool Approved;
            public SwarmServiceDeployment Result;
            public RegistryCredential Credential;
            /// <summary>The engine accepted the create/update of this deploy.</summary>
            public bool Sent;
        }

        private static bool InStack(IDictionary<string, string> labels, string stack) =>
            labels != null && labels.TryGetValue(ComposeConverter.LabelNamespace, out string v) && v == stack;

        private async Task<SwarmStackDeployment> DeployAsync(SwarmContext ctx, ComposeProject project)
        {
            var watch = Stopwatch.StartNew();
            string ns = Name;
            var progress = new ProgressRecord(4401, $"Deploying stack {ns}", "Reading the swarm");
            WriteProgress(progress);

            // 1. what exists (in parallel: nodes, stack services, networks, secrets, configs)
            var nodesT = CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
            var servicesT = CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters { Filters = LabelFilter(ns) }, t));
            var networksT = CallAsync(ctx, "GET /networks", (c, t) => c.Networks.ListNetworksAsync(new NetworksListParameters(), t));
            var secretsT = CallAsync(ctx, "GET /secrets", (c, t) => c.Secrets.ListAsync(t));
            var configsT = CallAsync(ctx, "GET /configs", (c, t) => c.Configs.ListConfigsAsync(t));
            string clusterId = ctx.ClusterId;
            if (string.IsNullOrEmpty(clusterId))
                clusterId = (await CallAsync(ctx, "GET /info", (c, t) => c.System.GetSystemInfoAsync(t))).Swarm?.Cluster?.ID ?? string.Empty;
            await Task.WhenAll(nodesT, servicesT, networksT, secretsT, configsT);
            var nodes = nodesT.Result;
            var liveServices = servicesT.Result.Where(s => InStack(s.Spec?.Labels, ns)).ToDictionary(s => s.Spec.Name, StringComparer.Ordinal);
            var allNetworks = networksT.Result;
            var allSecrets = secretsT.Result;
            var allConfigs = configsT.Result;

            // 2. external networks must exist and be swarm-scoped (nothing created yet)
            var desiredNetworks = ComposeConverter.ConvertNetworks(project, ns, out List<string> externals);
            foreach (string ext in externals)
            {
                if (!ComposeConverter.IsUserDefinedNetwork(ext)) continue;
                var found = allNetworks.FirstOrDefault(n => n.Name == ext) ?? allNetworks.FirstOrDefault(n => n.ID == ext);
                if (found == null)
                    throw new SwarmException("ExternalNetworkNotFound", ErrorCategory.ObjectNotFound,
                        $"network \"{ext}\" is declared as external, but could not be found. Create a swarm-scoped network first (docker network create --driver overlay --attachable {ext}).", ext);
                if (!string.Equals(found.Scope, "swarm", StringComparison.Ordinal))
                    throw new SwarmException("ExternalNetworkNotFound", ErrorCategory.InvalidArgument,
                        $"network \"{ext}\" is declared as external, but it is not in the right scope: \"{found.Scope}\" instead of \"swarm\". Use an overlay network.", ext);
            }

            // 3. placement pre-check against the ready nodes
            var ready = nodes.Where(n => string.Equals(n.Status?.State, "ready", StringComparison.OrdinalIgnoreCase)
                                      && string.Equals(n.Spec?.Availability, "active", StringComparison.OrdinalIgnoreCase))
                             .Select(ToPlacementNode).ToList();
            foreach (var svc in project.Services.Values)
            {
                var constraints = svc.Deploy?.Placement?.Constraints ?? new List<string>();
                string why = PlacementConstraints.Explain(constraints, ready);
                if (why == null) continue;
                string msg = $"service {svc.Name}: {why.TrimEnd('.', ' ')}.";
                if (Force) { WriteWarning(msg + " Deploying anyway (-Force): its tasks will stay pending."); continue; }
                throw new SwarmException("PlacementUnsatisfiable", ErrorCategory.InvalidArgument, msg + " Nothing was changed.", Name)
                { RecommendedAction = "Label a node (Set-SwarmNodeLabel), fix the constraint, or use -Force to deploy anyway." };
            }

            // 4. secrets and configs: content-versioned names
            string hmacKey = "swarmadmin:" + clusterId;
            var secretPlans = new List<ObjectPlan>();
            foreach (var kv in project.Secrets)
            {
                byte[] data = string.IsNullOrEmpty(kv.Value.Driver) && !kv.Value.External ? ReadObjectFile("secret", kv.Key, kv.Value.File) : null;
                var spec = ComposeConverter.ConvertSecret(project, ns, kv.Key, data);
                if (spec == null) continue;
                var plan = new ObjectPlan { Key = kv.Key, Secret = spec, Versioned = string.IsNullOrEmpty(kv.Value.Name) };
                if (plan.Versioned)
                {
                    byte[] material = spec.Driver != null ? Encoding.UTF8.GetBytes("driver:" + spec.Driver.Name + ":" + string.Join(",", (spec.Driver.Options ?? new Dictionary<string, string>()).OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => o.Key + "=" + o.Value))) : spec.Data;
                    spec.Name = VersionedName(spec.Name, hmacKey, material, "secret");
                    spec.Labels[LabelKey] = kv.Key;
                }
                plan.Name = spec.Name;
                var existing = allSecrets.FirstOrDefault(s => s.Spec?.Name == spec.Name);
                if (existing == null) plan.Create = true;
                else
                {
                    plan.ExistingId = existing.ID; plan.ExistingVersion = existing.Version?.Index ?? 0;
                    // docker stack deploy sends an update (labels; content must be equal) for every existing secret
                    plan.UpdateLabels = !plan.Versioned || !LabelsEqual(existing.Spec?.Labels, spec.Labels);
                }
                secretPlans.Add(plan);
            }
            var configPlans = new List<ObjectPlan>();
            foreach (var kv in project.Configs)
            {
                byte[] data = kv.Value.External ? null : ReadObjectFile("config", kv.Key, kv.Value.File);
                var spec = ComposeConverter.ConvertConfig(project, ns, kv.Key, data);
                if (spec == null) continue;
                var plan = new ObjectPlan { Key = kv.Key, Config = spec, Versioned = string.IsNullOrEmpty(kv.Value.Name) };
                if (plan.Versioned)
                {
                    spec.Name = VersionedName(spec.Name, hmacKey, spec.Data, "config");
                    spec.Labels[LabelKey] = kv.Key;
                }
                plan.Name = spec.Name;
                var existing = allConfigs.FirstOrDefault(s => s.Spec?.Name == spec.Name);
                if (existing == null) plan.Create = true;
                else
                {
                    plan.ExistingId = existing.ID; plan.ExistingVersion = existing.Version?.Index ?? 0;
                    if (!plan.Versioned && existing.Spec?.Data != null && !existing.Spec.Data.SequenceEqual(spec.Data ?? new byte[0]))
                        throw new SwarmException("ConfigContentChanged", ErrorCategory.InvalidData,
                            $"config {spec.Name} exists with other content, and swarm cannot change a config's content. Remove 'name:' from configs.{kv.Key} so SwarmAdmin versions it by content, or give it a new name.", spec.Name);
                    plan.UpdateLabels = !LabelsEqual(existing.Spec?.Labels, spec.Labels);
                }
                configPlans.Add(plan);
            }

            // logical name (what the converter writes) -> deployed name, and deployed name -> ID
            var secretNames = secretPlans.ToDictionary(p => ComposeConverter.ObjectName(ns, project.Secrets[p.Key], p.Key), p => p.Name, StringComparer.Ordinal);
            var configNames = configPlans.ToDictionary(p => ComposeConverter.ObjectName(ns, project.Configs[p.Key], p.Key), p => p.Name, StringComparer.Ordinal);
            var secretIds = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var s in allSecrets) if (s.Spec?.Name != null) secretIds[s.Spec.Name] = s.ID;
            var configIds = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var c in allConfigs) if (c.Spec?.Name != null) configIds[c.Spec.Name] = c.ID;

            // 5. services: convert, resolve images, compare with the live specs
            var plans = new List<ServicePlan>();
            var environment = (Func<string, (bool, string)>)(n => { string v = Environment.GetEnvironmentVariable(n); return (v != null, v); });
            foreach (string key in project.Services.Keys)
            {
                ServiceSpec spec;
                try { spec = ComposeConverter.ConvertService(project, ns, key, null, null, environment); }
                catch (ComposeConvertException ex) { throw new SwarmException("ComposeConvertFailed", ErrorCategory.InvalidData, ex.Message + ". Nothing was changed.", key); }
                liveServices.TryGetValue(spec.Name, out var live);
                plans.Add(new ServicePlan { Key = key, Spec = spec, Live = live });
            }
            progress.StatusDescription = "Resolving images";
            WriteProgress(progress);
            await ResolveImagesAsync(ctx, project, plans);

            var networkNames = allNetworks.GroupBy(n => n.ID).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal);
            bool oomSupported = System.Version.TryParse(ctx.ApiVersion, out System.Version apiVersion) && apiVersion >= new System.Version(1, 46);
            foreach (var p in plans)
            {
                var cs = p.Spec.TaskTemplate.ContainerSpec;
                if (cs.OomScoreAdj != null && !oomSupported)
                {
                    WriteWarning($"service {p.Key}: oom_score_adj needs Engine API 1.46 (Docker 27) or later; this swarm speaks {ctx.ApiVersion} and ignores it.");
                    cs.OomScoreAdj = null;
                }
                BindReferences(p.Spec, secretNames, secretIds, configNames, configIds, placeholders: true);
                // the engine stores network IDs where the spec named networks: compare names with names
                foreach (var n in p.Live?.Spec?.TaskTemplate?.Networks ?? new List<NetworkAttachmentConfig>())
                    if (n.Target != null && networkNames.TryGetValue(n.Target, out string netName)) n.Target = netName;
                if (p.Live == null) { p.Action = SwarmDeployAction.Created; continue; }
                p.Spec.TaskTemplate.ForceUpdate = p.Live.Spec?.TaskTemplate?.ForceUpdate ?? 0;
                p.Id = p.Live.ID;
                p.Changes = SpecDiff.Compare(p.Live.Spec, p.Spec);
                p.Action = p.Changes.Count == 0 ? SwarmDeployAction.Unchanged : SwarmDeployAction.Updated;
            }
            var pruned = Prune ? liveServices.Values.Where(s => !project.Services.ContainsKey(Descope(ns, s.Spec.Name))).OrderBy(s => s.Spec.Name, StringComparer.Ordinal).ToList()
                               : new List<Docker.DotNet.Models.SwarmService>();

            // 6. ask (ShouldProcess) on the pipeline thread, then do
            var networksToCreate = desiredNetworks.Values.Where(n => !allNetworks.Any(x => x.Name == n.Name && InStack(x.Labels, ns))).ToList();
            var approvedNetworks = networksToCreate.Where(n => ShouldProcess($"network {n.Name}", $"Create ({n.Driver})")).ToList();
            var approvedSecrets = secretPlans.Where(p => (p.Create && ShouldProcess($"secret {p.Name}", "Create"))
                                                      || (!p.Create && p.UpdateLabels && ShouldProcess($"secret {p.Name}", "Update labels"))).ToList();
            var approvedConfigs = configPlans.Where(p => (p.Create && ShouldProcess($"config {p.Name}", "Create"))
                                                      || (!p.Create && p.UpdateLabels && ShouldProcess($"config {p.Name}", "Update labels"))).ToList();
            // objects the user said no to (-Confirm): the services that need them cannot be deployed; under -WhatIf
            // every answer is no, and the plan shows them all
            bool whatIfRun = IsWhatIf();
            var declined = whatIfRun ? new HashSet<string>(StringComparer.Ordinal) : new HashSet<string>(secretPlans.Where(p => p.Create && !approvedSecrets.Contains(p)).Select(p => "secret " + p.Name)
                .Concat(configPlans.Where(p => p.Create && !approvedConfigs.Contains(p)).Select(p => "config " + p.Name)), StringComparer.Ordinal);
            foreach (var p in plans)
            {
                var cs = p.Spec.TaskTemplate.ContainerSpec;
                var missing = (cs.Secrets ?? new List<SecretReference>()).Select(r => "secret " + r.SecretName)
                    .Concat((cs.Configs ?? new List<SwarmConfigReference>()).Select(r => "config " + r.ConfigName)).Where(declined.Contains).ToList();
                if (missing.Count > 0 && p.Action != SwarmDeployAction.Unchanged)
                {
                    WriteWarning($"service {p.Spec.Name} is not deployed: it needs {string.Join(", ", missing)}, which was not created.");
                    p.Approved = false;
                    continue;
                }
                switch (p.Action)
                {
                    case SwarmDeployAction.Created:
                        p.Approved = ShouldProcess($"service {p.Spec.Name}", $"Create (image {p.Spec.TaskTemplate.ContainerSpec.Image})");
                        break;
                    case SwarmDeployAction.Updated:
                        p.Approved = ShouldProcess($"service {p.Spec.Name}",
                            $"Update ({p.Changes.Count} change(s)):{System.Environment.NewLine}    " + string.Join(System.Environment.NewLine + "    ", p.Changes.Select(c => c.ToString())));
                        break;
                    default:
                        Verbose($"Service {p.Spec.Name} is unchanged: nothing is sent.");
                        break;
                }
            }
            var approvedPrune = pruned.Where(s => ShouldProcess($"service {s.Spec.Name}", "Remove (not in the compose files; -Prune)")).ToList();
            bool anything = approvedNetworks.Count + approvedSecrets.Count + approvedConfigs.Count + approvedPrune.Count + plans.Count(p => p.Approved) > 0;
            if (whatIfRun)
            {
                progress.RecordType = ProgressRecordType.Completed; WriteProgress(progress);
                return null;
            }

            var result = new SwarmStackDeployment { Stack = ns, Context = ctx, Files = project.Files.ToArray() };
            int step = 0, steps = Math.Max(1, approvedNetworks.Count + approvedSecrets.Count + approvedConfigs.Count + plans.Count(p => p.Approved) + approvedPrune.Count);
            void Step(string what)
            {
                progress.StatusDescription = what;
                progress.PercentComplete = Math.Min(100, 100 * step++ / steps);
                WriteProgress(progress);
            }

            foreach (var n in approvedNetworks)
            {
                Step($"Creating network {n.Name}");
                Verbose($"Creating network {n.Name} (driver {n.Driver}).");
                try { await CallAsync(ctx, "POST /networks/create", (c, t) => c.Networks.CreateNetworkAsync(n, t), retryOnOtherManager: false); }
                catch (DockerApiException ex) { throw new SwarmException(SwarmErrorId.EngineApiError, ErrorCategory.WriteError, $"failed to create network {n.Name}: {SwarmErrors.ApiMessage(ex)}", n.Name, ex); }
            }
            result.NetworksCreated = approvedNetworks.Select(n => n.Name).ToArray();

            foreach (var p in approvedSecrets)
            {
                Step($"{(p.Create ? "Creating" : "Updating")} secret {p.Name}");
                Verbose($"{(p.Create ? "Creating" : "Updating labels of")} secret {p.Name}.");
                try
                {
                    if (p.Create) secretIds[p.Name] = (await CallAsync(ctx, "POST /secrets/create", (c, t) => c.Secrets.CreateAsync(p.Secret, t), retryOnOtherManager: false)).ID;
                    else await RawAsync(ctx, HttpMethod.Post, $"secrets/{p.ExistingId}/update?version={p.ExistingVersion}", SerializeSpec(p.Secret));
                }
                catch (DockerApiException ex)
                {
                    string hint = ex.Message.Contains("only updates to Labels are allowed") ? $" Its content changed: remove 'name:' from secrets.{p.Key} so SwarmAdmin versions it by content, or give it a new name." : string.Empty;
                    throw new SwarmException(SwarmErrorId.EngineApiError, ErrorCategory.WriteError, $"failed to {(p.Create ? "create" : "update")} secret {p.Name}: {SwarmErrors.ApiMessage(ex)}.{hint}", p.Name, ex);
                }
            }
            foreach (var p in approvedConfigs)
            {
                Step($"{(p.Create ? "Creating" : "Updating")} config {p.Name}");
                Verbose($"{(p.Create ? "Creating" : "Updating labels of")} config {p.Name}.");
                try
                {
                    if (p.Create) configIds[p.Name] = (await CallAsync(ctx, "POST /configs/create", (c, t) => c.Configs.CreateConfigAsync(new SwarmCreateConfigParameters { Config = p.Config }, t), retryOnOtherManager: false)).ID;
                    else await RawAsync(ctx, HttpMethod.Post, $"configs/{p.ExistingId}/update?version={p.ExistingVersion}", SerializeSpec(p.Config));
                }
                catch (DockerApiException ex)
                {
                    throw new SwarmException(SwarmErrorId.EngineApiError, ErrorCategory.WriteError, $"failed to {(p.Create ? "create" : "update")} config {p.Name}: {SwarmErrors.ApiMessage(ex)}", p.Name, ex);
                }
            }
            result.SecretsCreated = approvedSecrets.Where(p => p.Create).Select(p => p.Name).ToArray();
            result.ConfigsCreated = approvedConfigs.Where(p => p.Create).Select(p => p.Name).ToArray();

            // services, several at a time (each call has its own timeout; Ctrl+C cancels them all)
            AuthConfig AuthFor(ServicePlan p) => p.Credential == null ? null : new AuthConfig
            {
                Username = p.Credential.Username, Password = p.Credential.Password, ServerAddress = p.Credential.ServerAddress,
                IdentityToken = p.Credential.IdentityToken, RegistryToken = p.Credential.RegistryToken,
            };
            var todo = plans.Where(p => p.Approved).ToList();
            foreach (var p in todo) BindReferences(p.Spec, secretNames, secretIds, configNames, configIds, placeholders: false);
            var gate = new SemaphoreSlim(Parallelism);
            var failures = new List<(ServicePlan Plan, Exception Error)>();
            var work = todo.Select(async p =>
            {
                await gate.WaitAsync(StopToken).ConfigureAwait(false);
                try
                {
                    IList<string> warnings;
                    if (p.Action == SwarmDeployAction.Created)
                    {
                        ((IOperationLog)this).Verbose($"Creating service {p.Spec.Name} (image {p.Spec.TaskTemplate.ContainerSpec.Image}).");
                        var r = await CallAsync(ctx, "POST /services/create", (c, t) => c.Swarm.CreateServiceAsync(new ServiceCreateParameters { Service = p.Spec, RegistryAuth = AuthFor(p) }, t), retryOnOtherManager: false).ConfigureAwait(false);
                        p.Id = r.ID; warnings = r.Warnings;
                    }
                    else
                    {
                        ((IOperationLog)this).Verbose($"Updating service {p.Spec.Name} (id {p.Id}): {SpecDiff.Summarize(p.Changes)}.");
                        long version = (long)(p.Live.Version?.Index ?? 0);
                        ServiceUpdateResponse r;
                        try
                        {
                            r = await CallAsync(ctx, $"POST /services/{p.Id}/update", (c, t) => c.Swarm.UpdateServiceAsync(p.Id, new ServiceUpdateParameters
                            {
                                Service = p.Spec, Version = version, RegistryAuth = AuthFor(p),
                            }, t), retryOnOtherManager: false).ConfigureAwait(false);
                        }
                        catch (Exception ex) when (SwarmErrors.Unwrap(ex) is DockerApiException api && (api.ResponseBody ?? api.Message ?? "").Contains("update out of sequence"))
                        {
                            // The service object moved on since it was read, e.g. the allocator filled in the endpoint of a
                            // service created a moment ago. When its spec is still the one the diff was made against, send
                            // the update again with the current version; a spec someone else changed is not overwritten.
                            var current = await CallAsync(ctx, $"GET /services/{p.Id}", (c, t) => c.Swarm.InspectServiceAsync(p.Id, t)).ConfigureAwait(false);
                            if (!SpecDiff.Flatten(current.Spec).SequenceEqual(SpecDiff.Flatten(p.Live.Spec))) throw;
                            ((IOperationLog)this).Verbose($"Service {p.Spec.Name} moved from version {version} to {current.Version?.Index} with the same spec: sending the update again.");
                            version = (long)(current.Version?.Index ?? 0);
                            r = await CallAsync(ctx, $"POST /services/{p.Id}/update", (c, t) => c.Swarm.UpdateServiceAsync(p.Id, new ServiceUpdateParameters
                            {
                                Service = p.Spec, Version = version, RegistryAuth = AuthFor(p),
                            }, t), retryOnOtherManager: false).ConfigureAwait(false);
                        }
                        warnings = r.Warnings;
                    }
                    p.Sent = true;
                    foreach (string w in warnings ?? new List<string>()) ((IOperationLog)this).Warning($"service {p.Spec.Name}: {w}");
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    lock (failures) failures.Add((p, ex));
                }
                finally { gate.Release(); }
            }).ToList();
            var all = Task.WhenAll(work);
            while (!all.IsCompleted)
            {
                await Task.WhenAny(all, Task.Delay(250));
                int done = work.Count(w => w.IsCompleted);
                progress.StatusDescription = $"Services: {done} of {todo.Count} sent";
                progress.PercentComplete = Math.Min(100, 100 * (step + done) / steps);
                WriteProgress(progress);
            }
            await all;
            step += todo.Count;

            foreach (var s in approvedPrune)
            {
                Step($"Removing service {s.Spec.Name}");
                Verbose($"Removing service {s.Spec.Name} (-Prune: not in the compose files).");
                try { await CallAsync<bool>(ctx, $"DELETE /services/{s.ID}", async (c, t) => { await c.Swarm.RemoveServiceAsync(s.ID, t); return true; }, retryOnOtherManager: false); }
                catch (DockerApiException ex) when ((int)ex.StatusCode == 404) { }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    WriteError(SwarmErrors.ToRecord(new SwarmException("ServiceDeployFailed", ErrorCategory.WriteError,
                        $"failed to remove service {s.Spec.Name} (-Prune): {SwarmErrors.Unwrap(ex).Message}", s.Spec.Name, ex), s.Spec.Name));
                }
            }

            result.Services = plans.Select(p => p.Result = new SwarmServiceDeployment
            {
                Stack = ns, Name = p.Spec.Name, Key = p.Key, Id = p.Id,
                Action = p.Action == SwarmDeployAction.Unchanged || p.Sent ? p.Action : SwarmDeployAction.Unchanged,
                Changes = p.Sent ? p.Changes.Select(c => c.ToString()).ToArray() : Array.Empty<string>(),
                Image = p.Spec.TaskTemplate.ContainerSpec.Image, Context = ctx,
            }).Concat(approvedPrune.Select(s => new SwarmServiceDeployment
            {
                Stack = ns, Name = s.Spec.Name, Key = Descope(ns, s.Spec.Name), Id = s.ID, Action = SwarmDeployAction.Removed,
                Image = s.Spec.TaskTemplate?.ContainerSpec?.Image, Context = ctx,
            })).OrderBy(s => s.Name, StringComparer.Ordinal).ToArray();

            if (failures.Count > 0)
            {
                foreach (var (plan, error) in failures.OrderBy(f => f.Plan.Spec.Name, StringComparer.Ordinal))
                {
                    string msg = error is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(error).Message;
                    var rec = SwarmErrors.ToRecord(new SwarmException("ServiceDeployFailed", ErrorCategory.WriteError,
                        $"failed to {(plan.Live == null ? "create" : "update")} service {plan.Spec.Name}: {msg}", plan.Spec.Name, error), plan.Spec.Name);
                    WriteError(rec);
                }
            }

            // 7. wait, roll back, clean old versions
            if (Wait)
            {
                var waited = result.Services.Where(s => s.Id != null && s.Action != SwarmDeployAction.Removed).ToList();
                var sentIds = new HashSet<string>(plans.Where(p => p.Sent).Select(p => p.Id), StringComparer.Ordinal);
                bool ok = await WaitAsync(ctx, ns, waited, sentIds, nodes, progress);
                result.Converged = ok && failures.Count == 0;
                if (!ok || failures.Count > 0)
                {
                    var bad = waited.Where(s => s.State != SwarmConvergence.Converged).ToList();
                    string detail = string.Join("; ", bad.Select(s => $"{s.Name}: {s.State} {s.Running}/{s.Desired}" + (s.Errors.Length > 0 ? $" ({s.Errors[0]})" : ""))
                        .Concat(failures.Select(f => $"{f.Plan.Spec.Name}: not sent")));
                    if (RollbackOnFailure)
                    {
                        await RollbackAsync(ctx, plans.Where(p => p.Sent).ToList(), result);
                        result.RolledBack = true;
                    }
                    WriteError(SwarmErrors.Record("StackNotConverged", ErrorCategory.OperationTimeout,
                        $"stack {ns} did not converge" + (bad.Any(s => s.State == SwarmConvergence.TimedOut) ? $" within {TimeoutSec} s" : "") + $": {detail}." + (result.RolledBack ? " The previous specs were put back." : " Use -RollbackOnFailure to put the previous specs back automatically."), ns));
                }
            }
            if (!result.RolledBack && anything)
            {
                // kept: what the services now run, and what a rollback would go back to (a sent service's previous spec
                // is the live spec before this deploy; an untouched service keeps its own previous spec)
                var specs = plans.Where(p => p.Sent || p.Live == null).Select(p => p.Spec)
                    .Concat(plans.Where(p => p.Live != null).Select(p => p.Live.Spec))
                    .Concat(plans.Where(p => p.Live != null && !p.Sent).Select(p => p.Live.PreviousSpec))
                    .Concat(liveServices.Values.Where(l => !project.Services.ContainsKey(Descope(ns, l.Spec.Name))).SelectMany(l => new[] { l.Spec, l.PreviousSpec }))
                    .Where(x => x != null).ToList();
                result.SecretsRemoved = await CleanVersionsAsync(ctx, ns, "secret", secretPlans, specs);
                result.ConfigsRemoved = await CleanVersionsAsync(ctx, ns, "config", configPlans, specs);
            }
            progress.RecordType = ProgressRecordType.Completed; WriteProgress(progress);
            result.Duration = watch.Elapsed;
            return result;
        }

        // ------------------------------------------------------------------ helpers

        /// <summary>-WhatIf given, or inherited through $WhatIfPreference (e.g. from a calling script's -WhatIf).</summary>
        private bool IsWhatIf()
        {
            if (MyInvocation.BoundParameters.TryGetValue("WhatIf", out object wi)) return wi is SwitchParameter sw ? sw.IsPresent : LanguagePrimitives.IsTrue(wi);
            return LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));
        }

        private static IDictionary<string, IDictionary<string, bool>> LabelFilter(string ns) =>
            new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [ComposeConverter.LabelNamespace + "=" + ns] = true } };

        private static string Descope(string ns, string name) => name.StartsWith(ns + "_", StringComparison.Ordinal) ? name.Substring(ns.Length + 1) : name;

        private static bool LabelsEqual(IDictionary<string, string> a, IDictionary<string, string> b)
        {
            a = a ?? new Dictionary<string, string>(); b = b ?? new Dictionary<string, string>();
            return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out string v) && v == kv.Value);
        }

        private static PlacementNode ToPlacementNode(NodeListResponse n) => new PlacementNode
        {
            Id = n.ID,
            Hostname = n.Description?.Hostname,
            Role = n.Spec?.Role,
            Os = n.Description?.Platform?.OS,
            Arch = n.Description?.Platform?.Architecture,
            Address = n.Status?.Addr,
            NodeLabels = new Dictionary<string, string>(n.Spec?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
            EngineLabels = new Dictionary<string, string>(n.Description?.Engine?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
        };

        private byte[] ReadObjectFile(string what, string key, string file)
        {
            try { return File.ReadAllBytes(file); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new SwarmException("ComposeFileInvalid", ErrorCategory.ReadError,
                    $"cannot read the file of {what} {key}: {file}: {ex.Message.TrimEnd('.')}. Nothing was changed.", file, ex);
            }
        }

        private static string VersionedName(string baseName, string hmacKey, byte[] content, string what)
            => StackObjectVersions.VersionedName(baseName, hmacKey, content)
               ?? throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                   $"{what} name {baseName} is too long to add a content version ({baseName.Length + 11} > 64 characters). Use a shorter stack name or key, or set name: explicitly.", baseName);

        private static string SerializeSpec<T>(T spec) => JsonSerializer.Serialize(spec, new JsonSerializerOptions { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull });

        private Task<string> RawAsync(SwarmContext ctx, HttpMethod method, string path, string body, IDictionary<string, string> headers = null) =>
            ctx.InvokeOnConnectionAsync($"{method} /{path.Split('?')[0]}", (conn, t) => conn.SendAsync(method, path, body, headers, t), this, StopToken, retryOnOtherManager: false);

        /// <summary>Deployed secret/config names and IDs into the references (the converter wrote logical names).</summary>
        private static void BindReferences(ServiceSpec spec, Dictionary<string, string> secretNames, Dictionary<string, string> secretIds,
            Dictionary<string, string> configNames, Dictionary<string, string> configIds, bool placeholders)
        {
            var cs = spec.TaskTemplate.ContainerSpec;
            if (cs.Secrets != null)
            {
                foreach (var r in cs.Secrets)
                {
                    if (secretNames.TryGetValue(r.SecretName, out string deployed)) r.SecretName = deployed;
                    r.SecretID = secretIds.TryGetValue(r.SecretName, out string id) ? id : placeholders ? "(new)" : throw new SwarmException(SwarmErrorId.EngineNotFound, ErrorCategory.ObjectNotFound, $"secret not found: {r.SecretName}. Create it (external secrets must exist before the deploy).", r.SecretName);
                }
                cs.Secrets = cs.Secrets.OrderBy(r => r.SecretName, StringComparer.Ordinal).ThenBy(r => r.File?.Name, StringComparer.Ordinal).ToList();
            }
            if (cs.Configs != null)
            {
                foreach (var r in cs.Configs)
                {
                    if (configNames.TryGetValue(r.ConfigName, out string deployed)) r.ConfigName = deployed;
                    r.ConfigID = configIds.TryGetValue(r.ConfigName, out string id) ? id : placeholders ? "(new)" : throw new SwarmException(SwarmErrorId.EngineNotFound, ErrorCategory.ObjectNotFound, $"config not found: {r.ConfigName}. Create it (external configs must exist before the deploy).", r.ConfigName);
                }
                cs.Configs = cs.Configs.OrderBy(r => r.ConfigName, StringComparer.Ordinal).ThenBy(r => r.Runtime != null ? 1 : 0).ThenBy(r => r.File?.Name ?? "", StringComparer.Ordinal).ToList();
            }
            var cred = cs.Privileges?.CredentialSpec;
            if (cred?.Config != null)
            {
                string n = configNames.TryGetValue(cred.Config, out string d) ? d : cred.Config;
                if (configIds.TryGetValue(n, out string id)) cred.Config = id;
                else if (configIds.ContainsValue(cred.Config)) { }
                else if (!placeholders) throw new SwarmException(SwarmErrorId.EngineNotFound, ErrorCategory.ObjectNotFound, $"config not found: {n}", n);
            }
        }

        // ------------------------------------------------------------------ images

        private async Task ResolveImagesAsync(SwarmContext ctx, ComposeProject project, List<ServicePlan> plans)
        {
            string mode = ResolveImage.ToLowerInvariant();
            var queries = new Dictionary<string, Task<(string Digest, List<SwarmPlatform> Platforms, string Error)>>(StringComparer.Ordinal);
            string configDir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
            if (string.IsNullOrEmpty(configDir)) configDir = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
            // credentials per registry, resolved off the pipeline thread (a credential helper may take a while; Ctrl+C still works)
            var creds = new Dictionary<string, RegistryCredential>(StringComparer.Ordinal);
            if (WithRegistryAuth)
            {
                foreach (string image in plans.Select(p => project.Services[p.Key].Image).Distinct(StringComparer.Ordinal))
                {
                    string k = ImageReferences.AuthKey(image);
                    if (k == null || creds.ContainsKey(k)) continue;
                    RegistryCredential c;
                    try
                    {
                        var work = Task.Run(() => RegistryCredentials.Resolve(image, configDir, (h, srv) => RegistryCredentials.RunHelper(h, srv, TimeSpan.FromSeconds(30))));
                        await Task.WhenAny(work, Task.Delay(Timeout.Infinite, StopToken));
                        StopToken.ThrowIfCancellationRequested();
                        c = await work;
                    }
                    catch (Exception ex) when (ex is InvalidDataException || ex is ArgumentException)
                    {
                        throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidData, ex.Message, configDir, ex);
                    }
                    creds[k] = c;
                    Verbose(c == null ? $"No registry credentials for {ImageReferences.Domain(image)} in {configDir}: the nodes pull anonymously."
                                      : $"Sending the registry credentials for {ImageReferences.Domain(image)} (from {configDir}) with the services that use it.");
                }
            }
            RegistryCredential CredentialFor(string image)
            {
                string k = WithRegistryAuth ? ImageReferences.AuthKey(image) : null;
                return k != null && creds.TryGetValue(k, out var c) ? c : null;
            }

            foreach (var p in plans)
            {
                string raw = project.Services[p.Key].Image;
                var cs = p.Spec.TaskTemplate.ContainerSpec;
                string normalized = ImageReferences.Normalize(raw);
                cs.Image = normalized;
                p.Credential = CredentialFor(raw);
                string liveLabel = null;
                p.Live?.Spec?.Labels?.TryGetValue(ComposeConverter.LabelImage, out liveLabel);
                string liveImage = p.Live?.Spec?.TaskTemplate?.ContainerSpec?.Image;
                bool sameAsBefore = p.Live != null && liveLabel == raw;
                bool query = mode == "always" || (mode == "changed" && !sameAsBefore);
                if (!query)
                {
                    if (sameAsBefore && !string.IsNullOrEmpty(liveImage))
                    {
                        cs.Image = liveImage;
                        p.Spec.TaskTemplate.Placement.Platforms = p.Live.Spec.TaskTemplate?.Placement?.Platforms;
                    }
                    continue;
                }
                if (!queries.ContainsKey(normalized))
                {
                    queries[normalized] = QueryDistributionAsync(ctx, normalized, p.Credential);
                }
            }
            if (queries.Count == 0) return;
            Verbose($"Asking the registry for the digest of {queries.Count} image(s) (-ResolveImage {ResolveImage}).");
            await Task.WhenAll(queries.Values);
            var warned = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in plans)
            {
                var cs = p.Spec.TaskTemplate.ContainerSpec;
                if (!queries.TryGetValue(cs.Image, out var q)) continue;
                var (digest, platforms, error) = q.Result;
                if (digest != null)
                {
                    cs.Image = ImageReferences.WithoutDigest(cs.Image) + "@" + digest;
                    if (platforms != null && platforms.Count > 0) p.Spec.TaskTemplate.Placement.Platforms = platforms;
                    continue;
                }
                string liveImage = p.Live?.Spec?.TaskTemplate?.ContainerSpec?.Image;
                if (liveImage != null && !ImageReferences.HasDigest(cs.Image) && ImageReferences.HasDigest(liveImage) && ImageReferences.WithoutDigest(liveImage) == cs.Image)
                {
                    // docker would drop the pinned digest here and restart every task of the service (moby#31115)
                    Verbose($"Service {p.Spec.Name}: the registry did not answer for {cs.Image}; keeping the digest the service already runs ({liveImage}).");
                    cs.Image = liveImage;
                    p.Spec.TaskTemplate.Placement.Platforms = p.Live.Spec.TaskTemplate?.Placement?.Platforms;
                    continue;
                }
                if (warned.Add(cs.Image))
                    WriteWarning($"image {cs.Image} could not be accessed on a registry to record its digest. Each node will access {cs.Image} independently, possibly leading to different nodes running different versions of the image. ({error})");
            }
        }

        private async Task<(string, List<SwarmPlatform>, string)> QueryDistributionAsync(SwarmContext ctx, string image, RegistryCredential cred)
        {
            var headers = cred == null ? null : new Dictionary<string, string> { ["X-Registry-Auth"] = RegistryCredentials.EncodeHeader(cred) };
            try
            {
                string body = await ctx.InvokeOnConnectionAsync($"GET /distribution/{image}/json", (conn, t) => conn.SendAsync(HttpMethod.Get, $"distribution/{image}/json", null, headers, t), this, StopToken).ConfigureAwait(false);
                using (var doc = JsonDocument.Parse(body))
                {
                    string digest = doc.RootElement.TryGetProperty("Descriptor", out var d) && d.TryGetProperty("digest", out var dg) ? dg.GetString() : null;
                    var platforms = new List<SwarmPlatform>();
                    if (doc.RootElement.TryGetProperty("Platforms", out var ps) && ps.ValueKind == JsonValueKind.Array)
                        foreach (var pl in ps.EnumerateArray())
                        {
                            string os = pl.TryGetProperty("os", out var o) ? o.GetString() : null;
                            string arch = pl.TryGetProperty("architecture", out var a) ? a.GetString() : null;
                            if (os == "unknown" || arch == "unknown") continue;
                            if (string.Equals(arch, "arm", StringComparison.OrdinalIgnoreCase)) arch = "";
                            if (!platforms.Any(x => x.OS == os && x.Architecture == arch)) platforms.Add(new SwarmPlatform { OS = os, Architecture = arch });
                        }
                    return (digest, platforms, null);
                }
            }
            catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
            {
                string why = SwarmErrors.Unwrap(ex) is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(ex).Message;
                return (null, null, why);
            }
        }

        // ------------------------------------------------------------------ waiting and rolling back

        /// <summary>
        /// Polls until every service converged or failed, or -TimeoutSec passed. Only the services this deploy sent are
        /// judged on their update status and failed tasks (an unchanged service keeps its history); tasks on Down nodes
        /// do not count, as in docker's progress code.
        /// </summary>
        private async Task<bool> WaitAsync(SwarmContext ctx, string ns, List<SwarmServiceDeployment> services, HashSet<string> sent, IList<NodeListResponse> nodeList, ProgressRecord progress)
        {
            if (services.Count == 0) return true;
            var ids = services.ToDictionary(s => s.Id, StringComparer.Ordinal);
            var deadline = Stopwatch.StartNew();
            var stableSince = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
            TimeSpan stable = TimeSpan.FromSeconds(3);
            string lastPollError = null;
            while (true)
            {
                IList<Docker.DotNet.Models.SwarmService> svcList = null;
                IList<TaskResponse> taskList = null;
                var down = new HashSet<string>(StringComparer.Ordinal);
                try
                {
                    var filters = new Dictionary<string, IDictionary<string, bool>>
                    {
                        ["service"] = ids.Keys.ToDictionary(k => k, _ => true),
                        ["_up-to-date"] = new Dictionary<string, bool> { ["true"] = true },
                    };
                    var svcT = CallAsync(ctx, "GET /services?status=true", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters { Filters = LabelFilter(ns), Status = true }, t));
                    var taskT = CallAsync(ctx, "GET /tasks", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = filters }, t));
                    var nodeT = CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
                    await Task.WhenAll(svcT, taskT, nodeT);
                    svcList = svcT.Result; taskList = taskT.Result;
                    foreach (var n in nodeT.Result) if (string.Equals(n.Status?.State, "down", StringComparison.OrdinalIgnoreCase)) down.Add(n.ID);
                    lastPollError = null;
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    // one poll that fails (a manager restarting, a slow answer) is retried until the deadline
                    lastPollError = SwarmErrors.Unwrap(ex).Message;
                    Verbose($"Waiting for stack {ns}: {lastPollError}; trying again.");
                }
                if (svcList != null)
                {
                    var live = svcList.ToDictionary(x => x.ID, StringComparer.Ordinal);
                    var tasksBySvc = taskList.Where(t => !down.Contains(t.NodeID ?? "")).GroupBy(t => t.ServiceID ?? "").ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
                    foreach (var s in services)
                    {
                        if (s.State == SwarmConvergence.Failed || s.State == SwarmConvergence.Converged && !sent.Contains(s.Id)) continue;
                        if (!live.TryGetValue(s.Id, out var svc)) { s.State = SwarmConvergence.Failed; s.Errors = new[] { "the service was removed while waiting" }; continue; }
                        tasksBySvc.TryGetValue(s.Id, out var tasks);
                        tasks = tasks ?? new List<TaskResponse>();
                        var (converged, running, desired) = StackConvergence.Evaluate(svc, tasks);
                        s.Running = running; s.Desired = desired;
                        var failed = tasks.Where(t => t.Status?.State == TaskState.Failed || t.Status?.State == TaskState.Rejected).OrderByDescending(t => t.Status?.Timestamp).ToList();
                        s.Errors = failed.Select(t => t.Status?.Err ?? t.Status?.Message).Where(e => !string.IsNullOrEmpty(e)).Distinct().Take(3).ToArray();
                        if (s.Errors.Length == 0)
                        {
                            var pending = tasks.FirstOrDefault(t => t.Status?.State == TaskState.Pending && !string.IsNullOrEmpty(t.Status?.Err));
                            if (pending != null) s.Errors = new[] { pending.Status.Err };
                        }
                        string update = svc.UpdateStatus?.State;
                        if (sent.Contains(s.Id))
                        {
                            if (update == "paused" || update == "rollback_paused" || update == "rollback_completed")
                            {
                                s.State = SwarmConvergence.Failed;
                                s.Errors = new[] { $"update {update}: {svc.UpdateStatus?.Message}" }.Concat(s.Errors).ToArray();
                                continue;
                            }
                            if (failed.Count >= 3 && !converged)
                            {
                                s.State = SwarmConvergence.Failed;
                                continue;
                            }
                        }
                        converged = converged && update != "updating" && update != "rollback_started";
                        if (!converged) { stableSince.Remove(s.Id); s.State = SwarmConvergence.NotWaited; continue; }
                        if (!stableSince.TryGetValue(s.Id, out var since)) stableSince[s.Id] = since = deadline.Elapsed;
                        bool job = svc.Spec?.Mode?.ReplicatedJob != null || svc.Spec?.Mode?.GlobalJob != null;
                        s.State = job || deadline.Elapsed - since >= stable ? SwarmConvergence.Converged : SwarmConvergence.NotWaited;
                    }
                }
                int ok = services.Count(s => s.State == SwarmConvergence.Converged);
                int bad = services.Count(s => s.State == SwarmConvergence.Failed);
                progress.StatusDescription = $"Waiting: {ok} of {services.Count} service(s) converged" + (bad > 0 ? $", {bad} failed" : "") + (lastPollError != null ? " (retrying a failed poll)" : "");
                progress.PercentComplete = 100 * (ok + bad) / services.Count;
                WriteProgress(progress);
                if (ok + bad == services.Count) return bad == 0;
                if (deadline.Elapsed.TotalSeconds > TimeoutSec)
                {
                    foreach (var s in services.Where(s => s.State == SwarmConvergence.NotWaited))
                    {
                        s.State = SwarmConvergence.TimedOut;
                        if (lastPollError != null) s.Errors = new[] { lastPollError }.Concat(s.Errors).ToArray();
                    }
                    return false;
                }
                await Task.Delay(1000, StopToken);
            }
        }

        private async Task RollbackAsync(SwarmContext ctx, List<ServicePlan> plans, SwarmStackDeployment result)
        {
            foreach (var p in plans.OrderBy(p => p.Spec.Name, StringComparer.Ordinal))
            {
                try
                {
                    if (p.Action == SwarmDeployAction.Created)
                    {
                        WriteWarning($"Rolling back: removing service {p.Spec.Name}, which this deploy created.");
                        await CallAsync<bool>(ctx, $"DELETE /services/{p.Id}", async (c, t) => { await c.Swarm.RemoveServiceAsync(p.Id, t); return true; }, retryOnOtherManager: false);
                    }
                    else if (p.Action == SwarmDeployAction.Updated)
                    {
                        WriteWarning($"Rolling back: service {p.Spec.Name} gets its previous spec.");
                        var current = await CallAsync(ctx, $"GET /services/{p.Id}", (c, t) => c.Swarm.InspectServiceAsync(p.Id, t));
                        string state = current.UpdateStatus?.State ?? string.Empty;
                        if (state.StartsWith("rollback_", StringComparison.Ordinal) || current.PreviousSpec == null)
                        {
                            WriteWarning($"Service {p.Spec.Name} was already rolled back by the swarm (update_config failure_action: rollback); it is left as it is.");
                            var rr = result.Services.FirstOrDefault(x => x.Id == p.Id);
                            if (rr != null) rr.State = SwarmConvergence.RolledBack;
                            continue;
                        }
                        await CallAsync(ctx, $"POST /services/{p.Id}/update?rollback=previous", (c, t) => c.Swarm.UpdateServiceAsync(p.Id, new ServiceUpdateParameters
                        {
                            Service = current.Spec, Version = (long)(current.Version?.Index ?? 0), Rollback = "previous",
                        }, t), retryOnOtherManager: false);
                    }
                    var r = result.Services.FirstOrDefault(s => s.Id == p.Id);
                    if (r != null) r.State = SwarmConvergence.RolledBack;
                }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                {
                    WriteError(SwarmErrors.ToRecord(new SwarmException("StackRollbackFailed", ErrorCategory.WriteError,
                        $"could not roll back service {p.Spec.Name}: {SwarmErrors.Unwrap(ex).Message}. Run docker service rollback {p.Spec.Name} by hand.", p.Spec.Name, ex), p.Spec.Name));
                }
            }
        }

        /// <summary>Removes content versions of the stack's secrets/configs beyond -KeepVersions (newest first; the ones in
        /// use by a service spec of this deploy are always kept and counted).</summary>
        private async Task<string[]> CleanVersionsAsync(SwarmContext ctx, string ns, string kind, List<ObjectPlan> current, List<ServiceSpec> specs)
        {
            var removed = new List<string>();
            var keys = new HashSet<string>(current.Where(p => p.Versioned).Select(p => p.Key), StringComparer.Ordinal);
            if (keys.Count == 0) return removed.ToArray();
            // what this deploy's specs, the live specs and their previous specs (rollback) reference is never removed
            var inUse = new HashSet<string>(specs.SelectMany(sp => kind == "secret"
                ? (sp.TaskTemplate?.ContainerSpec?.Secrets ?? new List<SecretReference>()).Select(r => r.SecretName)
                : (sp.TaskTemplate?.ContainerSpec?.Configs ?? new List<SwarmConfigReference>()).Select(r => r.ConfigName)), StringComparer.Ordinal);
            var objects = kind == "secret"
                ? (await CallAsync(ctx, "GET /secrets", (c, t) => c.Secrets.ListAsync(t))).Select(s => (s.ID, s.Spec?.Name, s.Spec?.Labels, s.CreatedAt)).ToList()
                : (await CallAsync(ctx, "GET /configs", (c, t) => c.Configs.ListConfigsAsync(t))).Select(s => (s.ID, s.Spec?.Name, s.Spec?.Labels, s.CreatedAt)).ToList();
            foreach (string key in keys)
            {
                string currentName = current.First(p => p.Key == key).Name;
                var versions = objects.Where(o => InStack(o.Labels, ns) && o.Labels.TryGetValue(LabelKey, out string k) && k == key)
                    .OrderByDescending(o => o.Name == currentName).ThenByDescending(o => o.CreatedAt ?? DateTime.MinValue).ToList();
                foreach (var old in versions.Skip(KeepVersions))
                {
                    if (inUse.Contains(old.Name)) continue;
                    if (!ShouldProcess($"{kind} {old.Name}", $"Remove old version (-KeepVersions {KeepVersions})")) continue;
                    Verbose($"Removing old {kind} version {old.Name} (-KeepVersions {KeepVersions}).");
                    try
                    {
                        if (kind == "secret") await CallAsync<bool>(ctx, $"DELETE /secrets/{old.ID}", async (c, t) => { await c.Secrets.DeleteAsync(old.ID, t); return true; }, retryOnOtherManager: false);
                        else await CallAsync<bool>(ctx, $"DELETE /configs/{old.ID}", async (c, t) => { await c.Configs.RemoveConfigAsync(old.ID, t); return true; }, retryOnOtherManager: false);
                        removed.Add(old.Name);
                    }
                    catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
                    {
                        string why = SwarmErrors.Unwrap(ex) is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(ex).Message;
                        WriteWarning($"Old {kind} version {old.Name} was not removed: {why}. It is removed by a later deploy once nothing uses it.");
                    }
                }
            }
            return removed.ToArray();
        }
    }
}
