using System.Net;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Connection
{
    /// <summary>The environment URL in the one form the service accepts as a token audience: scheme and host, lower case, no trailing slash.</summary>
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
            var port = uri.IsDefaultPort ? string.Empty : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return new Uri((uri.Scheme + "://" + uri.Host + port).ToLowerInvariant());
        }

        /// <summary>The environment as the token audience and scope base: no trailing slash.</summary>
        public static string ToAudience(Uri environment) => environment.GetLeftPart(UriPartial.Authority).ToLowerInvariant();

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
        /// </summary>
        public static Uri ResolveDownloadLocation(Uri environment, string? downloadLocation)
        {
            if (string.IsNullOrWhiteSpace(downloadLocation) || !Uri.TryCreate(downloadLocation, UriKind.Absolute, out var location) ||
                (location.Scheme != Uri.UriSchemeHttp && location.Scheme != Uri.UriSchemeHttps))
                throw ErrorCatalog.DownloadLocationInvalid.Create(downloadLocation);
            if (!IsSameHost(location, environment))
                throw ErrorCatalog.DownloadLocationForeignHost.Create(location.Host, environment.Host);
            var builder = new UriBuilder(location) { Scheme = environment.Scheme, Host = environment.Host, Port = environment.Port };
            return builder.Uri;
        }
    }
}
