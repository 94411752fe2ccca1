// Rows of the folder workflows: flat, report-ready (Export-Csv, ConvertTo-Html, Group-Object Outcome).
namespace RecurringIntegrations.Core.Model
{
    /// <summary>Where a file of an import inbox ended in this run.</summary>
    public enum FolderImportOutcome
    {
        /// <summary>Ended Processed; moved to 'processed'.</summary>
        Processed,
        /// <summary>Ended with a failure status; moved to 'failed' with its status and execution errors beside it.</summary>
        Failed,
        /// <summary>Sent, not finished yet; waits in 'pending' and is settled by a later run, never sent again.</summary>
        Pending,
        /// <summary>The answer to its upload was lost; moved to 'unconfirmed' and never sent again automatically.</summary>
        Unconfirmed,
    }

    /// <summary>One file of an inbox handled by Invoke-D365FolderImport.</summary>
    public sealed class FolderImportResult
    {
        public string FileName { get; set; } = string.Empty;
        /// <summary>The company the file was sent to (-Company, or its subfolder or name with -CompanyFrom); null for none.</summary>
        public string? Company { get; set; }
        public Guid? MessageId { get; set; }
        /// <summary>A package inbox: the package's execution id (chosen by the module, journalled in the MessageId column); empty otherwise.</summary>
        public string ExecutionId { get; set; } = string.Empty;
        /// <summary>The service's last status word, empty when the file never got a message id.</summary>
        public string Status { get; set; } = string.Empty;
        public FolderImportOutcome Outcome { get; set; }
        /// <summary>Where the file is now.</summary>
        public string Path { get; set; } = string.Empty;
        public int ErrorCount { get; set; }
        public Guid ActivityId { get; set; }
        public DateTimeOffset HandledAt { get; set; }
        public string Environment { get; set; } = string.Empty;

        public override string ToString() => $"{FileName}: {Outcome}";
    }

    /// <summary>One export message saved (or found already saved) by Invoke-D365FolderExport.</summary>
    public sealed class FolderExportResult
    {
        public Guid CorrelationId { get; set; }
        public string FileName { get; set; } = string.Empty;
        /// <summary>The saved file, or with -Expand the folder the package was unpacked into.</summary>
        public string Path { get; set; } = string.Empty;
        public long Length { get; set; }
        public bool Expanded { get; set; }
        /// <summary>True for a redelivered message whose file an earlier run had saved: acknowledged without a second copy.</summary>
        public bool AlreadySaved { get; set; }
        public bool Acknowledged { get; set; }
        public Guid ActivityId { get; set; }
        public DateTimeOffset SavedAt { get; set; }
        public string Environment { get; set; } = string.Empty;

        public override string ToString() => $"{CorrelationId} ({FileName})";
    }
}
