namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// The one poll-until-final loop (Get-D365MessageStatus -Wait, the folder import's wait for outcomes): each round reads
    /// every unfinished item (at most <see cref="MaxConcurrency"/> reads at once) and hands each final one on the moment the
    /// round has it. The first round comes <see cref="FirstWait"/> after the start, about the time the service usually takes
    /// to process a message, so a message just uploaded is not asked about before it can be done; each wait after that is
    /// twice the one before, up to <see cref="Interval"/> (never past the deadline), so a quick outcome is seen quickly and
    /// a slow one costs few calls. An item whose read fails is handed to <see cref="OnFailed"/> once and not read again: a
    /// service that cannot answer for it will not start to. At the deadline every unfinished item is read a last time and
    /// the loop returns them with their last status.
    /// </summary>
    internal sealed class PollLoop<TItem, TStatus>(TimeProvider time, TimeSpan timeout, TimeSpan interval, int maxConcurrency, TimeSpan firstWait)
    {
        public TimeSpan Timeout { get; } = timeout;
        /// <summary>The longest wait between two rounds.</summary>
        public TimeSpan Interval { get; } = interval;
        public int MaxConcurrency { get; } = Math.Max(1, maxConcurrency);
        /// <summary>The wait before the first round (at most <see cref="Interval"/>); each later wait doubles, up to the interval.</summary>
        public TimeSpan FirstWait { get; } = firstWait < interval ? firstWait : interval;

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
            var wait = FirstWait;
            while (index.Count > 0)
            {
                var left = deadline - time.GetUtcNow();
                if (left > TimeSpan.Zero && wait > TimeSpan.Zero)
                    await time.Delay(left < wait ? left : wait, cancellationToken).ConfigureAwait(false);
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
                if (index.Count == 0) break;
                if (deadline - time.GetUtcNow() <= TimeSpan.Zero) return index.Select(entry => (entry.item, last[entry.i])).ToList();
                wait = wait > TimeSpan.Zero && wait + wait < Interval ? wait + wait : Interval;
            }
            return Array.Empty<(TItem, TStatus)>();
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
