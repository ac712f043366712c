using System;
using System.Security;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// How the client authenticates: an API token (recommended; one header, no CSRF, no login) or a user name and
    /// password (a ticket from <c>POST /access/ticket</c>, sent as the <c>PVEAuthCookie</c> cookie plus the
    /// <c>CSRFPreventionToken</c> header on writes). Secrets are held as read-only SecureStrings and never appear in
    /// <see cref="ToString"/>, exception messages or logs.
    /// </summary>
    internal abstract class ProxmoxCredential
    {
        // AccessControl.pm: userid "name@realm", token "userid!tokenname" with tokenname [A-Za-z][A-Za-z0-9.\-_]+
        private static readonly Regex TokenIdRegex = new Regex(@"^(?<user>[^\s:!/]+@[A-Za-z][A-Za-z0-9.\-_]+)!(?<name>[A-Za-z][A-Za-z0-9.\-_]+)$", RegexOptions.CultureInvariant);
        private static readonly Regex UserIdRegex = new Regex(@"^[^\s:!/]+@[A-Za-z][A-Za-z0-9.\-_]+$", RegexOptions.CultureInvariant);

        private protected ProxmoxCredential() { }

        /// <summary>The user (or token) the server will see, e.g. <c>swarm@pve!admin</c>; no secret.</summary>
        public abstract string Identity { get; }

        /// <summary>API token: <paramref name="tokenId"/> is <c>user@realm!tokenname</c>.</summary>
        public static ProxmoxApiTokenCredential FromToken(string tokenId, SecureString secret)
        {
            if (secret == null || secret.Length == 0) throw new ArgumentException("The API token secret is empty.", nameof(secret));
            SecureString copy = secret.Copy();
            copy.MakeReadOnly();
            return new ProxmoxApiTokenCredential(ValidateTokenId(tokenId), copy);
        }

        public static ProxmoxApiTokenCredential FromToken(string tokenId, string secret)
        {
            if (string.IsNullOrEmpty(secret)) throw new ArgumentException("The API token secret is empty.", nameof(secret));
            return new ProxmoxApiTokenCredential(ValidateTokenId(tokenId), Infrastructure.SecureStrings.FromPlain(secret.Trim()));
        }

        /// <summary>
        /// Parses the combined form <c>user@realm!tokenname=secret</c> (what the PVEAPIToken header carries), split at the last '='.
        /// </summary>
        public static ProxmoxApiTokenCredential ParseToken(string tokenIdAndSecret)
        {
            if (string.IsNullOrWhiteSpace(tokenIdAndSecret)) throw new ArgumentException("The API token is empty.", nameof(tokenIdAndSecret));
            string s = tokenIdAndSecret.Trim();
            if (s.StartsWith("PVEAPIToken", StringComparison.OrdinalIgnoreCase)) s = s.Substring("PVEAPIToken".Length).TrimStart('=', ' ');
            int eq = s.LastIndexOf('=');
            if (eq <= 0 || eq == s.Length - 1)
                throw new ArgumentException("An API token must read user@realm!tokenname=secret.", nameof(tokenIdAndSecret));
            return FromToken(s.Substring(0, eq), s.Substring(eq + 1));
        }

        /// <summary>User name and password; <paramref name="username"/> is <c>user@realm</c> (e.g. <c>root@pam</c>).</summary>
        public static ProxmoxPasswordCredential FromPassword(string username, SecureString password)
        {
            if (password == null) throw new ArgumentNullException(nameof(password));
            SecureString copy = password.Copy();
            copy.MakeReadOnly();
            return new ProxmoxPasswordCredential(ValidateUserId(username), copy);
        }

        public static ProxmoxPasswordCredential FromPassword(string username, string password)
        {
            if (password == null) throw new ArgumentNullException(nameof(password));
            return new ProxmoxPasswordCredential(ValidateUserId(username), Infrastructure.SecureStrings.FromPlain(password));
        }

        private static string ValidateTokenId(string tokenId)
        {
            string t = tokenId?.Trim();
            if (string.IsNullOrEmpty(t) || !TokenIdRegex.IsMatch(t))
                throw new ArgumentException(
                    "The API token ID '" + tokenId + "' is not of the form user@realm!tokenname (for example swarm@pve!admin).", nameof(tokenId));
            return t;
        }

        private static string ValidateUserId(string username)
        {
            string u = username?.Trim();
            if (string.IsNullOrEmpty(u) || !UserIdRegex.IsMatch(u))
                throw new ArgumentException(
                    "The Proxmox user name '" + username + "' is not of the form user@realm (for example root@pam).", nameof(username));
            return u;
        }
    }

    internal sealed class ProxmoxApiTokenCredential : ProxmoxCredential
    {
        private readonly SecureString _secret;

        internal ProxmoxApiTokenCredential(string tokenId, SecureString secret)
        {
            TokenId = tokenId;
            _secret = secret;
            int bang = tokenId.IndexOf('!');
            UserId = tokenId.Substring(0, bang);
            TokenName = tokenId.Substring(bang + 1);
        }

        /// <summary><c>user@realm!tokenname</c>.</summary>
        public string TokenId { get; }

        public string UserId { get; }

        public string TokenName { get; }

        public override string Identity => TokenId;

        /// <summary>The <c>Authorization</c> header value <c>PVEAPIToken=USER@REALM!ID=SECRET</c>. Never log it.</summary>
        internal string AuthorizationHeaderValue() => "PVEAPIToken=" + TokenId + "=" + Infrastructure.SecureStrings.ToPlain(_secret);

        public override string ToString() => "API token " + TokenId;
    }

    internal sealed class ProxmoxPasswordCredential : ProxmoxCredential
    {
        private readonly SecureString _password;

        internal ProxmoxPasswordCredential(string userId, SecureString password)
        {
            UserId = userId;
            _password = password;
        }

        /// <summary><c>user@realm</c>.</summary>
        public string UserId { get; }

        public override string Identity => UserId;

        internal string PlainPassword() => Infrastructure.SecureStrings.ToPlain(_password);

        public override string ToString() => "user " + UserId + " (password)";
    }

    /// <summary>A login ticket and its CSRF token. Never log either.</summary>
    internal sealed class ProxmoxTicket
    {
        public ProxmoxTicket(string userId, string ticket, string csrfToken, DateTimeOffset issuedAt)
        {
            UserId = userId;
            Ticket = ticket;
            CsrfToken = csrfToken;
            IssuedAt = issuedAt;
        }

        public string UserId { get; }

        internal string Ticket { get; }

        internal string CsrfToken { get; }

        public DateTimeOffset IssuedAt { get; }

        public override string ToString() => "ticket for " + UserId + " issued " + IssuedAt.ToString("u");
    }
}
