using System;
using System.Management.Automation;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Invoke-D365FolderExport: drains an export queue into a folder, acknowledging each message once its file is complete
    /// on disk, idempotent by correlation id. One FolderExportResult per message saved or found already saved.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "D365FolderExport", SupportsShouldProcess = true)]
    [OutputType(typeof(FolderExportResult))]
    public sealed class InvokeD365FolderExportCommand : D365Cmdlet
    {
        private const int ProgressId = 5;

        /// <summary>The folder to save into; made if missing. Its journal and 'receiving' folder are kept inside it.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>The recurring export job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true)]
        public Guid ActivityId { get; set; }

        /// <summary>Messages downloaded at once, 1 to 64. Default 1: one after the other, in queue order.</summary>
        [Parameter]
        [ValidateRange(1, ActivityOperation.MaxThrottleLimit)]
        public int ThrottleLimit { get; set; } = 1;

        /// <summary>Unpack each package zip into a folder of its own instead of keeping the zip.</summary>
        [Parameter]
        public SwitchParameter Expand { get; set; }

        /// <summary>The journal CSV. Default: journal.csv in the folder. Always give the same one for a folder.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? JournalPath { get; set; }

        protected override void End()
        {
            var folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            // Taking a message off the queue hides it for 30 minutes: -WhatIf must not dequeue at all.
            if (!ShouldProcess(folder, string.Format(Messages.FolderExportAction, ActivityId))) return;
            var export = new FolderExport(ActiveSession, Client, ActivityId, folder)
            {
                ThrottleLimit = ThrottleLimit,
                Expand = Expand,
                JournalPath = JournalPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(JournalPath),
            };
            var activity = string.Format(Messages.DequeueActivity, ActivityId);
            var callbacks = PostingCallbacks<FolderExportResult>(WriteObject,
                progress => WriteProgressRecord(ProgressId, activity, progress, string.Format(Messages.DequeueStatus, progress.Completed)),
                confirm: false);
            // Only a failing dequeue, an unusable folder or journal ends it: nothing more can be taken off the queue.
            RunWithProgress(token => export.RunAsync(callbacks, token), Path, ProgressId, activity);
        }
    }
}
