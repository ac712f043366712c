using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json.Nodes;

namespace SwarmAdmin.Secrets
{
    /// <summary>A secret or config as the engine lists it, without its data (the engine never returns a secret's data).</summary>
    internal sealed class StoredObject
    {
        public string Id { get; set; }
        public string Name { get; set; }
        public IDictionary<string, string> Labels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public DateTime? CreatedAt { get; set; }
        public DateTime? UpdatedAt { get; set; }
    }

    /// <summary>A service's reference to a secret or config (what its ContainerSpec.Secrets/Configs hold).</summary>
    internal readonly struct ObjectReference
    {
        public ObjectReference(string id, string name) { Id = id; Name = name; }
        public string Id { get; }
        public string Name { get; }
    }

    /// <summary>
    /// The rotation naming scheme shared by Update-SwarmSecret and Update-SwarmConfig (pure logic): a rotated version
    /// is called &lt;base&gt;.v&lt;N&gt; and carries the labels com.swarmadmin.&lt;kind&gt;.base=&lt;base&gt; and
    /// com.swarmadmin.&lt;kind&gt;.version=&lt;N&gt;; a plain &lt;base&gt; without those labels is version 0. Versions are
    /// found by label only: a name that merely looks like base.vN has no special meaning.
    /// </summary>
    internal static class SwarmObjectVersions
    {
        public static string BaseLabel(string kind) => $"com.swarmadmin.{kind}.base";
        public static string VersionLabel(string kind) => $"com.swarmadmin.{kind}.version";

        /// <summary>base (version 0) or base.vN.</summary>
        public static string VersionedName(string baseName, int version) => version <= 0 ? baseName : $"{baseName}.v{version.ToString(CultureInfo.InvariantCulture)}";

        /// <summary>A version label's value: a non-negative integer, else null.</summary>
        public static int? ParseVersion(string value)
        {
            if (string.IsNullOrWhiteSpace(value)) return null;
            return int.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= 0 ? v : (int?)null;
        }

        /// <summary>The base name and version of one object: from its two labels when both are there and valid, else (its name, 0).</summary>
        public static (string Base, int Version) Identify(string kind, string name, IDictionary<string, string> labels)
        {
            if (labels != null && labels.TryGetValue(BaseLabel(kind), out string b) && !string.IsNullOrEmpty(b))
            {
                int? v = labels.TryGetValue(VersionLabel(kind), out string vs) ? ParseVersion(vs) : null;
                if (v.HasValue) return (b, v.Value);
            }
            return (name, 0);
        }

        /// <summary>
        /// The versions of <paramref name="baseName"/> among <paramref name="items"/>: those labelled with that base (their
        /// version label), and the object named exactly <paramref name="baseName"/> unless it is labelled as another base's
        /// version. Ordered by version.
        /// </summary>
        public static IReadOnlyList<(T Item, int Version)> VersionsOf<T>(IEnumerable<T> items, string kind, string baseName, Func<T, string> name, Func<T, IDictionary<string, string>> labels)
        {
            var result = new List<(T, int)>();
            foreach (var item in items)
            {
                var (b, v) = Identify(kind, name(item), labels(item));
                if (string.Equals(b, baseName, StringComparison.Ordinal)) result.Add((item, v));
            }
            return result.OrderBy(r => r.Item2).ToList();
        }

        /// <summary>
        /// The next version after the highest of <paramref name="versions"/> (at least 1) and its name; a name already
        /// taken (e.g. created by hand with New-SwarmSecret) is skipped to the next free number.
        /// </summary>
        public static (int Version, string Name) Next(string baseName, IEnumerable<int> versions, ICollection<string> takenNames)
        {
            int n = Math.Max(0, versions.DefaultIfEmpty(0).Max()) + 1;
            while (takenNames != null && takenNames.Contains(VersionedName(baseName, n))) n++;
            return (n, VersionedName(baseName, n));
        }

        /// <summary>Whether a service reference points at one of the versions (by ID; by name only when the reference has no ID).</summary>
        public static bool Refers(ObjectReference r, ICollection<string> versionIds, ICollection<string> versionNames)
            => !string.IsNullOrEmpty(r.Id) ? versionIds.Contains(r.Id) : r.Name != null && versionNames.Contains(r.Name);

        /// <summary>The positions of the references that must move to the new version (those to an old version of the base).</summary>
        public static IReadOnlyList<int> ReferencesToMove(IList<ObjectReference> refs, ICollection<string> versionIds, ICollection<string> versionNames, string newId)
        {
            var result = new List<int>();
            for (int i = 0; i < refs.Count; i++)
            {
                if (refs[i].Id == newId && newId != null) continue;
                if (Refers(refs[i], versionIds, versionNames)) result.Add(i);
            }
            return result;
        }

        /// <summary>The old versions no reference points at any more (what a rotation may remove); never the new one.</summary>
        public static IReadOnlyList<StoredObject> Unused(IEnumerable<StoredObject> oldVersions, IEnumerable<ObjectReference> allReferences, string newId)
        {
            var refs = allReferences.ToList();
            return oldVersions.Where(o => o.Id != newId && !refs.Any(r => Refers(r, new[] { o.Id }, new[] { o.Name }))).ToList();
        }

        /// <summary>Names of the services (sorted, each once) whose references point at <paramref name="obj"/>.</summary>
        public static string[] UsedBy(StoredObject obj, IEnumerable<(string Service, IEnumerable<ObjectReference> Refs)> services)
            => services.Where(s => s.Refs != null && s.Refs.Any(r => Refers(r, new[] { obj.Id }, new[] { obj.Name })))
                .Select(s => s.Service).Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal).ToArray();

        /// <summary>
        /// Moves the references of a service spec (raw engine JSON, Spec object) that point at an old version to the new
        /// one: only the ID and name change; the target (file name, UID, GID, mode, or runtime) stays. Every other field of
        /// the spec is left as it is. Returns the old names that were replaced (empty: nothing to send).
        /// </summary>
        public static IReadOnlyList<string> MoveReferences(JsonObject spec, string arrayName, string idField, string nameField,
            ICollection<string> versionIds, ICollection<string> versionNames, string newId, string newName)
        {
            var moved = new List<string>();
            if (!(spec?["TaskTemplate"] is JsonObject tt) || !(tt["ContainerSpec"] is JsonObject cs) || !(cs[arrayName] is JsonArray arr)) return moved;
            var refs = arr.Select(n => n is JsonObject o ? new ObjectReference(Text(o[idField]), Text(o[nameField])) : default).ToList();
            foreach (int i in ReferencesToMove(refs, versionIds, versionNames, newId))
            {
                var o = (JsonObject)arr[i];
                moved.Add(refs[i].Name ?? refs[i].Id);
                o[idField] = newId;
                o[nameField] = newName;
            }
            return moved;
        }

        private static string Text(JsonNode n) => n is JsonValue v && v.TryGetValue(out string s) ? s : null;
    }
}
