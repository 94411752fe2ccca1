using System;
using System.Management.Automation;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Invoke-D365FolderImport: imports the files of an inbox folder, crash-safe, and sorts them into processed, failed,
    /// pending and unconfirmed. One FolderImportResult per file handled.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "D365FolderImport", SupportsShouldProcess = true)]
    [OutputType(typeof(FolderImportResult))]
    public sealed class InvokeD365FolderImportCommand : D365Cmdlet
    {
        private const int ProgressId = 4;

        /// <summary>The inbox folder. It must exist; its state folders and journal are made inside it.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>The recurring import job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true)]
        public Guid ActivityId { get; set; }

        /// <summary>The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.</summary>
        [Parameter]
        public string? EntityName { get; set; }

        /// <summary>The legal entity; honoured only when the job has "Use company from message" on.</summary>
        [Parameter]
        public string? Company { get; set; }

        /// <summary>Which files of the inbox to send, as a file-name wildcard. Default: every file.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string Filter { get; set; } = "*";

        /// <summary>Files uploaded at once, 1 to 64. Default 1: one after the other, in name order.</summary>
        [Parameter]
        [ValidateRange(1, ActivityOperation.MaxThrottleLimit)]
        public int ThrottleLimit { get; set; } = 1;

        /// <summary>How long to wait for the files sent (and those pending) to finish; the rest wait in 'pending'. Default 600.</summary>
        [Parameter]
        [ValidateRange(0, int.MaxValue)]
        public int TimeoutSeconds { get; set; } = 600;

        /// <summary>Seconds between status checks. Default 15.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int PollIntervalSeconds { get; set; } = 15;

        /// <summary>A file written to within this many seconds, or whose size or time changes over them, is left for a later run. Default 5.</summary>
        [Parameter]
        [ValidateRange(0, 3600)]
        public int SettleSeconds { get; set; } = 5;

        /// <summary>The journal CSV. Default: journal.csv in the inbox. Always give the same one for an inbox.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? JournalPath { get; set; }

        private bool WhatIf => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? ((SwitchParameter)value).IsPresent
            : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));

        protected override void End()
        {
            // Relative to the PowerShell location, not the process's working folder, which PowerShell does not move.
            var import = new FolderImport(ActiveSession, Client, ActivityId, SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path))
            {
                EntityName = EntityName,
                Company = Company,
                Filter = Filter,
                ThrottleLimit = ThrottleLimit,
                Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
                PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds),
                Settle = TimeSpan.FromSeconds(SettleSeconds),
                JournalPath = JournalPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(JournalPath),
            };
            try
            {
                // Settling earlier runs moves files too: -WhatIf stops here, after showing which files a run would send.
                if (!ShouldProcess(import.InboxPath, Messages.FolderImportAction))
                {
                    if (WhatIf)
                        foreach (var file in import.Candidates()) ShouldProcess(file, import.SendActionText);
                    return;
                }
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, Path));
            }
            var activity = string.Format(Messages.FolderImportActivity, Path);
            var callbacks = PostingCallbacks<FolderImportResult>(WriteObject,
                progress => WriteProgressRecord(ProgressId, activity, progress, string.Format(Messages.FolderImportStatus, progress.Completed, progress.Total)),
                confirm: true);
            // Only an unusable inbox or journal ends it: nothing can go on safely.
            RunWithProgress(token => import.RunAsync(callbacks, token), Path, ProgressId, activity);
        }
    }
}
