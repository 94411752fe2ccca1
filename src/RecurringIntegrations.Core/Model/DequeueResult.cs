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

        /// <summary>
        /// The message as users see it. Without a saved file (the target of a dequeue error) its Path is empty; it still pipes
        /// into Confirm-D365Ack.
        /// </summary>
        internal DequeuedMessage ToDequeuedMessage(string environment, SavedFile? saved) => new DequeuedMessage
        {
            ActivityId = ActivityId,
            CorrelationId = CorrelationId,
            PopReceipt = PopReceipt,
            DownloadLocation = DownloadLocation ?? string.Empty,
            FileName = saved is null ? string.Empty : System.IO.Path.GetFileName(saved.Path),
            Path = saved?.Path ?? string.Empty,
            Length = saved?.Length ?? 0,
            LastDequeueDateTime = LastDequeueDateTime,
            DequeuedAt = DequeuedAt,
            Environment = environment,
            DequeueResponse = RawJson,
        };
    }

    /// <summary>A file saved completely and moved into its final place.</summary>
    public sealed class SavedFile(string path, long length)
    {
        public string Path { get; } = path;
        public long Length { get; } = length;
    }
}
