using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ProxmoxSimulator;

/// <summary>Self-signed server certificates. "cert-swap" serves a different certificate from then on.</summary>
public sealed class CertStore
{
    private volatile X509Certificate2 _current;
    public X509Certificate2 Original { get; }
    public X509Certificate2 Current => _current;

    public CertStore()
    {
        Original = Generate("pve-sim");
        _current = Original;
    }

    public static string Fingerprint(X509Certificate2 cert) =>
        string.Join(':', SHA256.HashData(cert.RawData).Select(b => b.ToString("X2")));

    public string Swap()
    {
        _current = Generate("pve-sim");
        return Fingerprint(_current);
    }

    public void Restore() => _current = Original;

    public static X509Certificate2 Generate(string cn)
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest($"CN={cn}, O=PVE Cluster Node, OU=Proxmox Virtual Environment", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        san.AddDnsName(cn);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.NonRepudiation, false));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") }, false));
        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        using var cert = req.Create(req.SubjectName, X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(2), serial);
        using var withKey = cert.CopyWithPrivateKey(rsa);
        // round-trip through PKCS#12 so SslStream can use the key on every platform
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
