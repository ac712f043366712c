using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Docker.DotNet;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Nodes;
using SwarmAdmin.Secrets;
using SwarmAdmin.Stacks;
using EngineService = Docker.DotNet.Models.SwarmService;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// The one implementation behind *-SwarmSecret and *-SwarmConfig: listing with UsedBy, creation, guarded removal
    /// and rotation. <see cref="Kind"/> (a <see cref="SwarmObjectKind"/>) supplies what differs between the two.
    /// Secret data is only ever held in byte arrays that are cleared after use, and never written to any stream.
    /// </summary>
    public abstract class SwarmObjectCmdlet<TModel> : SwarmContextCmdlet where TModel : SwarmStoredObject
    {
        internal abstract SwarmObjectKind Kind { get; }

        internal const string PathSet = "Path";

        private protected string What => Kind.Kind;

        /// <summary>The secrets (or configs) and the services, read in parallel.</summary>
        internal async Task<(IList<StoredObject> Objects, IList<EngineService> Services)> ReadAsync(SwarmContext ctx)
        {
            var objT = CallAsync(ctx, $"GET /{What}s", (c, t) => Kind.ListAsync(c, t));
            var svcT = CallAsync(ctx, "GET /services", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters(), t));
            await Task.WhenAll(objT, svcT);
            return (objT.Result, svcT.Result);
        }

        internal IEnumerable<(string Service, IEnumerable<ObjectReference> Refs)> References(IEnumerable<EngineService> services)
            => services.Select(s => (s.Spec?.Name ?? s.ID, Kind.References(s)));

        internal TModel ToModel(StoredObject o, IList<EngineService> services, SwarmContext ctx)
        {
            var m = (TModel)Kind.NewModel();
            var (b, v) = SwarmObjectVersions.Identify(What, o.Name, o.Labels);
            m.Name = o.Name;
            m.Id = o.Id;
            m.BaseName = b;
            m.Version = v;
            m.Labels = new Dictionary<string, string>(o.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            m.CreatedAt = o.CreatedAt;
            m.UpdatedAt = o.UpdatedAt;
            m.UsedBy = SwarmObjectVersions.UsedBy(o, References(services));
            m.Stack = m.Labels.TryGetValue(SwarmService.StackLabel, out string st) ? st : null;
            m.Context = ctx;
            return m;
        }

        internal SwarmException NotFound(string name, string hint = null) => new SwarmException(Kind.NotFoundId, ErrorCategory.ObjectNotFound,
            $"No {What} '{name}' exists in the swarm. {hint ?? $"Run Get-Swarm{Kind.Noun} without a name to list them."}", name);

        internal static bool IsStop(Exception ex, System.Threading.CancellationToken stop) =>
            ex is PipelineStoppedException || ex is ActionPreferenceStopException || (SwarmErrors.Unwrap(ex) is OperationCanceledException && stop.IsCancellationRequested);

        /// <summary>The bytes of a file (a path relative to the PowerShell location); a missing or unreadable file is Swarm*FileUnreadable.</summary>
        internal byte[] ReadFile(string path)
        {
            string full;
            try { full = GetUnresolvedProviderPathFromPSPath(path); }
            catch (Exception ex) when (ex is ItemNotFoundException || ex is ProviderNotFoundException || ex is System.Management.Automation.DriveNotFoundException || ex is NotSupportedException || ex is PSInvalidOperationException)
            {
                throw new SwarmException(Kind.FileId, ErrorCategory.InvalidArgument, $"-Path {path} is not a file system path ({ex.Message.TrimEnd('.')}). Nothing was changed.", path, ex);
            }
            try
            {
                var data = File.ReadAllBytes(full);
                if (data.Length == 0) throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidData, $"The file {full} is empty; a {What} needs some content. Nothing was changed.", path);
                return data;
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                throw new SwarmException(Kind.FileId, ErrorCategory.ObjectNotFound, $"The file {full} does not exist. Nothing was changed.", path, ex)
                { RecommendedAction = "Check the -Path (relative paths start at the current PowerShell location)." };
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new SwarmException(Kind.FileId, ErrorCategory.ReadError, $"Cannot read {full}: {ex.Message.TrimEnd('.')}. Nothing was changed.", path, ex);
            }
        }

        internal static byte[] NotEmpty(byte[] data, string what)
        {
            if (data == null || data.Length == 0) throw new SwarmException(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidData, $"The {what} content is empty; a {what} needs some content. Nothing was changed.", null);
            return data;
        }

        internal void Clear(byte[] data)
        {
            if (data != null && Kind.IsSecret) Array.Clear(data, 0, data.Length);
        }

        internal Task<string> RawAsync(SwarmContext ctx, HttpMethod method, string path, string body) =>
            ctx.InvokeOnConnectionAsync($"{method} /{path.Split('?')[0]}", (conn, t) => conn.SendAsync(method, path, body, t), this, StopToken, retryOnOtherManager: method == HttpMethod.Get);
    }

    /// <summary>New-SwarmSecret / New-SwarmConfig.</summary>
    public abstract class NewSwarmObjectCommand<TModel> : SwarmObjectCmdlet<TModel> where TModel : SwarmStoredObject
    {
        /// <summary>The name of the new object (the engine's rules: letters, digits, '-', '_', '.').</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>A file whose bytes become the content.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>Labels of the new object.</summary>
        [Parameter]
        [ValidateNotNull]
        public Hashtable Label { get; set; }

        /// <summary>The content from the inline parameter (-SecureString or -Content).</summary>
        internal abstract byte[] InlineData();

        protected override object CurrentTarget => Name;

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            byte[] data = null;
            try
            {
                var labels = new Dictionary<string, string>(StringComparer.Ordinal);
                if (Label != null) foreach (DictionaryEntry e in Label) labels[e.Key?.ToString() ?? ""] = e.Value?.ToString() ?? "";
                data = ParameterSetName == PathSet ? ReadFile(Path) : NotEmpty(InlineData(), What);
                var (objects, services) = await ReadAsync(ctx);
                if (objects.Any(o => string.Equals(o.Name, Name, StringComparison.Ordinal))) throw Exists();
                if (!ShouldProcess($"{What} {Name}", $"Create ({data.Length} bytes{(labels.Count > 0 ? ", labels " + string.Join(", ", labels.Keys) : "")})")) return;
                string id;
                try
                {
                    byte[] payload = data;
                    id = await CallAsync(ctx, $"POST /{What}s/create", (c, t) => Kind.CreateAsync(c, Name, labels, payload, t), retryOnOtherManager: false);
                }
                catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict) { throw Exists(); }
                Verbose($"Created {What} {Name} (id {id}, {data.Length} bytes).");
                var created = (await CallAsync(ctx, $"GET /{What}s", (c, t) => Kind.ListAsync(c, t))).FirstOrDefault(o => o.Id == id)
                              ?? new StoredObject { Id = id, Name = Name, Labels = labels };
                WriteObject(ToModel(created, services, ctx));
            }
            catch (Exception ex) when (!IsStop(ex, StopToken))
            {
                WriteErrorFor(ex, Name);
            }
            finally { Clear(data); }
        }

        private SwarmException Exists() => new SwarmException(Kind.ExistsId, ErrorCategory.ResourceExists,
            $"A {What} named '{Name}' already exists; nothing was created (a {What}'s content cannot be changed in place).", Name)
        {
            RecommendedAction = $"To change its content, run Update-Swarm{Kind.Noun} -Name {Name}: it creates the next version and moves every service to it. Or pick another name.",
        };
    }

    /// <summary>Get-SwarmSecret / Get-SwarmConfig.</summary>
    public abstract class GetSwarmObjectCommand<TModel> : SwarmObjectCmdlet<TModel> where TModel : SwarmStoredObject
    {
        /// <summary>Names or IDs; wildcards allowed. A name without wildcards that matches nothing is a non-terminating error.</summary>
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmStoredObjectNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Only the objects of this stack (label com.docker.stack.namespace).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmStackNameCompleter))]
        public string Stack { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            var (objects, services) = await ReadAsync(ctx);
            var all = objects.Select(o => ToModel(o, services, ctx)).Where(m => Stack == null || string.Equals(m.Stack, Stack, StringComparison.Ordinal))
                .OrderBy(m => m.Name, StringComparer.Ordinal).ToList();
            foreach (var m in NameFilter.Filter(all, x => x.Name, Name, n => WriteError(SwarmErrors.ToRecord(NotFound(n), n)), x => x.Id)) WriteObject(m);
        }
    }

    /// <summary>Remove-SwarmSecret / Remove-SwarmConfig: refuses objects that a service uses.</summary>
    public abstract class RemoveSwarmObjectCommand<TModel> : SwarmObjectCmdlet<TModel> where TModel : SwarmStoredObject
    {
        internal const string ByName = "ByName", ByInputObject = "ByInputObject";

        /// <summary>Names or IDs to remove; wildcards allowed.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByName, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(SwarmStoredObjectNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>Objects from Get-SwarmSecret / Get-SwarmConfig.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByInputObject, ValueFromPipeline = true)]
        [ValidateNotNull]
        public TModel[] InputObject { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            var (objects, services) = await ReadAsync(ctx);
            var targets = new List<StoredObject>();
            if (ParameterSetName == ByInputObject)
            {
                foreach (var io in InputObject)
                {
                    var o = objects.FirstOrDefault(x => x.Id == io.Id);
                    if (o == null) WriteError(SwarmErrors.ToRecord(NotFound(io.Name), io));
                    else targets.Add(o);
                }
            }
            else
            {
                targets.AddRange(NameFilter.Filter(objects.OrderBy(o => o.Name, StringComparer.Ordinal), o => o.Name, Name, n => WriteError(SwarmErrors.ToRecord(NotFound(n), n)), o => o.Id));
            }
            foreach (var o in targets)
            {
                try
                {
                    string[] usedBy = SwarmObjectVersions.UsedBy(o, References(services));
                    if (usedBy.Length > 0)
                    {
                        var (b, _) = SwarmObjectVersions.Identify(What, o.Name, o.Labels);
                        throw new SwarmException(Kind.InUseId, ErrorCategory.ResourceBusy,
                            $"{What} {o.Name} is in use by service(s) {string.Join(", ", usedBy)}; it was not removed.", ToModel(o, services, ctx))
                        {
                            RecommendedAction = $"Remove those services or take the {What} out of them first; to replace its content, Update-Swarm{Kind.Noun} -Name {b} moves every service to a new version and then removes the old one.",
                        };
                    }
                    if (!ShouldProcess($"{What} {o.Name} ({o.Id})", "Remove")) continue;
                    try
                    {
                        await CallAsync<bool>(ctx, $"DELETE /{What}s/{o.Id}", async (c, t) => { await Kind.DeleteAsync(c, o.Id, t); return true; }, retryOnOtherManager: false);
                    }
                    catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound) { }
                    Verbose($"Removed {What} {o.Name} (id {o.Id}).");
                }
                catch (Exception ex) when (!IsStop(ex, StopToken))
                {
                    WriteErrorFor(ex, o.Name);
                }
            }
        }
    }

    /// <summary>Update-SwarmSecret / Update-SwarmConfig: rotation to a new version, moving every service that uses an old one.</summary>
    public abstract class UpdateSwarmObjectCommand<TModel> : SwarmObjectCmdlet<TModel> where TModel : SwarmStoredObject
    {
        /// <summary>The base name (or the name of any of its versions).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmStoredObjectNameCompleter))]
        public string Name { get; set; }

        /// <summary>A file whose bytes become the new content.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PathSet)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>Keep the old versions (for a manual rollback); by default those no service uses are removed.</summary>
        [Parameter]
        public SwitchParameter KeepPrevious { get; set; }

        /// <summary>Seconds to wait for each updated service to converge.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 300;

        internal abstract byte[] InlineData();

        protected override object CurrentTarget => Name;

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            byte[] data = null;
            try
            {
                data = ParameterSetName == PathSet ? ReadFile(Path) : NotEmpty(InlineData(), What);
                await RotateAsync(ctx, data);
            }
            catch (Exception ex) when (!IsStop(ex, StopToken))
            {
                WriteErrorFor(ex, Name);
            }
            finally { Clear(data); }
        }

        private async Task RotateAsync(SwarmContext ctx, byte[] data)
        {
            var (objects, services) = await ReadAsync(ctx);
            string baseName = Name;
            var named = objects.FirstOrDefault(o => string.Equals(o.Name, Name, StringComparison.Ordinal));
            if (named != null) baseName = SwarmObjectVersions.Identify(What, named.Name, named.Labels).Base;
            var versions = SwarmObjectVersions.VersionsOf(objects, What, baseName, o => o.Name, o => o.Labels);
            if (versions.Count == 0) throw NotFound(Name, $"Create it first with New-Swarm{Kind.Noun} -Name {Name}.");

            var latest = versions[versions.Count - 1];
            var (next, newName) = SwarmObjectVersions.Next(baseName, versions.Select(v => v.Version), new HashSet<string>(objects.Select(o => o.Name), StringComparer.Ordinal));
            var versionIds = new HashSet<string>(versions.Select(v => v.Item.Id), StringComparer.Ordinal);
            var versionNames = new HashSet<string>(versions.Select(v => v.Item.Name), StringComparer.Ordinal);
            var affected = services.Where(s => Kind.References(s).Any(r => SwarmObjectVersions.Refers(r, versionIds, versionNames)))
                .OrderBy(s => s.Spec?.Name, StringComparer.Ordinal).ToList();
            string oldNames = string.Join(", ", versions.Select(v => v.Item.Name));
            string plan = $"Create {newName} (version {next}), move {affected.Count} service(s) to it{(affected.Count > 0 ? " (" + string.Join(", ", affected.Select(s => s.Spec?.Name)) + ")" : "")}, "
                          + (KeepPrevious ? $"keep the old versions ({oldNames})" : $"then remove the old versions that no service uses any more ({oldNames})");
            if (!ShouldProcess($"{What} {baseName}", plan)) return;

            var progress = new ProgressRecord(4710, $"Rotating {What} {baseName}", $"Creating {newName}");
            WriteProgress(progress);
            try
            {
                var labels = new Dictionary<string, string>(latest.Item.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal)
                {
                    [SwarmObjectVersions.BaseLabel(What)] = baseName,
                    [SwarmObjectVersions.VersionLabel(What)] = next.ToString(System.Globalization.CultureInfo.InvariantCulture),
                };
                string newId = await CallAsync(ctx, $"POST /{What}s/create", (c, t) => Kind.CreateAsync(c, newName, labels, data, t), retryOnOtherManager: false);
                Verbose($"Created {What} {newName} (id {newId}, version {next}, {data.Length} bytes).");

                // move every service that references an old version (one at a time: each update is checked on its own)
                var failures = new List<(string Service, string Why)>();
                var sent = new List<(string Id, string Name)>();
                int i = 0;
                foreach (var svc in affected)
                {
                    string svcName = svc.Spec?.Name ?? svc.ID;
                    progress.StatusDescription = $"Updating service {svcName}";
                    progress.PercentComplete = Math.Min(99, 10 + 40 * i++ / Math.Max(1, affected.Count));
                    WriteProgress(progress);
                    try
                    {
                        var moved = await MoveServiceAsync(ctx, svc.ID, svcName, versionIds, versionNames, newId, newName);
                        if (moved.Count > 0)
                        {
                            sent.Add((svc.ID, svcName));
                            Verbose($"Service {svcName}: {What} {string.Join(", ", moved.Distinct())} replaced by {newName} (targets unchanged).");
                        }
                    }
                    catch (Exception ex) when (!IsStop(ex, StopToken))
                    {
                        string why = SwarmErrors.Unwrap(ex) is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(ex).Message;
                        failures.Add((svcName, $"the update was refused: {why}"));
                    }
                }

                foreach (var f in await WaitConvergedAsync(ctx, sent, progress)) failures.Add(f);

                foreach (var (svcName, why) in failures.OrderBy(f => f.Service, StringComparer.Ordinal))
                {
                    WriteError(SwarmErrors.ToRecord(new SwarmException(Kind.RotationFailedId, ErrorCategory.InvalidResult,
                        $"Service {svcName} did not move to {What} {newName}: {why}. The old versions of {baseName} were kept.", svcName)
                    {
                        RecommendedAction = $"Look at the service's tasks (Get-SwarmTask -Service {svcName}), fix the cause, then run Update-Swarm{Kind.Noun} -Name {baseName} again: it moves every service still on an older version and removes the old versions once no service uses them.",
                    }, svcName));
                }

                var (after, servicesAfter) = await ReadAsync(ctx);
                if (failures.Count == 0 && !KeepPrevious)
                {
                    progress.StatusDescription = "Removing the old versions";
                    progress.PercentComplete = 90;
                    WriteProgress(progress);
                    var old = after.Where(o => versionIds.Contains(o.Id)).ToList();
                    var refs = servicesAfter.SelectMany(s => Kind.References(s));
                    var unused = SwarmObjectVersions.Unused(old, refs, newId);
                    foreach (var o in old.Except(unused)) Verbose($"Kept {What} {o.Name}: a service still uses it.");
                    foreach (var o in unused)
                    {
                        try
                        {
                            await CallAsync<bool>(ctx, $"DELETE /{What}s/{o.Id}", async (c, t) => { await Kind.DeleteAsync(c, o.Id, t); return true; }, retryOnOtherManager: false);
                            Verbose($"Removed the old version {o.Name} (id {o.Id}).");
                        }
                        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound) { }
                        catch (Exception ex) when (!IsStop(ex, StopToken))
                        {
                            WriteErrorFor(new SwarmException(Kind.InUseId, ErrorCategory.ResourceBusy,
                                $"The old version {o.Name} could not be removed: {(SwarmErrors.Unwrap(ex) is DockerApiException api ? SwarmErrors.ApiMessage(api) : SwarmErrors.Unwrap(ex).Message)}.", o.Name, ex)
                            { RecommendedAction = $"Remove it later with Remove-Swarm{Kind.Noun} -Name {o.Name}." }, o.Name);
                        }
                    }
                }
                else if (failures.Count > 0 && !KeepPrevious)
                {
                    WriteWarning($"Not every service moved to {newName}; the old versions of {baseName} ({oldNames}) were kept.");
                }

                var created = after.FirstOrDefault(o => o.Id == newId) ?? new StoredObject { Id = newId, Name = newName, Labels = labels };
                WriteObject(ToModel(created, servicesAfter, ctx));
            }
            finally
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
            }
        }

        /// <summary>
        /// Points the service's references to old versions at the new one by editing its raw spec (every other field,
        /// including the targets, is sent back as the engine returned it); retries when the service changed meanwhile.
        /// </summary>
        private async Task<IReadOnlyList<string>> MoveServiceAsync(SwarmContext ctx, string id, string svcName, ICollection<string> versionIds, ICollection<string> versionNames, string newId, string newName)
        {
            const int attempts = 5;
            for (int attempt = 1; ; attempt++)
            {
                string body = await RawAsync(ctx, HttpMethod.Get, $"services/{id}", null);
                var root = (JsonObject)JsonNode.Parse(body);
                ulong version = root["Version"]?["Index"]?.GetValue<ulong>() ?? 0;
                var spec = (JsonObject)root["Spec"];
                var moved = SwarmObjectVersions.MoveReferences(spec, Kind.ReferenceArray, Kind.ReferenceId, Kind.ReferenceName, versionIds, versionNames, newId, newName);
                if (moved.Count == 0) return moved;
                try
                {
                    await RawAsync(ctx, HttpMethod.Post, $"services/{id}/update?version={version}", spec.ToJsonString());
                    return moved;
                }
                catch (DockerApiException ex) when (NodeLabels.IsVersionConflict(ex) && attempt < attempts)
                {
                    Verbose($"Service {svcName} changed while we updated it (version {version} is stale); reading it again (attempt {attempt + 1} of {attempts}).");
                }
            }
        }

        /// <summary>Waits until every updated service runs its desired number of up-to-date tasks (Deploy-SwarmStack -Wait's rules); the ones that fail or time out.</summary>
        private async Task<List<(string Service, string Why)>> WaitConvergedAsync(SwarmContext ctx, List<(string Id, string Name)> services, ProgressRecord progress)
        {
            var failed = new List<(string, string)>();
            if (services.Count == 0) return failed;
            var pending = services.ToDictionary(s => s.Id, s => s.Name, StringComparer.Ordinal);
            var status = new Dictionary<string, string>(StringComparer.Ordinal);
            var watch = Stopwatch.StartNew();
            while (pending.Count > 0)
            {
                try
                {
                    var ids = pending.Keys.ToDictionary(k => k, _ => true);
                    var taskFilter = new Dictionary<string, IDictionary<string, bool>> { ["service"] = ids, ["_up-to-date"] = new Dictionary<string, bool> { ["true"] = true } };
                    var svcT = CallAsync(ctx, "GET /services?status=true", (c, t) => c.Swarm.ListServicesAsync(new ServiceListParameters
                    {
                        Filters = new Dictionary<string, IDictionary<string, bool>> { ["id"] = ids }, Status = true,
                    }, t));
                    var taskT = CallAsync(ctx, "GET /tasks", (c, t) => c.Tasks.ListAsync(new TasksListParameters { Filters = taskFilter }, t));
                    var nodeT = CallAsync(ctx, "GET /nodes", (c, t) => c.Swarm.ListNodesAsync(t));
                    await Task.WhenAll(svcT, taskT, nodeT);
                    var down = new HashSet<string>(nodeT.Result.Where(n => string.Equals(n.Status?.State, "down", StringComparison.OrdinalIgnoreCase)).Select(n => n.ID), StringComparer.Ordinal);
                    foreach (var id in pending.Keys.ToList())
                    {
                        string name = pending[id];
                        var svc = svcT.Result.FirstOrDefault(s => s.ID == id);
                        if (svc == null) { failed.Add((name, "the service was removed while waiting")); pending.Remove(id); continue; }
                        var tasks = taskT.Result.Where(t => t.ServiceID == id && !down.Contains(t.NodeID ?? "")).ToList();
                        var (converged, running, desired) = StackConvergence.Evaluate(svc, tasks);
                        string update = svc.UpdateStatus?.State;
                        if (update == "paused" || update == "rollback_started" || update == "rollback_paused" || update == "rollback_completed")
                        {
                            failed.Add((name, $"its update ended {update}{(string.IsNullOrEmpty(svc.UpdateStatus?.Message) ? "" : ": " + svc.UpdateStatus.Message)}"));
                            pending.Remove(id);
                            continue;
                        }
                        if (converged && update != "updating")
                        {
                            Verbose($"Service {name} converged: {running}/{desired} up-to-date task(s) running (after {watch.Elapsed.TotalSeconds:0.#} s).");
                            pending.Remove(id);
                            continue;
                        }
                        var err = tasks.Where(t => t.Status?.State == TaskState.Failed || t.Status?.State == TaskState.Rejected || (t.Status?.State == TaskState.Pending && !string.IsNullOrEmpty(t.Status?.Err)))
                            .OrderByDescending(t => t.Status?.Timestamp).Select(t => t.Status?.Err).FirstOrDefault(e => !string.IsNullOrEmpty(e));
                        status[id] = $"{running}/{desired} up-to-date task(s) running{(err != null ? $", last task error: {err}" : "")}";
                    }
                }
                catch (Exception ex) when (!IsStop(ex, StopToken))
                {
                    Verbose($"Waiting for the services: {SwarmErrors.Unwrap(ex).Message}; trying again.");
                }
                if (pending.Count == 0) break;
                if (watch.Elapsed.TotalSeconds >= TimeoutSec)
                {
                    foreach (var kv in pending) failed.Add((kv.Value, $"it did not converge within {TimeoutSec} s ({(status.TryGetValue(kv.Key, out string s) ? s : "no answer")})"));
                    break;
                }
                progress.StatusDescription = $"Waiting for {pending.Count} service(s): " + string.Join("; ", pending.Select(kv => kv.Value + (status.TryGetValue(kv.Key, out string s) ? " " + s : "")));
                progress.PercentComplete = Math.Min(89, 50 + 40 * (services.Count - pending.Count) / services.Count);
                WriteProgress(progress);
                await Task.Delay(1000, StopToken);
            }
            return failed;
        }
    }
}
