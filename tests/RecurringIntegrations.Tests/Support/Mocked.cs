using System;
using System.Collections.Concurrent;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Support;

/// <summary>
/// A session on fake time over a <see cref="MockTransport"/>, with the default retry options and a fixed jitter: a unit
/// test of the pipeline. Nothing waits for real: a wait ends when the test advances the clock past it, and the code it
/// held runs to its next wait before <see cref="ManualClock.Advance"/> returns (the transport answers at once).
/// </summary>
public sealed class Mocked : IDisposable
{
    public const string Environment = "https://contoso.operations.dynamics.com";

    private Mocked(ManualClock time, MockTransport transport, D365Session session)
    {
        Time = time;
        Transport = transport;
        Session = session;
        Client = new D365Client(session, VerboseLines.Enqueue);
    }

    public ManualClock Time { get; }
    public MockTransport Transport { get; }
    public D365Session Session { get; }
    public D365Client Client { get; }
    public ConcurrentQueue<string> VerboseLines { get; } = new();

    /// <param name="jitter">What the jitter source gives: 0 makes each backoff half its ceiling, just under 1 the whole of it.</param>
    public static Mocked Connect(RetryOptions? retry, double jitter, params Func<HttpRequestMessage, HttpResponseMessage>[] answers)
    {
        var time = new ManualClock();
        var transport = new MockTransport(time, answers);
        var options = new ConnectionOptions(Environment, new AccessTokenCredential(Emulated.Secure("a-token")))
        {
            Retry = retry ?? new RetryOptions(),
            Time = time,
            Transport = transport,
            Jitter = new FixedRandom(jitter),
        };
        // A token held by the caller is not fetched: connecting makes no call and does not wait.
        var session = D365Session.ConnectAsync(options, CancellationToken.None).GetAwaiter().GetResult();
        return new Mocked(time, transport, session);
    }

    public static Mocked Connect(params Func<HttpRequestMessage, HttpResponseMessage>[] answers) => Connect(null, 0, answers);

    /// <summary>Moves the fake clock on by <paramref name="milliseconds"/>; the waits that end run their code on this thread, to its next wait.</summary>
    public void Advance(double milliseconds) => Inline(() => Time.Advance(TimeSpan.FromMilliseconds(milliseconds)));

    /// <summary>
    /// Moves the fake clock on 1 ms at a time, so that each wait ends at its own time (one jump would end them all at
    /// its end), until <paramref name="call"/> has ended or <paramref name="milliseconds"/> have passed.
    /// </summary>
    public void Step(int milliseconds, Task? call = null)
    {
        for (var i = 0; i < milliseconds && call?.IsCompleted != true; i++) Advance(1);
    }

    /// <summary>
    /// Runs <paramref name="action"/> outside xunit's synchronization context, so that the code it lets go on (a wait that
    /// ends, a cancellation) runs here and now: under that context .NET would queue it to the thread pool.
    /// </summary>
    public static void Inline(Action action)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            action();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    /// <summary>The result of a call that must have ended by now, without waiting for anything more.</summary>
    public static T Done<T>(Task<T> task)
    {
        Xunit.Assert.True(task.IsCompleted, "the call is still waiting");
        return task.GetAwaiter().GetResult();
    }

    public void Dispose() => Session.Dispose();

    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }
}
