using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Security;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Proxmox
{
    /// <summary>Base of every error the Proxmox client raises (besides argument errors, timeouts and cancellation).</summary>
    internal abstract class ProxmoxException : Exception
    {
        protected ProxmoxException(string message, Exception inner = null) : base(message, inner) { }
    }

    /// <summary>
    /// A non-2xx answer. <see cref="Exception.Message"/> is Proxmox's own message (JSON <c>message</c>, or the reason
    /// phrase when absent, trailing newline trimmed), followed by the parameter errors of a 400; for 401 and 595/596
    /// it is our explanation, as those carry no useful body.
    /// </summary>
    internal sealed class ProxmoxApiException : ProxmoxException
    {
        // "Permission check failed (/vms/101, VM.Config.Disk)" / "(/sdn/zones/localnetwork/vmbr0/4, SDN.Use)" / "(…, A|B)"
        private static readonly Regex PermissionRegex = new Regex(
            @"^Permission check failed \((?<path>/[^,()]*), (?<priv>[A-Za-z][A-Za-z0-9.]*(?:\|[A-Za-z][A-Za-z0-9.]*)*)\)",
            RegexOptions.CultureInvariant);

        private static readonly IReadOnlyDictionary<string, string> NoErrors = new Dictionary<string, string>();

        internal ProxmoxApiException(
            int statusCode, string reasonPhrase, string proxmoxMessage, IReadOnlyDictionary<string, string> parameterErrors,
            string method, string path, string message)
            : base(message)
        {
            StatusCode = statusCode;
            ReasonPhrase = reasonPhrase;
            ProxmoxMessage = proxmoxMessage;
            ParameterErrors = parameterErrors ?? NoErrors;
            Method = method;
            Path = path;
            if (statusCode == 403 && proxmoxMessage != null)
            {
                Match m = PermissionRegex.Match(proxmoxMessage);
                if (m.Success)
                {
                    PrivilegePath = m.Groups["path"].Value;
                    MissingPrivilege = m.Groups["priv"].Value;
                }
            }
        }

        public int StatusCode { get; }

        /// <summary>The HTTP reason phrase as received (Proxmox puts the first line of the message there).</summary>
        public string ReasonPhrase { get; }

        /// <summary>Proxmox's message: JSON <c>message</c> if present, else the reason phrase; trimmed.</summary>
        public string ProxmoxMessage { get; }

        /// <summary>The <c>errors</c> member of a 400 (parameter → message, trimmed); empty otherwise.</summary>
        public IReadOnlyDictionary<string, string> ParameterErrors { get; }

        /// <summary>For <c>403 Permission check failed (/vms/101, VM.Config.Disk)</c>: <c>VM.Config.Disk</c> (alternatives joined by '|').</summary>
        public string MissingPrivilege { get; }

        /// <summary>For a 403 permission failure: the ACL path, e.g. <c>/vms/101</c>.</summary>
        public string PrivilegePath { get; }

        public string Method { get; }

        /// <summary>The API path relative to <c>/api2/json/</c> (no query string).</summary>
        public string Path { get; }

        public bool IsAuthenticationFailure => StatusCode == 401;

        public bool IsPermissionDenied => StatusCode == 403;

        /// <summary>595/596: the node in the path is unreachable, or the pveproxy→pvedaemon hop timed out.</summary>
        public bool IsNodeUnreachable => StatusCode == 595 || StatusCode == 596;

        /// <summary>A transient lock conflict that <see cref="ProxmoxRetry.RetryOnLockAsync{T}"/> retries.</summary>
        public bool IsLockError => ProxmoxRetry.IsLockMessage(ProxmoxMessage);

        internal static ProxmoxApiException FromResponse(
            int statusCode, string reasonPhrase, string body, string method, string path, ProxmoxCredential credential, bool afterRelogin = false)
        {
            string bodyMessage = null;
            Dictionary<string, string> errors = null;
            if (!string.IsNullOrWhiteSpace(body))
            {
                try
                {
                    using (JsonDocument doc = JsonDocument.Parse(body))
                    {
                        JsonElement root = doc.RootElement;
                        if (root.ValueKind == JsonValueKind.Object)
                        {
                            if (root.TryGetProperty("message", out JsonElement msg) && msg.ValueKind == JsonValueKind.String)
                                bodyMessage = Clean(msg.GetString());
                            if (root.TryGetProperty("errors", out JsonElement errs) && errs.ValueKind == JsonValueKind.Object)
                            {
                                errors = new Dictionary<string, string>(StringComparer.Ordinal);
                                foreach (JsonProperty p in errs.EnumerateObject())
                                    errors[p.Name] = p.Value.ValueKind == JsonValueKind.String ? Clean(p.Value.GetString()) : p.Value.GetRawText();
                            }
                        }
                    }
                }
                catch (JsonException)
                {
                    // not JSON (a reverse proxy's HTML page, say): fall back to the reason phrase
                }
            }

            string reason = Clean(reasonPhrase);
            string proxmoxMessage = !string.IsNullOrEmpty(bodyMessage) ? bodyMessage : reason;
            if (string.IsNullOrEmpty(proxmoxMessage)) proxmoxMessage = null;

            string message;
            if (statusCode == 401)
                message = AuthenticationMessage(proxmoxMessage, method, path, credential, afterRelogin);
            else if (statusCode == 595 || statusCode == 596)
                message = "Proxmox could not reach the node for " + method + " /" + path + " (" + statusCode + " " + (proxmoxMessage ?? "no reason given")
                    + "): the node named in the path is down or unreachable, or its pvedaemon was busy for more than 30 s. Retry later, or check the node.";
            else
            {
                message = proxmoxMessage ?? "Proxmox answered " + method + " /" + path + " with HTTP " + statusCode + " and no message.";
                if (errors != null && errors.Count > 0)
                    message += " " + string.Join("; ", errors.Select(kv => kv.Key + ": " + kv.Value));
            }

            return new ProxmoxApiException(statusCode, reasonPhrase, proxmoxMessage, errors, method, path, message);
        }

        private static string AuthenticationMessage(string proxmoxMessage, string method, string path, ProxmoxCredential credential, bool afterRelogin)
        {
            string what = proxmoxMessage == null ? "401" : "401 " + proxmoxMessage;
            if (path != null && path.StartsWith("access/ticket", StringComparison.OrdinalIgnoreCase))
                return "Proxmox refused the user name or password for " + (credential?.Identity ?? "the user") + " (" + what
                    + "). Check the user name (user@realm), the realm and the password.";
            if (proxmoxMessage != null && proxmoxMessage.IndexOf("csrf", StringComparison.OrdinalIgnoreCase) >= 0)
                return "Proxmox refused the CSRF prevention token of the login ticket of " + (credential?.Identity ?? "the user") + " (" + what + ").";
            switch (credential)
            {
                case ProxmoxApiTokenCredential token:
                    return "Proxmox refused the API token " + token.TokenId + " (" + what
                        + "). Check the token ID and secret, and that the token and its user exist, are enabled and have not expired.";
                case ProxmoxPasswordCredential user:
                    return "Proxmox refused the login ticket of " + user.UserId + " (" + what + ")"
                        + (afterRelogin ? " even after logging in again." : ".");
                default:
                    return "Proxmox refused the request " + method + " /" + path + " (" + what + "): no valid credentials were sent.";
            }
        }

        /// <summary>Trims the trailing newline Proxmox appends and surrounding whitespace.</summary>
        internal static string Clean(string s) => s?.Trim();
    }

    /// <summary>
    /// The server's certificate is neither pinned nor trusted. The message gives the certificate's SHA-256
    /// fingerprint and how to pin it after checking it on the node.
    /// </summary>
    internal sealed class ProxmoxCertificateException : ProxmoxException
    {
        internal ProxmoxCertificateException(string host, string fingerprint, SslPolicyErrors errors, bool pinned, string subject, Exception inner)
            : base(BuildMessage(host, fingerprint, errors, pinned, subject), inner)
        {
            Host = host;
            Fingerprint = fingerprint;
            PolicyErrors = errors;
            WasPinned = pinned;
            Subject = subject;
        }

        public string Host { get; }

        /// <summary>The server certificate's SHA-256 fingerprint, <c>AA:BB:…</c>; null if the server sent no certificate.</summary>
        public string Fingerprint { get; }

        public SslPolicyErrors PolicyErrors { get; }

        /// <summary>True when fingerprints were pinned and none matched.</summary>
        public bool WasPinned { get; }

        public string Subject { get; }

        private static string BuildMessage(string host, string fingerprint, SslPolicyErrors errors, bool pinned, string subject)
        {
            if (fingerprint == null)
                return "The Proxmox server " + host + " presented no TLS certificate; refusing to connect.";
            var sb = new StringBuilder();
            sb.Append("The TLS certificate of the Proxmox server ").Append(host);
            if (!string.IsNullOrEmpty(subject)) sb.Append(" (").Append(subject).Append(')');
            if (pinned)
                sb.Append(" does not match the pinned certificate fingerprint.");
            else
            {
                sb.Append(" is not trusted by this computer (");
                var reasons = new List<string>();
                if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0) reasons.Add("its issuer is not a trusted CA, as with Proxmox's own self-signed cluster CA");
                if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) reasons.Add("it was not issued for the name " + host);
                if (reasons.Count == 0) reasons.Add(errors.ToString());
                sb.Append(string.Join("; ", reasons)).Append(").");
            }
            sb.Append(" Its SHA-256 fingerprint is ").Append(fingerprint).Append('.');
            sb.Append(" Compare it with the fingerprint shown on the node (web UI: node > System > Certificates, or 'pvenode cert info' in its shell)");
            sb.Append(" and, if they match, connect with -CertificateFingerprint ").Append(fingerprint);
            if (!pinned) sb.Append(", or trust the cluster CA (/etc/pve/pve-root-ca.pem) on this computer");
            sb.Append('.');
            return sb.ToString();
        }
    }

    /// <summary>The network failed before Proxmox answered (DNS, connection refused, reset…).</summary>
    internal sealed class ProxmoxConnectionException : ProxmoxException
    {
        internal ProxmoxConnectionException(string message, Exception inner) : base(message, inner) { }
    }

    /// <summary>A Proxmox task stopped with an exit status other than <c>OK</c> or <c>WARNINGS: n</c>.</summary>
    internal sealed class ProxmoxTaskFailedException : ProxmoxException
    {
        internal const int LogLinesInMessage = 15;

        internal ProxmoxTaskFailedException(Upid upid, string exitStatus, IReadOnlyList<string> log)
            : base(BuildMessage(upid, exitStatus, log))
        {
            Upid = upid;
            ExitStatus = exitStatus;
            Log = log ?? Array.Empty<string>();
        }

        public Upid Upid { get; }

        /// <summary>The exit status, e.g. <c>clone failed: can't lock file '…' - got timeout</c>.</summary>
        public string ExitStatus { get; }

        /// <summary>The task log lines fetched after the failure (possibly the tail only).</summary>
        public IReadOnlyList<string> Log { get; }

        /// <summary>A transient lock conflict that <see cref="ProxmoxRetry.RetryOnLockAsync{T}"/> retries.</summary>
        public bool IsLockError => ProxmoxRetry.IsLockMessage(ExitStatus);

        private static string BuildMessage(Upid upid, string exitStatus, IReadOnlyList<string> log)
        {
            var sb = new StringBuilder();
            sb.Append("Proxmox task ").Append(upid?.Type ?? "?");
            if (!string.IsNullOrEmpty(upid?.Id)) sb.Append(' ').Append(upid.Id);
            sb.Append(" on ").Append(upid?.Node ?? "?").Append(" failed: ").Append(exitStatus);
            sb.Append(" (").Append(upid?.ToString() ?? "no UPID").Append(')');
            if (log != null && log.Count > 0)
            {
                var tail = log.Skip(Math.Max(0, log.Count - LogLinesInMessage)).ToList();
                sb.Append(Environment.NewLine).Append("Last task log lines:");
                foreach (string line in tail) sb.Append(Environment.NewLine).Append("  ").Append(line);
            }
            return sb.ToString();
        }
    }

    /// <summary>A task was still running when the wait gave up; it keeps running on the node.</summary>
    internal sealed class ProxmoxTaskTimeoutException : TimeoutException
    {
        internal ProxmoxTaskTimeoutException(Upid upid, TimeSpan waited, string lastStatus)
            : base("Proxmox task " + upid.Type + (string.IsNullOrEmpty(upid.Id) ? "" : " " + upid.Id) + " on " + upid.Node
                + " was still " + (lastStatus ?? "running") + " after " + waited.ToString(@"hh\:mm\:ss")
                + "; it keeps running on the node (" + upid + ").")
        {
            Upid = upid;
            Waited = waited;
        }

        public Upid Upid { get; }

        public TimeSpan Waited { get; }
    }
}
