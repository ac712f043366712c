using System;
using System.IO;
using System.Management.Automation;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text.Json;
using Docker.DotNet;
using Renci.SshNet.Common;
using SwarmAdmin.Ssh;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>Stable error identifiers. Scripts may match on them; never rename one.</summary>
    public static class SwarmErrorId
    {
        public const string NotConnected = "SwarmNotConnected";
        public const string InvalidEndpoint = "InvalidSwarmEndpoint";
        public const string EndpointUnreachable = "SwarmEndpointUnreachable";
        public const string Timeout = "SwarmOperationTimeout";
        public const string HostKeyUnknown = "HostKeyUnknown";
        public const string HostKeyChanged = "HostKeyChanged";
        public const string HostKeyRevoked = "HostKeyRevoked";
        public const string KnownHostsUnreadable = "KnownHostsUnreadable";
        public const string KeyFileNotFound = "SshKeyFileNotFound";
        public const string KeyFileInvalid = "SshKeyFileInvalid";
        public const string AuthenticationFailed = "SshAuthenticationFailed";
        public const string NotASwarmManager = "NotASwarmManager";
        public const string SwarmNotActive = "SwarmNotActive";
        public const string NodeNotFound = "SwarmNodeNotFound";
        public const string InvalidLabel = "InvalidNodeLabel";
        public const string DrainTimeout = "SwarmNodeDrainTimeout";
        public const string NodeInOtherSwarm = "NodeInOtherSwarm";
        public const string StackNotFound = "SwarmStackNotFound";
        public const string ServiceNotFound = "SwarmServiceNotFound";
        public const string QuorumGuard = "QuorumGuard";
        public const string JoinFailed = "SwarmJoinFailed";
        public const string EngineApiError = "EngineApiError";
        public const string EngineNotFound = "EngineObjectNotFound";
        public const string EngineConflict = "EngineConflict";
        public const string EngineUnavailable = "EngineUnavailable";
        public const string InvalidArgument = "InvalidArgument";
        public const string Unexpected = "UnexpectedError";
        public const string ProxmoxNotConnected = "ProxmoxNotConnected";
        public const string ProxmoxCertificateUntrusted = "ProxmoxCertificateUntrusted";
        public const string ProxmoxAuthenticationFailed = "ProxmoxAuthenticationFailed";
        public const string ProxmoxPermissionDenied = "ProxmoxPermissionDenied";
        public const string ProxmoxNodeUnreachable = "ProxmoxNodeUnreachable";
        public const string ProxmoxLocked = "ProxmoxLocked";
        public const string ProxmoxApiError = "ProxmoxApiError";
        public const string ProxmoxTaskFailed = "ProxmoxTaskFailed";
        public const string VmNotFound = "SwarmVmNotFound";
        public const string NodeCommandFailed = "SwarmNodeCommandFailed";
        public const string SwarmLocked = "SwarmLocked";
        public const string BackupUnreadable = "SwarmBackupUnreadable";
        public const string BackupPasswordWrong = "SwarmBackupPasswordWrong";
        public const string BackupExists = "SwarmBackupExists";
        public const string RestoreTargetInUse = "SwarmRestoreTargetInUse";
        public const string RecoveryNoSource = "SwarmRecoveryNoSource";
        public const string SecretExists = "SwarmSecretExists";
        public const string SecretNotFound = "SwarmSecretNotFound";
        public const string SecretInUse = "SwarmSecretInUse";
        public const string SecretFileUnreadable = "SwarmSecretFileUnreadable";
        public const string SecretRotationFailed = "SwarmSecretRotationFailed";
        public const string ConfigExists = "SwarmConfigExists";
        public const string ConfigNotFound = "SwarmConfigNotFound";
        public const string ConfigInUse = "SwarmConfigInUse";
        public const string ConfigFileUnreadable = "SwarmConfigFileUnreadable";
        public const string ConfigRotationFailed = "SwarmConfigRotationFailed";
        public const string RebalanceFailed = "SwarmRebalanceFailed";
        public const string MaintenanceScriptFailed = "SwarmMaintenanceScriptFailed";
        public const string NodeAmbiguous = "SwarmNodeAmbiguous";
        public const string EngineOsUnsupported = "SwarmEngineOsUnsupported";
        public const string EngineInstallFailed = "SwarmEngineInstallFailed";
        public const string EngineSourceConflict = "SwarmEngineSourceConflict";
        public const string EngineVersionUnavailable = "SwarmEngineVersionUnavailable";
        public const string ReadinessCheckFailed = "SwarmReadinessCheckFailed";
    }

    /// <summary>An error we raise ourselves with a stable id and category (mapped 1:1 into an ErrorRecord).</summary>
    public sealed class SwarmException : Exception
    {
        public SwarmException(string errorId, ErrorCategory category, string message, object target = null, Exception inner = null)
            : base(message, inner)
        {
            ErrorId = errorId; Category = category; Target = target;
        }
        public string ErrorId { get; }
        public ErrorCategory Category { get; }
        public object Target { get; }
        public string RecommendedAction { get; set; }
    }

    internal static class SwarmErrors
    {
        /// <summary>Maps any exception to an ErrorRecord with a stable id, a real category and the target object.</summary>
        public static ErrorRecord ToRecord(Exception ex, object target)
        {
            ex = Unwrap(ex);
            string id; ErrorCategory cat; string message = ex.Message; string action = null;
            switch (ex)
            {
                case SwarmException se:
                    id = se.ErrorId; cat = se.Category; target = se.Target ?? target; action = se.RecommendedAction;
                    break;
                case HostKeyException hk:
                    id = hk.Status == HostKeyStatus.Changed ? SwarmErrorId.HostKeyChanged : hk.Status == HostKeyStatus.Revoked ? SwarmErrorId.HostKeyRevoked : SwarmErrorId.HostKeyUnknown;
                    cat = ErrorCategory.SecurityError;
                    target = target ?? hk.Host;
                    break;
                case KnownHostsException kh:
                    id = SwarmErrorId.KnownHostsUnreadable; cat = ErrorCategory.ReadError;
                    break;
                case FileNotFoundException _:
                    id = SwarmErrorId.KeyFileNotFound; cat = ErrorCategory.ObjectNotFound;
                    break;
                case InvalidDataException _:
                    id = SwarmErrorId.KeyFileInvalid; cat = ErrorCategory.InvalidData;
                    break;
                case UnauthorizedAccessException _:
                    id = SwarmErrorId.AuthenticationFailed; cat = ErrorCategory.PermissionDenied;
                    break;
                case Proxmox.ProxmoxCertificateException _:
                    id = SwarmErrorId.ProxmoxCertificateUntrusted; cat = ErrorCategory.SecurityError;
                    break;
                case Proxmox.ProxmoxApiException px:
                    if (px.StatusCode == 401) { id = SwarmErrorId.ProxmoxAuthenticationFailed; cat = ErrorCategory.AuthenticationError; }
                    else if (px.StatusCode == 403) { id = SwarmErrorId.ProxmoxPermissionDenied; cat = ErrorCategory.PermissionDenied; }
                    else if (px.IsNodeUnreachable) { id = SwarmErrorId.ProxmoxNodeUnreachable; cat = ErrorCategory.ConnectionError; }
                    else if (px.IsLockError) { id = SwarmErrorId.ProxmoxLocked; cat = ErrorCategory.ResourceBusy; action = "Another task holds the VM's lock (a backup, a migration, a clone): wait for it (Proxmox task list) and run the command again."; }
                    else { id = SwarmErrorId.ProxmoxApiError; cat = px.StatusCode == 400 ? ErrorCategory.InvalidArgument : ErrorCategory.InvalidOperation; }
                    break;
                case Proxmox.ProxmoxTaskFailedException tf:
                    if (tf.IsLockError) { id = SwarmErrorId.ProxmoxLocked; cat = ErrorCategory.ResourceBusy; action = "Another task holds the VM's lock (a backup, a migration, a clone): wait for it (Proxmox task list) and run the command again."; }
                    else { id = SwarmErrorId.ProxmoxTaskFailed; cat = ErrorCategory.InvalidResult; }
                    break;
                case Proxmox.ProxmoxProtocolException _:
                    id = SwarmErrorId.ProxmoxApiError; cat = ErrorCategory.ProtocolError;
                    break;
                case Proxmox.ProxmoxConnectionException _:
                    id = SwarmErrorId.EndpointUnreachable; cat = ErrorCategory.ConnectionError;
                    break;
                case DockerApiException api:
                    message = ApiMessage(api);
                    (id, cat) = MapStatus(api.StatusCode);
                    break;
                case TimeoutException _:
                    id = SwarmErrorId.Timeout; cat = ErrorCategory.OperationTimeout;
                    break;
                case FormatException _:
                    id = SwarmErrorId.InvalidEndpoint; cat = ErrorCategory.InvalidArgument;
                    break;
                case IOException _:
                case SocketException _:
                case SshException _:
                case HttpRequestException _:
                    id = SwarmErrorId.EndpointUnreachable; cat = ErrorCategory.ConnectionError;
                    break;
                default:
                    id = SwarmErrorId.Unexpected; cat = ErrorCategory.NotSpecified;
                    break;
            }

            var record = new ErrorRecord(ex, id, cat, target);
            if (!ReferenceEquals(message, ex.Message)) record.ErrorDetails = new ErrorDetails(message);
            if (action != null)
            {
                if (record.ErrorDetails == null) record.ErrorDetails = new ErrorDetails(message);
                record.ErrorDetails.RecommendedAction = action;
            }
            return record;
        }

        public static ErrorRecord Record(string id, ErrorCategory category, string message, object target, Exception inner = null)
            => ToRecord(new SwarmException(id, category, message, target, inner), target);

        internal static (string, ErrorCategory) MapStatus(HttpStatusCode status)
        {
            switch ((int)status)
            {
                case 400: return (SwarmErrorId.InvalidArgument, ErrorCategory.InvalidArgument);
                case 401:
                case 403: return (SwarmErrorId.EngineApiError, ErrorCategory.PermissionDenied);
                case 404: return (SwarmErrorId.EngineNotFound, ErrorCategory.ObjectNotFound);
                case 409: return (SwarmErrorId.EngineConflict, ErrorCategory.ResourceExists);
                case 503: return (SwarmErrorId.EngineUnavailable, ErrorCategory.ResourceUnavailable);
                default: return (SwarmErrorId.EngineApiError, ErrorCategory.InvalidOperation);
            }
        }

        /// <summary>The engine's own message from its JSON error body ({"message": "..."}).</summary>
        internal static string ApiMessage(DockerApiException api)
        {
            string body = api.ResponseBody;
            if (!string.IsNullOrWhiteSpace(body))
            {
                try
                {
                    using (var doc = JsonDocument.Parse(body))
                    {
                        if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                        {
                            return $"The engine answered {(int)api.StatusCode}: {m.GetString()}";
                        }
                    }
                }
                catch (JsonException) { }
                return $"The engine answered {(int)api.StatusCode}: {body.Trim()}";
            }
            return $"The engine answered {(int)api.StatusCode} ({api.StatusCode}).";
        }

        internal static Exception Unwrap(Exception ex)
        {
            while (ex is AggregateException ae && ae.InnerExceptions.Count == 1) ex = ae.InnerException;
            return ex;
        }

        /// <summary>True when the failure says the engine could not be reached or stopped answering (worth failing over).</summary>
        internal static bool IsTransportFailure(Exception ex)
        {
            ex = Unwrap(ex);
            if (ex is HostKeyException || ex is KnownHostsException || ex is FileNotFoundException || ex is InvalidDataException || ex is UnauthorizedAccessException) return false;
            if (ex is DockerApiException api) return api.StatusCode == HttpStatusCode.ServiceUnavailable;
            return ex is IOException || ex is SocketException || ex is SshException || ex is TimeoutException || ex is HttpRequestException || ex is ObjectDisposedException;
        }
    }
}
