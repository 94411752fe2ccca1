using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Runs async work on the thread pool while the calling thread pumps what the work posts back (output, verbose lines,
    /// progress, errors, confirmation prompts). PowerShell allows Write* and ShouldProcess only on the pipeline thread,
    /// so background work never touches the host: it posts, and <see cref="Run"/> executes the posts on the caller's thread.
    /// </summary>
    internal sealed class PipelineBridge
    {
        private readonly ConcurrentQueue<WorkItem> _queue = new ConcurrentQueue<WorkItem>();
        /// <summary>
        /// Wakes the pump, which then runs every post queued. It blocks without spinning first (a SemaphoreSlim spins: a pump
        /// woken for each file's output spent a third of a core spinning while 52 uploads needed the same 2 cores), and holds
        /// no kernel handle to dispose.
        /// </summary>
        private readonly ManualResetEventSlim _signal = new ManualResetEventSlim(false, spinCount: 0);
        private int _running;

        /// <summary>Queues an action for the pumping thread. Safe from any thread.</summary>
        public void Post(Action action)
        {
            if (action is null) throw new ArgumentNullException(nameof(action));
            Enqueue(new WorkItem(action, null));
        }

        /// <summary>Runs <paramref name="function"/> on the pumping thread and hands its result back to the posting thread.</summary>
        public Task<T> InvokeAsync<T>(Func<T> function)
        {
            if (function is null) throw new ArgumentNullException(nameof(function));
            var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            Enqueue(new WorkItem(() =>
            {
                try
                {
                    completion.TrySetResult(function());
                }
                catch (Exception ex)
                {
                    completion.TrySetException(ex);
                    throw;
                }
            }, () => completion.TrySetCanceled()));
            return completion.Task;
        }

        /// <summary>
        /// Starts <paramref name="work"/> on the thread pool and pumps posts on this thread until it completes. If a pumped
        /// action throws (the pipeline was stopped, the user answered "No to All" with an exception), the work is cancelled,
        /// waited for, and that exception is rethrown here; otherwise the work's own exception is.
        /// </summary>
        public void Run(Func<CancellationToken, Task> work, CancellationToken cancellationToken)
        {
            if (work is null) throw new ArgumentNullException(nameof(work));
            if (Interlocked.Exchange(ref _running, 1) == 1)
                throw new InvalidOperationException("The bridge is already pumping; Run is not reentrant.");
            try
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var task = Task.Run(() => work(linked.Token), linked.Token);
                // The continuation wakes the pump once more so it sees the completion.
                task.ContinueWith(_ => _signal.Set(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                ExceptionDispatchInfo? failure = null;
                while (true)
                {
                    _signal.Wait();
                    // Posts queued from here on set it again, and the pump below runs what came before.
                    _signal.Reset();
                    Pump(ref failure, linked);
                    if (task.IsCompleted) break;
                }
                Pump(ref failure, linked);
                failure?.Throw();
                task.GetAwaiter().GetResult();
            }
            finally
            {
                Volatile.Write(ref _running, 0);
            }
        }

        private void Pump(ref ExceptionDispatchInfo? failure, CancellationTokenSource linked)
        {
            while (_queue.TryDequeue(out var item))
            {
                if (failure != null)
                {
                    item.Abandon?.Invoke();
                    continue;
                }
                try
                {
                    item.Action();
                }
                catch (Exception ex)
                {
                    failure = ExceptionDispatchInfo.Capture(ex);
                    linked.Cancel();
                }
            }
        }

        private void Enqueue(WorkItem item)
        {
            _queue.Enqueue(item);
            _signal.Set();
        }

        private sealed class WorkItem(Action action, Action? abandon)
        {
            public Action Action { get; } = action;
            public Action? Abandon { get; } = abandon;
        }
    }
}
