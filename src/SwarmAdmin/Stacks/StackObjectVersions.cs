using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace SwarmAdmin.Stacks
{
    /// <summary>Content-versioned names for stack secrets and configs (swarm cannot change their content in place).</summary>
    internal static class StackObjectVersions
    {
        /// <summary>The longest secret/config name the engine accepts.</summary>
        internal const int MaxNameLength = 64;

        /// <summary>
        /// <c>baseName-&lt;10 hex&gt;</c>: the first 5 bytes of an HMAC-SHA256 of the content keyed with
        /// <paramref name="hmacKey"/> (SwarmAdmin uses the swarm's cluster ID), so the name changes with the content but
        /// does not let anyone outside the swarm test guesses of a secret against it. Null when the result would be
        /// longer than 64 characters.
        /// </summary>
        internal static string VersionedName(string baseName, string hmacKey, byte[] content)
        {
            string hash;
            using (var h = new HMACSHA256(Encoding.UTF8.GetBytes(hmacKey ?? string.Empty)))
                hash = string.Concat(h.ComputeHash(content ?? new byte[0]).Take(5).Select(b => b.ToString("x2")));
            string name = baseName + "-" + hash;
            return name.Length > MaxNameLength ? null : name;
        }
    }
}
