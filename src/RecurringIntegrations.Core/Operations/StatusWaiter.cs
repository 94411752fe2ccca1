using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// Waits for many enqueued messages together, through the one <see cref="PollLoop{TItem, TStatus}"/>: each round polls
    /// every unfinished message (at most <see cref="MaxConcurrency"/> calls at once) and reports each one the moment its status
    /// is terminal. The first round comes <see cref="FirstPoll"/> after the start, then the waits double up to
    /// <see cref="PollInterval"/>, on the session's clock. On timeout it reports the last status of every unfinished message (IsTerminal false)
    /// and then ONE summary error, StatusWaitTimeout, whose target is the list of those message ids: a script sees every
    /// message once and one failure to act on, not one error per message.
    /// </summary>
    public sealed class StatusWaiter
    {
        private readonly D365Session _session;
        private readonly D365Client _client;

        public StatusWaiter(D365Session session, D365Client client)
        {
            _session = session ?? throw new ArgumentNullException(nameof(session));
            _client = client ?? throw new ArgumentNullException(nameof(client));
        }

        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(600);
        /// <summary>The longest wait between two rounds of status calls.</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>
        /// The wait before the first round: about the time the service takes to process a small message, so the first call
        /// usually finds it done. Each later wait doubles, up to <see cref="PollInterval"/>.
        /// </summary>
        public TimeSpan FirstPoll { get; set; } = TimeSpan.FromSeconds(0.5);
        /// <summary>Status calls in flight at once; far below the service's 52 concurrent requests per user.</summary>
        public int MaxConcurrency { get; set; } = 8;

        /// <summary>
        /// Reads one message's status now. A terminal status also gets the message's execution id (one more call, only
        /// then: before it the service may not have one, and a report needs it only for finished messages).
        /// </summary>
        public async Task<MessageStatus> GetAsync(MessageReference message, CancellationToken cancellationToken)
        {
            if (message is null) throw new ArgumentNullException(nameof(message));
            var status = Create(message, await _client.GetMessageStatusAsync(message.MessageId, cancellationToken).ConfigureAwait(false), _session.Environment);
            if (status.IsTerminal)
                status.ExecutionId = await _client.GetExecutionIdAsync(message.MessageId, cancellationToken).ConfigureAwait(false);
            return status;
        }

        public Task<MessageStatus> GetAsync(Guid messageId, CancellationToken cancellationToken) =>
            GetAsync(new MessageReference(messageId), cancellationToken);

        public static MessageStatus Create(MessageReference message, string status, string environment) => new MessageStatus
        {
            FileName = message.FileName,
            Company = message.Company,
            MessageId = message.MessageId,
            Status = status,
            IsTerminal = MessageStatus.IsTerminalStatus(status),
            Succeeded = string.Equals(status, "Processed", StringComparison.OrdinalIgnoreCase),
            EnqueuedAt = message.EnqueuedAt,
            CheckedAt = DateTimeOffset.Now,
            ActivityId = message.ActivityId,
            Path = message.Path,
            Environment = environment,
        };

        public Task RunAsync(IReadOnlyCollection<Guid> messageIds, OperationCallbacks<MessageStatus> callbacks, CancellationToken cancellationToken)
        {
            if (messageIds is null) throw new ArgumentNullException(nameof(messageIds));
            return RunAsync(messageIds.Select(id => new MessageReference(id)).ToList(), callbacks, cancellationToken);
        }

        /// <summary>A message given twice is asked about once, with what its first mention knew of it.</summary>
        public async Task RunAsync(IReadOnlyCollection<MessageReference> messages, OperationCallbacks<MessageStatus> callbacks, CancellationToken cancellationToken)
        {
            if (messages is null) throw new ArgumentNullException(nameof(messages));
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            var pending = messages.GroupBy(m => m.MessageId).Select(g => g.First()).ToList();
            var total = pending.Count;
            var done = 0;
            callbacks.OnProgress(0, total, null);
            var unfinished = await Loop<MessageReference, MessageStatus>(GetAsync, status => status.IsTerminal,
                (message, status) =>
                {
                    callbacks.OnResult(status);
                    callbacks.OnProgress(++done, total, message.FileName ?? message.MessageId.ToString("D"));
                    return Task.CompletedTask;
                },
                (message, _, ex) =>
                {
                    callbacks.OnError(message.MessageId, Failures.AsD365(ex, $"Reading the status of message {message.MessageId} failed"));
                    callbacks.OnProgress(++done, total, message.FileName ?? message.MessageId.ToString("D"));
                }).RunAsync(pending, cancellationToken).ConfigureAwait(false);
            if (unfinished.Count == 0) return;
            foreach (var (_, last) in unfinished) callbacks.OnResult(last);
            callbacks.OnError(unfinished.Select(m => m.Item.MessageId).ToArray(), ErrorCatalog.StatusWaitTimeout.Create(unfinished.Count, total, Timeout.TotalSeconds));
        }

        /// <summary>The poll loop with this waiter's timeout, interval, concurrency and the session's clock.</summary>
        internal PollLoop<TItem, TStatus> Loop<TItem, TStatus>(Func<TItem, CancellationToken, Task<TStatus>> read, Func<TStatus, bool> isFinal,
            Func<TItem, TStatus, Task> onFinal, Action<TItem, TStatus?, Exception> onFailed) =>
            new PollLoop<TItem, TStatus>(_session.Time, Timeout, PollInterval, MaxConcurrency, FirstPoll)
            {
                Read = read,
                IsFinal = isFinal,
                OnFinal = onFinal,
                OnFailed = onFailed,
            };
    }
}
