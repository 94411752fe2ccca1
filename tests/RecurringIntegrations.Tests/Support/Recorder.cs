using System;
using System.Collections.Concurrent;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Tests.Support;

/// <summary>Collects what an operation reports, from whatever threads it reports on.</summary>
internal sealed class Recorder<T>
{
    public ConcurrentQueue<T> Results { get; } = new ConcurrentQueue<T>();
    public ConcurrentQueue<(object Target, D365Exception Error)> Errors { get; } = new ConcurrentQueue<(object, D365Exception)>();
    public ConcurrentQueue<string> Warnings { get; } = new ConcurrentQueue<string>();
    public ConcurrentQueue<OperationProgress> Progress { get; } = new ConcurrentQueue<OperationProgress>();

    public OperationCallbacks<T> Callbacks(Func<string, bool>? confirm = null) => new OperationCallbacks<T>
    {
        Result = Results.Enqueue,
        Error = (target, error) => Errors.Enqueue((target, error)),
        Warning = Warnings.Enqueue,
        Progress = Progress.Enqueue,
        Confirm = confirm is null ? null : (target, _, _) => Task.FromResult(confirm(target)),
    };
}
