namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// The one poll-until-final loop (Get-D365MessageStatus -Wait, the folder import's wait for outcomes): each round reads
    /// every unfinished item (at most <see cref="MaxConcurrency"/> reads at once), hands each final one on the moment the
    /// round has it, then waits <see cref="Interval"/> (never past the deadline) on the given clock. An item whose read
    /// fails is handed to <see cref="OnFailed"/> once and not read again: a service that cannot answer for it will not
    /// start to. At the deadline the loop returns the unfinished items with their last status.
    /// </summary>
    internal sealed class PollLoop<TItem, TStatus>(TimeProvider time, TimeSpan timeout, TimeSpan interval, int maxConcurrency)
    {
        public TimeSpan Timeout { get; } = timeout;
        public TimeSpan Interval { get; } = interval;
        public int MaxConcurrency { get; } = Math.Max(1, maxConcurrency);

        public Func<TItem, CancellationToken, Task<TStatus>> Read { get; set; } = (_, _) => throw new InvalidOperationException("PollLoop.Read is not set.");
        public Func<TStatus, bool> IsFinal { get; set; } = _ => true;
        /// <summary>Awaited for each final item before the next one of the round.</summary>
        public Func<TItem, TStatus, Task> OnFinal { get; set; } = (_, _) => Task.CompletedTask;
        /// <summary>Gets the item's last status before the failure (default when there was none).</summary>
        public Action<TItem, TStatus?, Exception> OnFailed { get; set; } = (_, _, _) => { };

        public async Task<IReadOnlyList<(TItem Item, TStatus Last)>> RunAsync(IReadOnlyList<TItem> items, CancellationToken cancellationToken)
        {
            var deadline = time.GetUtcNow() + Timeout;
            // Items by position, so an item type without equality (or two equal items) still keeps its own last status.
            var last = new Dictionary<int, TStatus>();
            var index = items.Select((item, i) => (item, i)).ToList();
            using var slots = new SemaphoreSlim(MaxConcurrency);
            while (true)
            {
                var round = await Task.WhenAll(index.Select(entry => ReadAsync(entry.item, entry.i, slots, cancellationToken))).ConfigureAwait(false);
                var still = new List<(TItem, int)>();
                foreach (var (item, i, status, error) in round)
                {
                    if (error != null) OnFailed(item, last.TryGetValue(i, out var before) ? before : default, error);
                    else if (IsFinal(status!)) await OnFinal(item, status!).ConfigureAwait(false);
                    else
                    {
                        last[i] = status!;
                        still.Add((item, i));
                    }
                }
                index = still;
                if (index.Count == 0) return Array.Empty<(TItem, TStatus)>();
                var left = deadline - time.GetUtcNow();
                if (left <= TimeSpan.Zero) return index.Select(entry => (entry.item, last[entry.i])).ToList();
                await time.Delay(left < Interval ? left : Interval, cancellationToken).ConfigureAwait(false);
            }
        }

        private async Task<(TItem Item, int Index, TStatus? Status, Exception? Error)> ReadAsync(TItem item, int i, SemaphoreSlim slots, CancellationToken cancellationToken)
        {
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return (item, i, await Read(item, cancellationToken).ConfigureAwait(false), null);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                return (item, i, default, ex);
            }
            finally
            {
                slots.Release();
            }
        }
    }
}
