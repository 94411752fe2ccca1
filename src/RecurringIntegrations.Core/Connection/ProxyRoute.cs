using System.Net;
using System.Net.Sockets;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Connection
{
    /// <summary>
    /// Which proxy a session's calls take, decided in our code so that both editions behave alike: .NET Framework ignores
    /// HTTPS_PROXY and uses the account's Internet Options, PowerShell 7 reads the environment first. Order: -Proxy; else
    /// the environment variables (as PowerShell 7 reads them, credentials in the URL included); else the system's settings.
    /// </summary>
    internal static class ProxyDecision
    {
        /// <param name="proxy">-Proxy, or null.</param>
        /// <param name="credential">-ProxyCredential, or null; wins over a user name and password in a variable.</param>
        /// <param name="useDefaultCredentials">-ProxyUseDefaultCredentials: sign in to the proxy as the account running the command.</param>
        /// <param name="variable">Reads an environment variable (Environment.GetEnvironmentVariable; a dictionary in tests).</param>
        public static ProxyRoute Decide(Uri? proxy, ICredentials? credential, bool useDefaultCredentials, Func<string, string?> variable)
        {
            if (credential != null && useDefaultCredentials) throw ErrorCatalog.ProxyCredentialConflict.Create();
            var given = useDefaultCredentials ? CredentialCache.DefaultCredentials : credential;
            if (proxy != null)
            {
                if (!proxy.IsAbsoluteUri) throw ErrorCatalog.ProxyInvalid.Create("-Proxy", proxy.OriginalString, "it is not an absolute URL");
                if (proxy.UserInfo.Length > 0)
                    throw ErrorCatalog.ProxyInvalid.Create("-Proxy", Show(proxy), "it holds a user name or password; pass them with -ProxyCredential instead");
                CheckScheme(proxy, "-Proxy");
                var address = Bare(proxy);
                return new ProxyRoute(ProxySource.Parameter, address, address, Array.Empty<string>(), given, Show(address));
            }

            var https = Read(variable, "https_proxy", "HTTPS_PROXY");
            var http = Read(variable, "http_proxy", "HTTP_PROXY");
            var all = Read(variable, "all_proxy", "ALL_PROXY");
            var httpsName = https.Name ?? all.Name;
            var httpName = http.Name ?? all.Name;
            var httpsProxy = ParseVariable(https.Name is null ? all : https);
            var httpProxy = ParseVariable(http.Name is null ? all : http);
            if (httpsProxy is null && httpProxy is null)
                return new ProxyRoute(ProxySource.System, null, null, Array.Empty<string>(), given, "system proxy settings");

            var noProxy = Read(variable, "no_proxy", "NO_PROXY").Value ?? string.Empty;
            var bypass = noProxy.Split(',')
                .Select(entry => entry.Trim())
                .Select(entry => entry.StartsWith("*.", StringComparison.Ordinal) ? entry.Substring(1) : entry)
                .Where(entry => entry.Length > 0)
                .ToArray();
            if (Array.IndexOf(bypass, "*") >= 0)
                return new ProxyRoute(ProxySource.Environment, null, null, Array.Empty<string>(), null, "none (NO_PROXY is *)");
            // The URL's user name and password serve when no credential was given as a parameter.
            var fromUrl = httpsProxy?.Credential ?? httpProxy?.Credential;
            var shown = httpsProxy is { } shownProxy ? $"{Show(shownProxy.Address)} (from {httpsName})" : $"{Show(httpProxy!.Value.Address)} (from {httpName}, http only)";
            return new ProxyRoute(ProxySource.Environment, httpsProxy?.Address, httpProxy?.Address, bypass, given ?? fromUrl, shown);
        }

        /// <summary>The first variable of the names that is set, lower case first as PowerShell 7 reads them.</summary>
        private static (string? Name, string? Value) Read(Func<string, string?> variable, params string[] names)
        {
            foreach (var name in names)
                if (variable(name) is { } value && value.Trim().Length > 0) return (name, value.Trim());
            return (null, null);
        }

        private static (Uri Address, NetworkCredential? Credential)? ParseVariable((string? Name, string? Value) variable)
        {
            if (variable.Name is null) return null;
            var text = variable.Value!;
            // As PowerShell 7 reads it: "host:port" without a scheme is an http proxy.
            if (text.IndexOf("://", StringComparison.Ordinal) < 0) text = "http://" + text;
            // A value that is not a URL is not shown: it may hold a password.
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
                throw ErrorCatalog.ProxyInvalid.Create(variable.Name, "(not shown)", "it is not a URL such as http://proxy.contoso.com:8080");
            CheckScheme(uri, variable.Name);
            return (Bare(uri), CredentialOf(uri.UserInfo));
        }

        /// <summary>"user:password", URL-escaped, with an optional DOMAIN\ before the user name, as PowerShell 7 reads it.</summary>
        private static NetworkCredential? CredentialOf(string userInfo)
        {
            if (userInfo.Length == 0) return null;
            var colon = userInfo.IndexOf(':');
            var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo.Substring(0, colon));
            var password = colon < 0 ? string.Empty : Uri.UnescapeDataString(userInfo.Substring(colon + 1));
            var slash = user.IndexOf('\\');
            return slash < 0 ? new NetworkCredential(user, password) : new NetworkCredential(user.Substring(slash + 1), password, user.Substring(0, slash));
        }

        /// <summary>http only: .NET Framework speaks to no other kind of proxy, and calls stay https end to end through it (CONNECT).</summary>
        private static void CheckScheme(Uri proxy, string where)
        {
            if (proxy.Scheme != Uri.UriSchemeHttp)
                throw ErrorCatalog.ProxyInvalid.Create(where, Show(proxy), $"a {proxy.Scheme}:// proxy is not supported, only http://");
        }

        /// <summary>Scheme, host and port: no user name, password, path or query, so the address can be shown and handed to .NET.</summary>
        private static Uri Bare(Uri uri) => new Uri(uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped));

        /// <summary>How an address is shown in errors and on the session: never with a user name or password.</summary>
        internal static string Show(Uri uri) => uri.GetComponents(UriComponents.SchemeAndServer, UriFormat.UriEscaped);
    }

    internal enum ProxySource
    {
        /// <summary>Connect-D365 -Proxy.</summary>
        Parameter,
        /// <summary>HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, with NO_PROXY.</summary>
        Environment,
        /// <summary>None of those: the system's settings (Internet Options on Windows), as the runtime reads them.</summary>
        System,
    }

    /// <summary>
    /// The decision: the proxy of each call (by scheme), the hosts that go direct, and the credentials for the proxy. For
    /// <see cref="ProxySource.System"/> the runtime's own proxy is used and <see cref="GetProxy"/> answers from it.
    /// </summary>
    internal sealed class ProxyRoute : IWebProxy
    {
        private readonly Uri? _https;
        private readonly Uri? _http;
        private readonly string[] _bypass;

        public ProxyRoute(ProxySource source, Uri? https, Uri? http, string[] bypass, ICredentials? credentials, string description)
        {
            Source = source;
            _https = https;
            _http = http;
            _bypass = bypass;
            Credentials = credentials;
            Description = description;
        }

        public ProxySource Source { get; }
        /// <summary>What the session shows: the address and where it came from, never a credential.</summary>
        public string Description { get; }
        public ICredentials? Credentials { get; set; }

        /// <summary>The proxy a call to <paramref name="destination"/> goes through, or null when it goes direct.</summary>
        public Uri? ProxyFor(Uri destination)
        {
            if (Source == ProxySource.System)
            {
                var system = WebRequest.DefaultWebProxy;
                if (system is null || system.IsBypassed(destination)) return null;
                var address = system.GetProxy(destination);
                return address is null || address == destination ? null : address;
            }
            return IsBypassed(destination) ? null : destination.Scheme == Uri.UriSchemeHttp ? _http : _https;
        }

        public Uri GetProxy(Uri destination) => ProxyFor(destination) ?? destination;

        /// <summary>
        /// This machine's own addresses always go direct: loopback (a local emulator or stand-in) and link-local, where the
        /// managed identity endpoint of Azure VMs (169.254.169.254) answers, which no proxy can reach. Then NO_PROXY, as
        /// PowerShell 7 reads it: "host" is that host, ".contoso.com" (or "*.contoso.com") the domain and its subdomains.
        /// </summary>
        public bool IsBypassed(Uri destination)
        {
            if (Source == ProxySource.System) return ProxyFor(destination) is null;
            if (EnvironmentAddress.IsLoopback(destination) || IsLinkLocal(destination)) return true;
            if ((destination.Scheme == Uri.UriSchemeHttp ? _http : _https) is null) return true;
            var host = destination.Host;
            foreach (var entry in _bypass)
            {
                if (entry[0] == '.')
                {
                    if (host.EndsWith(entry, StringComparison.OrdinalIgnoreCase) ||
                        string.Equals(host, entry.Substring(1), StringComparison.OrdinalIgnoreCase)) return true;
                }
                else if (string.Equals(host, entry, StringComparison.OrdinalIgnoreCase)) return true;
            }
            return false;
        }

        private static bool IsLinkLocal(Uri destination) =>
            IPAddress.TryParse(destination.Host.Trim('[', ']'), out var address) &&
            (address.AddressFamily == AddressFamily.InterNetwork
                ? address.GetAddressBytes() is var bytes && bytes[0] == 169 && bytes[1] == 254
                : address.IsIPv6LinkLocal);
    }
}
