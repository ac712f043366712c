using System;
using System.Management.Automation;
using System.Security;
using System.Threading.Tasks;
using Docker.DotNet.Models;
using SwarmAdmin.Connection;

namespace SwarmAdmin.Commands
{
    /// <summary>Get-SwarmJoinToken: the current join token of a role, as a SecureString.</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmJoinToken")]
    [OutputType(typeof(SecureString))]
    public sealed class GetSwarmJoinTokenCommand : SwarmContextCmdlet
    {
        /// <summary>Worker or Manager.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public SwarmNodeRole Role { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            var swarm = await CallAsync(ctx, "GET /swarm", (c, t) => c.Swarm.InspectSwarmAsync(t));
            WriteObject(TokenOf(swarm, Role));
        }

        internal static SecureString TokenOf(SwarmInspectResponse swarm, SwarmNodeRole role)
        {
            string token = role == SwarmNodeRole.Manager ? swarm.JoinTokens?.Manager : swarm.JoinTokens?.Worker;
            swarm.JoinTokens = null;
            var secure = new SecureString();
            foreach (char c in token ?? string.Empty) secure.AppendChar(c);
            secure.MakeReadOnly();
            return secure;
        }
    }

    /// <summary>Invoke-SwarmTokenRotation: replaces a role's join token; the old one stops working.</summary>
    [Cmdlet(VerbsLifecycle.Invoke, "SwarmTokenRotation", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(SecureString))]
    public sealed class InvokeSwarmTokenRotationCommand : SwarmContextCmdlet
    {
        /// <summary>The role(s) whose token to rotate.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public SwarmNodeRole[] Role { get; set; }

        /// <summary>Return the new token(s) as SecureString, in the order of -Role.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            SwarmContext ctx = ResolveContext();
            bool worker = Array.IndexOf(Role, SwarmNodeRole.Worker) >= 0, manager = Array.IndexOf(Role, SwarmNodeRole.Manager) >= 0;
            string what = worker && manager ? "worker and manager join tokens" : worker ? "worker join token" : "manager join token";
            if (!ShouldProcess($"swarm {ctx.ClusterId}", $"Rotate the {what} (the old one stops working)")) return;
            string query = (worker ? "&rotateWorkerToken=true" : "") + (manager ? "&rotateManagerToken=true" : "");
            for (int attempt = 1; ; attempt++)
            {
                // Raw calls: Docker.DotNet spells the flags 'rotateworkertoken', which the engine ignores. The spec goes back
                // exactly as the engine gave it; the join tokens in that answer are never kept or shown.
                ulong version = 0;
                string spec = null;
                string raw = await ctx.InvokeOnConnectionAsync("GET /swarm", (c, t) => c.SendAsync(System.Net.Http.HttpMethod.Get, "swarm", null, t), this, StopToken);
                using (var doc = System.Text.Json.JsonDocument.Parse(raw))
                {
                    version = doc.RootElement.GetProperty("Version").GetProperty("Index").GetUInt64();
                    spec = doc.RootElement.GetProperty("Spec").GetRawText();
                }
                raw = null;
                try
                {
                    await ctx.InvokeOnConnectionAsync("POST /swarm/update (rotate join tokens)",
                        (c, t) => c.SendAsync(System.Net.Http.HttpMethod.Post, $"swarm/update?version={version}{query}", spec, t), this, StopToken, retryOnOtherManager: false);
                    break;
                }
                catch (Docker.DotNet.DockerApiException ex) when (Nodes.NodeLabels.IsVersionConflict(ex) && attempt < 5)
                {
                    Verbose($"The swarm changed while rotating (version {version} is stale); reading it again (attempt {attempt + 1} of 5).");
                }
            }
            Verbose($"Rotated the {what} of swarm {ctx.ClusterId}.");
            if (PassThru)
            {
                var fresh = await CallAsync(ctx, "GET /swarm", (c, t) => c.Swarm.InspectSwarmAsync(t));
                foreach (var r in Role)
                {
                    WriteObject(GetSwarmJoinTokenCommand.TokenOf(new SwarmInspectResponse { JoinTokens = new JoinTokens { Worker = fresh.JoinTokens.Worker, Manager = fresh.JoinTokens.Manager } }, r));
                }
                fresh.JoinTokens = null;
            }
        }
    }
}
