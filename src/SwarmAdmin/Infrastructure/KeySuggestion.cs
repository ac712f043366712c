using System;
using System.Collections.Generic;
using System.Linq;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>"Did you mean ...?" for unknown keys and names, shared by the cluster file and compose readers.</summary>
    internal static class KeySuggestion
    {
        /// <summary>
        /// The allowed key closest to <paramref name="key"/>: the same ignoring case, or '_' and '-', then a synonym,
        /// then the nearest by edit distance (at most a third of the key, 1 to 3 edits), then an allowed key it is a prefix of; else null.
        /// </summary>
        public static string Closest(string key, IEnumerable<string> allowedKeys, IReadOnlyDictionary<string, string[]> synonyms)
        {
            if (string.IsNullOrEmpty(key)) return null;
            var allowed = allowedKeys as IReadOnlyCollection<string> ?? allowedKeys.ToList();
            string same = allowed.FirstOrDefault(a => string.Equals(a, key, StringComparison.OrdinalIgnoreCase));
            if (same != null) return same;
            string squashed = Squash(key);
            same = allowed.FirstOrDefault(a => string.Equals(Squash(a), squashed, StringComparison.OrdinalIgnoreCase));
            if (same != null) return same;
            if (synonyms != null && synonyms.TryGetValue(squashed, out string[] words))
            {
                string hit = words.FirstOrDefault(w => allowed.Contains(w));
                if (hit != null) return hit;
            }
            string best = null; int bestDistance = int.MaxValue;
            foreach (string a in allowed)
            {
                int d = Distance(key.ToLowerInvariant(), a.ToLowerInvariant());
                if (d < bestDistance) { best = a; bestDistance = d; }
            }
            int limit = Math.Max(1, Math.Min(3, key.Length / 3));
            if (bestDistance <= limit) return best;
            return allowed.Where(a => key.Length >= 3 && a.StartsWith(key, StringComparison.OrdinalIgnoreCase)).OrderBy(a => a.Length).FirstOrDefault();
        }

        private static string Squash(string s) => s.Replace("_", string.Empty).Replace("-", string.Empty);

        /// <summary>Optimal string alignment distance (Levenshtein plus adjacent transpositions).</summary>
        internal static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
            {
                for (int j = 1; j <= b.Length; j++)
                {
                    int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                    if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
            return d[a.Length, b.Length];
        }
    }
}
