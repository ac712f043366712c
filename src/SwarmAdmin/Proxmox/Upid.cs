using System;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Proxmox
{
    /// <summary>
    /// A Proxmox task ID: <c>UPID:&lt;node&gt;:&lt;pid %08X&gt;:&lt;pstart %08X(9)&gt;:&lt;starttime %08X&gt;:&lt;type&gt;:&lt;id&gt;:&lt;user&gt;:</c>
    /// (PVE/UPID.pm). The task runs on, and must be polled at, <see cref="Node"/>.
    /// </summary>
    internal sealed class Upid : IEquatable<Upid>
    {
        // The server's own regex (PVE::Tools::upid_decode).
        private static readonly Regex UpidRegex = new Regex(
            @"^UPID:(?<node>[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?):(?<pid>[0-9A-Fa-f]{8}):(?<pstart>[0-9A-Fa-f]{8,9}):(?<start>[0-9A-Fa-f]{8}):(?<type>[^:\s/]+):(?<id>[^:\s/]*):(?<user>[^:\s/]+):$",
            RegexOptions.CultureInvariant);

        private readonly string _text;

        private Upid(string text, string node, long pid, long pstart, DateTimeOffset startTime, string type, string id, string authId)
        {
            _text = text;
            Node = node;
            Pid = pid;
            PStart = pstart;
            StartTime = startTime;
            Type = type;
            Id = id;
            AuthId = authId;
            int bang = authId.IndexOf('!');
            User = bang >= 0 ? authId.Substring(0, bang) : authId;
            TokenId = bang >= 0 ? authId.Substring(bang + 1) : null;
        }

        /// <summary>The node the task runs on (poll it there).</summary>
        public string Node { get; }

        public long Pid { get; }

        public long PStart { get; }

        public DateTimeOffset StartTime { get; }

        /// <summary>Task type: <c>qmclone</c>, <c>qmconfig</c>, <c>qmstart</c>, <c>resize</c>, <c>qmdestroy</c>…</summary>
        public string Type { get; }

        /// <summary>The task's object ID (for qemu tasks the VMID; for a clone the <em>source</em> VMID); may be empty.</summary>
        public string Id { get; }

        /// <summary>The user part (<c>swarm@pve</c>), without the token name.</summary>
        public string User { get; }

        /// <summary>The token name when the task was started with an API token (<c>admin</c>), else null.</summary>
        public string TokenId { get; }

        /// <summary>The full auth ID as in the UPID (<c>swarm@pve!admin</c>).</summary>
        public string AuthId { get; }

        /// <summary><see cref="Id"/> as a VMID when it is one.</summary>
        public int? VmId =>
            int.TryParse(Id, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : (int?)null;

        public static Upid Parse(string text)
        {
            if (!TryParse(text, out Upid upid))
                throw new FormatException("'" + text + "' is not a Proxmox task ID (UPID:node:pid:pstart:starttime:type:id:user:).");
            return upid;
        }

        public static bool TryParse(string text, out Upid upid)
        {
            upid = null;
            if (string.IsNullOrEmpty(text)) return false;
            Match m = UpidRegex.Match(text.Trim());
            if (!m.Success) return false;
            long pid = long.Parse(m.Groups["pid"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            long pstart = long.Parse(m.Groups["pstart"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            long start = long.Parse(m.Groups["start"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            upid = new Upid(text.Trim(), m.Groups["node"].Value, pid, pstart, DateTimeOffset.FromUnixTimeSeconds(start),
                m.Groups["type"].Value, m.Groups["id"].Value, m.Groups["user"].Value);
            return true;
        }

        /// <summary>The UPID text exactly as Proxmox issued it.</summary>
        public override string ToString() => _text;

        public bool Equals(Upid other) => other != null && string.Equals(_text, other._text, StringComparison.Ordinal);

        public override bool Equals(object obj) => Equals(obj as Upid);

        public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_text);
    }
}
