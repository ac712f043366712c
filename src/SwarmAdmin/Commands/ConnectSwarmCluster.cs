using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading.Tasks;
using SwarmAdmin.Connection;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Commands
{
    /// <summary>Connect-SwarmCluster: opens the Docker Engine API of a swarm manager (over SSH, a unix socket or TCP).</summary>
    [Cmdlet(VerbsCommunications.Connect, "SwarmCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(SwarmContext))]
    public sealed class ConnectSwarmClusterCommand : SwarmCmdlet
    {
        /// <summary>Manager endpoints, tried in order: ssh://user@host[:port], user@host, host, unix:///path, tcp://host:port.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Endpoints", "Host")]
        [ValidateNotNullOrEmpty]
        public string[] Endpoint { get; set; }

        /// <summary>SSH private key file(s). Default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa (those that exist).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("IdentityFile", "KeyPath")]
        [ValidateNotNullOrEmpty]
        public string[] KeyFile { get; set; }

        /// <summary>OpenSSH known_hosts file used to verify host keys. Default: ~/.ssh/known_hosts.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string KnownHostsPath { get; set; }

        /// <summary>Accept and record host keys that known_hosts does not have yet. A changed key is never accepted.</summary>
        [Parameter]
        public SwitchParameter TrustOnFirstUse { get; set; }

        /// <summary>User for endpoints that name none. Default: the current user name.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string User { get; set; }

        /// <summary>Seconds each connection attempt and each engine API call may take.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 10;

        /// <summary>Return the context without making it the session default.</summary>
        [Parameter]
        public SwitchParameter NoDefault { get; set; }

        private readonly List<string> _endpoints = new List<string>();

        protected override Task ProcessRecordAsync()
        {
            _endpoints.AddRange(Endpoint);
            return Task.CompletedTask;
        }

        protected override async Task EndProcessingAsync()
        {
            IReadOnlyList<SwarmEndpoint> endpoints;
            try
            {
                endpoints = SwarmEndpoint.ParseList(_endpoints, User);
            }
            catch (FormatException ex)
            {
                // The target repeats the input, so any password in it is masked first.
                string target = System.Text.RegularExpressions.Regex.Replace(string.Join(",", _endpoints), @"(://[^/@:,]*):[^@/,]*@", "$1:***@");
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidArgument, ex.Message, target, ex));
            }

            string[] keyFiles = KeyFile?.Select(k => SessionState.Path.GetUnresolvedProviderPathFromPSPath(k)).ToArray();
            if (keyFiles != null)
            {
                foreach (string k in keyFiles)
                {
                    if (!File.Exists(k))
                    {
                        throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.KeyFileNotFound, ErrorCategory.ObjectNotFound,
                            $"The SSH key file '{k}' does not exist. Pass -KeyFile with the path of a private key that the managers accept.", k));
                    }
                }
            }

            string knownHosts = KnownHostsPath != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath) : SshOptions.DefaultKnownHostsPath;
            try
            {
                KnownHostsFile.Load(knownHosts); // fail early, with the file's name, when it cannot be read
            }
            catch (KnownHostsException ex)
            {
                throw new TerminatingErrorException(SwarmErrors.ToRecord(ex, knownHosts));
            }

            bool tofu = TrustOnFirstUse.IsPresent;
            if (tofu && !ShouldProcess(knownHosts, "Record the host keys of endpoints not yet in this known_hosts file"))
            {
                tofu = false;
            }

            var options = new SshOptions
            {
                KeyFiles = keyFiles ?? Array.Empty<string>(),
                KnownHostsPath = knownHosts,
                TrustOnFirstUse = tofu,
                Timeout = TimeSpan.FromSeconds(TimeoutSec),
            };
            var context = new SwarmContext(endpoints, options, TimeSpan.FromSeconds(TimeoutSec));
            try
            {
                await context.EnsureConnectedAsync(this, StopToken);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && StopToken.IsCancellationRequested))
            {
                context.Dispose();
                throw new TerminatingErrorException(SwarmErrors.ToRecord(ex, endpoints.Count == 1 ? (object)endpoints[0] : context));
            }

            if (!NoDefault) SwarmContext.Default = context;
            WriteObject(context);
        }
    }

    /// <summary>Disconnect-SwarmCluster: closes a context's connections.</summary>
    [Cmdlet(VerbsCommunications.Disconnect, "SwarmCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(void))]
    public sealed class DisconnectSwarmClusterCommand : SwarmCmdlet
    {
        /// <summary>The context to close. Default: the session's default context.</summary>
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("InputObject")]
        public SwarmContext Context { get; set; }

        protected override Task ProcessRecordAsync()
        {
            SwarmContext ctx = Context ?? SwarmContext.Default;
            if (ctx == null)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.NotConnected, ErrorCategory.ObjectNotFound, "No swarm is connected in this session; there is nothing to disconnect.", null));
                return Task.CompletedTask;
            }
            if (!ShouldProcess(ctx.ToString(), "Close the connection")) return Task.CompletedTask;
            Verbose($"Closing the connection to {ctx}.");
            ctx.Dispose();
            if (ReferenceEquals(SwarmContext.Default, ctx)) SwarmContext.Default = null;
            return Task.CompletedTask;
        }
    }
}
