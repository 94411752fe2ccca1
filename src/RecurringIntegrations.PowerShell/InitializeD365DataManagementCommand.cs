using System.Management.Automation;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Initialize-D365DataManagement: refreshes the environment's data management entity list (InitializeDataManagement), as
    /// "Refresh entity list" does in the web client. The service answers when the refresh is done; without -Wait the command
    /// waits for that as long as any call (100 s by default), with -Wait up to -TimeoutSeconds. It is never sent twice.
    /// </summary>
    [Cmdlet(VerbsData.Initialize, "D365DataManagement", SupportsShouldProcess = true)]
    [OutputType(typeof(DataManagementRefresh))]
    public sealed class InitializeD365DataManagementCommand : D365Cmdlet
    {
        /// <summary>Wait up to -TimeoutSeconds for the refresh to end (it can take minutes).</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: how long to wait for the refresh, 0 to 86400 seconds. Default 1800.</summary>
        [Parameter]
        [ValidateRange(WaitParameters.MinTimeoutSeconds, WaitParameters.MaxTimeoutSeconds)]
        public int TimeoutSeconds { get; set; } = WaitParameters.DefaultTimeoutSeconds;

        /// <summary>Write the refresh (StartedAt, Completed, CompletedAt).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void End()
        {
            if (!ShouldProcess(ActiveSession.Environment, PackageMessages.RefreshAction)) return;
            var timeout = Wait ? TimeSpan.FromSeconds(Math.Max(1, TimeoutSeconds)) : (TimeSpan?)null;
            var client = new MetadataClient(ActiveSession, VerboseLines);
            DataManagementRefresh? refresh = null;
            WriteProgress(new ProgressRecord((int)ProgressBar.EntityRefresh, PackageMessages.RefreshActivity, " "));
            try
            {
                if (!RunForItem(ActiveSession.Environment, async token => refresh = await client.InitializeDataManagementAsync(timeout, token).ConfigureAwait(false)))
                    return;
            }
            finally
            {
                CompleteProgress(ProgressBar.EntityRefresh, PackageMessages.RefreshActivity);
            }
            if (!refresh!.Completed) WriteWarning(PackageMessages.RefreshNotDone);
            if (PassThru) WriteObject(refresh);
        }
    }
}
