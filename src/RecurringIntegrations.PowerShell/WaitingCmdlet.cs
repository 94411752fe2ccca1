using System.Management.Automation;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// The one meaning of -TimeoutSeconds on every cmdlet that waits for the service (Get-D365MessageStatus -Wait,
    /// Invoke-D365FolderImport, the package cmdlets): how long, in seconds, to wait for what was started to finish, 0 to
    /// 86400 (a day); 0 looks once and does not wait. Default 1800 (30 minutes). What is not finished by then is still
    /// written out with its last status, and the wait's timeout error (or, for a folder import, 'pending') says so.
    /// </summary>
    internal static class WaitParameters
    {
        public const int MinTimeoutSeconds = 0;
        public const int MaxTimeoutSeconds = 86400;
        public const int DefaultTimeoutSeconds = 1800;
    }

    /// <summary>A cmdlet that polls the service until what it started finishes (Get-D365MessageStatus -Wait, the package cmdlets).</summary>
    public abstract class WaitingCmdlet : D365Cmdlet
    {
        /// <summary>How long to wait for what was started to finish, 0 to 86400 seconds (0 looks once). Default 1800.</summary>
        [Parameter]
        [ValidateRange(WaitParameters.MinTimeoutSeconds, WaitParameters.MaxTimeoutSeconds)]
        public int TimeoutSeconds { get; set; } = WaitParameters.DefaultTimeoutSeconds;

        /// <summary>Seconds between polls, 1 to 3600. Default 5.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int PollIntervalSeconds { get; set; } = 5;
    }
}
