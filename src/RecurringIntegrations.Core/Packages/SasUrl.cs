using System.Text.RegularExpressions;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.Core.Packages
{
    /// <summary>
    /// A SAS URL is a credential: whoever holds its signature can read or write the blob until it expires. Anything
    /// a user can see (verbose, errors, objects) gets the URL with its signature replaced.
    /// </summary>
    public static class SasUrl
    {
        private const string Hidden = "sig=REDACTED";
        private static readonly Regex Signature = new Regex(@"(?i)\bsig=[^&#\s""']*", RegexOptions.Compiled);

        /// <summary>The text with every <c>sig=</c> value hidden; null stays null.</summary>
        public static string? Redact(string? text) => text is null ? null : Signature.Replace(text, Hidden);

        /// <summary>The URL as a verbose line may show it: host and path, the query without its signature.</summary>
        internal static string ForLog(Uri uri) => uri.Scheme + "://" + uri.Authority + Redact(uri.PathAndQuery);

        /// <summary>
        /// A storage URL handed out by the service: absolute, https (http only on loopback, for a local emulator).
        /// The token never goes there, so a URL on the environment's own host is as unexpected as a foreign scheme.
        /// </summary>
        internal static Uri Parse(string? text, string operation)
        {
            if (string.IsNullOrWhiteSpace(text) || !Uri.TryCreate(text!.Trim(), UriKind.Absolute, out var uri) ||
                !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && EnvironmentAddress.IsLoopback(uri))))
                throw ErrorCatalog.PackageUrlInvalid.Create(operation, Redact(text));
            return uri;
        }
    }
}
