using System.Collections;
using System.Management.Automation;
using System.Security;
using RecurringIntegrations.Core.Authentication;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>The credentials of Connect-D365 whose secret comes from a script block or a value of the caller's.</summary>
    internal static class ScriptCredentials
    {
        /// <summary>-TokenProvider: the script's last output is the token (string or SecureString) or an object with Token and ExpiresOn.</summary>
        public static TokenProviderCredential TokenProvider(ScriptBlock script)
        {
            var runner = new RunspaceScript(script);
            return new TokenProviderCredential(async cancellationToken =>
                ToToken(RunspaceScript.LastOutput(await runner.InvokeAsync(cancellationToken).ConfigureAwait(false))));
        }

        /// <summary>-ClientAssertion: a JWT as it is, or a script block asked for a fresh one whenever a token is requested.</summary>
        public static ClientAssertionCredential ClientAssertion(string? tenantId, string clientId, object assertion)
        {
            var value = assertion is PSObject wrapped ? wrapped.BaseObject : assertion;
            if (value is ScriptBlock script)
            {
                var runner = new RunspaceScript(script);
                return new ClientAssertionCredential(tenantId, clientId, async cancellationToken =>
                    AsText(RunspaceScript.LastOutput(await runner.InvokeAsync(cancellationToken).ConfigureAwait(false))?.BaseObject));
            }
            var text = AsText(value);
            return new ClientAssertionCredential(tenantId, clientId, _ => Task.FromResult(text));
        }

        /// <summary>
        /// A string or SecureString token; or an object (Get-AzAccessToken's, a hashtable) with Token and ExpiresOn.
        /// Anything else is no token, which Core reports as TokenProviderNoToken.
        /// </summary>
        internal static ProvidedToken? ToToken(PSObject? output)
        {
            var value = output?.BaseObject;
            switch (value)
            {
                case null: return null;
                case SecureString secure: return new ProvidedToken(secure, null);
                case string text: return new ProvidedToken(text, null);
            }
            object? token, expiresOn;
            if (value is IDictionary table)
            {
                token = table["Token"] ?? table["AccessToken"];
                expiresOn = table["ExpiresOn"];
            }
            else
            {
                var item = output!;
                token = item.Properties["Token"]?.Value ?? item.Properties["AccessToken"]?.Value;
                expiresOn = item.Properties["ExpiresOn"]?.Value;
            }
            DateTimeOffset? expiry = expiresOn != null && LanguagePrimitives.TryConvertTo(expiresOn, out DateTimeOffset converted) ? converted : (DateTimeOffset?)null;
            switch (token is PSObject inner ? inner.BaseObject : token)
            {
                case SecureString secure: return new ProvidedToken(secure, expiry);
                case string text: return new ProvidedToken(text, expiry);
                default: return null;
            }
        }

        private static string? AsText(object? value) => value switch
        {
            null => null,
            SecureString secure => new System.Net.NetworkCredential(string.Empty, secure).Password,
            _ => LanguagePrimitives.ConvertTo<string>(value),
        };
    }
}
