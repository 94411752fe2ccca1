using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// Empties an export queue into a folder: dequeue, download (to a partial file moved into place when complete),
    /// optionally acknowledge, report. A message is acknowledged only after its file is saved, so a failed download is
    /// never lost: the service redelivers it after its visibility timeout (30 minutes).
    /// </summary>
    public sealed class QueueDrain
    {
        /// <summary>Downloads failing one after another mean the folder or the link is broken: dequeuing more would only
        /// hide more messages for 30 minutes each.</summary>
        public const int MaxConsecutiveFailures = 3;
        private readonly D365Session _session;
        private readonly D365Client _client;
        private readonly Guid _activityId;

        public QueueDrain(D365Session session, D365Client client, Guid activityId)
        {
            _session = session ?? throw new ArgumentNullException(nameof(session));
            _client = client ?? throw new ArgumentNullException(nameof(client));
            _activityId = activityId;
        }

        public string OutputPath { get; set; } = ".";
        /// <summary>Messages to take at most; null drains until the queue answers empty.</summary>
        public int? MaxCount { get; set; }
        /// <summary>Replace a file of the same name; otherwise a free name "name (2).ext" is chosen.</summary>
        public bool Overwrite { get; set; }
        public bool Acknowledge { get; set; }

        public string AckActionText => "Acknowledge on activity " + _activityId.ToString("D");

        /// <summary>
        /// Drains the queue. Each saved message is reported once, after its ack when <see cref="Acknowledge"/> is set, so its
        /// Acknowledged flag is true to the service. A failed download or ack is reported as an error on the message and the
        /// drain goes on; it ends at the empty queue, at <see cref="MaxCount"/>, when a correlation id comes back a second
        /// time in this run (a redelivery: only failed messages are redelivered), or after
        /// <see cref="MaxConsecutiveFailures"/> failed downloads in a row. A failing dequeue ends it with that exception.
        /// </summary>
        public async Task RunAsync(OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            if (MaxCount is { } max && max < 1) throw new ArgumentOutOfRangeException(nameof(MaxCount), max, "MaxCount is at least 1.");
            var directory = FileChecks.PrepareOutputDirectory(OutputPath);
            var total = MaxCount ?? -1;
            var seen = new HashSet<Guid>();
            var taken = 0;
            var consecutiveFailures = 0;

            while (MaxCount is null || taken < MaxCount)
            {
                var message = await _client.DequeueAsync(_activityId, cancellationToken).ConfigureAwait(false);
                if (message is null) break;
                if (!seen.Add(message.CorrelationId))
                {
                    callbacks.OnWarning($"Message {message.CorrelationId} came back a second time in this run (it failed earlier and was redelivered); stopping here so a failing message is not retried forever. It stays on the queue.");
                    break;
                }
                taken++;
                callbacks.OnProgress(taken - 1, total, message.CorrelationId.ToString("D"));

                SavedFile saved;
                try
                {
                    saved = await _client.DownloadAsync(message, directory, Overwrite, cancellationToken).ConfigureAwait(false);
                    consecutiveFailures = 0;
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    callbacks.OnError(message.CorrelationId, Failures.AsD365(ex, "DequeueDownloadFailed",
                        $"Downloading message {message.CorrelationId} failed; it was not acknowledged and will be redelivered"));
                    if (++consecutiveFailures >= MaxConsecutiveFailures)
                    {
                        callbacks.OnWarning($"{consecutiveFailures} downloads failed in a row; stopping. The messages not downloaded stay on the queue.");
                        break;
                    }
                    continue;
                }

                var result = ToDequeuedMessage(message, saved);
                if (Acknowledge) await AcknowledgeAsync(result, callbacks, cancellationToken).ConfigureAwait(false);
                callbacks.OnResult(result);
                callbacks.OnProgress(taken, total, message.CorrelationId.ToString("D"));
            }
        }

        private async Task AcknowledgeAsync(DequeuedMessage message, OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (!await callbacks.ConfirmAsync(message.Path, AckActionText, cancellationToken).ConfigureAwait(false)) return;
            try
            {
                await _client.AcknowledgeAsync(_activityId, message.DequeueResponse, cancellationToken).ConfigureAwait(false);
                message.Acknowledged = true;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(message, Failures.AsD365(ex, "DequeueAckFailed",
                    $"Message {message.CorrelationId} was saved to '{message.Path}' but acknowledging it failed; pipe it to Confirm-D365Ack to try again"));
            }
        }

        private DequeuedMessage ToDequeuedMessage(DequeueResult message, SavedFile saved) => new DequeuedMessage
        {
            ActivityId = _activityId,
            CorrelationId = message.CorrelationId,
            PopReceipt = message.PopReceipt,
            DownloadLocation = message.DownloadLocation ?? string.Empty,
            FileName = Path.GetFileName(saved.Path),
            Path = saved.Path,
            Length = saved.Length,
            LastDequeueDateTime = message.LastDequeueDateTime,
            DequeuedAt = message.DequeuedAt,
            Environment = _session.Environment,
            DequeueResponse = message.RawJson,
        };
    }
}
