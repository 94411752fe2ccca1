using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Tests.Support;

/// <summary>
/// The tests' one clock: time moves only when the test says so (<see cref="Advance"/>). Timers fire in the order they
/// fall due, each with the clock standing at its own due time, so a callback that starts a new timer inside the step
/// sees it fire in the same step, as it would on a real clock. Each timer started is also announced, so a test can wait
/// for the code under test to start waiting (<see cref="NextTimerAsync"/>) and then move time by exactly that wait: no
/// sleeps and no races with the wall clock. <see cref="GetTimestamp"/> follows the clock too (Stopwatch-style elapsed
/// times measured by the code under test).
/// </summary>
public sealed class ManualClock : TimeProvider
{
    /// <summary>Where a clock made without a start stands: a fixed date, so that any date printed is the same each run.</summary>
    public static readonly DateTimeOffset DefaultStart = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly object _gate = new();
    private readonly List<Timer> _timers = new();
    private readonly SemaphoreSlim _started = new(0);
    private readonly Queue<TimeSpan> _announced = new();
    private DateTimeOffset _now;
    private long _order;

    public ManualClock() : this(DefaultStart)
    {
    }

    public ManualClock(DateTimeOffset start)
    {
        Start = start;
        _now = start;
    }

    public DateTimeOffset Start { get; }
    public TimeSpan Elapsed => GetUtcNow() - Start;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return _now;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    /// <summary>Waits (at most 10 s, a hang guard) until the code under test starts a timer; returns the time it waits for.</summary>
    public async Task<TimeSpan> NextTimerAsync()
    {
        if (!await _started.WaitAsync(TimeSpan.FromSeconds(10))) throw new TimeoutException("No timer was started.");
        lock (_gate) return _announced.Dequeue();
    }

    /// <summary>Moves time on by <paramref name="by"/>, firing on this thread each timer that falls due, in due order.</summary>
    public void Advance(TimeSpan by)
    {
        if (by < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(by), "Time does not go back.");
        DateTimeOffset end;
        lock (_gate) end = _now + by;
        while (true)
        {
            Timer? due = null;
            lock (_gate)
            {
                foreach (var timer in _timers)
                {
                    if (timer.DueAt <= end && (due == null || timer.DueAt < due.DueAt || (timer.DueAt == due.DueAt && timer.Order < due.Order))) due = timer;
                }
                if (due == null)
                {
                    _now = end;
                    return;
                }
                if (due.DueAt > _now) _now = due.DueAt;
                due.Rearm();
            }
            due.Fire();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class Timer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan _period = Timeout.InfiniteTimeSpan;

        public DateTimeOffset DueAt { get; private set; }
        public long Order { get; private set; }

        public void Fire() => callback(state);

        /// <summary>Under the clock's lock: a periodic timer is due again one period on, a one-shot one is done.</summary>
        public void Rearm()
        {
            if (_period == Timeout.InfiniteTimeSpan || _period == TimeSpan.Zero) clock._timers.Remove(this);
            else DueAt += _period;
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                clock._timers.Remove(this);
                if (dueTime == Timeout.InfiniteTimeSpan) return true;
                _period = period;
                DueAt = clock._now + dueTime;
                Order = clock._order++;
                clock._timers.Add(this);
                clock._announced.Enqueue(dueTime);
            }
            clock._started.Release();
            // A timer due now fires now, on this thread: a zero wait is not left for the test to end (as .NET's FakeTimeProvider does).
            if (dueTime <= TimeSpan.Zero) clock.Advance(TimeSpan.Zero);
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
