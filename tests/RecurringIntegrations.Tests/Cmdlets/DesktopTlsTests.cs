using System.Net;
using RecurringIntegrations.PowerShell;
using Xunit;

// SSL 3, TLS 1.0 and 1.1 are obsolete, and named here on purpose: they are what .NET Framework enables by default.
#pragma warning disable SYSLIB0039, CS0618

namespace RecurringIntegrations.Tests.Cmdlets
{
    /// <summary>Windows PowerShell's TLS decision, with the process's protocols as input (ServicePointManager is .NET Framework's).</summary>
    public sealed class DesktopTlsTests
    {
        [Fact]
        public void The_NET_Framework_defaults_get_TLS_1_2_added_and_keep_what_they_had()
        {
            Assert.Equal(SecurityProtocolType.Ssl3 | SecurityProtocolType.Tls | SecurityProtocolType.Tls12,
                DesktopTls.WithTls12(SecurityProtocolType.Ssl3 | SecurityProtocolType.Tls));
            Assert.Equal(SecurityProtocolType.Tls11 | SecurityProtocolType.Tls12, DesktopTls.WithTls12(SecurityProtocolType.Tls11));
        }

        [Fact]
        public void SystemDefault_is_left_to_the_operating_system()
        {
            Assert.Null(DesktopTls.WithTls12(SecurityProtocolType.SystemDefault));
        }

        [Fact]
        public void A_process_that_already_has_TLS_1_2_is_left_alone()
        {
            Assert.Null(DesktopTls.WithTls12(SecurityProtocolType.Tls12));
            Assert.Null(DesktopTls.WithTls12(SecurityProtocolType.Tls12 | SecurityProtocolType.Tls13));
            Assert.Null(DesktopTls.WithTls12(SecurityProtocolType.Tls | SecurityProtocolType.Tls11 | SecurityProtocolType.Tls12));
        }
    }
}
