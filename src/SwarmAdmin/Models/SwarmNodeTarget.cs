using System;
using System.Collections.Generic;
using System.Net;
using SwarmAdmin.Connection;

namespace SwarmAdmin
{
    /// <summary>
    /// A machine to act on over SSH (Initialize-Swarm, Join-SwarmNode): an ssh target string ('root@10.0.0.5',
    /// 'ssh://root@host:22'), or a node from the cluster file, which also brings its role, labels and SSH settings.
    /// PowerShell converts either into this type when binding -Node.
    /// </summary>
    public sealed class SwarmNodeTarget
    {
        public SwarmNodeTarget(string target)
        {
            if (string.IsNullOrWhiteSpace(target)) throw new ArgumentException("An SSH target such as root@10.0.0.5 is required.", nameof(target));
            Text = target.Trim();
        }

        public SwarmNodeTarget(SwarmClusterNode node)
        {
            if (node == null) throw new ArgumentNullException(nameof(node));
            Text = node.Endpoint ?? throw new ArgumentException($"Node '{node.Name}' has no address.", nameof(node));
            Name = node.Name;
            AdvertiseAddress = node.Address;
            Role = node.Role;
            Labels = new Dictionary<string, string>(node.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            KeyFile = node.KeyFile;
            KnownHostsPath = node.KnownHostsPath;
        }

        /// <summary>A VM from New-SwarmVm / Get-SwarmVm: its first IPv4 address, role, labels (incl. proxmox.host) and SSH settings.</summary>
        public SwarmNodeTarget(SwarmVm vm)
        {
            if (vm == null) throw new ArgumentNullException(nameof(vm));
            string address = vm.Address ?? throw new ArgumentException($"VM '{vm.Name}' has no known IPv4 address (start it and wait for its guest agent: New-SwarmVm -WaitFor Ssh).", nameof(vm));
            Text = $"ssh://{vm.SshUser ?? "root"}@{address}";
            Name = vm.Name;
            AdvertiseAddress = address;
            if (Enum.TryParse(vm.Role ?? string.Empty, true, out SwarmNodeRole role)) Role = role;
            Labels = new Dictionary<string, string>(vm.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            KeyFile = vm.KeyFile;
            KnownHostsPath = vm.KnownHostsPath;
        }

        /// <summary>A node from Install-SwarmEngine: the node it was made from (so role, labels and SSH settings carry on to Join-SwarmNode).</summary>
        public SwarmNodeTarget(SwarmEngineInstallation installation)
            : this((installation ?? throw new ArgumentNullException(nameof(installation))).Target ?? throw new ArgumentException($"The installation result of '{installation.Node}' carries no target.", nameof(installation)))
        {
        }

        /// <summary>A node from Test-SwarmNodeReadiness: the node it was made from.</summary>
        public SwarmNodeTarget(SwarmNodeReadiness readiness)
            : this((readiness ?? throw new ArgumentNullException(nameof(readiness))).Target ?? throw new ArgumentException($"The readiness result of '{readiness.Node}' carries no target.", nameof(readiness)))
        {
        }

        private SwarmNodeTarget(SwarmNodeTarget other)
        {
            Text = other.Text;
            Name = other.Name;
            AdvertiseAddress = other.AdvertiseAddress;
            Role = other.Role;
            Labels = new Dictionary<string, string>(other.Labels, StringComparer.Ordinal);
            KeyFile = other.KeyFile;
            KnownHostsPath = other.KnownHostsPath;
        }

        /// <summary>The SSH target as given.</summary>
        public string Text { get; }
        /// <summary>The node's name (from the cluster file), or null.</summary>
        public string Name { get; }
        /// <summary>The address the node advertises to the swarm; default: the target's host when it is an IP address.</summary>
        public string AdvertiseAddress { get; }
        /// <summary>The role the cluster file declares, or null.</summary>
        public SwarmNodeRole? Role { get; }
        public Dictionary<string, string> Labels { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
        public string KeyFile { get; }
        public string KnownHostsPath { get; }

        public override string ToString() => Name ?? Text;

        internal SwarmEndpoint ResolveEndpoint(string defaultUser) => SwarmEndpoint.Parse(Text, defaultUser ?? "root");

        /// <summary>The advertise address to use: explicit, else the declared one, else the endpoint's host if it is an IP.</summary>
        internal string ResolveAdvertiseAddress(SwarmEndpoint endpoint, string explicitAddress)
        {
            string a = explicitAddress ?? AdvertiseAddress;
            if (a == null && endpoint.Host != null && IPAddress.TryParse(endpoint.Host, out _)) a = endpoint.Host;
            return a;
        }

        /// <summary>Null when usable, else why the address cannot be advertised (0.0.0.0, loopback, missing).</summary>
        internal static string CheckAdvertiseAddress(string address)
        {
            if (string.IsNullOrWhiteSpace(address))
                return "no advertise address is known: pass -AdvertiseAddress with the node's static IP (swarm needs an address the other nodes can reach)";
            string host = address;
            int colon = address.LastIndexOf(':');
            if (colon > 0 && address.IndexOf(':') == colon) host = address.Substring(0, colon);
            host = host.Trim('[', ']');
            if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return $"'{address}' is loopback; other nodes could not reach it";
            if (IPAddress.TryParse(host, out IPAddress ip))
            {
                if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any)) return $"'{address}' is not a reachable address (0.0.0.0 makes the swarm pick one, often the wrong one: moby#35437)";
                if (IPAddress.IsLoopback(ip)) return $"'{address}' is loopback; other nodes could not reach it";
            }
            return null;
        }
    }
}
