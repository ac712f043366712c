using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// Lenient readers for Proxmox's loosely typed JSON (reference §2.4): numbers that come as strings
    /// (<c>nextid</c> → <c>"101"</c>, <c>memory</c> → <c>"4096"</c>), strings that come as numbers, booleans as
    /// <c>0</c>/<c>1</c> or <c>"1"</c>. A missing member or JSON null gives null; a value of the wrong shape throws
    /// <see cref="FormatException"/> naming the member.
    /// </summary>
    internal static class JsonRead
    {
        /// <summary>The member, or null when <paramref name="obj"/> is not an object or lacks it (or it is JSON null).</summary>
        public static JsonElement? Member(JsonElement obj, string name)
        {
            if (obj.ValueKind != JsonValueKind.Object) return null;
            if (!obj.TryGetProperty(name, out JsonElement v) || v.ValueKind == JsonValueKind.Null || v.ValueKind == JsonValueKind.Undefined) return null;
            return v;
        }

        public static bool Has(JsonElement obj, string name) => Member(obj, name).HasValue;

        public static string String(JsonElement obj, string name) => Member(obj, name) is JsonElement v ? AsString(v) : null;

        public static int? Int(JsonElement obj, string name) => Member(obj, name) is JsonElement v ? AsInt(v, name) : (int?)null;

        public static long? Long(JsonElement obj, string name) => Member(obj, name) is JsonElement v ? AsLong(v, name) : (long?)null;

        public static double? Double(JsonElement obj, string name) => Member(obj, name) is JsonElement v ? AsDouble(v, name) : (double?)null;

        public static bool? Bool(JsonElement obj, string name) => Member(obj, name) is JsonElement v ? AsBool(v, name) : (bool?)null;

        /// <summary>The member as an object/array, or null.</summary>
        public static JsonElement? Object(JsonElement obj, string name) =>
            Member(obj, name) is JsonElement v && v.ValueKind == JsonValueKind.Object ? v : (JsonElement?)null;

        public static IEnumerable<JsonElement> Array(JsonElement arrayOrNull)
        {
            if (arrayOrNull.ValueKind != JsonValueKind.Array) yield break;
            foreach (JsonElement e in arrayOrNull.EnumerateArray()) yield return e;
        }

        /// <summary>A string value as is; a number as its JSON text; true/false as <c>1</c>/<c>0</c> (Proxmox's convention).</summary>
        public static string AsString(JsonElement v)
        {
            switch (v.ValueKind)
            {
                case JsonValueKind.String: return v.GetString();
                case JsonValueKind.Number: return v.GetRawText();
                case JsonValueKind.True: return "1";
                case JsonValueKind.False: return "0";
                case JsonValueKind.Null:
                case JsonValueKind.Undefined: return null;
                default: return v.GetRawText();
            }
        }

        public static int? AsInt(JsonElement v, string name = null)
        {
            long? l = AsLong(v, name);
            if (l == null) return null;
            if (l < int.MinValue || l > int.MaxValue) throw Bad(v, name, "a 32-bit integer");
            return (int)l.Value;
        }

        public static long? AsLong(JsonElement v, string name = null)
        {
            switch (v.ValueKind)
            {
                case JsonValueKind.Null:
                case JsonValueKind.Undefined: return null;
                case JsonValueKind.Number:
                    if (v.TryGetInt64(out long l)) return l;
                    if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= long.MinValue && d <= long.MaxValue) return (long)d;
                    throw Bad(v, name, "an integer");
                case JsonValueKind.String:
                    string s = v.GetString().Trim();
                    if (s.Length == 0) return null;
                    if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long ls)) return ls;
                    if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double ds) && ds == Math.Floor(ds)
                        && ds >= long.MinValue && ds <= long.MaxValue) return (long)ds;
                    throw Bad(v, name, "an integer");
                case JsonValueKind.True: return 1;
                case JsonValueKind.False: return 0;
                default: throw Bad(v, name, "an integer");
            }
        }

        public static double? AsDouble(JsonElement v, string name = null)
        {
            switch (v.ValueKind)
            {
                case JsonValueKind.Null:
                case JsonValueKind.Undefined: return null;
                case JsonValueKind.Number: return v.GetDouble();
                case JsonValueKind.String:
                    string s = v.GetString().Trim();
                    if (s.Length == 0) return null;
                    if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
                    throw Bad(v, name, "a number");
                case JsonValueKind.True: return 1;
                case JsonValueKind.False: return 0;
                default: throw Bad(v, name, "a number");
            }
        }

        /// <summary>true/false, 1/0 (numbers), "1"/"0"/"true"/"false"/"yes"/"no"/"on"/"off" (strings).</summary>
        public static bool? AsBool(JsonElement v, string name = null)
        {
            switch (v.ValueKind)
            {
                case JsonValueKind.Null:
                case JsonValueKind.Undefined: return null;
                case JsonValueKind.True: return true;
                case JsonValueKind.False: return false;
                case JsonValueKind.Number:
                    if (v.TryGetDouble(out double d)) return d != 0;
                    throw Bad(v, name, "a boolean");
                case JsonValueKind.String:
                    switch (v.GetString().Trim().ToLowerInvariant())
                    {
                        case "": return null;
                        case "1": case "true": case "yes": case "on": return true;
                        case "0": case "false": case "no": case "off": return false;
                        default: throw Bad(v, name, "a boolean (0/1)");
                    }
                default: throw Bad(v, name, "a boolean (0/1)");
            }
        }

        private static FormatException Bad(JsonElement v, string name, string expected)
        {
            string raw = v.GetRawText();
            if (raw.Length > 80) raw = raw.Substring(0, 77) + "...";
            return new FormatException("Proxmox returned " + raw + (name == null ? "" : " for '" + name + "'") + ", expected " + expected + ".");
        }
    }
}
