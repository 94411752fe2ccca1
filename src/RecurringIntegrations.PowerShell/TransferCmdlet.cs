using System.Management.Automation;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>What the cmdlets that move many files share: how many transfers run at once (-ThrottleLimit).</summary>
    public abstract class TransferCmdlet : D365Cmdlet
    {
        /// <summary>Transfers at once (files uploaded, messages downloaded), 1 to 64. Default 1: one after the other, in order.</summary>
        [Parameter]
        [ValidateRange(1, ActivityOperation.MaxThrottleLimit)]
        public int ThrottleLimit { get; set; } = 1;
    }

    /// <summary>A transfer cmdlet on one recurring job, named by -ActivityId.</summary>
    public abstract class ActivityCmdlet : TransferCmdlet
    {
        /// <summary>The recurring job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true)]
        public Guid ActivityId { get; set; }
    }
}
