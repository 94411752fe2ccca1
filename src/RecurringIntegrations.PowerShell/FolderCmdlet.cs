using System.Management.Automation;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// What the folder workflows (Invoke-D365FolderImport, Invoke-D365FolderExport) share: the folder, how many transfers
    /// at once, and the journal that makes a run safe to repeat. Each names its job itself (a package inbox has no activity).
    /// </summary>
    public abstract class FolderCmdlet : TransferCmdlet
    {
        /// <summary>The folder the run works in; its state folders and journal are kept inside it.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>The journal CSV. Default: journal.csv in the folder. Always give the same one for a folder.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? JournalPath { get; set; }

        /// <summary>The folder as a file system path, relative to the PowerShell location (not the process's working folder).</summary>
        internal string FolderPath => SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);

        internal string? JournalFullPath => JournalPath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(JournalPath);
    }
}
