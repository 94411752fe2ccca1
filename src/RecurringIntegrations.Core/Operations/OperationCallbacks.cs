using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>How far an operation is. <see cref="Total"/> is -1 when the end is not known (a queue drained until empty).</summary>
    public sealed class OperationProgress
    {
        public OperationProgress(int completed, int total, string? currentItem)
        {
            Completed = completed;
            Total = total;
            CurrentItem = currentItem;
        }

        public int Completed { get; }
        public int Total { get; }
        public string? CurrentItem { get; }

        /// <summary>0-100, or -1 when the total is unknown.</summary>
        public int PercentComplete => Total <= 0 ? -1 : Math.Min(100, (int)(Completed * 100L / Total));
    }

    /// <summary>
    /// What an operation reports while it runs. Each callback may be called from any thread pool thread, concurrently:
    /// the cmdlet layer posts them to a pipeline bridge; tests collect them in concurrent collections.
    /// </summary>
    public sealed class OperationCallbacks<TResult>
    {
        /// <summary>One finished item, reported as soon as it is finished.</summary>
        public Action<TResult>? Result { get; set; }

        /// <summary>One item that failed; the operation goes on with the others. The object is the item (a path, an id, a message).</summary>
        public Action<object, D365Exception>? Error { get; set; }

        public Action<string>? Warning { get; set; }

        public Action<OperationProgress>? Progress { get; set; }

        /// <summary>Asked right before each side effect (upload, ack); false skips that item. Null means always yes.</summary>
        public Func<string, string, CancellationToken, Task<bool>>? Confirm { get; set; }

        internal void OnResult(TResult result) => Result?.Invoke(result);
        internal void OnError(object target, D365Exception error) => Error?.Invoke(target, error);
        internal void OnWarning(string text) => Warning?.Invoke(text);
        internal void OnProgress(int completed, int total, string? item) => Progress?.Invoke(new OperationProgress(completed, total, item));

        internal Task<bool> ConfirmAsync(string target, string action, CancellationToken cancellationToken) =>
            Confirm is null ? Task.FromResult(true) : Confirm(target, action, cancellationToken);
    }

    internal static class Failures
    {
        /// <summary>
        /// Keeps one item's failure from ending a batch: D365Exceptions pass as they are, anything else is a fault of the
        /// module and says so. Cancellation is never wrapped: it must end the whole operation.
        /// </summary>
        /// <param name="what">What failed and what became of the item.</param>
        public static D365Exception AsD365(Exception ex, string what) =>
            ex as D365Exception ?? ErrorCatalog.UnexpectedError.Wrap(ex, what, ex.GetType().FullName, ex.Message);
    }
}
