using System;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace SwarmAdmin.Config
{
    /// <summary>Strict IP address and CIDR subnet arithmetic for the cluster file (IPv4 and IPv6).</summary>
    internal sealed class IpNetwork
    {
        private static readonly Regex DottedQuad = new Regex(@"^\d{1,3}(\.\d{1,3}){3}$", RegexOptions.CultureInvariant);

        private IpNetwork(IPAddress network, int prefix) { Network = network; PrefixLength = prefix; }

        public IPAddress Network { get; }
        public int PrefixLength { get; }
        public override string ToString() => $"{Network}/{PrefixLength}";

        /// <summary>An address as people write it: four decimal parts for IPv4 (IPAddress.Parse would take "10.1" too), or IPv6.</summary>
        public static bool TryParseAddress(string text, out IPAddress address)
        {
            address = null;
            if (string.IsNullOrWhiteSpace(text)) return false;
            text = text.Trim();
            if (text.Contains(":"))
            {
                return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6 && !text.Contains("%");
            }
            return DottedQuad.IsMatch(text) && IPAddress.TryParse(text, out address);
        }

        /// <summary>Parses a.b.c.d/nn. <paramref name="hostBits"/> is true when the address part is not the network address itself.</summary>
        public static bool TryParse(string text, out IpNetwork network, out bool hostBits)
        {
            network = null; hostBits = false;
            if (string.IsNullOrWhiteSpace(text)) return false;
            string[] parts = text.Trim().Split('/');
            if (parts.Length != 2 || !TryParseAddress(parts[0], out IPAddress address)) return false;
            int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (!int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix) || prefix < 0 || prefix > max) return false;
            IPAddress masked = Mask(address, prefix);
            hostBits = !masked.Equals(address);
            network = new IpNetwork(masked, prefix);
            return true;
        }

        public bool Contains(IPAddress address)
            => address != null && address.AddressFamily == Network.AddressFamily && Mask(address, PrefixLength).Equals(Network);

        /// <summary>True for the subnet's own address and, for IPv4 subnets larger than /31, its broadcast address.</summary>
        public bool IsReserved(IPAddress address)
        {
            if (!Contains(address)) return false;
            if (address.Equals(Network)) return PrefixLength < (Network.AddressFamily == AddressFamily.InterNetwork ? 31 : 127);
            if (Network.AddressFamily != AddressFamily.InterNetwork || PrefixLength >= 31) return false;
            byte[] b = address.GetAddressBytes();
            for (int bit = PrefixLength; bit < 32; bit++)
            {
                if ((b[bit / 8] & (0x80 >> (bit % 8))) == 0) return false;
            }
            return true;
        }

        private static IPAddress Mask(IPAddress address, int prefix)
        {
            byte[] bytes = address.GetAddressBytes();
            for (int i = 0; i < bytes.Length; i++)
            {
                int keep = Math.Max(0, Math.Min(8, prefix - i * 8));
                bytes[i] &= (byte)(0xFF << (8 - keep));
            }
            return new IPAddress(bytes);
        }
    }
}
