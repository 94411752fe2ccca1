using System.Management.Automation;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Invoke-D365FolderImport: imports the files of an inbox folder, crash-safe, and sorts them into processed, failed,
    /// pending and unconfirmed: enqueued to a recurring job (-ActivityId), or as data packages into a data project
    /// (-DefinitionGroupId, -LegalEntityId). One FolderImportResult per file handled.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "D365FolderImport", SupportsShouldProcess = true, DefaultParameterSetName = EnqueueSet)]
    [OutputType(typeof(FolderImportResult))]
    public sealed class InvokeD365FolderImportCommand : FolderCmdlet
    {
        private const string EnqueueSet = "Enqueue", PackageSet = "Package";

        /// <summary>The recurring import job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true, ParameterSetName = EnqueueSet)]
        public Guid ActivityId { get; set; }

        /// <summary>A package inbox: the data project's name (the service calls it definitionGroupId); each zip is imported into it.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PackageSet)]
        [ValidateNotNullOrEmpty]
        public string DefinitionGroupId { get; set; } = string.Empty;

        /// <summary>A package inbox: the company to import into, for example usmf.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PackageSet)]
        [ValidateNotNullOrEmpty]
        public string LegalEntityId { get; set; } = string.Empty;

        /// <summary>The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.
        /// In a package inbox, each data file that is not a .zip is built into a package for this entity.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(EntityNameCompleter))]
        public string? EntityName { get; set; }

        /// <summary>A package inbox with -EntityName: the data project's source format of the data files, for example CSV-Unicode.</summary>
        [Parameter(ParameterSetName = PackageSet)]
        [ValidateNotNullOrEmpty]
        public string? SourceFormat { get; set; }

        /// <summary>The legal entity; honoured only when the job has "Use company from message" on. With -CompanyFrom Subfolder, the company of the files directly in the inbox.</summary>
        [Parameter(ParameterSetName = EnqueueSet)]
        public string? Company { get; set; }

        /// <summary>Subfolder: files in inbox/USMF/ go to USMF. FileName: the company is the -CompanyPattern group 'company' of the file name.</summary>
        // Text, not Core's enum: a field of an enum type would make PowerShell load Core while it reads the cmdlet assembly's
        // types, before OnImport has set up where Core loads from.
        [Parameter(ParameterSetName = EnqueueSet)]
        [ValidateSet(nameof(CompanySource.Subfolder), nameof(CompanySource.FileName))]
        public string? CompanyFrom { get; set; }

        /// <summary>With -CompanyFrom FileName: a regular expression whose group 'company' is the company. Default '^(?&lt;company&gt;[^_]+)_' (USMF_customers.csv).</summary>
        [Parameter(ParameterSetName = EnqueueSet)]
        [ValidateNotNullOrEmpty]
        public string? CompanyPattern { get; set; }

        /// <summary>The order the inbox is sent in: Name (default), LastWriteTime or Length.</summary>
        [Parameter]
        [ValidateSet(nameof(InboxOrder.Name), nameof(InboxOrder.LastWriteTime), nameof(InboxOrder.Length))]
        public string OrderBy { get; set; } = nameof(InboxOrder.Name);

        /// <summary>Sends in descending order (-OrderBy LastWriteTime -Descending: the newest first).</summary>
        [Parameter]
        public SwitchParameter Descending { get; set; }

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
            var packageInbox = ParameterSetName == PackageSet;
            if (packageInbox)
            {
                if (ActiveSession.SkipCertificateCheck) WriteWarning(PackageMessages.StorageSkipCertificateCheckWarning);
                if (ThrottleLimit > 1) WriteWarning(Messages.FolderImportPackageThrottleWarning);
            }
            var import = packageInbox
                ? new FolderImport(ActiveSession, Client, new DataPackageClient(ActiveSession, VerboseLines), DefinitionGroupId, LegalEntityId, FolderPath)
                : new FolderImport(ActiveSession, Client, ActivityId, FolderPath);
            import.EntityName = EntityName;
            import.Company = Company;
            import.CompanyFrom = CompanyFrom is null ? null : (CompanySource)Enum.Parse(typeof(CompanySource), CompanyFrom, ignoreCase: true);
            import.CompanyPattern = CompanyPattern;
            import.OrderBy = (InboxOrder)Enum.Parse(typeof(InboxOrder), OrderBy, ignoreCase: true);
            import.Descending = Descending;
            import.SourceFormat = SourceFormat;
            import.Filter = Filter;
            import.ThrottleLimit = ThrottleLimit;
            import.Timeout = TimeSpan.FromSeconds(TimeoutSeconds);
            import.PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds);
            import.Settle = TimeSpan.FromSeconds(SettleSeconds);
            import.JournalPath = JournalFullPath;
            import.Verbose = VerboseLines;
            try
            {
                // Settling earlier runs moves files too: -WhatIf stops here, after showing which files a run would send.
                if (!ShouldProcess(import.InboxPath, Messages.FolderImportAction))
                {
                    if (WhatIf)
                        foreach (var file in import.Candidates(WriteVerbose, (target, error) => WriteError(ToErrorRecord(error, target))))
                            ShouldProcess(file.FullPath, import.SendActionText);
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
