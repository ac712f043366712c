using System;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using SwarmAdmin.Proxmox;

namespace SwarmAdmin
{
    /// <summary>A connection to a Proxmox VE cluster (Connect-SwarmProxmox). Holds no secret in any property.</summary>
    public sealed class SwarmProxmoxConnection : IDisposable
    {
        public string Endpoint { get; internal set; }
        /// <summary>The user or API token the server sees (user@realm or user@realm!token); never the secret.</summary>
        public string AuthId { get; internal set; }
        public string Version { get; internal set; }
        public string Release { get; internal set; }
        /// <summary>The cluster's nodes (Proxmox hosts) and whether they are online.</summary>
        public string[] Nodes { get; internal set; } = Array.Empty<string>();
        public string[] OfflineNodes { get; internal set; } = Array.Empty<string>();
        /// <summary>The pinned SHA-256 certificate fingerprints, or empty when the system trust store is used.</summary>
        public string[] CertificateFingerprint { get; internal set; } = Array.Empty<string>();
        public DateTime ConnectedAt { get; internal set; }
        public bool IsConnected => Client != null;
        internal ProxmoxClient Client { get; set; }
        internal TimeSpan Timeout { get; set; }

        public override string ToString() => $"{Endpoint} ({AuthId})";

        public void Dispose()
        {
            Client?.Dispose();
            Client = null;
        }

        private static readonly ConditionalWeakTable<Runspace, StrongBox<SwarmProxmoxConnection>> Defaults = new ConditionalWeakTable<Runspace, StrongBox<SwarmProxmoxConnection>>();
        private static SwarmProxmoxConnection _fallback;

        /// <summary>The connection of the last Connect-SwarmProxmox in this runspace.</summary>
        internal static SwarmProxmoxConnection Default
        {
            get
            {
                Runspace rs = Runspace.DefaultRunspace;
                if (rs == null) return _fallback;
                return Defaults.TryGetValue(rs, out var box) ? box.Value : null;
            }
            set
            {
                Runspace rs = Runspace.DefaultRunspace;
                if (rs == null) { _fallback = value; return; }
                Defaults.GetValue(rs, _ => new StrongBox<SwarmProxmoxConnection>()).Value = value;
            }
        }
    }

    /// <summary>A Proxmox VM (qemu), as Get-SwarmVm and New-SwarmVm return it.</summary>
    public sealed class SwarmVm
    {
        public int VmId { get; set; }
        public string Name { get; set; }
        /// <summary>The Proxmox host the VM runs on (its config lives there).</summary>
        public string Node { get; set; }
        /// <summary>running, stopped, paused, or unknown (a VM that was just created).</summary>
        public string Status { get; set; }
        public int? Cores { get; set; }
        public long? MemoryMB { get; set; }
        public double? DiskGB { get; set; }
        public string[] Tags { get; set; } = Array.Empty<string>();
        public bool IsTemplate { get; set; }
        /// <summary>The config lock (clone, create, migrate, backup, destroyed...), if any.</summary>
        public string Lock { get; set; }
        public TimeSpan? Uptime { get; set; }
        public string Pool { get; set; }
        /// <summary>IPv4 addresses the guest agent reports (New-SwarmVm fills it; Get-SwarmVm with -Addresses).</summary>
        public string[] IPv4 { get; set; } = Array.Empty<string>();
        /// <summary>The swarm role the VM is meant for (set by New-SwarmVm from the cluster file), for Join-SwarmNode.</summary>
        public string Role { get; set; }
        /// <summary>Swarm node labels for Join-SwarmNode: the cluster file's, plus proxmox.host = the node the VM really runs on.</summary>
        public System.Collections.Generic.Dictionary<string, string> Labels { get; set; } = new System.Collections.Generic.Dictionary<string, string>(StringComparer.Ordinal);
        /// <summary>SSH user, key and known_hosts for Join-SwarmNode (from the cluster file).</summary>
        public string SshUser { get; set; }
        public string KeyFile { get; set; }
        public string KnownHostsPath { get; set; }
        /// <summary>The hostname (Join-SwarmNode binds it), equal to the VM name.</summary>
        public string Hostname => Name;
        /// <summary>The address Join-SwarmNode reaches the VM on (the first IPv4).</summary>
        public string Address => IPv4.Length > 0 ? IPv4[0] : null;
        [Hidden] public SwarmProxmoxConnection Connection { get; set; }
        public override string ToString() => Name ?? VmId.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
