using System;
using System.Collections;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Connection;
using SwarmAdmin.Engine;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Recovery;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Commands
{
    /// <summary>
    /// Install-SwarmEngine: installs and configures the Docker Engine on Debian/Ubuntu machines over SSH (APT proxy,
    /// docker.io or Docker's repository, one held version for all nodes, daemon.json, service), idempotently.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Install, "SwarmEngine", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Node")]
    [OutputType(typeof(SwarmEngineInstallation))]
    public sealed class InstallSwarmEngineCommand : SwarmCmdlet
    {
        /// <summary>Machines: SSH targets (root@10.0.0.21) or nodes from Import-SwarmClusterConfig / Get-SwarmVm.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Node")]
        [ValidateNotNull]
        public SwarmNodeTarget[] Node { get; set; }

        /// <summary>A whole cluster file (Import-SwarmClusterConfig): every node it declares.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "ClusterConfig")]
        [ValidateNotNull]
        public SwarmClusterConfig Config { get; set; }

        /// <summary>Distribution (docker.io) or DockerRepository (docker-ce from -RepositoryUri).</summary>
        [Parameter]
        public SwarmEngineSource Source { get; set; } = SwarmEngineSource.Distribution;

        /// <summary>The exact package version to install and hold on every node (apt-cache policy / madison spelling).</summary>
        [Parameter]
        [ValidatePattern(EngineInstallPlan.VersionPattern)]
        public string Version { get; set; }

        /// <summary>Base URI of Docker's APT repository (e.g. https://download.docker.com/linux/debian, or a mirror). Required with -Source DockerRepository.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string RepositoryUri { get; set; }

        /// <summary>Local path of the repository's signing key (ASCII-armoured or binary OpenPGP). Required with -Source DockerRepository.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string RepositoryKey { get; set; }

        /// <summary>HTTP proxy for APT (e.g. http://apt-cache:3142), written to /etc/apt/apt.conf.d/80swarmadmin-proxy.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string AptProxy { get; set; }

        /// <summary>daemon.json settings merged over the defaults; a $null value removes a default key.</summary>
        [Parameter]
        [ValidateNotNull]
        public Hashtable DaemonConfig { get; set; }

        /// <summary>The Prometheus metrics address (metrics-addr). Default: the node's address, port 9323.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string MetricsAddress { get; set; }

        /// <summary>The bridge MTU to write (mtu). Default: the MTU of the interface that carries the node's address.</summary>
        [Parameter]
        [ValidateRange(576, 65535)]
        public int Mtu { get; set; }

        /// <summary>How many nodes are worked on at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 4;

        /// <summary>Seconds each APT step (update, install) may take; short steps get 60 s.</summary>
        [Parameter]
        [ValidateRange(30, 7200)]
        public int TimeoutSec { get; set; } = 900;

        /// <summary>
        /// Restart the engines of active swarm managers too: one manager at a time, after the other nodes, each waited
        /// for until it is a reachable manager again. Without it such managers are refused (QuorumGuard).
        /// </summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>SSH private key. Default: the node's key from the cluster file, else ~/.ssh/id_*.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>known_hosts file for host key checks. Default: the node's from the cluster file, else ~/.ssh/known_hosts.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        private readonly List<SwarmNodeTarget> _targets = new List<SwarmNodeTarget>();
        private static readonly TimeSpan ShortStep = TimeSpan.FromSeconds(60);

        private const string Env = "export LC_ALL=C DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";
        private const int LockTimeout = 120;
        /// <summary>The recommends of the distribution's docker.io that a swarm node needs (installed beside it, not held).</summary>
        internal static readonly string[] DistributionCompanions = { "apparmor", "ca-certificates", "xz-utils" };

        private const string Apt = "apt-get -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -y -q";

        private sealed class NodeWork
        {
            public SwarmNodeTarget Target;
            public string Name;
            public string Address;
            public NodeShell Shell;
            public EngineNodeFacts Facts;
            public EngineInstallPlan Plan;
            public string Installed;
            public string Candidate;
            /// <summary>Every version APT offers (apt-cache madison, after apt-get update); null when not read.</summary>
            public List<string> Available;
            public bool Approved;
            public Exception Error;
            public bool FreshInstall;
            public bool Restarted;
            public string EngineVersion, ApiVersion;
            public readonly List<SwarmEngineStep> Steps = new List<SwarmEngineStep>();
            public readonly Stopwatch Watch = Stopwatch.StartNew();
        }

        protected override Task ProcessRecordAsync()
        {
            if (ParameterSetName == "ClusterConfig") _targets.AddRange(Config.Nodes.Where(n => n != null).Select(n => new SwarmNodeTarget(n)));
            else _targets.AddRange(Node.Where(n => n != null));
            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync()
        {
            if (_targets.Count == 0) return;
            EngineInstallRequest req = BuildRequest();
            foreach (string warning in DaemonConfigJson.RiskyUserKeys(req.DaemonConfig)) WriteWarning(warning);
            string keyFile = KeyFile != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile) : null;
            string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : null;

            var work = _targets.Select(t => new NodeWork { Target = t, Name = t.ToString() }).ToList();
            try
            {
                // 1. Read each node (read-only, also under -WhatIf).
                await RunPhaseAsync(work, "Reading the nodes", w => ProbeAsync(w, req, keyFile, knownHosts));
                foreach (var w in work.Where(x => x.Error == null)) CheckSupported(w, req);

                // 2. Plan per node and ask (on the pipeline thread).
                var known = EngineVersions.Choose(req.Version, work.Where(x => x.Error == null).Select(x => new NodeVersionFacts { Node = x.Name, Installed = x.Installed, Candidate = x.Candidate }).ToList());
                int releases = work.Where(x => x.Error == null).Select(x => ReleaseOf(x.Facts)).Distinct(StringComparer.Ordinal).Count();
                foreach (var w in work)
                {
                    if (w.Error != null) continue;
                    w.Plan = EngineInstallPlan.Make(w.Facts, req, w.Address, known.Version);
                    if (QuorumGuard(w)) continue;
                    string version = w.Plan.NeedsInstall ? (known.Version ?? "the version APT offers on the first node") : w.Installed;
                    if (w.Plan.NeedsInstall && releases > 1) version += " (or this release's build of that engine)";
                    w.Approved = ShouldProcess($"{w.Name} ({w.Shell.Endpoint})", $"Install Docker Engine {version} ({req.EnginePackage}, {req.Source}) on {w.Facts.Os}: {w.Plan.Describe()}");
                }

                var go = work.Where(w => w.Error == null && w.Approved).ToList();
                if (go.Count > 0)
                {
                    // 3. APT proxy, repository, apt-get update and the candidate version on the nodes that need an install.
                    await RunPhaseAsync(go, "Preparing APT", w => PrepareAsync(w, req));

                    // 4. One version for all (first node's installed engine, else its candidate), skew reported.
                    var ready = go.Where(w => w.Error == null).ToList();
                    var facts = ready.Select(x => new NodeVersionFacts { Node = x.Name, Installed = x.Installed, Candidate = x.Candidate, Available = x.Available, Release = ReleaseOf(x.Facts) }).ToList();
                    var choice = EngineVersions.Choose(req.Version, facts);
                    foreach (var (node, installed) in choice.Skew)
                    {
                        if (req.Version == null)
                            WriteWarning($"{node} runs {req.EnginePackage} {installed}, not {choice.Version} ({choice.Origin}); it is left as it is. Pass -Version {choice.Version} to align it.");
                    }
                    if (ready.Count > 0) Verbose($"Engine version for this run: {choice.Version ?? "(none available)"} ({choice.Origin ?? "no node offers one"}).");
                    foreach (var w in ready)
                    {
                        if (w.Plan.NeedsInstall && choice.Version != null && !EngineInstallPlan.IsValidVersion(choice.Version))
                        {
                            w.Error = StepFailure(w, "Resolve", $"The engine version '{choice.Version}' ({choice.Origin}) is not a Debian package version; nothing was installed on {w.Name}.", null, ErrorCategory.InvalidData, "Pass -Version with the exact version to install.");
                            continue;
                        }
                        if (w.Plan.NeedsInstall && choice.Version == null)
                        {
                            w.Error = StepFailure(w, "Resolve", $"APT offers no {req.EnginePackage} package on {w.Name} (apt-cache policy shows no candidate).", null, ErrorCategory.ObjectNotFound,
                                req.Source == SwarmEngineSource.Distribution ? "Check the node's APT sources (the distribution's main component has docker.io)." : "Check -RepositoryUri and that the repository has the node's codename as a suite.");
                            continue;
                        }
                        string version = choice.Version;
                        if (w.Plan.NeedsInstall)
                        {
                            var nodeFacts = facts[ready.IndexOf(w)];
                            version = EngineVersions.ForNode(choice.Version, choice.OriginRelease, nodeFacts);
                            if (version == null)
                            {
                                string offers = w.Available.Count == 0 ? "nothing" : string.Join(", ", w.Available.Take(5)) + (w.Available.Count > 5 ? ", ..." : "");
                                w.Error = new SwarmException(SwarmErrorId.EngineVersionUnavailable, ErrorCategory.ObjectNotFound,
                                    $"APT on {w.Name} ({nodeFacts.Release}) does not offer {req.EnginePackage} {choice.Version} (this run's version, {choice.Origin}){(EngineVersions.MayUseOtherBuild(choice.Version, choice.OriginRelease, nodeFacts) ? $" nor another build of engine {EngineVersions.Upstream(choice.Version)}" : "")}; it offers {offers}. Nothing was installed on {w.Name}.", w.Target)
                                { RecommendedAction = req.Source == SwarmEngineSource.Distribution
                                    ? "Check the node's APT sources (a node without the -security or -updates suites lacks their builds); distributions ship different docker.io versions: install a node of another release in a run of its own, or use -Source DockerRepository, whose engines are built for every release."
                                    : "Pass -Version with an engine version the repository has for every release in the run (e.g. -Version 27.3.1), or install this node in a run of its own." };
                                w.Error.Data["Step"] = "Resolve";
                                continue;
                            }
                            if (!string.Equals(version, choice.Version, StringComparison.Ordinal))
                                Verbose($"{w.Name}: {req.EnginePackage} {version}: engine {EngineVersions.Upstream(choice.Version)} as built for {nodeFacts.Release}.");
                            if (!EngineInstallPlan.IsValidVersion(version))
                            {
                                w.Error = StepFailure(w, "Resolve", $"The engine version '{version}' offered on {w.Name} is not a Debian package version; nothing was installed on {w.Name}.", null, ErrorCategory.InvalidData, "Pass -Version with the exact version to install.");
                                continue;
                            }
                        }
                        // the plan again, now with the version (daemon.json defaults depend on it); the same facts, so
                        // everything else comes out as planned before the question
                        w.Plan = EngineInstallPlan.Make(w.Facts, req, w.Address, version);
                        if (QuorumGuard(w)) continue;
                        if (w.Plan.MetricsNote != null) Verbose($"{w.Name}: {w.Plan.MetricsNote}.");
                        if (w.Plan.ApplyPendingConfig) Verbose($"{w.Name}: applying a daemon.json written after the engine started (restart).");
                        if (w.Plan.DroppedKeys.Length > 0 && w.Plan.DaemonConfigChanged)
                            Verbose($"{w.Name}: -DaemonConfig removes these keys from /etc/docker/daemon.json: {string.Join(", ", w.Plan.DroppedKeys)} (the old file is kept as daemon.json.swarmadmin-bak).");
                    }

                    // 5. daemon.json, install, hold, service, verify: the other nodes in parallel, then (with -Force)
                    //    the active managers whose engine restarts, one at a time, each back as a reachable manager before the next.
                    var apply = ready.Where(w => w.Error == null).ToList();
                    var managers = apply.Where(w => w.Facts.IsActiveManager && w.Plan.DisruptsEngine).ToList();
                    await RunPhaseAsync(apply.Except(managers).ToList(), "Installing the engine", w => ApplyAsync(w, req));
                    NodeWork failedManager = null;
                    foreach (var w in managers)
                    {
                        if (failedManager != null)
                        {
                            w.Error = new SwarmException(SwarmErrorId.QuorumGuard, ErrorCategory.ResourceUnavailable,
                                $"{w.Name} is a swarm manager; its engine was not restarted because the manager before it ({failedManager.Name}) failed or did not come back as a reachable manager. Nothing was changed on {w.Name}.", w.Target)
                            { RecommendedAction = $"Fix {failedManager.Name} first (docker node ls on a manager), then run Install-SwarmEngine -Force again." };
                            continue;
                        }
                        await RunPhaseAsync(new List<NodeWork> { w }, $"Restarting manager {w.Name}", x => ApplyManagerAsync(x, req));
                        if (w.Error != null) failedManager = w;
                    }
                }

                // 6. One result per node in input order; errors name the node and the step.
                foreach (var w in work)
                {
                    if (w.Error != null) { WriteErrorFor(w.Error, w.Target); continue; }
                    if (!w.Approved) continue;
                    WriteObject(new SwarmEngineInstallation
                    {
                        Node = w.Name,
                        Address = w.Address,
                        Os = w.Facts.Os.Id,
                        OsVersion = w.Facts.Os.VersionId,
                        OsCodename = w.Facts.Os.Codename,
                        Source = req.Source,
                        Version = w.Plan.NeedsInstall ? w.Plan.Version : w.Installed,
                        PreviousVersion = w.Installed,
                        Changed = w.Steps.Any(s => s.Changed),
                        DaemonConfigChanged = w.Plan.DaemonConfigChanged,
                        Restarted = w.Restarted,
                        EngineVersion = w.EngineVersion,
                        ApiVersion = w.ApiVersion,
                        DaemonConfig = DaemonConfigJson.Format(w.Plan.DaemonConfig).TrimEnd(),
                        Steps = w.Steps.ToArray(),
                        Target = w.Target,
                        Duration = w.Watch.Elapsed,
                    });
                }
            }
            finally
            {
                foreach (var w in work) w.Shell?.Dispose();
            }
        }

        /// <summary>
        /// Refuses (without -Force) an active swarm manager whose engine this run would restart or upgrade; true when
        /// the node was refused.
        /// </summary>
        private bool QuorumGuard(NodeWork w)
        {
            if (Force || !w.Facts.IsActiveManager || !w.Plan.DisruptsEngine) return false;
            string what = w.Plan.NeedsInstall ? $"the package change ({w.Installed} -> {w.Plan.Version ?? Version}) restarts its engine"
                : w.Plan.ApplyPendingConfig ? "applying a daemon.json written after the engine started restarts its engine"
                : "the daemon.json change restarts its engine";
            w.Error = new SwarmException(SwarmErrorId.QuorumGuard, ErrorCategory.ResourceUnavailable,
                $"{w.Name} is an active swarm manager and {what}; restarting managers in parallel can cost the swarm its quorum. Nothing was changed on {w.Name}.", w.Target)
            { RecommendedAction = "Use -Force to restart managers one at a time, waiting for each to be Reachable again, or Invoke-SwarmNodeMaintenance." };
            return true;
        }

        /// <summary>A manager (with -Force): the usual steps, then wait until it is a reachable manager again.</summary>
        private async Task ApplyManagerAsync(NodeWork w, EngineInstallRequest req)
        {
            try
            {
                await ApplyAsync(w, req).ConfigureAwait(false);
            }
            catch (SwarmException ex) when (w.Facts.ServiceActive && !StopToken.IsCancellationRequested)
            {
                // The failed step may have restarted the engine (a daemon.json it does not start with is rolled back
                // and the engine started again): report only once the manager is back in the raft group, so the
                // swarm the user looks at next is whole; if it does not come back, say so.
                Verbose($"{w.Name}: step {ex.Data["Step"]} failed; waiting until the manager is Ready and Reachable again before reporting it.");
                string last = await WaitForManagerAsync(w).ConfigureAwait(false);
                if (last == null) throw;
                var worse = new SwarmException(SwarmErrorId.EngineInstallFailed, ErrorCategory.OperationTimeout,
                    $"{ex.Message}\nAfterwards the manager was not Ready and Reachable again within {TimeoutSec} s.\n{Tail(last, 4)}", w.Target, ex)
                { RecommendedAction = $"Check 'docker node ls' on another manager and 'journalctl -u docker' on {w.Name}." };
                foreach (System.Collections.DictionaryEntry d in ex.Data) worse.Data[d.Key] = d.Value;
                throw worse;
            }
            if (!w.Restarted) return;
            var sw = Stopwatch.StartNew();
            Verbose($"{w.Name}: ManagerWait: waiting until the manager is Ready and Reachable again (up to {TimeoutSec} s).");
            string notBack = await WaitForManagerAsync(w).ConfigureAwait(false);
            if (notBack != null)
            {
                throw StepError(w, "ManagerWait", ErrorCategory.OperationTimeout,
                    $"Step ManagerWait on {w.Name} failed: the manager was not Ready and Reachable again within {TimeoutSec} s after its engine restarted; the managers after it are left alone.\n{Tail(notBack, 4)}",
                    $"Check 'docker node ls' on another manager and 'journalctl -u docker' on {w.Name}.");
            }
            AddStep(w, "ManagerWait", "the manager is Ready and Reachable again", false, sw.Elapsed);
        }

        /// <summary>SwarmEngineInstallFailed for a step of one node, with Data["Step"] and Data["Node"].</summary>
        private static SwarmException StepError(NodeWork w, string step, ErrorCategory category, string message, string action)
        {
            var ex = new SwarmException(SwarmErrorId.EngineInstallFailed, category, message, w.Target) { RecommendedAction = action };
            ex.Data["Step"] = step;
            ex.Data["Node"] = w.Name;
            return ex;
        }

        /// <summary>
        /// Polls until the node's engine says it is a Ready, Reachable (or leading) manager and every other manager is
        /// Ready and Reachable too (a restarted leader leaves the others "Unknown" to the new leader until their next
        /// heartbeat: the next manager is not restarted before the swarm sees all of them again): null then, else after
        /// -TimeoutSec what it said last.
        /// </summary>
        private async Task<string> WaitForManagerAsync(NodeWork w)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(TimeoutSec);
            while (true)
            {
                SshExecResult r = await w.Shell.ExecAsync(Env + "docker info --format 'control={{.Swarm.ControlAvailable}}' 2>&1; docker node ls --format 'manager={{.Self}} {{.Hostname}} {{.Status}} {{.ManagerStatus}}' 2>&1 | grep -E '^manager=[a-z]+ [^ ]+ [A-Za-z]+ [A-Za-z]+|rror' ; true", null, ShortStep, StopToken).ConfigureAwait(false);
                string last = (r.StdOut ?? string.Empty).Trim();
                var managers = Regex.Matches(last, @"(?m)^manager=(true|false) (\S+) (\S+) (\S+)\s*$").Cast<Match>().ToList();
                bool selfOk = managers.Any(m => m.Groups[1].Value == "true" && m.Groups[3].Value == "Ready" && (m.Groups[4].Value == "Reachable" || m.Groups[4].Value == "Leader"));
                bool allOk = managers.All(m => m.Groups[3].Value == "Ready" && (m.Groups[4].Value == "Reachable" || m.Groups[4].Value == "Leader"));
                if (Regex.IsMatch(last, @"(?m)^control=true\s*$") && selfOk && allOk) return null;
                if (DateTime.UtcNow > deadline) return last.Length == 0 ? "(no answer)" : last;
                await Task.Delay(2000, StopToken).ConfigureAwait(false);
            }
        }

        private EngineInstallRequest BuildRequest()
        {
            var req = new EngineInstallRequest
            {
                Source = Source,
                Version = Version,
                DaemonConfig = DaemonConfig == null ? null : (IDictionary)Plain(DaemonConfig),
                MetricsAddress = MetricsAddress,
                MetricsAddressGiven = MyInvocation.BoundParameters.ContainsKey(nameof(MetricsAddress)),
                Mtu = MyInvocation.BoundParameters.ContainsKey(nameof(Mtu)) ? Mtu : (int?)null,
            };
            if (AptProxy != null)
            {
                if (!Uri.TryCreate(AptProxy, UriKind.Absolute, out Uri proxy) || (proxy.Scheme != "http" && proxy.Scheme != "https") || AptProxy.IndexOfAny(new[] { '"', '\n', '\r', ';', ' ' }) >= 0)
                    throw Invalid($"-AptProxy '{EngineInstallPlan.Redact(AptProxy)}' is not an http:// or https:// URL such as http://apt-cache.lan:3142.", EngineInstallPlan.Redact(AptProxy));
                req.AptProxy = AptProxy;
            }
            if (Source == SwarmEngineSource.DockerRepository)
            {
                if (RepositoryUri == null || RepositoryKey == null)
                    throw Invalid("-Source DockerRepository needs -RepositoryUri (e.g. https://download.docker.com/linux/debian) and -RepositoryKey (the path of its signing key, e.g. a downloaded gpg file).", Source);
                if (!Uri.TryCreate(RepositoryUri, UriKind.Absolute, out Uri repo) || (repo.Scheme != "http" && repo.Scheme != "https") || RepositoryUri.IndexOfAny(new[] { '\n', '\r', ' ', '"' }) >= 0 || !string.IsNullOrEmpty(repo.UserInfo))
                    throw Invalid($"-RepositoryUri '{EngineInstallPlan.Redact(RepositoryUri)}' is not an http:// or https:// URL without credentials.", EngineInstallPlan.Redact(RepositoryUri));
                string keyPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath(RepositoryKey);
                if (!File.Exists(keyPath))
                    throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.ObjectNotFound, $"The signing key file '{keyPath}' does not exist. Download the repository's key (e.g. https://download.docker.com/linux/debian/gpg) and pass its path to -RepositoryKey.", keyPath));
                req.RepositoryUri = RepositoryUri.TrimEnd('/');
                req.RepositoryKey = File.ReadAllBytes(keyPath);
                if (req.RepositoryKey.Length == 0 || req.RepositoryKey.Length > 1024 * 1024)
                    throw Invalid($"'{keyPath}' is not an OpenPGP key file (it is empty or larger than 1 MB).", keyPath);
            }
            else if (RepositoryUri != null || RepositoryKey != null)
            {
                throw Invalid("-RepositoryUri and -RepositoryKey are for -Source DockerRepository; the distribution's docker.io comes from the node's own APT sources.", RepositoryUri ?? RepositoryKey);
            }
            if (MetricsAddress != null && !Regex.IsMatch(MetricsAddress, @"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$"))
                throw Invalid($"-MetricsAddress '{MetricsAddress}' is not host:port (e.g. 10.0.0.21:9323, or 127.0.0.1:9323 to keep metrics local).", MetricsAddress);
            try { DaemonConfigJson.Merge(DaemonConfigJson.Defaults(1500, "127.0.0.1:9323", null), req.DaemonConfig); }
            catch (ArgumentException ex) { throw Invalid(ex.Message, DaemonConfig); }
            return req;
        }

        private static TerminatingErrorException Invalid(string message, object target)
            => new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, message, target));

        /// <summary>Runs <paramref name="body"/> for each node in parallel (ThrottleLimit), with progress; a node's failure is kept on it.</summary>
        private async Task RunPhaseAsync(List<NodeWork> items, string activity, Func<NodeWork, Task> body)
        {
            if (items.Count == 0) return;
            var throttle = new SemaphoreSlim(ThrottleLimit);
            var tasks = items.Select(w => Task.Run(async () =>
            {
                await throttle.WaitAsync(StopToken).ConfigureAwait(false);
                try { await body(w).ConfigureAwait(false); }
                catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested)) { w.Error = ex; }
                finally { throttle.Release(); }
            })).ToList();
            var progress = new ProgressRecord(4301, "Install-SwarmEngine", $"{activity}: 0 of {tasks.Count} nodes done");
            Task all = Task.WhenAll(tasks);
            while (await Task.WhenAny(all, Task.Delay(500)) != all)
            {
                int done = tasks.Count(x => x.IsCompleted);
                progress.StatusDescription = $"{activity}: {done} of {tasks.Count} nodes done";
                progress.PercentComplete = done * 100 / tasks.Count;
                WriteProgress(progress);
            }
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            await all; // rethrows the cancellation on Ctrl+C
        }

        // ------------------------------------------------------------------ steps (worker threads: no pipeline writes)

        /// <summary>The read-only probe: prints key=value lines (file contents base64) that EngineNodeFacts.Parse reads.</summary>
        internal static string ProbeScript(EngineInstallRequest req)
        {
            string keyPath = req.RepositoryKey != null ? EngineInstallPlan.KeyPathFor(req.RepositoryKey) : "/nonexistent";
            return Env + $@"
b64() {{ [ -r ""$1"" ] && base64 < ""$1"" | tr -d '\n'; echo; }}
f=/etc/os-release; [ -r $f ] || f=/usr/lib/os-release
printf 'os='; b64 $f
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1 && command -v apt-cache >/dev/null 2>&1; then echo apt=1; else echo apt=0; fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo systemd=1
  echo ""enabled=$(systemctl is-enabled docker.service 2>/dev/null)""
  echo ""active=$(systemctl is-active docker.service 2>/dev/null)""
else
  echo systemd=0
  if pidof dockerd >/dev/null 2>&1; then echo active=active; fi
fi
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='pkg=${{Package}} ${{db:Status-Abbrev}} ${{Version}}\n' docker.io docker-ce docker-ce-cli containerd.io moby-engine podman-docker 2>/dev/null
fi
if command -v apt-cache >/dev/null 2>&1; then echo ""candidate=$(apt-cache policy {req.EnginePackage} 2>/dev/null | awk '/Candidate:/ {{print $2; exit}}')""; fi
command -v dpkg >/dev/null 2>&1 && echo ""arch=$(dpkg --print-architecture 2>/dev/null)""
if command -v dockerd >/dev/null 2>&1; then echo dockerd=1; fi
if [ -f {EngineInstallPlan.DaemonJsonPath} ]; then printf 'daemonjson='; b64 {EngineInstallPlan.DaemonJsonPath}; fi
printf 'aptproxy='; b64 {EngineInstallPlan.AptProxyPath}
printf 'sources='; b64 {EngineInstallPlan.SourcesPath}
if [ -f {keyPath} ]; then echo ""keysha=$(sha256sum {keyPath} 2>/dev/null)""; fi
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then echo ca=1; fi
ssh_addr=$(echo ""$SWARMADMIN_SSH"" | awk '{{print $3}}')
echo ""sshaddr=$ssh_addr""
addr=${{WANT_ADDR:-$ssh_addr}}
dev=''
if command -v ip >/dev/null 2>&1; then
  [ -n ""$addr"" ] && dev=$(ip -o addr show 2>/dev/null | awk -v a=""$addr"" '{{split($4, p, ""/""); if (p[1] == a) {{ print $2; exit }}}}')
  [ -z ""$dev"" ] && dev=$(ip route show default 2>/dev/null | awk '{{for (i = 1; i < NF; i++) if ($i == ""dev"") {{ print $(i + 1); exit }}}}')
fi
[ -z ""$dev"" ] && dev=$(awk 'NR > 1 && $2 == ""00000000"" {{ print $1; exit }}' /proc/net/route 2>/dev/null)
dev=${{dev%@*}}
echo ""iface=$dev""
if [ -n ""$dev"" ] && [ -r /sys/class/net/$dev/mtu ]; then echo ""mtu=$(cat /sys/class/net/$dev/mtu)""; fi
if command -v ip >/dev/null 2>&1; then echo ""addrs=$(ip -o addr show 2>/dev/null | awk '{{split($4, p, ""/""); printf ""%s "", p[1]}}')""; fi
# only a running engine is asked (docker info would start a socket-activated one)
running=0
if [ -d /run/systemd/system ]; then systemctl is-active --quiet docker.service 2>/dev/null && running=1; elif pidof dockerd >/dev/null 2>&1; then running=1; fi
if [ $running = 1 ] && command -v docker >/dev/null 2>&1; then
  s=$(timeout 20 docker info --format '{{{{.Swarm.LocalNodeState}}}} {{{{.Swarm.ControlAvailable}}}}' 2>/dev/null) && echo ""swarm=$s""
fi
if [ -f {EngineInstallPlan.DaemonJsonPath} ] && [ -d /run/systemd/system ] && systemctl is-active --quiet docker.service 2>/dev/null; then
  echo ""djmtime=$(stat -c %Y {EngineInstallPlan.DaemonJsonPath} 2>/dev/null)""
  ts=$(systemctl show -p ActiveEnterTimestamp --value docker.service 2>/dev/null)
  [ -n ""$ts"" ] && echo ""started=$(date -d ""$ts"" +%s 2>/dev/null)""
fi
exit 0";
        }

        private async Task ProbeAsync(NodeWork w, EngineInstallRequest req, string keyFile, string knownHosts)
        {
            var sw = Stopwatch.StartNew();
            Verbose($"{w.Name}: connecting over SSH and reading the OS, packages and engine configuration.");
            w.Shell = await NodeShell.ConnectAsync(null, w.Target, keyFile, knownHosts, StopToken).ConfigureAwait(false);
            string script = ProbeScript(req);
            string wantAddr = w.Target.AdvertiseAddress;
            if (wantAddr == null && IPAddress.TryParse(w.Shell.Endpoint.Host, out _)) wantAddr = w.Shell.Endpoint.Host;
            if (wantAddr != null && !IPAddress.TryParse(wantAddr, out _)) wantAddr = null; // only an IP goes into the script
            SshExecResult r = await w.Shell.ExecAsync((wantAddr != null ? $"WANT_ADDR={wantAddr}\n" : "") + script, null, ShortStep, StopToken).ConfigureAwait(false);
            if (r.ExitCode != 0) throw StepFailure(w, "Probe", $"Reading {w.Name} failed (exit {r.ExitCode}).", r, ErrorCategory.InvalidResult, w.Shell.UsesSudo ? $"'{w.Shell.Endpoint.User}' needs passwordless sudo (sudo -n) on {w.Name}, or connect as root." : null);
            w.Facts = EngineNodeFacts.Parse(r.StdOut);
            w.Address = wantAddr ?? w.Facts.SshAddress ?? w.Shell.Endpoint.Host;
            w.Facts.Packages.TryGetValue(req.EnginePackage, out w.Installed);
            w.Candidate = w.Facts.Candidate;
            w.Steps.Add(new SwarmEngineStep { Name = "Probe", Detail = $"{w.Facts.Os}; {req.EnginePackage} {w.Installed ?? "not installed"}; interface {w.Facts.Interface ?? "?"} MTU {w.Facts.Mtu?.ToString() ?? "?"}", Duration = sw.Elapsed });
        }

        /// <summary>Turns unsupported systems and conflicting engines into errors (before anything is asked or changed).</summary>
        private void CheckSupported(NodeWork w, EngineInstallRequest req)
        {
            EngineNodeFacts f = w.Facts;
            string why = f.Os.WhyUnsupported(req.Source);
            if (why == null && !f.HasApt) why = $"{f.Os} has no APT (apt-get, apt-cache and dpkg-query are missing), so SwarmAdmin cannot install packages on it";
            if (why != null)
            {
                w.Error = new SwarmException(SwarmErrorId.EngineOsUnsupported, ErrorCategory.NotImplemented, $"Cannot install the engine on {w.Name}: {why}. Nothing was changed.", w.Target)
                { RecommendedAction = "Install the engine on that machine by hand (or use a Debian 11+/Ubuntu 20.04+ image), then use Join-SwarmNode." };
                return;
            }
            string other = req.Source == SwarmEngineSource.Distribution
                ? new[] { "docker-ce", "moby-engine" }.FirstOrDefault(f.Packages.ContainsKey)
                : new[] { "docker.io", "moby-engine" }.FirstOrDefault(f.Packages.ContainsKey);
            if (other != null)
            {
                w.Error = new SwarmException(SwarmErrorId.EngineSourceConflict, ErrorCategory.ResourceExists,
                    $"{w.Name} has {other} {f.Packages[other]} installed, which conflicts with {req.EnginePackage} (-Source {req.Source}). Nothing was changed.", w.Target)
                { RecommendedAction = req.Source == SwarmEngineSource.Distribution ? "Use -Source DockerRepository to keep Docker's packages, or remove them first." : "Use -Source Distribution to keep docker.io, or remove it first (apt-get remove docker.io)." };
                return;
            }
            if (w.Installed == null && f.HasDockerd)
            {
                w.Error = new SwarmException(SwarmErrorId.EngineSourceConflict, ErrorCategory.ResourceExists,
                    $"{w.Name} has a dockerd that no APT package installed (a static or script install?). Installing {req.EnginePackage} over it would leave two engines. Nothing was changed.", w.Target)
                { RecommendedAction = "Remove that engine first, or keep it and use Join-SwarmNode directly." };
            }
        }

        private async Task PrepareAsync(NodeWork w, EngineInstallRequest req)
        {
            EngineInstallPlan plan = w.Plan;
            if (req.AptProxy != null && plan.Steps.First(s => s.Name == "AptProxy").Changed)
            {
                bool secret = req.AptProxy.Contains("@");
                await StepAsync(w, "AptProxy", $"write {EngineInstallPlan.AptProxyPath} (APT through {EngineInstallPlan.Redact(req.AptProxy)})",
                    Env + $"set -e; mkdir -p /etc/apt/apt.conf.d; umask {(secret ? "077" : "022")}; cat > {EngineInstallPlan.AptProxyPath}.swarmadmin-new; mv {EngineInstallPlan.AptProxyPath}.swarmadmin-new {EngineInstallPlan.AptProxyPath}",
                    ShortStep, Encoding.UTF8.GetBytes(plan.AptProxyContent)).ConfigureAwait(false);
            }
            else if (req.AptProxy != null) AddStep(w, "AptProxy", "already set", false, TimeSpan.Zero);

            if (req.Source == SwarmEngineSource.DockerRepository)
            {
                var step = plan.Steps.First(s => s.Name == "Repository");
                if (step.Changed)
                {
                    if (plan.NeedsCaCertificates)
                        await AptAsync(w, "Repository", "apt-get update and install ca-certificates (for the https repository)", $"{Apt} update && {Apt} install ca-certificates").ConfigureAwait(false);
                    if (plan.WriteKey)
                        await StepAsync(w, "Repository", $"write the signing key {plan.KeyPath}",
                            Env + $"set -e; mkdir -p /etc/apt/keyrings; umask 022; cat > {plan.KeyPath}.swarmadmin-new; mv {plan.KeyPath}.swarmadmin-new {plan.KeyPath}", ShortStep, req.RepositoryKey).ConfigureAwait(false);
                    await StepAsync(w, "Repository", $"write {EngineInstallPlan.SourcesPath} ({req.RepositoryUri} {w.Facts.Os.Codename} stable)",
                        Env + $"set -e; mkdir -p /etc/apt/sources.list.d; umask 022; cat > {EngineInstallPlan.SourcesPath}.swarmadmin-new; mv {EngineInstallPlan.SourcesPath}.swarmadmin-new {EngineInstallPlan.SourcesPath}",
                        ShortStep, Encoding.UTF8.GetBytes(plan.SourcesContent)).ConfigureAwait(false);
                }
                else AddStep(w, "Repository", "already configured", false, TimeSpan.Zero);
            }

            if (plan.NeedsUpdate)
            {
                // apt-get update takes the lists lock, which DPkg::Lock::Timeout does not wait for: retry while another apt holds it
                int tries = Math.Max(1, Math.Min(10, TimeoutSec / 30));
                await AptAsync(w, "AptUpdate", "apt-get update", $@"err=$(mktemp); i=0
while :; do
  {Apt} update 2>""$err""; rc=$?
  if [ $rc -eq 100 ] && grep -q 'Could not get lock' ""$err"" && [ $i -lt {tries} ]; then i=$((i+1)); echo ""apt lists locked, retry $i"" >&2; sleep 15; continue; fi
  cat ""$err"" >&2; rm -f ""$err""; exit $rc
done", changed: false).ConfigureAwait(false);
                string pkg = req.EnginePackage;
                string outp = await StepAsync(w, "Resolve", $"apt-cache policy/madison {pkg}", Env +
                    $"apt-cache policy {pkg} | awk '/Candidate:/ {{print \"candidate=\" $2; exit}}'; apt-cache madison {pkg} | awk -F'|' '$3 ~ /Packages/ {{gsub(/ /, \"\", $2); print \"available=\" $2}}'",
                    ShortStep, null, changed: false).ConfigureAwait(false);
                var lines = (outp ?? string.Empty).Split('\n').Select(l => l.Trim()).ToList();
                string candidate = lines.Where(l => l.StartsWith("candidate=", StringComparison.Ordinal)).Select(l => l.Substring(10)).FirstOrDefault() ?? string.Empty;
                w.Candidate = candidate.Length == 0 || candidate == "(none)" ? null : candidate;
                w.Available = lines.Where(l => l.StartsWith("available=", StringComparison.Ordinal)).Select(l => l.Substring(10)).Where(v => v.Length > 0).Distinct(StringComparer.Ordinal).ToList();
                w.Steps[w.Steps.Count - 1].Detail = $"apt-cache policy {pkg}: candidate {w.Candidate ?? "(none)"} ({w.Available.Count} version(s) offered)";
            }
        }

        private async Task ApplyAsync(NodeWork w, EngineInstallRequest req)
        {
            EngineInstallPlan plan = w.Plan;
            string dj = EngineInstallPlan.DaemonJsonPath;
            if (plan.DaemonConfigChanged)
            {
                // written before the package is installed, so a fresh engine starts with it; checked by dockerd --validate when the engine has it
                await StepAsync(w, "DaemonConfig", $"write {dj}: {DaemonConfigJson.Canonical(plan.DaemonConfig)}", Env + $@"set -e
mkdir -p /etc/docker
new={dj}.swarmadmin-new
trap 'rm -f ""$new""' EXIT
umask 022
cat > ""$new""
if command -v dockerd >/dev/null 2>&1 && dockerd --help 2>&1 | grep -q -- '--validate'; then
  dockerd --validate --config-file ""$new"" >/dev/null
fi
if [ -f {dj} ]; then cp -p {dj} {dj}.swarmadmin-bak; fi
mv ""$new"" {dj}
trap - EXIT", ShortStep, Encoding.UTF8.GetBytes(DaemonConfigJson.Format(plan.DaemonConfig))).ConfigureAwait(false);
            }
            else AddStep(w, "DaemonConfig", $"{dj} already says the same", false, TimeSpan.Zero);

            if (plan.NeedsInstall)
            {
                string[] pkgs = req.Packages;
                if (!EngineInstallPlan.IsValidVersion(plan.Version))
                    throw StepFailure(w, "Install", $"The engine version '{plan.Version}' is not a Debian package version; nothing was installed on {w.Name}.", null, ErrorCategory.InvalidData, "Pass -Version with the exact version to install.");
                string spec = string.Join(" ", pkgs.Select((p, i) => i < (req.Source == SwarmEngineSource.Distribution ? 1 : 2) ? $"{p}={plan.Version}" : p));
                string quoted = string.Join(" ", pkgs.Select((p, i) => NodeShell.Quote(i < (req.Source == SwarmEngineSource.Distribution ? 1 : 2) ? $"{p}={plan.Version}" : p)));
                // The distribution's docker.io recommends git, needrestart, perl... (66 packages on Debian 12, 3x the
                // install time): a swarm node needs only these of its recommends (AppArmor profiles for containers on
                // kernels that enforce AppArmor, CA certificates for registries, xz for docker load), and only when
                // missing: named on apt's command line, an installed one would be upgraded (ca-certificates' upgrade
                // and its trigger were 40% of the install's CPU time on a fresh Debian 12, and an engine install has
                // no business upgrading other packages).
                string extras = req.Source == SwarmEngineSource.Distribution ? " --no-install-recommends" : "";
                string also = req.Source == SwarmEngineSource.Distribution ? " " + MissingPackagesShell(DistributionCompanions) : "";
                string alsoText = req.Source == SwarmEngineSource.Distribution ? $" (and {string.Join(", ", DistributionCompanions)} where missing)" : "";
                await AptAsync(w, "Install", $"apt-get install{extras} {spec}{alsoText}", $"{Apt} --allow-downgrades --allow-change-held-packages{extras} install {quoted}{also}").ConfigureAwait(false);
                w.FreshInstall = w.Installed == null;
                // the package's postinst restarted the running engine
                if (!w.FreshInstall && w.Facts.ServiceActive) w.Restarted = true;
            }
            else AddStep(w, "Install", $"{req.EnginePackage} {w.Installed} is installed", false, TimeSpan.Zero);

            if (plan.HoldMissing.Length > 0)
                await StepAsync(w, "Hold", $"apt-mark hold {string.Join(" ", plan.HoldMissing)}", Env + $"apt-mark -o DPkg::Lock::Timeout={LockTimeout} hold {string.Join(" ", plan.HoldMissing)} >/dev/null", ShortStep, null).ConfigureAwait(false);
            else AddStep(w, "Hold", "already held", false, TimeSpan.Zero);

            bool restart = plan.Restart && !w.FreshInstall;
            bool serviceOk = w.Facts.ServiceActive && (w.Facts.ServiceEnabled || !w.Facts.HasSystemd) && !plan.NeedsInstall;
            if (restart && w.Facts.HasSystemd)
            {
                await RestartOrRestoreAsync(w).ConfigureAwait(false);
                w.Restarted = true;
            }
            else if (restart || !serviceOk)
            {
                string verb = restart ? "restart" : "start";
                string script = w.Facts.HasSystemd
                    ? (restart ? "systemctl enable docker.service >/dev/null 2>&1; systemctl restart docker.service" : "systemctl enable --now docker.service") +
                      " || { echo 'docker.service failed; its last log lines:' >&2; journalctl -u docker.service -n 15 --no-pager >&2; exit 1; }"
                    : $"if [ -x /etc/init.d/docker ]; then /etc/init.d/docker {verb}; elif command -v service >/dev/null 2>&1; then service docker {verb}; else echo 'no systemd and no /etc/init.d/docker: cannot start the engine' >&2; exit 3; fi";
                await StepAsync(w, "Service", restart ? "restart docker (daemon.json changed)" : (w.Facts.HasSystemd ? "systemctl enable --now docker" : "start docker"), Env + script, TimeSpan.FromSeconds(180), null).ConfigureAwait(false);
                w.Restarted = restart;
            }
            else AddStep(w, "Service", "docker is enabled and running", false, TimeSpan.Zero);

            if (w.Shell.UsesSudo)
            {
                // SwarmAdmin reaches engines as the SSH user (docker system dial-stdio): that user needs the docker group
                string user = w.Shell.Endpoint.User;
                string q = NodeShell.Quote(user);
                string outp = await StepAsync(w, "Access", $"make {user} a member of the docker group", Env +
                    $"if id -nG {q} | tr ' ' '\\n' | grep -qx docker; then echo member; else usermod -aG docker {q} && echo added; fi", ShortStep, null, changed: false).ConfigureAwait(false);
                bool added = (outp ?? string.Empty).Contains("added");
                lock (w.Steps) { var last = w.Steps[w.Steps.Count - 1]; last.Changed = added; last.Detail = added ? $"{user} added to the docker group (effective at its next SSH login)" : $"{user} is in the docker group"; }
            }

            var sw = Stopwatch.StartNew();
            Verbose($"{w.Name}: Verify: waiting for the engine to answer over SSH.");
            if (!w.Shell.UsesSudo)
            {
                try
                {
                    using (var engine = await w.Shell.WaitForEngineAsync(TimeSpan.FromSeconds(90), StopToken).ConfigureAwait(false))
                    {
                        w.EngineVersion = engine.EngineVersion;
                        w.ApiVersion = engine.ServerApiVersion;
                    }
                }
                catch (SwarmException ex) when (ex.ErrorId == SwarmErrorId.EngineUnavailable)
                {
                    throw new SwarmException(SwarmErrorId.EngineInstallFailed, ErrorCategory.ResourceUnavailable, $"Step Verify on {w.Name} failed: {ex.Message}", w.Target, ex)
                    { RecommendedAction = $"Check 'journalctl -u docker' on {w.Name}, and that the docker CLI is installed (docker system dial-stdio needs it; on Debian 13+ it is the docker-cli package)." };
                }
            }
            else
            {
                // a group added in this SSH session is not effective in it: ask the engine through sudo instead
                DateTime deadline = DateTime.UtcNow.AddSeconds(90);
                SshExecResult r;
                while (true)
                {
                    r = await w.Shell.ExecAsync(Env + "docker version --format '{{.Server.Version}} {{.Server.APIVersion}}'", null, ShortStep, StopToken).ConfigureAwait(false);
                    if (r.ExitCode == 0 || DateTime.UtcNow > deadline) break;
                    await Task.Delay(1000, StopToken).ConfigureAwait(false);
                }
                if (r.ExitCode != 0) throw StepFailure(w, "Verify", $"Step Verify on {w.Name} failed: the engine did not answer 'docker version' within 90 s.", r, ErrorCategory.ResourceUnavailable, $"Check 'journalctl -u docker' on {w.Name}.");
                string[] v = (r.StdOut ?? string.Empty).Trim().Split(' ');
                w.EngineVersion = v[0];
                w.ApiVersion = v.Length > 1 ? v[1] : null;
            }
            AddStep(w, "Verify", $"engine {w.EngineVersion} answers (API {w.ApiVersion})", false, sw.Elapsed);
        }

        /// <summary>
        /// Restarts docker (systemd) and waits for docker info; when the engine does not come back, the previous
        /// daemon.json is put back (or the new one removed), the engine restarted with it, and the step fails with
        /// the engine's last journal lines.
        /// </summary>
        private async Task RestartOrRestoreAsync(NodeWork w)
        {
            string dj = EngineInstallPlan.DaemonJsonPath;
            int wait = Math.Min(120, Math.Max(30, TimeoutSec / 4));
            string restore = w.Facts.DaemonJsonExists
                ? $"if [ -f {dj}.swarmadmin-bak ]; then cp -p {dj}.swarmadmin-bak {dj}; echo 'the previous daemon.json was put back (from daemon.json.swarmadmin-bak)' >&2; fi"
                : $"rm -f {dj}; echo 'the new daemon.json was removed (there was none before)' >&2";
            string script = Env + $@"up() {{ i=0; while [ $i -lt {wait} ]; do docker info >/dev/null 2>&1 && return 0; sleep 1; i=$((i+1)); done; return 1; }}
systemctl enable docker.service >/dev/null 2>&1
if systemctl restart docker.service && up; then exit 0; fi
echo 'docker did not come back after the restart; the last lines of journalctl -u docker:' >&2
journalctl -u docker.service -n 20 --no-pager >&2
{(w.Plan.DaemonConfigChanged ? restore : $"echo 'the daemon.json on the node is kept: it was not written by this run' >&2")}
systemctl reset-failed docker.service docker.socket >/dev/null 2>&1
if systemctl restart docker.service && up; then echo 'the engine runs again with the previous configuration' >&2; else echo 'the engine does not run even with the previous configuration' >&2; fi
exit 1";
            string detail = w.Plan.ApplyPendingConfig ? "restart docker: applying a daemon.json written after the engine started" : "restart docker (daemon.json changed)";
            Verbose($"{w.Name}: Service: {detail}");
            var sw = Stopwatch.StartNew();
            SshExecResult r;
            try { r = await w.Shell.ExecAsync(script, null, TimeSpan.FromSeconds(2 * wait + 120), StopToken).ConfigureAwait(false); }
            catch (TimeoutException ex)
            {
                throw new SwarmException(SwarmErrorId.EngineInstallFailed, ErrorCategory.OperationTimeout, $"Step Service on {w.Name} did not finish within {2 * wait + 120} s ({detail}).", w.Target, ex) { Data = { ["Step"] = "Service", ["Node"] = w.Name } };
            }
            if (r.ExitCode != 0)
            {
                string text = (r.StdErr ?? string.Empty).Trim();
                throw StepError(w, "Service", ErrorCategory.InvalidResult,
                    $"Step Service on {w.Name} failed: the engine did not come back within {wait} s after the restart ({detail}).\n{Tail(text, 26)}",
                    "Fix the daemon.json settings (-DaemonConfig) that the engine's log above complains about and run Install-SwarmEngine again.");
            }
            AddStep(w, "Service", detail, true, sw.Elapsed);
        }

        private static string ReleaseOf(EngineNodeFacts f) => $"{f.Os.Id} {f.Os.Codename ?? f.Os.VersionId}";

        /// <summary>A shell word list of those packages dpkg does not have installed (evaluated on the node).</summary>
        internal static string MissingPackagesShell(IEnumerable<string> packages)
            => "$(for p in " + string.Join(" ", packages.Select(NodeShell.Quote)) + "; do dpkg-query -W -f='${db:Status-Abbrev}' \"$p\" 2>/dev/null | grep -q '^.i' || printf ' %s' \"$p\"; done)";

        private Task<string> AptAsync(NodeWork w, string step, string detail, string command, bool changed = true)
            => StepAsync(w, step, detail, Env + command, TimeSpan.FromSeconds(TimeoutSec), null, changed, aptCheck: true);

        /// <summary>Runs one remote step; a non-zero exit (or apt's "Failed to fetch" warnings) becomes SwarmEngineInstallFailed naming the step.</summary>
        private async Task<string> StepAsync(NodeWork w, string step, string detail, string script, TimeSpan timeout, byte[] stdin, bool changed = true, bool aptCheck = false)
        {
            Verbose($"{w.Name}: {step}: {detail}");
            var sw = Stopwatch.StartNew();
            SshExecResult r;
            try
            {
                using (var input = stdin != null ? new MemoryStream(stdin) : null)
                    r = await w.Shell.ExecAsync(script, input, timeout, StopToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new SwarmException(SwarmErrorId.EngineInstallFailed, ErrorCategory.OperationTimeout, $"Step {step} on {w.Name} did not finish within {timeout.TotalSeconds:0} s ({detail}).", w.Target, ex)
                { RecommendedAction = step == "AptUpdate" || step == "Install" ? "Check that the node reaches its APT sources (or -AptProxy), or give more time with -TimeoutSec." : null };
            }
            bool fetchFailed = aptCheck && r.ExitCode == 0 && Regex.IsMatch(r.StdErr ?? "", @"(?m)^(W|E): (Failed to fetch|Some index files failed to download)");
            if (r.ExitCode != 0 || fetchFailed)
            {
                throw StepFailure(w, step, $"Step {step} on {w.Name} failed{(fetchFailed ? " (APT could not download its index files)" : $" (exit {r.ExitCode})")}: {detail}.", r,
                    ErrorCategory.InvalidResult, aptCheck ? "Check the node's APT sources and proxy (apt-get update on the node shows the same errors)." : null);
            }
            AddStep(w, step, detail, changed, sw.Elapsed);
            return r.StdOut;
        }

        private void AddStep(NodeWork w, string name, string detail, bool changed, TimeSpan duration)
        {
            lock (w.Steps) w.Steps.Add(new SwarmEngineStep { Name = name, Detail = detail, Changed = changed, Duration = duration });
        }

        private static SwarmException StepFailure(NodeWork w, string step, string message, SshExecResult r, ErrorCategory category, string action)
        {
            string tail = r == null ? null : Tail(string.IsNullOrWhiteSpace(r.StdErr) ? r.StdOut : r.StdErr, 8);
            var ex = new SwarmException(SwarmErrorId.EngineInstallFailed, category, message + (string.IsNullOrEmpty(tail) ? "" : "\n" + tail), w.Target) { RecommendedAction = action };
            ex.Data["Step"] = step;
            ex.Data["Node"] = w.Name;
            return ex;
        }

        internal static string Tail(string text, int lines) => TextTail.Of(text, lines);

        /// <summary>PowerShell values in -DaemonConfig as plain .NET values (PSObject unwrapped, pscustomobject as a dictionary, switches as bool).</summary>
        internal static object Plain(object value)
        {
            switch (value)
            {
                case null: return null;
                case PSObject pso when pso.BaseObject is PSCustomObject:
                    {
                        var d = new System.Collections.Specialized.OrderedDictionary();
                        foreach (var p in pso.Properties) d[p.Name] = Plain(p.Value);
                        return d;
                    }
                case PSObject pso: return Plain(pso.BaseObject);
                case SwitchParameter sp: return sp.IsPresent;
                case string s: return s;
                case IDictionary dict:
                    {
                        var d = new System.Collections.Specialized.OrderedDictionary();
                        foreach (DictionaryEntry e in dict) d[e.Key is PSObject k ? k.BaseObject : e.Key] = Plain(e.Value);
                        return d;
                    }
                case IEnumerable list:
                    {
                        var l = new List<object>();
                        foreach (object x in list) l.Add(Plain(x));
                        return l;
                    }
                default: return value;
            }
        }
    }
}
