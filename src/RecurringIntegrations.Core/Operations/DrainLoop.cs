using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>What one message's handler made of it.</summary>
    internal enum DrainStep
    {
        /// <summary>Saved (an ack that failed after it does not count against the drain).</summary>
        Done,
        /// <summary>Not saved: it stays on the queue. Counts toward <see cref="DrainLoop.MaxFailuresInARow"/>.</summary>
        Failed,
        /// <summary>Not saved for a reason of its own (its file is gone): finished, and no sign of a broken folder or link, so it
        /// neither counts toward <see cref="DrainLoop.MaxFailuresInARow"/> nor ends a run of failures.</summary>
        Skipped,
        /// <summary>The handler stopped the drain (<see cref="DrainLoop.StopBecause"/>).</summary>
        Stop,
    }

    /// <summary>
    /// The one dequeue loop (Receive-D365Dequeue, Invoke-D365FolderExport) and its one stop rule. Workers each take one
    /// message at a time and hand it to the handler; the drain ends at the empty queue, at the count asked for, when a
    /// handler stops it (a message that failed comes back in the same run), after <see cref="MaxFailuresInARow"/> failed
    /// messages in a row, or at a failing dequeue (its exception ends the drain). When one worker meets an end, the others
    /// finish the message they hold (it is already invisible on the queue) and take no more. Every member is safe to call
    /// from any worker.
    /// </summary>
    internal sealed class DrainLoop(D365Client client, Guid activityId, int? maxCount, Action<string> warn)
    {
        /// <summary>Messages failing one after another mean the folder or the link is broken: dequeuing more would only hide
        /// more messages for 30 minutes each.</summary>
        public const int MaxFailuresInARow = 3;

        private readonly HashSet<Guid> _seen = new HashSet<Guid>();
        private int _reserved;
        private int _finished;
        private int _failuresInARow;
        private int _stopping;

        /// <summary>The messages to take, -1 when the end is not known (drained until empty).</summary>
        public int Total => maxCount ?? -1;
        public bool Stopping => Volatile.Read(ref _stopping) == 1;
        /// <summary>Messages done with, saved or failed.</summary>
        public int Finished => Volatile.Read(ref _finished);

        /// <summary>Counts a saved message as finished; returns the new count.</summary>
        public int FinishOne() => Interlocked.Increment(ref _finished);

        /// <summary>Stops the drain; only the first reason is told (and only the reason that actually stopped it).</summary>
        public bool StopBecause(string? warning)
        {
            var first = Interlocked.Exchange(ref _stopping, 1) == 0;
            if (first && warning != null) warn(warning);
            return first;
        }

        /// <param name="handle">Takes a message and whether this is the first time this run sees its correlation id.</param>
        public async Task RunAsync(int workers, Func<DequeueResult, bool, CancellationToken, Task<DrainStep>> handle, CancellationToken cancellationToken)
        {
            if (workers == 1)
            {
                await WorkAsync(handle, cancellationToken).ConfigureAwait(false);
                return;
            }
            var running = new Task[workers];
            for (var i = 0; i < running.Length; i++)
                running[i] = Task.Run(() => WorkAsync(handle, cancellationToken), cancellationToken);
            await Task.WhenAll(running).ConfigureAwait(false);
        }

        private async Task WorkAsync(Func<DequeueResult, bool, CancellationToken, Task<DrainStep>> handle, CancellationToken cancellationToken)
        {
            // Claiming a dequeue before it is made keeps parallel workers together within the count asked for.
            while (!Stopping && (maxCount is not { } max || Interlocked.Increment(ref _reserved) <= max))
            {
                cancellationToken.ThrowIfCancellationRequested();
                DequeueResult? message;
                try
                {
                    message = await client.DequeueAsync(activityId, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    // The other workers finish the messages they hold; this exception then ends the drain.
                    StopBecause(null);
                    throw;
                }
                if (message is null)
                {
                    StopBecause(null);
                    return;
                }
                bool first;
                lock (_seen) first = _seen.Add(message.CorrelationId);
                switch (await handle(message, first, cancellationToken).ConfigureAwait(false))
                {
                    case DrainStep.Done:
                        Interlocked.Exchange(ref _failuresInARow, 0);
                        break;
                    case DrainStep.Failed:
                        Interlocked.Increment(ref _finished);
                        var inARow = Interlocked.Increment(ref _failuresInARow);
                        if (inARow >= MaxFailuresInARow)
                            StopBecause($"{inARow} messages failed in a row; stopping. The messages not saved stay on the queue.");
                        break;
                    case DrainStep.Skipped:
                        Interlocked.Increment(ref _finished);
                        break;
                    case DrainStep.Stop:
                        return;
                }
            }
        }
    }
}
