using System.Management.Automation;
using System.Security;
using System.Text;
using SwarmAdmin.Secrets;

namespace SwarmAdmin.Commands
{
    /// <summary>New-SwarmSecret: creates a secret from a SecureString or a file (never from a plain string).</summary>
    [Cmdlet(VerbsCommon.New, "SwarmSecret", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "SecureString")]
    [OutputType(typeof(SwarmSecret))]
    public sealed class NewSwarmSecretCommand : NewSwarmObjectCommand<SwarmSecret>
    {
        /// <summary>The secret's content.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "SecureString")]
        [ValidateNotNull]
        public SecureString SecureString { get; set; }

        internal override SwarmObjectKind Kind => SwarmObjectKind.Secret;
        internal override byte[] InlineData() => Infrastructure.SecureStrings.ToUtf8(SecureString);
    }

    /// <summary>Get-SwarmSecret: the secrets with the services that use them (docker secret ls).</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmSecret")]
    [OutputType(typeof(SwarmSecret))]
    public sealed class GetSwarmSecretCommand : GetSwarmObjectCommand<SwarmSecret>
    {
        internal override SwarmObjectKind Kind => SwarmObjectKind.Secret;
    }

    /// <summary>Remove-SwarmSecret: removes secrets that no service uses (docker secret rm).</summary>
    [Cmdlet(VerbsCommon.Remove, "SwarmSecret", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
    [OutputType(typeof(void))]
    public sealed class RemoveSwarmSecretCommand : RemoveSwarmObjectCommand<SwarmSecret>
    {
        internal override SwarmObjectKind Kind => SwarmObjectKind.Secret;
    }

    /// <summary>Update-SwarmSecret: rotates a secret to a new version and moves every service to it.</summary>
    [Cmdlet(VerbsData.Update, "SwarmSecret", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "SecureString")]
    [OutputType(typeof(SwarmSecret))]
    public sealed class UpdateSwarmSecretCommand : UpdateSwarmObjectCommand<SwarmSecret>
    {
        /// <summary>The new content.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "SecureString")]
        [ValidateNotNull]
        public SecureString SecureString { get; set; }

        internal override SwarmObjectKind Kind => SwarmObjectKind.Secret;
        internal override byte[] InlineData() => Infrastructure.SecureStrings.ToUtf8(SecureString);
    }

    /// <summary>New-SwarmConfig: creates a config from a file or a string.</summary>
    [Cmdlet(VerbsCommon.New, "SwarmConfig", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Content")]
    [OutputType(typeof(SwarmConfig))]
    public sealed class NewSwarmConfigCommand : NewSwarmObjectCommand<SwarmConfig>
    {
        /// <summary>The config's content (UTF-8).</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Content")]
        [ValidateNotNullOrEmpty]
        public string Content { get; set; }

        internal override SwarmObjectKind Kind => SwarmObjectKind.Config;
        internal override byte[] InlineData() => new UTF8Encoding(false).GetBytes(Content);
    }

    /// <summary>Get-SwarmConfig: the configs with the services that use them (docker config ls).</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmConfig")]
    [OutputType(typeof(SwarmConfig))]
    public sealed class GetSwarmConfigCommand : GetSwarmObjectCommand<SwarmConfig>
    {
        internal override SwarmObjectKind Kind => SwarmObjectKind.Config;
    }

    /// <summary>Remove-SwarmConfig: removes configs that no service uses (docker config rm).</summary>
    [Cmdlet(VerbsCommon.Remove, "SwarmConfig", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ByName)]
    [OutputType(typeof(void))]
    public sealed class RemoveSwarmConfigCommand : RemoveSwarmObjectCommand<SwarmConfig>
    {
        internal override SwarmObjectKind Kind => SwarmObjectKind.Config;
    }

    /// <summary>Update-SwarmConfig: rotates a config to a new version and moves every service to it.</summary>
    [Cmdlet(VerbsData.Update, "SwarmConfig", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Content")]
    [OutputType(typeof(SwarmConfig))]
    public sealed class UpdateSwarmConfigCommand : UpdateSwarmObjectCommand<SwarmConfig>
    {
        /// <summary>The new content (UTF-8).</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Content")]
        [ValidateNotNullOrEmpty]
        public string Content { get; set; }

        internal override SwarmObjectKind Kind => SwarmObjectKind.Config;
        internal override byte[] InlineData() => new UTF8Encoding(false).GetBytes(Content);
    }
}
