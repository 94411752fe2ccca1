using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Runs async work (on the thread pool, or started on the calling thread) while the calling thread pumps what the work posts back (output, verbose lines,
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
        /// <summary>The thread in <see cref="Run"/>, while it runs; what follows is touched on that thread only.</summary>
        private Thread? _pumping;
        private CancellationTokenSource? _linked;
        private ExceptionDispatchInfo? _failure;

        /// <summary>Queues an action for the pumping thread. Safe from any thread.</summary>
        public void Post(Action action)
        {
            if (action is null) throw new ArgumentNullException(nameof(action));
            Enqueue(new WorkItem(action, null));
        }

        /// <summary>
        /// Runs <paramref name="function"/> on the pumping thread and hands its result back to the posting thread. Called on
        /// the pumping thread itself (by work that <see cref="Run"/> started there), it runs at once, as the pump would run it.
        /// </summary>
        public Task<T> InvokeAsync<T>(Func<T> function)
        {
            if (function is null) throw new ArgumentNullException(nameof(function));
            if (Volatile.Read(ref _pumping) == Thread.CurrentThread)
            {
                try
                {
                    return Task.FromResult(function());
                }
                catch (Exception ex)
                {
                    Fail(ex);
                    return Task.FromException<T>(ex);
                }
            }
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
        /// Starts <paramref name="work"/> and pumps posts on this thread until it completes. If a pumped action throws (the
        /// pipeline was stopped, the user answered "No to All" with an exception), the work is cancelled, waited for, and that
        /// exception is rethrown here; otherwise the work's own exception is.
        /// </summary>
        /// <param name="startHere">
        /// Start the work on this thread, up to its first wait, rather than on the thread pool: for short steps taken once per
        /// input object (a file checked, confirmed and queued), where handing each to a pool thread and back cost more than the
        /// step. Its prompts then run at once, here. Its awaits must not need this thread (it is blocked until the work ends).
        /// </param>
        public void Run(Func<CancellationToken, Task> work, CancellationToken cancellationToken, bool startHere = false)
        {
            if (work is null) throw new ArgumentNullException(nameof(work));
            if (Interlocked.Exchange(ref _running, 1) == 1)
                throw new InvalidOperationException("The bridge is already pumping; Run is not reentrant.");
            try
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _linked = linked;
                _failure = null;
                Volatile.Write(ref _pumping, Thread.CurrentThread);
                var task = startHere ? StartHere(work, linked.Token) : Task.Run(() => work(linked.Token), linked.Token);
                // The continuation wakes the pump once more so it sees the completion.
                task.ContinueWith(_ => _signal.Set(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                while (!task.IsCompleted)
                {
                    _signal.Wait();
                    // Posts queued from here on set it again, and the pump below runs what came before.
                    _signal.Reset();
                    Pump();
                }
                Pump();
                _failure?.Throw();
                task.GetAwaiter().GetResult();
            }
            finally
            {
                Volatile.Write(ref _pumping, null);
                _linked = null;
                _failure = null;
                Volatile.Write(ref _running, 0);
            }
        }

        private static Task StartHere(Func<CancellationToken, Task> work, CancellationToken cancellationToken)
        {
            // Without the host's context its awaits resume on the thread pool, never on this thread, which waits for them.
            var context = SynchronizationContext.Current;
            SynchronizationContext.SetSynchronizationContext(null);
            try
            {
                return work(cancellationToken);
            }
            catch (Exception ex)
            {
                return Task.FromException(ex);
            }
            finally
            {
                SynchronizationContext.SetSynchronizationContext(context);
            }
        }

        private void Pump()
        {
            while (_queue.TryDequeue(out var item))
            {
                if (_failure != null)
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
                    Fail(ex);
                }
            }
        }

        /// <summary>An action run for the work failed: the first such failure is Run's, and the work is cancelled.</summary>
        private void Fail(Exception ex)
        {
            _failure ??= ExceptionDispatchInfo.Capture(ex);
            _linked?.Cancel();
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
