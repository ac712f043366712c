using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Docker.DotNet;

namespace SwarmAdmin.Nodes
{
    internal static class NodeState
    {
        /// <summary>A manager the raft group can reach: the leader, or reachability "reachable".</summary>
        public static bool IsReachableManager(this Docker.DotNet.Models.NodeListResponse n) =>
            n?.ManagerStatus != null && (n.ManagerStatus.Leader == true || string.Equals(n.ManagerStatus.Reachability, "reachable", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Rules for node label keys, and label-set arithmetic.</summary>
    internal static class NodeLabels
    {
        private static readonly Regex KeyPattern = new Regex(@"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,253}[A-Za-z0-9])?$", RegexOptions.CultureInvariant);
        private static readonly string[] Reserved = { "com.docker.", "io.docker.", "org.dockerproject." };

        /// <summary>Null when the key is valid, else why not (for an error message).</summary>
        public static string Validate(string key)
        {
            if (string.IsNullOrEmpty(key)) return "a label key cannot be empty";
            if (!KeyPattern.IsMatch(key))
                return $"label key '{key}' is not valid: use letters, digits, '.', '-', '_' and '/', starting and ending with a letter or digit (e.g. proxmox.host, portainer.data)";
            if (key.Contains("..") || key.Contains("--") || key.Contains("//"))
                return $"label key '{key}' is not valid: it repeats a separator";
            string reserved = Reserved.FirstOrDefault(r => key.StartsWith(r, StringComparison.OrdinalIgnoreCase));
            if (reserved != null)
                return $"label key '{key}' uses the namespace '{reserved}', which Docker reserves for itself";
            return null;
        }

        public static string ValidateValue(string key, string value)
        {
            if (value == null) return null;
            if (value.Any(c => char.IsControl(c))) return $"the value of label '{key}' contains control characters";
            return null;
        }

        /// <summary>Hashtable (PowerShell @{}) to an ordinal dictionary; $null values become empty strings.</summary>
        public static Dictionary<string, string> FromHashtable(IDictionary table)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            if (table == null) return d;
            foreach (DictionaryEntry e in table)
            {
                d[Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture)] = e.Value == null ? string.Empty : Convert.ToString(e.Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            return d;
        }

        /// <summary>The label set after the change: Replace wins; else current + Add - Remove.</summary>
        public static Dictionary<string, string> Apply(IDictionary<string, string> current, IDictionary<string, string> add, IEnumerable<string> remove, IDictionary<string, string> replace)
        {
            if (replace != null) return new Dictionary<string, string>(replace, StringComparer.Ordinal);
            var result = new Dictionary<string, string>(current ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            if (remove != null) foreach (string k in remove) result.Remove(k);
            if (add != null) foreach (var kv in add) result[kv.Key] = kv.Value ?? string.Empty;
            return result;
        }

        public static bool SameSet(IDictionary<string, string> a, IDictionary<string, string> b)
        {
            a = a ?? new Dictionary<string, string>();
            b = b ?? new Dictionary<string, string>();
            return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out string v) && string.Equals(v ?? string.Empty, kv.Value ?? string.Empty, StringComparison.Ordinal));
        }

        public static string Format(IDictionary<string, string> labels)
        {
            if (labels == null || labels.Count == 0) return "{}";
            return "{" + string.Join(", ", labels.OrderBy(k => k.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")) + "}";
        }

        /// <summary>Swarm rejects an update whose version index is stale with "update out of sequence" (HTTP 500).</summary>
        public static bool IsVersionConflict(Exception ex)
        {
            return ex is DockerApiException api &&
                   ((int)api.StatusCode == 409 || (api.ResponseBody ?? string.Empty).IndexOf("out of sequence", StringComparison.OrdinalIgnoreCase) >= 0);
        }
    }
}
