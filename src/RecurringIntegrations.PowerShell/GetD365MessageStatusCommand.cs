using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Get-D365MessageStatus: one MessageStatus per message. Without -Wait each id is read as it arrives; with -Wait all ids
    /// are collected and waited for together, each emitted the moment it is terminal. On timeout the last status of each
    /// unfinished message is emitted, followed by one StatusWaitTimeout error naming them. What the input knows of a message
    /// (FileName, Path, ActivityId, EnqueuedAt, by property name) is carried into its status, so a status row stands alone.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "D365MessageStatus")]
    [OutputType(typeof(MessageStatus))]
    public sealed class GetD365MessageStatusCommand : WaitingCmdlet
    {
        private readonly List<MessageReference> _collected = new List<MessageReference>();

        /// <summary>Message ids from Send-D365Enqueue (binds its MessageId property).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public Guid[] MessageId { get; set; } = Array.Empty<Guid>();

        /// <summary>The message's file name, copied into the status (binds the FileName of Send-D365Enqueue's output or of a CSV of it).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string? FileName { get; set; }

        /// <summary>The company the message was sent to, copied into the status (binds the Company of Send-D365Enqueue's or Invoke-D365FolderImport's output).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string? Company { get; set; }

        /// <summary>The message's file path, copied into the status.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string? Path { get; set; }

        /// <summary>The import job the message was sent to, copied into the status.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [CsvValue(typeof(Guid))]
        public Guid? ActivityId { get; set; }

        /// <summary>When the message was sent, copied into the status.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [CsvValue(typeof(DateTimeOffset))]
        public DateTimeOffset? EnqueuedAt { get; set; }

        /// <summary>Poll until every message reaches a terminal status (Processed, ProcessedWithErrors, PreProcessingError, PostProcessingFailed, PostProcessingError) or -TimeoutSeconds pass.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        protected override void Process()
        {
            var messages = ReferencesOfRecord();
            if (Wait)
            {
                _collected.AddRange(messages);
                return;
            }
            var waiter = new StatusWaiter(ActiveSession, Client);
            foreach (var message in messages)
            {
                MessageStatus? status = null;
                if (RunForItem(message.MessageId, async token => status = await waiter.GetAsync(message, token).ConfigureAwait(false))) WriteObject(status);
            }
        }

        protected override void End()
        {
            if (!Wait || _collected.Count == 0) return;
            var waiter = new StatusWaiter(ActiveSession, Client)
            {
                Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
                PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds),
            };
            var activity = string.Format(Messages.StatusActivity, _collected.Count);
            var callbacks = PostingCallbacks<MessageStatus>(WriteObject,
                progress => WriteProgressRecord(ProgressBar.MessageStatus, activity, progress, string.Format(Messages.StatusStatus, progress.Completed, progress.Total)),
                confirm: false);
            RunWithProgress(token => waiter.RunAsync(_collected, callbacks, token), null, ProgressBar.MessageStatus, activity);
        }

        /// <summary>The messages of this input; a file name, path or time describes one message, so it cannot go with several ids.</summary>
        private IReadOnlyList<MessageReference> ReferencesOfRecord()
        {
            var fileName = NullIfEmpty(FileName);
            var path = NullIfEmpty(Path);
            var company = NullIfEmpty(Company);
            if (MessageId.Length > 1 && (fileName != null || path != null || company != null || ActivityId != null || EnqueuedAt != null))
            {
                WriteError(ToErrorRecord(ErrorCatalog.StatusContextAmbiguous.Create(MessageId.Length), MessageId));
                return Array.Empty<MessageReference>();
            }
            var messages = new List<MessageReference>(MessageId.Length);
            foreach (var id in MessageId)
                messages.Add(new MessageReference(id) { FileName = fileName, Company = company, Path = path, ActivityId = ActivityId, EnqueuedAt = EnqueuedAt });
            return messages;
        }

        private static string? NullIfEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
    }
}
