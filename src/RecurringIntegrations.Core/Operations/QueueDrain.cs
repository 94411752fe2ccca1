using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// Empties an export queue into a folder: dequeue, download (to a partial file moved into place when complete),
    /// optionally acknowledge, report. A message is acknowledged only after its file is saved, so a failed download is
    /// never lost: the service redelivers it after its visibility timeout (30 minutes).
    /// </summary>
    public sealed class QueueDrain : ActivityOperation
    {
        /// <summary>Downloads failing one after another mean the folder or the link is broken: dequeuing more would only
        /// hide more messages for 30 minutes each.</summary>
        public const int MaxConsecutiveFailures = 3;

        public QueueDrain(D365Session session, D365Client client, Guid activityId)
            : base(session, client, activityId)
        {
        }

        public string OutputPath { get; set; } = ".";
        /// <summary>Messages to take at most; null drains until the queue answers empty.</summary>
        public int? MaxCount { get; set; }
        /// <summary>Replace a file of the same name; otherwise a free name "name (2).ext" is chosen.</summary>
        public bool Overwrite { get; set; }
        public bool Acknowledge { get; set; }

        public string AckActionText => "Acknowledge on activity " + ActivityId.ToString("D");

        /// <summary>
        /// Drains the queue. Each saved message is reported once, after its ack when <see cref="Acknowledge"/> is set, so its
        /// Acknowledged flag is true to the service. A failed download or ack is reported as an error on the message and the
        /// drain goes on; it ends at the empty queue, at <see cref="MaxCount"/>, when a correlation id comes back a second
        /// time in this run (a redelivery: only failed messages are redelivered), or after
        /// <see cref="MaxConsecutiveFailures"/> failed downloads in a row. A failing dequeue ends it with that exception.
        /// With a <see cref="ThrottleLimit"/> above 1, that many workers each take one message at a time; when one of them
        /// meets an end, the others finish the message they hold (it is already invisible on the queue) and take no more.
        /// </summary>
        public async Task RunAsync(OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            if (MaxCount is { } max && max < 1) throw new ArgumentOutOfRangeException(nameof(MaxCount), max, "MaxCount is at least 1.");
            CheckThrottleLimit();
            var run = new DrainRun(FileChecks.PrepareOutputDirectory(OutputPath), MaxCount, callbacks);

            if (ThrottleLimit == 1)
            {
                await WorkAsync(run, cancellationToken).ConfigureAwait(false);
                return;
            }
            var workers = new Task[ThrottleLimit];
            for (var i = 0; i < workers.Length; i++)
                workers[i] = Task.Run(() => WorkAsync(run, cancellationToken), cancellationToken);
            await Task.WhenAll(workers).ConfigureAwait(false);
        }

        /// <summary>One worker: takes messages one at a time until the run is told to stop.</summary>
        private async Task WorkAsync(DrainRun run, CancellationToken cancellationToken)
        {
            var callbacks = run.Callbacks;
            while (!run.Stopping && run.TryReserve())
            {
                DequeueResult? message;
                try
                {
                    message = await Client.DequeueAsync(ActivityId, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    // The other workers finish the messages they hold; this exception then ends the drain.
                    run.Stop();
                    throw;
                }
                if (message is null)
                {
                    run.Stop();
                    break;
                }
                if (!run.FirstSighting(message.CorrelationId))
                {
                    if (run.Stop())
                        callbacks.OnWarning($"Message {message.CorrelationId} came back a second time in this run (it failed earlier and was redelivered); stopping here so a failing message is not retried forever. It stays on the queue.");
                    break;
                }
                callbacks.OnProgress(run.Finished, run.Total, message.CorrelationId.ToString("D"));

                SavedFile saved;
                try
                {
                    saved = await Client.DownloadAsync(message, run.Directory, Overwrite, cancellationToken).ConfigureAwait(false);
                    run.DownloadSucceeded();
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    callbacks.OnError(message.CorrelationId, Failures.AsD365(ex,
                        $"Downloading message {message.CorrelationId} failed; it was not acknowledged and will be redelivered"));
                    var failuresInARow = run.DownloadFailed();
                    if (failuresInARow >= MaxConsecutiveFailures && run.Stop())
                    {
                        callbacks.OnWarning($"{failuresInARow} downloads failed in a row; stopping. The messages not downloaded stay on the queue.");
                        break;
                    }
                    continue;
                }

                var result = ToDequeuedMessage(message, saved);
                if (Acknowledge) await AcknowledgeAsync(result, callbacks, cancellationToken).ConfigureAwait(false);
                callbacks.OnResult(result);
                callbacks.OnProgress(run.FinishOne(), run.Total, message.CorrelationId.ToString("D"));
            }
        }

        private async Task AcknowledgeAsync(DequeuedMessage message, OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (!await callbacks.ConfirmAsync(message.Path, AckActionText, cancellationToken).ConfigureAwait(false)) return;
            try
            {
                await Client.AcknowledgeAsync(ActivityId, message.DequeueResponse, cancellationToken).ConfigureAwait(false);
                message.Acknowledged = true;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(message, Failures.AsD365(ex,
                    $"Message {message.CorrelationId} was saved to '{message.Path}' but acknowledging it failed; pipe it to Confirm-D365Ack to try again"));
            }
        }

        private DequeuedMessage ToDequeuedMessage(DequeueResult message, SavedFile saved) => new DequeuedMessage
        {
            ActivityId = ActivityId,
            CorrelationId = message.CorrelationId,
            PopReceipt = message.PopReceipt,
            DownloadLocation = message.DownloadLocation ?? string.Empty,
            FileName = Path.GetFileName(saved.Path),
            Path = saved.Path,
            Length = saved.Length,
            LastDequeueDateTime = message.LastDequeueDateTime,
            DequeuedAt = message.DequeuedAt,
            Environment = Session.Environment,
            DequeueResponse = message.RawJson,
        };
    }

    /// <summary>What the workers of one drain share. Every member is safe to call from any worker.</summary>
    internal sealed class DrainRun
    {
        private readonly int? _maxCount;
        private readonly HashSet<Guid> _seen = new HashSet<Guid>();
        private int _reserved;
        private int _finished;
        private int _failuresInARow;
        private int _stopping;

        public DrainRun(string directory, int? maxCount, OperationCallbacks<DequeuedMessage> callbacks)
        {
            Directory = directory;
            _maxCount = maxCount;
            Callbacks = callbacks;
        }

        public string Directory { get; }
        public OperationCallbacks<DequeuedMessage> Callbacks { get; }
        public int Total => _maxCount ?? -1;
        public bool Stopping => Volatile.Read(ref _stopping) == 1;
        /// <summary>Messages done with, saved or failed.</summary>
        public int Finished => Volatile.Read(ref _finished);

        /// <summary>Claims one dequeue before it is made, so parallel workers together never take more than MaxCount.</summary>
        public bool TryReserve() => _maxCount is not { } max || Interlocked.Increment(ref _reserved) <= max;

        /// <summary>True for the first caller only: only the reason that actually stopped the drain is reported, and once.</summary>
        public bool Stop() => Interlocked.Exchange(ref _stopping, 1) == 0;

        public bool FirstSighting(Guid correlationId)
        {
            lock (_seen) return _seen.Add(correlationId);
        }

        public void DownloadSucceeded() => Interlocked.Exchange(ref _failuresInARow, 0);

        /// <summary>Counts a failed message as finished; returns the downloads failed in a row, across all workers.</summary>
        public int DownloadFailed()
        {
            Interlocked.Increment(ref _finished);
            return Interlocked.Increment(ref _failuresInARow);
        }

        /// <summary>Counts a saved message as finished; returns the new count.</summary>
        public int FinishOne() => Interlocked.Increment(ref _finished);
    }
}
