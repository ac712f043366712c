using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Security;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using SwarmAdmin.Infrastructure;
using SwarmAdmin.Proxmox;
using SwarmAdmin.Completion;

namespace SwarmAdmin.Commands
{
    /// <summary>A cmdlet that talks to Proxmox VE through a connection (-Connection or the session default).</summary>
    public abstract class SwarmProxmoxCmdlet : SwarmCmdlet
    {
        /// <summary>The Proxmox connection to use; defaults to the last Connect-SwarmProxmox of this session.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNull]
        public SwarmProxmoxConnection Connection { get; set; }

        protected SwarmProxmoxConnection ResolveConnection()
        {
            var c = Connection ?? SwarmProxmoxConnection.Default;
            if (c == null || c.Client == null)
                throw new TerminatingErrorException(SwarmErrors.Record(SwarmErrorId.ProxmoxNotConnected, ErrorCategory.ConnectionError,
                    "No Proxmox VE cluster is connected in this session. Run Connect-SwarmProxmox -Endpoint <host> -TokenId user@realm!name -TokenSecret (Read-Host -AsSecureString) first, or pass -Connection.", null));
            return c;
        }

        /// <summary>Every VM of the cluster (qemu) from /cluster/resources, with live lock/tags/pool.</summary>
        internal async Task<List<SwarmVm>> ListVmsAsync(SwarmProxmoxConnection c, CancellationToken ct)
        {
            JsonElement data = await c.Client.GetAsync("cluster/resources", new Dictionary<string, object> { ["type"] = "vm" }, ct).ConfigureAwait(false);
            var vms = new List<SwarmVm>();
            if (data.ValueKind != JsonValueKind.Array) return vms;
            foreach (JsonElement e in data.EnumerateArray())
            {
                if (JsonRead.String(e, "type") != "qemu") continue;
                vms.Add(FromResource(e, c));
            }
            return vms.OrderBy(v => v.VmId).ToList();
        }

        internal static SwarmVm FromResource(JsonElement e, SwarmProxmoxConnection c)
        {
            long? maxmem = JsonRead.Long(e, "maxmem");
            long? maxdisk = JsonRead.Long(e, "maxdisk");
            long? uptime = JsonRead.Long(e, "uptime");
            string tags = JsonRead.String(e, "tags");
            return new SwarmVm
            {
                VmId = (int)(JsonRead.Long(e, "vmid") ?? 0),
                Name = JsonRead.String(e, "name"),
                Node = JsonRead.String(e, "node"),
                Status = JsonRead.String(e, "status") ?? "unknown",
                Cores = (int?)JsonRead.Long(e, "maxcpu"),
                MemoryMB = maxmem.HasValue ? maxmem / (1024 * 1024) : null,
                DiskGB = maxdisk.HasValue && maxdisk.Value > 0 ? Math.Round(maxdisk.Value / 1073741824.0, 1) : (double?)null,
                Tags = string.IsNullOrEmpty(tags) ? Array.Empty<string>() : tags.Split(new[] { ';', ',', ' ' }, StringSplitOptions.RemoveEmptyEntries),
                IsTemplate = JsonRead.Bool(e, "template") ?? false,
                Lock = JsonRead.String(e, "lock"),
                Uptime = uptime.HasValue && uptime.Value > 0 ? TimeSpan.FromSeconds(uptime.Value) : (TimeSpan?)null,
                Pool = JsonRead.String(e, "pool"),
                Connection = c,
            };
        }
    }

    /// <summary>Connect-SwarmProxmox: opens an API session with a Proxmox VE cluster (token or user/password, TLS pinned or system-trusted).</summary>
    [Cmdlet(VerbsCommunications.Connect, "SwarmProxmox", DefaultParameterSetName = "Token", SupportsShouldProcess = false)]
    [OutputType(typeof(SwarmProxmoxConnection))]
    public sealed class ConnectSwarmProxmoxCommand : SwarmCmdlet
    {
        /// <summary>The Proxmox host or URL: pve01, pve01:8006 or https://pve01:8006.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Endpoint { get; set; }

