using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Base of the package API cmdlets: a <see cref="DataPackageClient"/> for the invocation and how long and how often to
    /// poll an execution.
    /// </summary>
    public abstract class PackageCmdlet : WaitingCmdlet
    {
        internal DataPackageClient Packages { get; private set; } = null!;

        protected override void Begin()
        {
            base.Begin();
            Packages = new DataPackageClient(ActiveSession, VerboseLines);
        }

        internal PackageJobs Jobs() =>
            new PackageJobs(Packages) { Timeout = TimeSpan.FromSeconds(TimeoutSeconds), PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds) };

        /// <summary>Waits with a progress line; on timeout the last state is written, then one ExecutionWaitTimeout error.</summary>
        internal void WaitAndWrite(PackageJobs jobs, PackageExecution execution)
        {
            var activity = string.Format(PackageMessages.WaitActivity, execution.ExecutionId);
            WriteProgress(new ProgressRecord((int)ProgressBar.PackageWait, activity, string.Format(PackageMessages.WaitStatus, execution.Status)));
            PackageExecution? last = null;
            try
            {
                if (!RunForItem(execution.ExecutionId, async token => last = await jobs.WaitAsync(execution, token).ConfigureAwait(false))) return;
            }
            finally
            {
                CompleteProgress(ProgressBar.PackageWait, activity);
            }
            WriteObject(last);
            if (!last!.IsTerminal) WriteError(ToErrorRecord(jobs.WaitTimedOut(last), last.ExecutionId));
        }

        /// <summary>The storage host is another server: the session's choice to skip certificate checks reaches it too, and is said again.</summary>
        internal void WarnIfStorageCertificateUnchecked()
        {
            if (ActiveSession.SkipCertificateCheck) WriteWarning(PackageMessages.StorageSkipCertificateCheckWarning);
        }
    }
}
