using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Tests.Support;

/// <summary>
/// A clock that moves only when the test says so. Each timer started on it (a Delay) is announced, so a test waits for
/// the code under test to start waiting (<see cref="NextTimerAsync"/>) and then moves time on (<see cref="Advance"/>):
/// no sleeps and no races with the wall clock.
/// </summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private readonly object _gate = new();
    private readonly List<Timer> _timers = new();
    private readonly SemaphoreSlim _started = new(0);
    private readonly Queue<TimeSpan> _announced = new();
    private DateTimeOffset _now = start;

    public DateTimeOffset Start { get; } = start;
    public TimeSpan Elapsed => GetUtcNow() - Start;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return _now;
    }

    /// <summary>Waits (at most 10 s, a hang guard) until the code under test starts a timer; returns the time it waits for.</summary>
    public async Task<TimeSpan> NextTimerAsync()
    {
        if (!await _started.WaitAsync(TimeSpan.FromSeconds(10))) throw new TimeoutException("No timer was started.");
        lock (_gate) return _announced.Dequeue();
    }

    public void Advance(TimeSpan by)
    {
        List<Timer> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.DueAt <= _now).ToList();
            foreach (var timer in due) _timers.Remove(timer);
        }
        foreach (var timer in due) timer.Fire();
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (period != Timeout.InfiniteTimeSpan) throw new NotSupportedException("Only one-shot timers (delays) are expected.");
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class Timer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset DueAt { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                clock._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan) return true;
                DueAt = clock._now + dueTime;
                clock._timers.Add(this);
                clock._announced.Enqueue(dueTime);
            }
            clock._started.Release();
            return true;
        }

        public void Dispose()
        {
            lock (clock._gate) clock._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
