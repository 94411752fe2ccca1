using System.Net;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Connection
{
    /// <summary>
    /// The environment URL: scheme and host in lower case, the default port dropped, and the path kept as given with no
    /// trailing slash (on-premises environments serve the API under one: https://ax.contoso.com/namespaces/AXSF).
    /// </summary>
    public static class EnvironmentAddress
    {
        public static Uri Normalize(string environment)
        {
            var text = (environment ?? string.Empty).Trim();
            if (text.Length == 0)
                throw ErrorCatalog.EnvironmentMissing.Create();
            if (text.IndexOf("://", StringComparison.Ordinal) < 0) text = "https://" + text;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
                throw ErrorCatalog.EnvironmentInvalid.Create(environment);
            if (uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri))
                throw ErrorCatalog.EnvironmentNotHttps.Create(environment);
            // The query and fragment of a pasted web-client address (?cmp=USMF&mi=...) are not part of the environment.
            return new Uri(ToAudience(uri) + uri.AbsolutePath.TrimEnd('/'));
        }

        /// <summary>
        /// The token audience (the resource): scheme and host, lower case, no trailing slash, and no path. AD FS knows an
        /// on-premises environment by its host (https://ax.contoso.com), not by the path its API sits under.
        /// </summary>
        public static string ToAudience(Uri environment) => environment.GetLeftPart(UriPartial.Authority).ToLowerInvariant();

        /// <summary>The environment as shown and written into results: the normalized URL with its path, no trailing slash.</summary>
        public static string ToText(Uri environment) => environment.AbsoluteUri.TrimEnd('/');

        /// <summary>A call's URL: <paramref name="pathAndQuery"/> (starting with '/') under the environment's path.</summary>
        public static Uri Combine(Uri environment, string pathAndQuery) => new Uri(ToText(environment) + pathAndQuery);

        public static bool IsLoopback(Uri uri) =>
            uri.IsLoopback || string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase) ||
            (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

        /// <summary>The same host, or two names of this machine's loopback (a local stand-in may name itself either way).</summary>
        private static bool IsSameHost(Uri a, Uri b) =>
            string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) || (IsLoopback(a) && IsLoopback(b));

        /// <summary>
        /// Where to fetch a DownloadLocation. Behind the production load balancer the service hands out http://host(:80)/...
        /// for its own host: that is rewritten to the environment's own scheme and port. Any other host is refused, so the
        /// token never leaves the environment and a file that is not the message's own is never saved and acknowledged.
        /// An on-premises environment's link under its path is used as it is; one on its host without the path (no public
        /// source shows which the service sends) gets the path put in front, since nothing there answers outside it.
        /// </summary>
        public static Uri ResolveDownloadLocation(Uri environment, string? downloadLocation)
        {
            if (string.IsNullOrWhiteSpace(downloadLocation) || !Uri.TryCreate(downloadLocation, UriKind.Absolute, out var location) ||
                (location.Scheme != Uri.UriSchemeHttp && location.Scheme != Uri.UriSchemeHttps))
                throw ErrorCatalog.DownloadLocationInvalid.Create(downloadLocation);
            if (!IsSameHost(location, environment))
                throw ErrorCatalog.DownloadLocationForeignHost.Create(location.Host, environment.Host);
            var resolved = new UriBuilder(location) { Scheme = environment.Scheme, Host = environment.Host, Port = environment.Port }.Uri;
            var basePath = environment.AbsolutePath.TrimEnd('/');
            // Both in their escaped form, joined as text: the link's %7B...%7D must not be escaped twice.
            return basePath.Length == 0 || IsUnder(resolved.AbsolutePath, basePath)
                ? resolved
                : new Uri(resolved.GetLeftPart(UriPartial.Authority) + basePath + resolved.PathAndQuery);
        }

        /// <summary>The path is the base path or below it (a whole segment, any case: the gateway matches it so).</summary>
        private static bool IsUnder(string path, string basePath) =>
            path.StartsWith(basePath, StringComparison.OrdinalIgnoreCase) && (path.Length == basePath.Length || path[basePath.Length] == '/');
    }
}
