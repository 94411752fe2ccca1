// The objects users see. Flat (Export-Csv friendly), real types; the cmdlets give each the PSTypeName
// RecurringIntegrations.<Class>. None of them holds a secret.
namespace RecurringIntegrations.Core.Model
{
    /// <summary>One file accepted by the enqueue API.</summary>
    public sealed class EnqueuedMessage
    {
        public Guid MessageId { get; set; }
        public Guid ActivityId { get; set; }
        public string FileName { get; set; } = string.Empty;
        public string Path { get; set; } = string.Empty;
        public long Length { get; set; }
        public string? EntityName { get; set; }
        public string? Company { get; set; }
        public string? ExternalIdentifier { get; set; }
        public DateTimeOffset EnqueuedAt { get; set; }
        public string Environment { get; set; } = string.Empty;

        public override string ToString() => $"{MessageId} ({FileName})";
    }

    /// <summary>One message taken from an export queue, its file saved at <see cref="Path"/>.</summary>
    public sealed class DequeuedMessage
    {
        public Guid ActivityId { get; set; }
        public Guid CorrelationId { get; set; }
        public string PopReceipt { get; set; } = string.Empty;
        public string DownloadLocation { get; set; } = string.Empty;
        public string FileName { get; set; } = string.Empty;
        public string Path { get; set; } = string.Empty;
        public long Length { get; set; }
        public DateTimeOffset? LastDequeueDateTime { get; set; }
        public DateTimeOffset DequeuedAt { get; set; }
        public bool Acknowledged { get; set; }
        public string Environment { get; set; } = string.Empty;
        /// <summary>The dequeue answer exactly as the service sent it: the ack sends it back unchanged.</summary>
        public string DequeueResponse { get; set; } = string.Empty;

        public override string ToString() => $"{CorrelationId} ({FileName})";
    }

    /// <summary>
    /// The processing status of one enqueued message, with what is known of its file: a status row stands alone in a
    /// report (Export-Csv, ConvertTo-Html) without a join back to the files. Properties are in report column order.
    /// </summary>
    public sealed class MessageStatus
    {
        /// <summary>Statuses after which the service does nothing more with the message.</summary>
        public static readonly IReadOnlyCollection<string> TerminalStatuses = new[]
        {
            "Processed", "ProcessedWithErrors", "PreProcessingError", "PostProcessingFailed", "PostProcessingError",
        };

        /// <summary>The file the message carried, when the caller knew it (from Send-D365Enqueue or a CSV of its output).</summary>
        public string? FileName { get; set; }
        public Guid MessageId { get; set; }
        /// <summary>The service's status word, kept as given: the service may add new ones.</summary>
        public string Status { get; set; } = string.Empty;
        public bool IsTerminal { get; set; }
        /// <summary>True only for Processed.</summary>
        public bool Succeeded { get; set; }
        public DateTimeOffset? EnqueuedAt { get; set; }
        public DateTimeOffset CheckedAt { get; set; }
        /// <summary>The data management execution of the message; asked for only once the status is terminal, null when the service has none.</summary>
        public string? ExecutionId { get; set; }
        /// <summary>The company the message was sent to, when the caller knew it (the service's status does not say).</summary>
        public string? Company { get; set; }
        public Guid? ActivityId { get; set; }
        public string? Path { get; set; }
        public string Environment { get; set; } = string.Empty;

        public static bool IsTerminalStatus(string status)
        {
            foreach (var terminal in TerminalStatuses)
                if (string.Equals(terminal, status, StringComparison.OrdinalIgnoreCase)) return true;
            return false;
        }

        public override string ToString() => $"{FileName ?? MessageId.ToString()}: {Status}";
    }

    /// <summary>One error of a message's execution. <see cref="Fields"/> holds every field the service gave, as text.</summary>
    public sealed class ExecutionError
    {
        /// <summary>The file of the message, when the caller knew it: each error row names its file.</summary>
        public string? FileName { get; set; }
        public Guid? MessageId { get; set; }
        public string ExecutionId { get; set; } = string.Empty;
        /// <summary>Position of the error in the service's list, from 1.</summary>
        public int Index { get; set; }
        public string? EntityName { get; set; }
        public string? ErrorMessage { get; set; }
        /// <summary>
        /// Which error file of the entity holds the row (Get-D365ExecutionError -ErrorFile): Staging when the error names a
        /// staging record (StagingRecId), Target for an entity's error without one, null when the error names no entity.
        /// </summary>
        public ErrorFileKind? ErrorFile { get; set; }
        public IReadOnlyDictionary<string, string?> Fields { get; set; } = new Dictionary<string, string?>();

        public override string ToString() => ErrorMessage ?? string.Empty;
    }
}
