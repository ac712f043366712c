using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// How the server certificate is checked. Either pinned SHA-256 fingerprints (what Proxmox shows as
    /// <c>AB:CD:…</c> in <c>pvenode cert info</c>, the web UI and <c>GET /nodes</c> <c>ssl_fingerprint</c>) — a match
    /// is accepted whatever the chain or name says — or the system trust store (valid chain and matching name).
    /// Nothing else is ever accepted; there is no "accept anything" mode.
    /// </summary>
    internal sealed class ProxmoxTls
    {
        private ProxmoxTls(IReadOnlyList<string> fingerprints, bool trustSystemStore)
        {
            Fingerprints = fingerprints;
            TrustSystemStore = trustSystemStore;
        }

        /// <summary>Pinned fingerprints in canonical form (<c>AA:BB:…</c>, upper case, 32 bytes).</summary>
        public IReadOnlyList<string> Fingerprints { get; }

        /// <summary>Whether a certificate with a valid chain and matching name is accepted.</summary>
        public bool TrustSystemStore { get; }

        /// <summary>Valid chain to a trusted root, matching host name (the default).</summary>
        public static ProxmoxTls SystemTrust() => new ProxmoxTls(Array.Empty<string>(), true);

        /// <summary>Accept only certificates whose SHA-256 fingerprint is one of these (several: a cluster, or a planned renewal).</summary>
        public static ProxmoxTls Pinned(params string[] fingerprints) => Pinned((IEnumerable<string>)fingerprints, false);

        public static ProxmoxTls Pinned(IEnumerable<string> fingerprints, bool alsoTrustSystemStore)
        {
            var list = (fingerprints ?? Enumerable.Empty<string>()).Where(f => !string.IsNullOrWhiteSpace(f))
                .Select(NormalizeFingerprint).Distinct(StringComparer.Ordinal).ToList();
            if (list.Count == 0) throw new ArgumentException("At least one certificate fingerprint is required to pin.", nameof(fingerprints));
            return new ProxmoxTls(list, alsoTrustSystemStore);
        }

        /// <summary>
        /// <c>aa:bb…</c>, <c>AABB…</c>, <c>aa-bb…</c> or <c>aa bb…</c> (optionally prefixed <c>sha256:</c>/<c>SHA256 Fingerprint=</c>)
        /// → <c>AA:BB:…</c>. Throws <see cref="FormatException"/> unless it is 32 bytes of hex.
        /// </summary>
        public static string NormalizeFingerprint(string fingerprint)
        {
            if (!TryNormalizeFingerprint(fingerprint, out string normalized, out string error)) throw new FormatException(error);
            return normalized;
        }

        public static bool TryNormalizeFingerprint(string fingerprint, out string normalized) => TryNormalizeFingerprint(fingerprint, out normalized, out _);

        private static bool TryNormalizeFingerprint(string fingerprint, out string normalized, out string error)
        {
            normalized = null;
            if (string.IsNullOrWhiteSpace(fingerprint)) { error = "The certificate fingerprint is empty."; return false; }
            string s = fingerprint.Trim();
            int eq = s.LastIndexOf('=');
            if (eq >= 0) s = s.Substring(eq + 1); // "SHA256 Fingerprint=AA:BB…" (openssl x509 -fingerprint)
            if (s.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)) s = s.Substring(7);
            var hex = new StringBuilder(64);
            foreach (char c in s)
            {
                if (c == ':' || c == '-' || c == ' ') continue;
                if (!Uri.IsHexDigit(c)) { error = "The certificate fingerprint '" + fingerprint + "' contains '" + c + "', which is not a hex digit."; return false; }
                hex.Append(char.ToUpperInvariant(c));
            }
            if (hex.Length != 64)
            {
                error = "The certificate fingerprint '" + fingerprint + "' has " + hex.Length / 2 + " bytes; a SHA-256 fingerprint has 32 (AA:BB:… with 32 pairs)"
                    + (hex.Length == 40 ? ". This looks like a SHA-1 fingerprint; Proxmox shows SHA-256 (pvenode cert info)." : ".");
                return false;
            }
            normalized = Format(hex.ToString());
            error = null;
            return true;
        }

        /// <summary>SHA-256 of the DER certificate as <c>AA:BB:…</c>.</summary>
        public static string ComputeFingerprint(X509Certificate certificate)
        {
            if (certificate == null) throw new ArgumentNullException(nameof(certificate));
            using (SHA256 sha = SHA256.Create())
            {
                byte[] hash = sha.ComputeHash(certificate.GetRawCertData());
                var sb = new StringBuilder(64);
                foreach (byte b in hash) sb.Append(b.ToString("X2"));
                return Format(sb.ToString());
            }
        }

        private static string Format(string hex)
        {
            var sb = new StringBuilder(hex.Length / 2 * 3);
            for (int i = 0; i < hex.Length; i += 2)
            {
                if (i > 0) sb.Append(':');
                sb.Append(hex, i, 2);
            }
            return sb.ToString();
        }

        public override string ToString() =>
            Fingerprints.Count == 0 ? "system trust store"
            : "pinned " + string.Join(", ", Fingerprints) + (TrustSystemStore ? " or system trust store" : string.Empty);
    }

    /// <summary>
    /// The certificate decision for one client. Records the last rejected certificate so the client can turn the
    /// handshake failure into a <see cref="ProxmoxCertificateException"/> that names the fingerprint.
    /// </summary>
    internal sealed class ProxmoxCertificateValidator
    {
        private readonly ProxmoxTls _tls;
        private readonly HashSet<string> _pins;
        private volatile Rejection _lastRejection;

        public ProxmoxCertificateValidator(ProxmoxTls tls, string host)
        {
            _tls = tls ?? ProxmoxTls.SystemTrust();
            _pins = new HashSet<string>(_tls.Fingerprints, StringComparer.Ordinal);
            Host = host;
        }

        public string Host { get; }

        public ProxmoxTls Tls => _tls;

        internal sealed class Rejection
        {
            public Rejection(string fingerprint, SslPolicyErrors errors, string subject)
            {
                Fingerprint = fingerprint;
                Errors = errors;
                Subject = subject;
            }

            public string Fingerprint { get; }
            public SslPolicyErrors Errors { get; }
            public string Subject { get; }
        }

        internal Rejection LastRejection => _lastRejection;

        internal void ClearRejection() => _lastRejection = null;

        /// <summary>The callback body for ServerCertificateCustomValidationCallback / RemoteCertificateValidationCallback.</summary>
        public bool Validate(X509Certificate certificate, X509Chain chain, SslPolicyErrors errors)
        {
            if (certificate == null)
            {
                _lastRejection = new Rejection(null, errors | SslPolicyErrors.RemoteCertificateNotAvailable, null);
                return false;
            }

            string fingerprint = ProxmoxTls.ComputeFingerprint(certificate);
            if (_pins.Contains(fingerprint)) return true;
            if (_tls.TrustSystemStore && errors == SslPolicyErrors.None) return true;

            string subject = null;
            try { subject = certificate.Subject; } catch (CryptographicException) { }
            _lastRejection = new Rejection(fingerprint, errors, subject);
            return false;
        }

        internal ProxmoxCertificateException CreateException(Rejection rejection, Exception inner)
        {
            return new ProxmoxCertificateException(Host, rejection.Fingerprint, rejection.Errors, _pins.Count > 0, rejection.Subject, inner);
        }
    }
}
