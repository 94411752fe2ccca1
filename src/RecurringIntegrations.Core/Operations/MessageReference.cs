namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// A message to ask about, with what the caller already knows of it (from Send-D365Enqueue, or a CSV of an earlier run):
    /// carried into its <see cref="MessageStatus"/> so the status row names its file without asking the service.
    /// </summary>
    public sealed class MessageReference
    {
        public MessageReference(Guid messageId) => MessageId = messageId;

        public Guid MessageId { get; }
        public string? FileName { get; set; }
        public string? Company { get; set; }
        public string? Path { get; set; }
        public Guid? ActivityId { get; set; }
        public DateTimeOffset? EnqueuedAt { get; set; }
    }
}
