using System.Net;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// TLS 1.2 for Windows PowerShell 5.1. powershell.exe is a native host, so .NET Framework keeps its old protocol
    /// defaults (SSL 3 and TLS 1.0) unless the machine has the SchUseStrongCrypto or SystemDefaultTlsVersions registry
    /// values, and Entra ID and D365 refuse those ("Could not create SSL/TLS secure channel"). The setting is the
    /// process's, shared with every module, so TLS 1.2 is only added: what is enabled stays enabled, and a process on
    /// SystemDefault (the operating system chooses, which already includes TLS 1.2 and later) is left alone.
    /// </summary>
    internal static class DesktopTls
    {
        /// <summary>The protocols to set, or null when <paramref name="current"/> already allows TLS 1.2.</summary>
        public static SecurityProtocolType? WithTls12(SecurityProtocolType current)
        {
            if (current == SystemDefault) return null;
            if ((current & SecurityProtocolType.Tls12) == SecurityProtocolType.Tls12) return null;
            return current | SecurityProtocolType.Tls12;
        }

        public static void Apply()
        {
            if (WithTls12(ServicePointManager.SecurityProtocol) is SecurityProtocolType protocols)
                ServicePointManager.SecurityProtocol = protocols;
        }

        // SecurityProtocolType.SystemDefault (0), which netstandard2.0 does not name.
        private const SecurityProtocolType SystemDefault = 0;
    }
}
