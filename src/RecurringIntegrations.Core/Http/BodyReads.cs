using System.Net.Http;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// Waits on the network that end when they must, also on .NET Framework: there HttpClient stops observing the
    /// cancellation token once the answer's headers are in, and a response stream ignores the token on its reads, so a
    /// stalled connection would hang a download (and Ctrl+C) for ever. Each wait is raced against the token and a timer on
    /// the session's clock; when either ends first, the stream is disposed (which aborts the read) and the wait fails.
    /// </summary>
    internal static class BodyReads
    {
        /// <summary>
        /// One read of <paramref name="source"/>. Nothing read for <paramref name="idleTimeout"/> on <paramref name="time"/> is
        /// an IOException (the connection's fault, which a retry may mend); the token's cancellation an OperationCanceledException.
        /// Either way <paramref name="source"/> is disposed.
        /// </summary>
        public static async Task<int> ReadAsync(Stream source, byte[] buffer, int offset, int count, TimeSpan idleTimeout, TimeProvider time,
            CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = source.ReadAsync(buffer, offset, count, cancellationToken);
            if (read.IsCompleted) return await read.ConfigureAwait(false);
            using (var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var expiry = time.Delay(idleTimeout, timer.Token);
                if (await Task.WhenAny(read, expiry).ConfigureAwait(false) == read)
                {
                    timer.Cancel();
                    return await read.ConfigureAwait(false);
                }
            }
            Abandon(read);
            source.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            throw new IOException($"no data arrived for {idleTimeout.TotalSeconds:0.#} s");
        }

        /// <summary>
        /// A wait on the network that may never end by itself (a send whose headers, or for a buffered answer whole body, never
        /// come; an error body read with no token): the token's cancellation (Ctrl+C, the try's time limit) ends it even when
        /// the transport does not observe the token. The abandoned task is observed, and <paramref name="abandoned"/> frees
        /// what it holds or brings later (disposing a response also aborts its read).
        /// </summary>
        public static async Task<T> WaitAsync<T>(Task<T> task, CancellationToken cancellationToken, Action<T>? abandoned = null)
        {
            if (task.IsCompleted || !cancellationToken.CanBeCanceled) return await task.ConfigureAwait(false);
            var cancelled = new TaskCompletionSource<bool>();
            using (cancellationToken.Register(() => cancelled.TrySetResult(true)))
            {
                if (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false) == task) return await task.ConfigureAwait(false);
            }
            _ = task.ContinueWith(t =>
            {
                if (t.Status == TaskStatus.RanToCompletion) abandoned?.Invoke(t.Result);
                else _ = t.Exception;
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw new OperationCanceledException(cancellationToken);
        }

        /// <summary>The abandoned read fails once its stream is disposed; its exception is observed here, not left unobserved.</summary>
        private static void Abandon(Task read) =>
            _ = read.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
    }
}
