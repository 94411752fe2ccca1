using System.Management.Automation;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Invoke-D365FolderImport: imports the files of an inbox folder, crash-safe, and sorts them into processed, failed,
    /// pending and unconfirmed. One FolderImportResult per file handled.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "D365FolderImport", SupportsShouldProcess = true)]
    [OutputType(typeof(FolderImportResult))]
    public sealed class InvokeD365FolderImportCommand : FolderCmdlet
    {
        /// <summary>The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(EntityNameCompleter))]
        public string? EntityName { get; set; }

        /// <summary>The legal entity; honoured only when the job has "Use company from message" on.</summary>
        [Parameter]
        public string? Company { get; set; }

        /// <summary>Which files of the inbox to send, as a file-name wildcard. Default: every file.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string Filter { get; set; } = "*";

        /// <summary>How long to wait for the files sent (and those pending) to finish, 0 to 86400 seconds; the rest wait in 'pending'. Default 1800.</summary>
        [Parameter]
        [ValidateRange(WaitParameters.MinTimeoutSeconds, WaitParameters.MaxTimeoutSeconds)]
        public int TimeoutSeconds { get; set; } = WaitParameters.DefaultTimeoutSeconds;

        /// <summary>The longest wait between status checks, in seconds (the first comes after half a second, the waits double up to this). Default 15.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int PollIntervalSeconds { get; set; } = 15;

        /// <summary>A file written to within this many seconds, or whose size or time changes over them, is left for a later run. Default 5.</summary>
        [Parameter]
        [ValidateRange(0, 3600)]
        public int SettleSeconds { get; set; } = 5;

        private bool WhatIf => MyInvocation.BoundParameters.TryGetValue("WhatIf", out var value)
            ? ((SwitchParameter)value).IsPresent
            : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));

        protected override void End()
        {
            var import = new FolderImport(ActiveSession, Client, ActivityId, FolderPath)
            {
                EntityName = EntityName,
                Company = Company,
                Filter = Filter,
                ThrottleLimit = ThrottleLimit,
                Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
                PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds),
                Settle = TimeSpan.FromSeconds(SettleSeconds),
                JournalPath = JournalFullPath,
                Verbose = VerboseLines,
            };
            try
            {
                // Settling earlier runs moves files too: -WhatIf stops here, after showing which files a run would send.
                if (!ShouldProcess(import.InboxPath, Messages.FolderImportAction))
                {
                    if (WhatIf)
                        foreach (var file in import.Candidates(WriteVerbose)) ShouldProcess(file, import.SendActionText);
                    return;
                }
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, Path));
            }
            var activity = string.Format(Messages.FolderImportActivity, Path);
            var callbacks = PostingCallbacks<FolderImportResult>(WriteObject,
                progress => WriteProgressRecord(ProgressBar.FolderImport, activity, progress, string.Format(Messages.FolderImportStatus, progress.Completed, progress.Total)),
                confirm: true);
            // Only an unusable inbox or journal ends it: nothing can go on safely.
            RunWithProgress(token => import.RunAsync(callbacks, token), Path, ProgressBar.FolderImport, activity);
        }
    }
}
