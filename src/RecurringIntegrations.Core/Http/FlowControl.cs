using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// A session's flow control, shared by every call, cmdlet, runspace and parallel worker that uses the session: the
    /// service throttles per user (docs/protocol.md, "Throttling and limits"), so its answers steer all of them at once.
    /// <list type="bullet">
    /// <item>A 429 (or a 503 with Retry-After) pauses every new call of the session until the time it names. A Retry-After of 0
    /// asks for no pause: that call alone backs off (see <see cref="RetryPolicy"/>) and the pace stays.</item>
    /// <item>From the first throttling on, calls are paced by a token bucket (as the AWS SDKs' adaptive retry mode). Its rate
    /// is what the service let through since the previous pause ended, over the time the session had calls to make since
    /// then (idle spells between polls do not count) plus the shortest pause the service now names (calls still on their
    /// way when it throttled get longer ones: a penalty for them, not its rate), less half a second (Retry-After counts
    /// whole seconds, rounded up). After the pause the pace follows TCP CUBIC's
    /// curve around that rate: it restarts 10% below it, comes back to it in 4.6 s, stays near it for a while (where the
    /// service throttled before), then grows faster, doubling <see cref="Regrowth"/> after it passed it.</item>
    /// <item>Calls in flight are capped (52, the service's own per-user limit). The cap starts at 8 and grows by one per
    /// success (doubling per round of calls, as TCP's slow start) until the first throttling; throttling lowers it to 70% of
    /// the calls then in flight, and from then on each success raises it by one per round of calls. It grows only while
    /// more calls at once are answered as fast as fewer were (as TCP Vegas): a call that took over 1.5 times the quickest
    /// answer to the same kind of call (measured once 16 are in) was queued at the service, so one more in flight would
    /// only wait there too. That matters
    /// when the first 429 comes: every call still in flight then reaches the service while it has said to wait, and each
    /// makes the wait longer.</item>
    /// </list>
    /// </summary>
    internal sealed class FlowControl
    {
        public const int MaxInFlight = 52;
        private const int InitialInFlight = 8;
        private const double MinRate = 0.5;
        private static readonly TimeSpan Regrowth = TimeSpan.FromSeconds(10);
        /// <summary>The cubic's offset that starts the pace at 90% of the rate the service allowed: the cube root of 0.1.</summary>
        private static readonly double RestartBelow = Math.Pow(0.1, 1.0 / 3);
        private readonly object _gate = new object();
        private readonly TimeProvider _time;
        private readonly long _started;
        private TimeSpan _pausedUntil;
        private bool _pacing;
        private double _baseRate;
        private TimeSpan _rateSince;
        private double _tokens;
        private TimeSpan _refilledAt;
        private int _successes;
        private int _active;
        private TimeSpan _activeSince;
        private TimeSpan _busy;
        private TimeSpan _throttledAt = TimeSpan.MinValue;
        private double _concurrency = InitialInFlight;
        private int _inFlight;
        private TaskCompletionSource<bool> _slotFreed = NewSignal();
        private RateSample _sample = new RateSample(0, TimeSpan.Zero, TimeSpan.Zero, 0);
        private readonly Dictionary<string, Answers> _answers = new Dictionary<string, Answers>(StringComparer.Ordinal);

        public FlowControl(TimeSpan budget, TimeProvider time)
        {
            Budget = budget;
            _time = time;
            _started = time.GetTimestamp();
        }

        /// <summary>How long one call may be held back by throttling in all before it fails with Throttled.</summary>
        public TimeSpan Budget { get; }

        /// <summary>The pace in calls per second; null while the service has not throttled the session.</summary>
        public double? Rate
        {
            get { lock (_gate) return _pacing ? CurrentRate(Now) : (double?)null; }
        }

        public int ConcurrencyLimit
        {
            get { lock (_gate) return (int)_concurrency; }
        }

        /// <summary>
        /// Waits until the session lets this call go (no pause, a token of pace, a slot), within the budget. Returns when it
        /// did, on the flow control's clock, for <see cref="Leave"/>.
        /// </summary>
        public async Task<TimeSpan> EnterAsync(HttpMessage message)
        {
            lock (_gate)
                if (_active++ == 0) _activeSince = Now;
            try
            {
                return await WaitTurnAsync(message).ConfigureAwait(false);
            }
            catch
            {
                lock (_gate) Deactivate(Now);
                throw;
            }
        }

        private TimeSpan Now => _time.GetElapsedTime(_started);

        private async Task<TimeSpan> WaitTurnAsync(HttpMessage message)
        {
            while (true)
            {
                TimeSpan wait;
                Task slot;
                bool paused;
                lock (_gate)
                {
                    var now = Now;
                    slot = _slotFreed.Task;
                    paused = _pausedUntil > now;
                    if (paused)
                        wait = _pausedUntil - now;
                    else if (_pacing && Refill(now) < 1)
                        wait = TimeSpan.FromSeconds((1 - _tokens) / CurrentRate(now));
                    else if (_inFlight >= (int)_concurrency)
                        wait = Timeout.InfiniteTimeSpan;
                    else
                    {
                        if (_pacing) _tokens -= 1;
                        _inFlight++;
                        return now;
                    }
                }

                var left = Budget - message.ThrottledWait;
                if (wait != Timeout.InfiniteTimeSpan && wait > left)
                    throw Throttled(message, paused
                        ? $"the session is paused {Format.Duration(wait)} more, beyond what is left of it"
                        : "the session's pace leaves no room within it");
                if (paused && wait >= TimeSpan.FromSeconds(1))
                    message.Say($"{message.Operation}: waiting {Format.Duration(wait)}: the session is paused because the service throttled it.");
                var started = Now;
                if (wait == Timeout.InfiniteTimeSpan)
                {
                    using var stop = CancellationTokenSource.CreateLinkedTokenSource(message.CancellationToken);
                    var expired = _time.Delay(left, stop.Token);
                    var first = await Task.WhenAny(slot, expired).ConfigureAwait(false);
                    stop.Cancel();
                    message.CancellationToken.ThrowIfCancellationRequested();
                    if (first == expired) throw Throttled(message, "no call slot of the session came free within it");
                }
                else
                {
                    await _time.Delay(wait, message.CancellationToken).ConfigureAwait(false);
                }
                message.ThrottledWait += Now - started;
            }
        }

        /// <summary>A try's answer is in (or it failed): frees its slot and learns from what the service said.</summary>
        public void Leave(TryContext attempt, TimeSpan admittedAt)
        {
            var message = attempt.Message;
            var throttledFor = Throttling.PauseOf(attempt.Response, _time.GetUtcNow());
            TaskCompletionSource<bool> freed;
            string? line = null;
            lock (_gate)
            {
                var now = Now;
                _inFlight--;
                Deactivate(now);
                if (throttledFor is { } pause && pause > TimeSpan.Zero)
                {
                    if (admittedAt > _throttledAt)
                    {
                        // A new throttling: calls sent before the last one was known answer for that one (once per round trip, as TCP).
                        _throttledAt = now;
                        var busy = _busy + (_active > 0 ? ActiveSince(_activeSince, now) : TimeSpan.Zero);
                        // At most 30% lower per throttling (AIMD, as AWS's adaptive mode): a short sample says little.
                        _sample = new RateSample(_successes, busy, now + pause, _pacing ? 0.7 * CurrentRate(now) : 0);
                        _baseRate = _sample.Rate(now);
                        _pacing = true;
                        // Nothing goes during the pause, and the pace starts from an empty bucket after it (set below).
                        _tokens = 0;
                        _busy = TimeSpan.Zero;
                        _activeSince = now;
                        _successes = 0;
                        _concurrency = Math.Max(2, Math.Min(_concurrency, Math.Ceiling((_inFlight + 1) * 0.7)));
                        line = $"{message.Operation} was throttled ({(int)attempt.Response!.StatusCode}, Retry-After {Format.Duration(pause)}): " +
                               $"every call of the session waits {Format.Duration(pause)}; then the pace is {_baseRate:0.0} calls/s, at most {(int)_concurrency} in flight.";
                    }
                    else if (now + pause < _sample.WaitEnds)
                    {
                        // An answer for the same throttling naming an earlier end: the longer wait was a penalty for calls
                        // already on their way, not the service's rate.
                        _sample.WaitEnds = now + pause;
                        _baseRate = _sample.Rate(_throttledAt);
                    }
                    if (now + pause > _pausedUntil)
                    {
                        // The pace starts when the pause ends; calls that were on their way when the service said to wait
                        // make it end later.
                        _pausedUntil = now + pause;
                        _rateSince = _refilledAt = _pausedUntil;
                    }
                }
                else if (attempt.Succeeded)
                {
                    _successes++;
                    if (_concurrency < MaxInFlight && AnsweredPromptly(message, now - admittedAt))
                        _concurrency = Math.Min(MaxInFlight, _concurrency + (_pacing ? 1 / _concurrency : 1));
                }
                freed = _slotFreed;
                _slotFreed = NewSignal();
            }
            if (line != null) message.Say(line);
            freed.TrySetResult(true);
        }

        /// <summary>
        /// Whether the call took at most 1.5 times the quickest answer to the same kind of call (its operation: Enqueue,
        /// Dequeue, GetMessageStatus...), that is, was not queued. The first answers of a kind only set the measure: they
        /// include opening connections, which makes any later answer look quick.
        /// </summary>
        private bool AnsweredPromptly(HttpMessage message, TimeSpan took)
        {
            if (!_answers.TryGetValue(message.Operation, out var answers)) _answers[message.Operation] = answers = new Answers();
            answers.Count++;
            if (took < answers.Quickest) answers.Quickest = took;
            return answers.Count > 2 * InitialInFlight && took.Ticks <= answers.Quickest.Ticks * 3 / 2;
        }

        /// <summary>What one throttling says of the rate: the calls let through over the time they took plus the wait named.</summary>
        private sealed class RateSample
        {
            private readonly int _successes;
            private readonly TimeSpan _busy;
            private readonly double _floor;

            public RateSample(int successes, TimeSpan busy, TimeSpan waitEnds, double floor)
            {
                _successes = successes;
                _busy = busy;
                WaitEnds = waitEnds;
                _floor = floor;
            }

            public TimeSpan WaitEnds { get; set; }

            /// <summary>Retry-After counts whole seconds, rounded up: the wait it stands for is half a second shorter on average.</summary>
            public double Rate(TimeSpan throttledAt)
            {
                var wait = Math.Max(0, (WaitEnds - throttledAt).TotalSeconds - 0.5);
                return Math.Max(MinRate, Math.Max(_floor, _successes / Math.Max(0.001, _busy.TotalSeconds + wait)));
            }
        }

        private sealed class Answers
        {
            public int Count;
            public TimeSpan Quickest = TimeSpan.MaxValue;
        }

        /// <summary>Counts the time the session had calls to make, the measure of the pace the service allowed.</summary>
        private void Deactivate(TimeSpan now)
        {
            if (--_active == 0) _busy += ActiveSince(_activeSince, now);
        }

        /// <summary>The part of an active spell after the last pause ended: what the pace is measured over.</summary>
        private TimeSpan ActiveSince(TimeSpan from, TimeSpan now)
        {
            var start = from > _rateSince ? from : _rateSince;
            return now > start ? now - start : TimeSpan.Zero;
        }

        private double CurrentRate(TimeSpan now)
        {
            var x = Math.Max(0, (now - _rateSince).TotalSeconds) / Regrowth.TotalSeconds - RestartBelow;
            return _baseRate * (1 + x * x * x);
        }

        private double Refill(TimeSpan now)
        {
            if (now > _refilledAt)
            {
                // One token of room at most: after a quiet spell the pace resumes evenly, not with a burst.
                _tokens = Math.Min(1, _tokens + (now - _refilledAt).TotalSeconds * CurrentRate(now));
                _refilledAt = now;
            }
            return _tokens;
        }

        internal D365Exception Throttled(HttpMessage message, string why) =>
            ErrorCatalog.Throttled.Create(message.Operation,
                $"the session, and this call has waited {Format.Duration(message.ThrottledWait)} ({message.ThrottledTries} tries answered 429/503) " +
                $"out of the session's throttling budget of {Format.Duration(Budget)}; {why}");

        private static TaskCompletionSource<bool> NewSignal() => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
