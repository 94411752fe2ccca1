using System;
using System.Net;

namespace RecurringIntegrations.Core
{
    /// <summary>The environment URL in the one form the service accepts as a token audience: scheme and host, lower case, no trailing slash.</summary>
    public static class EnvironmentAddress
    {
        public static Uri Normalize(string environment)
        {
            var text = (environment ?? string.Empty).Trim();
            if (text.Length == 0)
                throw new D365Exception("EnvironmentMissing", D365ErrorCategory.InvalidArgument,
                    "The environment URL is empty.", "Give the environment's URL, for example https://contoso.operations.dynamics.com.");
            if (text.IndexOf("://", StringComparison.Ordinal) < 0) text = "https://" + text;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
                throw new D365Exception("EnvironmentInvalid", D365ErrorCategory.InvalidArgument,
                    $"'{environment}' is not a valid environment URL.", "Give the environment's URL, for example https://contoso.operations.dynamics.com.");
            if (uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri))
                throw new D365Exception("EnvironmentNotHttps", D365ErrorCategory.SecurityError,
                    $"'{environment}' uses http://; tokens are only ever sent over https.",
                    "Use the https:// address of the environment (http:// is accepted only for a local emulator on loopback).");
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
                throw new D365Exception("DownloadLocationInvalid", D365ErrorCategory.InvalidData,
                    $"The dequeued message has no usable DownloadLocation ('{downloadLocation}').",
                    "The message stays on the queue and is redelivered; if it keeps happening, check the export job in the environment.");
            if (!IsSameHost(location, environment))
                throw new D365Exception("DownloadLocationForeignHost", D365ErrorCategory.SecurityError,
                    $"The DownloadLocation points to '{location.Host}', not to the environment '{environment.Host}'; the module sends its token only to the environment and did not download it.",
                    "The message was not acknowledged and stays on the queue. Check for a proxy or load balancer rewriting the service's answers.");
            var builder = new UriBuilder(location) { Scheme = environment.Scheme, Host = environment.Host, Port = environment.Port };
            return builder.Uri;
        }
    }
}
