namespace RecurringIntegrations.Core.Model
{
    /// <summary>
    /// The dequeue answer (docs/protocol.md, "Connector: dequeue"), read case-insensitively, with the original JSON kept
    /// for the ack.
    /// </summary>
    public sealed class DequeueResult
    {
        public Guid ActivityId { get; set; }
        public Guid CorrelationId { get; set; }
        public string PopReceipt { get; set; } = string.Empty;
        public string? DownloadLocation { get; set; }
        public bool IsDownloadFileExist { get; set; }
        public string? FileDownloadErrorMessage { get; set; }
        public DateTimeOffset? LastDequeueDateTime { get; set; }
        public DateTimeOffset DequeuedAt { get; set; }
        /// <summary>The body exactly as received: the ack sends it back unchanged.</summary>
        public string RawJson { get; set; } = string.Empty;
    }

    /// <summary>A file saved completely and moved into its final place.</summary>
    public sealed class SavedFile(string path, long length)
    {
        public string Path { get; } = path;
        public long Length { get; } = length;
    }
}
