using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace SwarmAdmin
{
    /// <summary>One node as the cluster file declares it (Import-SwarmClusterConfig). Pipes into Initialize-Swarm and Join-SwarmNode.</summary>
    public sealed class SwarmClusterNode
    {
        /// <summary>Hostname of the node (VM name).</summary>
        public string Name { get; set; }
        /// <summary>Static IP address (no prefix length).</summary>
        public string Address { get; set; }
        public SwarmNodeRole Role { get; set; }
        /// <summary>Name of the Proxmox host the VM runs on.</summary>
        public string ProxmoxHost { get; set; }
        public Dictionary<string, string> Labels { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

        /// <summary>SSH user, private key file and known_hosts file to reach the node (from the cluster file's ssh section).</summary>
        public string SshUser { get; set; }
        public string KeyFile { get; set; }
        public string KnownHostsPath { get; set; }

        /// <summary>ssh://user@address</summary>
        public string Endpoint => Address == null ? null : $"ssh://{SshUser ?? "root"}@{(Address.Contains(":") ? "[" + Address + "]" : Address)}";

        /// <summary>Virtual CPU cores of the VM.</summary>
        public int Cores { get; set; }
        /// <summary>Memory of the VM in MiB (what Proxmox calls MB).</summary>
        public long MemoryMB { get; set; }
        /// <summary>Memory in GiB (MemoryMB / 1024).</summary>
        public double MemoryGB => MemoryMB / 1024.0;
        /// <summary>Size of the boot disk in GiB.</summary>
        public double BootDiskGB { get; set; }
        /// <summary>Proxmox storage of the boot disk (null: the file does not say).</summary>
        public string BootStorage { get; set; }
        /// <summary>Size of the data disk in GiB (0: no data disk).</summary>
        public double DataDiskGB { get; set; }
        /// <summary>Proxmox storage of the data disk (null without a data disk).</summary>
        public string DataStorage { get; set; }
        /// <summary>Name of the cluster file network the node's address is on (null: none given).</summary>
        public string Network { get; set; }
        /// <summary>VLAN tag of that network (null: untagged or no network).</summary>
        public int? VlanTag { get; set; }
        /// <summary>The address with the network's prefix length, e.g. 192.168.4.30/24 (null without a network).</summary>
        public string AddressPrefix { get; set; }
        /// <summary>Name of the VM template the node is cloned from (null: none given).</summary>
        public string Template { get; set; }
        /// <summary>Proxmox VM ID, when the file fixes one.</summary>
        public int? VmId { get; set; }
        public string Description { get; set; }

        /// <summary>The whole configuration this node came from.</summary>
        [Hidden]
        public SwarmClusterConfig Config { get; set; }

        public override string ToString() => Name;
    }

    /// <summary>A whole cluster file (Import-SwarmClusterConfig).</summary>
    public sealed partial class SwarmClusterConfig
    {
        public string Path { get; set; }
        public string Name { get; set; }
        public SwarmClusterNode[] Nodes { get; set; } = Array.Empty<SwarmClusterNode>();

        public string Description { get; set; }
        /// <summary>The Proxmox hosts (proxmox.hosts).</summary>
        public SwarmClusterHost[] Hosts { get; set; } = Array.Empty<SwarmClusterHost>();
        public SwarmClusterNetwork[] Networks { get; set; } = Array.Empty<SwarmClusterNetwork>();
        public SwarmClusterTemplate[] Templates { get; set; } = Array.Empty<SwarmClusterTemplate>();
        /// <summary>The ssh section, with paths resolved against the file's folder.</summary>
        public SwarmClusterSsh Ssh { get; set; } = new SwarmClusterSsh();
        /// <summary>The defaults section (values nodes inherit when they do not set them).</summary>
        public SwarmClusterDefaults Defaults { get; set; } = new SwarmClusterDefaults();
        /// <summary>Warnings about the design (even number of managers, managers sharing a Proxmox host...).</summary>
        public SwarmConfigFinding[] Findings { get; set; } = Array.Empty<SwarmConfigFinding>();

        public SwarmClusterNode[] Managers => Nodes.Where(n => n.Role == SwarmNodeRole.Manager).ToArray();
        public SwarmClusterNode[] Workers => Nodes.Where(n => n.Role == SwarmNodeRole.Worker).ToArray();

        public override string ToString() => Name ?? Path;
    }

    /// <summary>Role of a Proxmox host in the Proxmox cluster.</summary>
    public enum SwarmProxmoxHostRole { Primary, Secondary }

    /// <summary>One Proxmox VE host (proxmox.hosts in the cluster file).</summary>
    public sealed class SwarmClusterHost
    {
        public string Name { get; set; }
        /// <summary>Proxmox API URL, e.g. https://pve01:8006.</summary>
        public string ApiUrl { get; set; }
        public SwarmProxmoxHostRole Role { get; set; }
        /// <summary>Names of the Proxmox storages this host offers (local-lvm, tank...).</summary>
        public string[] Storages { get; set; } = Array.Empty<string>();
        public string Description { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>One network (VLAN) of the cluster file.</summary>
    public sealed class SwarmClusterNetwork
    {
        public string Name { get; set; }
        /// <summary>802.1Q tag (null: untagged).</summary>
        public int? VlanTag { get; set; }
        /// <summary>Subnet in CIDR notation, e.g. 192.168.4.0/24.</summary>
        public string Subnet { get; set; }
        public int PrefixLength { get; set; }
        public string Gateway { get; set; }
        public string[] Dns { get; set; } = Array.Empty<string>();
        public int? Mtu { get; set; }
        /// <summary>Proxmox bridge the VMs' NIC attaches to, e.g. vmbr0.</summary>
        public string Bridge { get; set; }
        public string Description { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>A Proxmox VM template nodes are cloned from.</summary>
    public sealed class SwarmClusterTemplate
    {
        public string Name { get; set; }
        public int VmId { get; set; }
        /// <summary>The Proxmox host that holds it (null when Shared).</summary>
        public string Host { get; set; }
        /// <summary>True when every host can clone it (shared storage).</summary>
        public bool Shared { get; set; }
        public string OS { get; set; }
        public string Description { get; set; }
        public override string ToString() => Name;
    }

    /// <summary>The ssh section: how SwarmAdmin reaches the nodes. Paths are absolute (resolved against the cluster file's folder).</summary>
    public sealed class SwarmClusterSsh
    {
        public string User { get; set; }
        public string KeyFile { get; set; }
        public string KnownHostsPath { get; set; }
    }

    /// <summary>The defaults section: values every node inherits unless it sets its own.</summary>
    public sealed class SwarmClusterDefaults
    {
        public string Template { get; set; }
        public string Network { get; set; }
        public int? Cores { get; set; }
        public long? MemoryMB { get; set; }
        public double? BootDiskGB { get; set; }
        public string BootStorage { get; set; }
        public string SshUser { get; set; }
    }

    /// <summary>A warning about a cluster file: valid, but risky (Import-SwarmClusterConfig writes it as a warning too).</summary>
    public sealed class SwarmConfigFinding
    {
        public SwarmConfigFinding(string id, FindingSeverity severity, string target, string message, string remedy, string path, int line, int column)
        {
            Id = id; Severity = severity; Target = target; Message = message; Remedy = remedy; Path = path; Line = line; Column = column;
        }
        /// <summary>Stable identifier, e.g. MANAGERS-EVEN.</summary>
        public string Id { get; }
        public FindingSeverity Severity { get; }
        /// <summary>The node, Proxmox host or cluster the finding is about.</summary>
        public string Target { get; }
        public string Message { get; }
        public string Remedy { get; }
        /// <summary>The cluster file and the position (1-based) the finding points at.</summary>
        public string Path { get; }
        public int Line { get; }
        public int Column { get; }
        public override string ToString() => $"{Path}:{Line}:{Column}: {Message}";
    }

    /// <summary>One row of Get-SwarmCapacity: a role (Manager, Worker), the Total, or (live) one node.</summary>
    public sealed class SwarmCapacityRow
    {
        /// <summary>The cluster file's name (Config) or the swarm's cluster ID (Live).</summary>
        public string Cluster { get; set; }
        /// <summary>Manager, Worker or Total.</summary>
        public string Role { get; set; }
        /// <summary>The node's hostname on per-node rows (live only); null on role and Total rows.</summary>
        public string Node { get; set; }
        public int Nodes { get; set; }
        public double Cores { get; set; }
        public double MemoryGB { get; set; }
        /// <summary>Boot and data disk sizes (from a cluster file; null for live rows, the engine does not report disks).</summary>
        public double? BootDiskGB { get; set; }
        public double? DataDiskGB { get; set; }
        /// <summary>Live: CPUs and memory reserved by the running tasks of services (Resources.Reservations).</summary>
        public double? ReservedCores { get; set; }
        public double? ReservedMemoryGB { get; set; }
        /// <summary>Live: tasks that hold a reservation (desired state running).</summary>
        public int? Tasks { get; set; }
        public double? FreeCores => ReservedCores == null ? (double?)null : Cores - ReservedCores.Value;
        public double? FreeMemoryGB => ReservedMemoryGB == null ? (double?)null : MemoryGB - ReservedMemoryGB.Value;
        /// <summary>Config (from a cluster file) or Live (from the swarm).</summary>
        public string Source { get; set; }
        public override string ToString() => Node ?? Role;
    }
}
