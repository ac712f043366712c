using System;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Stacks
{
    /// <summary>
    /// Image references with the rules of github.com/distribution/reference (<c>ParseNormalizedNamed</c>,
    /// <c>TagNameOnly</c>, <c>FamiliarString</c>, <c>Domain</c>) and go-digest, which the docker CLI uses for
    /// <c>docker stack deploy</c> image names and for choosing the registry credentials.
    /// </summary>
    internal static class ImageReferences
    {
        public const string DefaultDomain = "docker.io";
        public const string LegacyDefaultDomain = "index.docker.io";
        /// <summary>Key under which the docker CLI stores Docker Hub credentials.</summary>
        public const string DockerHubAuthKey = "https://index.docker.io/v1/";
        private const string OfficialRepoPrefix = "library/";
        private const string DefaultTag = "latest";
        private const int RepositoryNameTotalLengthMax = 255;

        // regexp.go, with Go's ASCII \w and [[:xdigit:]] spelled out and `$` as \z.
        private const string Alphanumeric = "[a-z0-9]+";
        private const string Separator = "(?:[._]|__|[-]+)";
        private const string DomainNameComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        private const string OptionalPort = "(?::[0-9]+)?";
        private const string Tag = "[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}";
        private const string DigestPat = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}";
        private const string Ipv6Address = @"\[(?:[a-fA-F0-9:]+)\]";
        private const string DomainName = DomainNameComponent + @"(?:\." + DomainNameComponent + ")*";
        private const string Host = "(?:" + DomainName + "|" + Ipv6Address + ")";
        private const string DomainAndPort = Host + OptionalPort;
        private const string PathComponent = Alphanumeric + "(?:" + Separator + Alphanumeric + ")*";
        private const string RemoteName = PathComponent + "(?:/" + PathComponent + ")*";
        private const string NamePat = "(?:" + DomainAndPort + "/)?" + RemoteName;

        private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(2);
        private static readonly Regex ReferenceRegexp = new Regex(
            "^(" + NamePat + ")(?::(" + Tag + "))?(?:@(" + DigestPat + "))?\\z", RegexOptions.CultureInvariant, RegexTimeout);
        private static readonly Regex AnchoredNameRegexp = new Regex(
            "^(?:(" + DomainAndPort + ")/)?(" + RemoteName + ")\\z", RegexOptions.CultureInvariant, RegexTimeout);
        private static readonly Regex AnchoredIdentifierRegexp = new Regex("^[a-f0-9]{64}\\z", RegexOptions.CultureInvariant, RegexTimeout);

        /// <summary>A parsed, normalised reference: Domain is never empty (docker.io for Docker Hub).</summary>
        private sealed class Parsed
        {
            public string Domain, Path, Tag, Digest;

            public string Name => Domain + "/" + Path;

            public string FamiliarName
            {
                get
                {
                    if (Domain != DefaultDomain) return Name;
                    if (Path.StartsWith(OfficialRepoPrefix, StringComparison.Ordinal))
                    {
                        string rest = Path.Substring(OfficialRepoPrefix.Length);
                        if (rest.IndexOf('/') < 0) return rest;
                    }
                    return Path;
                }
            }

            public string FamiliarString
                => FamiliarName + (string.IsNullOrEmpty(Tag) ? "" : ":" + Tag) + (string.IsNullOrEmpty(Digest) ? "" : "@" + Digest);
        }

        /// <summary>
        /// <c>FamiliarString(TagNameOnly(ParseNormalizedNamed(image)))</c>: "busybox" → "busybox:latest",
        /// "docker.io/library/busybox:1" → "busybox:1", "index.docker.io/user/x" → "user/x:latest", digests kept and no
        /// tag added to a digested reference. Returns the input unchanged when it does not parse.
        /// </summary>
        public static string Normalize(string image)
        {
            var p = Parse(image, out _);
            if (p == null) return image;
            if (string.IsNullOrEmpty(p.Tag) && string.IsNullOrEmpty(p.Digest)) p.Tag = DefaultTag;
            return p.FamiliarString;
        }

        /// <summary>The registry domain (<c>reference.Domain</c>): "docker.io" for Docker Hub, else the domain as written
        /// (with its port). Null when the reference does not parse.</summary>
        public static string Domain(string image) => Parse(image, out _)?.Domain;

        /// <summary>The key the docker CLI looks credentials up with: "https://index.docker.io/v1/" for Docker Hub, else
        /// the domain. Null when the reference does not parse.</summary>
        public static string AuthKey(string image)
        {
            string domain = Domain(image);
            return domain == null ? null : AuthKeyForDomain(domain);
        }

        /// <summary>configfile <c>getAuthConfigKey</c>.</summary>
        internal static string AuthKeyForDomain(string domain)
            => domain == DefaultDomain || domain == LegacyDefaultDomain ? DockerHubAuthKey : domain;

        /// <summary>True when the reference parses and carries a digest (<c>@sha256:...</c>).</summary>
        public static bool HasDigest(string image) => !string.IsNullOrEmpty(Parse(image, out _)?.Digest);

        /// <summary>The reference as written without its <c>@digest</c> part ("a:1@sha256:..." → "a:1"); unchanged when it
        /// has no digest or does not parse.</summary>
        public static string WithoutDigest(string image)
        {
            if (!HasDigest(image)) return image;
            return image.Substring(0, image.IndexOf('@'));
        }

        /// <summary>The distribution/reference error text for an invalid reference, or null when it parses.</summary>
        public static string ParseError(string image)
        {
            Parse(image, out string error);
            return error;
        }

        // ------------------------------------------------------------------------------------------------------------

        /// <summary><c>ParseNormalizedNamed</c>; null and the Go error text when it fails.</summary>
        private static Parsed Parse(string s, out string error)
        {
            error = null;
            if (s == null)
            {
                error = "repository name must have at least one component";
                return null;
            }
            if (AnchoredIdentifierRegexp.IsMatch(s))
            {
                error = $"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings";
                return null;
            }
            SplitDockerDomain(s, out string domain, out string remainder);
            int tagSep = remainder.IndexOf(':');
            string remote = tagSep > -1 ? remainder.Substring(0, tagSep) : remainder;
            if (remote.ToLowerInvariant() != remote)
            {
                error = $"invalid reference format: repository name ({remote}) must be lowercase";
                return null;
            }
            return ParseReference(domain + "/" + remainder, out error);
        }

        /// <summary><c>reference.Parse</c> of a string that always has a name.</summary>
        private static Parsed ParseReference(string s, out string error)
        {
            error = null;
            Match m;
            try
            {
                m = ReferenceRegexp.Match(s);
            }
            catch (RegexMatchTimeoutException)
            {
                error = "invalid reference format";
                return null;
            }
            if (!m.Success)
            {
                string lower = s.ToLowerInvariant();
                bool lowerParses;
                try { lowerParses = lower != s && ReferenceRegexp.IsMatch(lower); }
                catch (RegexMatchTimeoutException) { lowerParses = false; }
                error = lowerParses ? "repository name must be lowercase" : "invalid reference format";
                return null;
            }
            var p = new Parsed { Tag = m.Groups[2].Value, Digest = m.Groups[3].Value };
            Match nm;
            try
            {
                nm = AnchoredNameRegexp.Match(m.Groups[1].Value);
            }
            catch (RegexMatchTimeoutException)
            {
                error = "invalid reference format";
                return null;
            }
            p.Domain = nm.Groups[1].Value;
            p.Path = nm.Groups[2].Value;
            if (p.Path.Length > RepositoryNameTotalLengthMax)
            {
                error = $"repository name must not be more than {RepositoryNameTotalLengthMax} characters";
                return null;
            }
            if (p.Digest.Length > 0)
            {
                error = ValidateDigest(p.Digest);
                if (error != null) return null;
            }
            return p;
        }

        /// <summary>go-digest <c>Digest.Validate</c> with sha256, sha384 and sha512 available.</summary>
        private static string ValidateDigest(string d)
        {
            int i = d.IndexOf(':');
            if (i <= 0 || i + 1 == d.Length) return "invalid checksum digest format";
            string algorithm = d.Substring(0, i), encoded = d.Substring(i + 1);
            int size;
            switch (algorithm)
            {
                case "sha256": size = 32; break;
                case "sha384": size = 48; break;
                case "sha512": size = 64; break;
                default: return "unsupported digest algorithm";
            }
            if (encoded.Length != size * 2) return "invalid checksum digest length";
            foreach (char c in encoded)
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "invalid checksum digest format";
            return null;
        }

        /// <summary><c>splitDockerDomain</c>.</summary>
        private static void SplitDockerDomain(string name, out string domain, out string remoteName)
        {
            int slash = name.IndexOf('/');
            if (slash < 0)
            {
                domain = DefaultDomain;
                remoteName = OfficialRepoPrefix + name;
                return;
            }
            string maybeDomain = name.Substring(0, slash), maybeRemoteName = name.Substring(slash + 1);
            if (maybeDomain == "localhost")
            {
                domain = maybeDomain;
                remoteName = maybeRemoteName;
            }
            else if (maybeDomain == LegacyDefaultDomain)
            {
                domain = DefaultDomain;
                remoteName = maybeRemoteName;
            }
            else if (maybeDomain.IndexOfAny(new[] { '.', ':' }) >= 0 || maybeDomain.ToLowerInvariant() != maybeDomain)
            {
                domain = maybeDomain;
                remoteName = maybeRemoteName;
            }
            else
            {
                domain = DefaultDomain;
                remoteName = name;
            }
            if (domain == DefaultDomain && remoteName.IndexOf('/') < 0)
                remoteName = OfficialRepoPrefix + remoteName;
        }
    }
}
