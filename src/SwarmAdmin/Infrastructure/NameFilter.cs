using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>-Name filtering shared by the Get-/Set-/Remove-Swarm* cmdlets: wildcards, an optional exact ID, and a miss report for names without wildcards.</summary>
    internal static class NameFilter
    {
        /// <summary>
        /// The items whose name matches each pattern (case-insensitive wildcards) or whose id equals it, in item order per
        /// pattern, each item once. A pattern without wildcards that matches nothing is passed to <paramref name="notFound"/>
        /// (the caller writes its error) and the other patterns go on. No patterns: every item.
        /// </summary>
        public static IEnumerable<T> Filter<T>(IEnumerable<T> items, Func<T, string> name, IEnumerable<string> patterns, Action<string> notFound, Func<T, string> id = null)
            => Matches(items, name, patterns, notFound, id).Select(m => m.Item);

        /// <summary>The same, each item with the pattern that matched it (null when no patterns were given).</summary>
        public static IEnumerable<(T Item, string Pattern)> Matches<T>(IEnumerable<T> items, Func<T, string> name, IEnumerable<string> patterns, Action<string> notFound, Func<T, string> id = null)
        {
            var list = items as IReadOnlyList<T> ?? items.ToList();
            if (patterns == null)
            {
                foreach (var i in list) yield return (i, null);
                yield break;
            }
            var seen = new HashSet<T>();
            foreach (string p in patterns)
            {
                var wp = new WildcardPattern(p, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant);
                var matches = list.Where(i => (name(i) != null && wp.IsMatch(name(i))) || (id != null && string.Equals(id(i), p, StringComparison.Ordinal))).ToList();
                if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(p))
                {
                    notFound(p);
                    continue;
                }
                foreach (var m in matches) if (seen.Add(m)) yield return (m, p);
            }
        }
    }
}
