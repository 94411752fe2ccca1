using System.Management.Automation;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// What the folder workflows (Invoke-D365FolderImport, Invoke-D365FolderExport) share: the folder, the job's activity,
    /// how many transfers at once, and the journal that makes a run safe to repeat.
    /// </summary>
    public abstract class FolderCmdlet : D365Cmdlet
    {
        /// <summary>The folder the run works in; its state folders and journal are kept inside it.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>The recurring job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true)]
        public Guid ActivityId { get; set; }

        /// <summary>Transfers at once, 1 to 64. Default 1: one after the other.</summary>
        [Parameter]
        [ValidateRange(1, ActivityOperation.MaxThrottleLimit)]
        public int ThrottleLimit { get; set; } = 1;

        /// <summary>The journal CSV. Default: journal.csv in the folder. Always give the same one for a folder.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? JournalPath { get; set; }

        /// <summary>The folder as a file system path, relative to the PowerShell location (not the process's working folder).</summary>
        internal string FolderPath => SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);

        internal string? JournalFullPath => JournalPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(JournalPath);
    }
}
