using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FfProxy.Tests.Fixtures;

/// <summary>
/// A throwaway certificate authority with a server certificate (localhost, 127.0.0.1) and a client certificate it
/// signed, as PEM files in a temp directory: what a TLS or mTLS Redis deployment hands the proxy.
/// </summary>
public sealed class TlsFiles : IDisposable
{
    private readonly TempDirectory _directory = new();

    public TlsFiles()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=FfProxy Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(7));
        CaCert = Write("ca.pem", ca.ExportCertificatePem());

        (ServerCert, ServerKey) = Issue(ca, "server", "CN=localhost", OidServerAuth, san =>
        {
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
        });
        (ClientCert, ClientKey) = Issue(ca, "client", "CN=ffproxy", OidClientAuth, static _ => { });
    }

    private const string OidServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string OidClientAuth = "1.3.6.1.5.5.7.3.2";

    public string CaCert { get; }

    public string ServerCert { get; }

    public string ServerKey { get; }

    public string ClientCert { get; }

    public string ClientKey { get; }

    /// <summary>Whether a TLS peer presented exactly <see cref="ServerCert"/>: how test clients trust the servers they started.</summary>
    public bool IsServerCertificate(X509Certificate? presented)
    {
        using var server = X509Certificate2.CreateFromPemFile(ServerCert, ServerKey);
        return presented?.GetCertHashString() == server.GetCertHashString();
    }

    public void Dispose() => _directory.Dispose();

    private (string Cert, string Key) Issue(X509Certificate2 ca, string name, string subject, string usage, Action<SubjectAlternativeNameBuilder> names)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        var san = new SubjectAlternativeNameBuilder();
        names(san);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.Create(ca, now.AddDays(-1), now.AddDays(6), RandomNumberGenerator.GetBytes(8));
        return (Write(name + ".pem", certificate.ExportCertificatePem()), Write(name + "-key.pem", key.ExportPkcs8PrivateKeyPem()));
    }

    private string Write(string file, string pem)
    {
        var path = Path.Combine(_directory.Path, file);
        File.WriteAllText(path, pem);
        return path;
    }
}
