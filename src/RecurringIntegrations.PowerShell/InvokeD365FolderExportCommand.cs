using System.Management.Automation;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Invoke-D365FolderExport: drains an export queue into a folder, acknowledging each message once its file is complete
    /// on disk, idempotent by correlation id. One FolderExportResult per message saved or found already saved.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "D365FolderExport", SupportsShouldProcess = true)]
    [OutputType(typeof(FolderExportResult))]
    public sealed class InvokeD365FolderExportCommand : FolderCmdlet
    {
        /// <summary>The recurring export job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true)]
        public Guid ActivityId { get; set; }

        /// <summary>Unpack each package zip into a folder of its own instead of keeping the zip.</summary>
        [Parameter]
        public SwitchParameter Expand { get; set; }

        /// <summary>Acknowledge each message whose file is gone from the service's storage (ExportFileMissing), with a warning and a journal line, so it stops coming back.</summary>
        [Parameter]
        public SwitchParameter AcknowledgeMissing { get; set; }

        protected override void End()
        {
            var folder = FolderPath;
            // Taking a message off the queue hides it for 30 minutes: -WhatIf must not dequeue at all.
            if (!ShouldProcess(folder, string.Format(Messages.FolderExportAction, ActivityId))) return;
            var export = new FolderExport(ActiveSession, Client, ActivityId, folder)
            {
                ThrottleLimit = ThrottleLimit,
                Expand = Expand,
                AcknowledgeMissing = AcknowledgeMissing,
                JournalPath = JournalFullPath,
            };
            var activity = string.Format(Messages.DequeueActivity, ActivityId);
            var callbacks = PostingCallbacks<FolderExportResult>(WriteObject,
                progress => WriteProgressRecord(ProgressBar.FolderExport, activity, progress, string.Format(Messages.DequeueStatus, progress.Completed)),
                confirm: false);
            // Only a failing dequeue, an unusable folder or journal ends it: nothing more can be taken off the queue.
            RunWithProgress(token => export.RunAsync(callbacks, token), Path, ProgressBar.FolderExport, activity);
        }
    }
}