        /// <summary>The API token ID, user@realm!tokenname.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Token")]
        [ValidateNotNullOrEmpty]
        public string TokenId { get; set; }

        /// <summary>The API token secret (the UUID shown once when the token was created).</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Token")]
        [ValidateNotNull]
        public SecureString TokenSecret { get; set; }

        /// <summary>A user (user@realm) and password, for ticket authentication.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Password")]
        [ValidateNotNull]
        [Credential]
        public PSCredential Credential { get; set; }

        /// <summary>SHA-256 fingerprints (AA:BB:...) of the certificates to accept (Proxmox ships self-signed ones).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] CertificateFingerprint { get; set; }

        /// <summary>Seconds each API call may take.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int TimeoutSec { get; set; } = 30;

        /// <summary>Do not make this the session's default connection.</summary>
        [Parameter]
        public SwitchParameter NoDefault { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            if (!ProxmoxEndpoint.TryParse(Endpoint, out ProxmoxEndpoint endpoint, out string why))
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidEndpoint, ErrorCategory.InvalidArgument, $"'{Endpoint}' is not a Proxmox endpoint: {why}. Use a host name or https://host:8006.", Endpoint));
                return;
            }
            if (TokenId != null && TokenId.IndexOf('=') >= 0)
            {
                // never echo a value that may carry the secret
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                    "-TokenId must be only the token ID (user@realm!tokenname); pass the secret after '=' with -TokenSecret as a SecureString.", Endpoint));
                return;
            }
            ProxmoxCredential credential;
            ProxmoxTls tls;
            try
            {
                credential = ParameterSetName == "Password"
                    ? ProxmoxCredential.FromPassword(Credential.UserName.TrimStart('\\'), Credential.Password)
                    : (ProxmoxCredential)ProxmoxCredential.FromToken(TokenId, TokenSecret);
                tls = CertificateFingerprint != null ? ProxmoxTls.Pinned(CertificateFingerprint) : ProxmoxTls.SystemTrust();
            }
            catch (Exception ex) when (ex is ArgumentException || ex is FormatException)
            {
                WriteError(SwarmErrors.Record(SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument, ex.Message, Endpoint, ex));
                return;
            }

            var client = new ProxmoxClient(endpoint, credential, new ProxmoxClientOptions { Timeout = TimeSpan.FromSeconds(TimeoutSec), Tls = tls });
            try
            {
                Verbose($"Connecting to Proxmox VE at {endpoint} as {credential.Identity}.");
                if (credential is ProxmoxPasswordCredential) await client.LoginAsync(StopToken);
                JsonElement version = await client.GetAsync("version", null, StopToken);
                JsonElement nodes = await client.GetAsync("nodes", null, StopToken);
                var online = new List<string>(); var offline = new List<string>();
                if (nodes.ValueKind == JsonValueKind.Array)
                    foreach (JsonElement n in nodes.EnumerateArray())
                        (JsonRead.String(n, "status") == "online" ? online : offline).Add(JsonRead.String(n, "node"));
                var connection = new SwarmProxmoxConnection
                {
                    Endpoint = endpoint.ToString(),
                    AuthId = credential.Identity,
                    Version = JsonRead.String(version, "version"),
                    Release = JsonRead.String(version, "release"),
                    Nodes = online.Concat(offline).OrderBy(n => n, StringComparer.Ordinal).ToArray(),
                    OfflineNodes = offline.OrderBy(n => n, StringComparer.Ordinal).ToArray(),
                    CertificateFingerprint = CertificateFingerprint?.Select(ProxmoxTls.NormalizeFingerprint).ToArray() ?? Array.Empty<string>(),
                    ConnectedAt = DateTime.UtcNow,
                    Client = client,
                    Timeout = TimeSpan.FromSeconds(TimeoutSec),
                };
                foreach (string n in connection.OfflineNodes) WriteWarning($"Proxmox node {n} is offline: VMs on it cannot be managed until it is back.");
                Verbose($"Proxmox VE {connection.Version} with {connection.Nodes.Length} node(s): {string.Join(", ", connection.Nodes)}.");
                if (!NoDefault)
                {
                    var old = SwarmProxmoxConnection.Default;
                    SwarmProxmoxConnection.Default = connection;
                    if (old != null && !ReferenceEquals(old, connection)) old.Dispose();
                }
                WriteObject(connection);
            }
            catch (Exception ex) when (!(SwarmErrors.Unwrap(ex) is OperationCanceledException && StopToken.IsCancellationRequested))
            {
                client.Dispose();
                var record = SwarmErrors.ToRecord(ex, Endpoint);
                if (SwarmErrors.Unwrap(ex) is ProxmoxCertificateException ce)
                {
                    record.ErrorDetails = new ErrorDetails(ce.Message)
                    {
                        RecommendedAction = $"Check the fingerprint on the Proxmox host (pvenode cert info), then connect with -CertificateFingerprint {ce.Fingerprint}.",
                    };
                }
                WriteError(record);
            }
        }
    }

    /// <summary>Get-SwarmVm: the VMs of the Proxmox cluster, like qm list across all nodes.</summary>
    [Cmdlet(VerbsCommon.Get, "SwarmVm", DefaultParameterSetName = "Name")]
    [OutputType(typeof(SwarmVm))]
    public sealed class GetSwarmVmCommand : SwarmProxmoxCmdlet
    {
        /// <summary>VM names; wildcards allowed. A name without wildcards that matches no VM is an error.</summary>
        [Parameter(Position = 0, ParameterSetName = "Name", ValueFromPipelineByPropertyName = true)]
        [Alias("Hostname")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SwarmVmNameCompleter))]
        public string[] Name { get; set; }

        /// <summary>VM IDs.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Id", ValueFromPipelineByPropertyName = true)]
        [ValidateRange(100, 999999999)]
        public int[] VmId { get; set; }

        /// <summary>Only the VMs on these Proxmox nodes.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Node { get; set; }

        /// <summary>Only VMs with all these tags.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Tag { get; set; }

        /// <summary>Include templates (left out by default).</summary>
        [Parameter]
        public SwitchParameter IncludeTemplate { get; set; }

        protected override async Task ProcessRecordAsync()
        {
            var c = ResolveConnection();
            var vms = await ListVmsAsync(c, StopToken);
            IEnumerable<SwarmVm> result = vms;
            if (Node != null) result = result.Where(v => Node.Contains(v.Node, StringComparer.OrdinalIgnoreCase));
            if (Tag != null) result = result.Where(v => Tag.All(t => v.Tags.Contains(t, StringComparer.OrdinalIgnoreCase)));
            if (VmId != null)
            {
                var list = result.ToList();
                foreach (int id in VmId)
                {
                    var vm = list.FirstOrDefault(v => v.VmId == id);
                    if (vm == null) WriteError(SwarmErrors.Record(SwarmErrorId.VmNotFound, ErrorCategory.ObjectNotFound, $"No VM {id} exists in the Proxmox cluster. Run Get-SwarmVm without -VmId to list them.", id));
                    else WriteObject(vm);
                }
                return;
            }
            if (!IncludeTemplate) result = result.Where(v => !v.IsTemplate || (Name != null && Name.Any(n => !WildcardPattern.ContainsWildcardCharacters(n))));
            foreach (var vm in NameFilter.Filter(result.ToList(), v => v.Name ?? string.Empty, Name,
                n => WriteError(SwarmErrors.Record(SwarmErrorId.VmNotFound, ErrorCategory.ObjectNotFound, $"No VM named '{n}' exists in the Proxmox cluster. Run Get-SwarmVm to list them.", n)),
                v => v.VmId.ToString(CultureInfo.InvariantCulture)))
                WriteObject(vm);
        }
    }
}
