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
    /// <item>Calls in flight are capped. The cap starts at 16; once the first 8 answers of a kind are in, if even the quickest
    /// took 20 ms or more (a distant service: every D365 environment), it is the service's own per-user limit, 52, so a user
    /// who asks for -ThrottleLimit 32 gets 32 in flight within one more round. The new slots open one after another over one
    /// quickest answer (TCP's pacing), not at once: calls started together come back together, and every round would
    /// wait for the slowest of them. Against a near service (this machine's emulator) more calls at once would only share
    /// the same cores, and an opening burst would meet a rate limit's window whole. Calls that queue at the service lower
    /// the cap (as TCP Vegas): an answer that took over twice the quickest answer to the same kind of call (at a distant
    /// service, one sent after the first 8 answers came: those sent with the first ones wait on connections still opening)
    /// lowers it by a tenth, to no less than 8, since more calls in flight would only wait there too, and each would
    /// lengthen the wait when the service throttles; a prompt answer (at most 1.5 times the quickest) raises it by one.
    /// Throttling lowers it to 70% of the calls then in flight, and from then on each prompt answer raises it by one per
    /// round of calls.</item>
    /// <item>A busy environment is told from a rate limit: D365 also throttles by resource use, refusing a share of calls
    /// whatever their pace. The first 429 pauses the session (a rate limit refuses every call until its wait is over, and
    /// each call during it makes the wait longer) but sets no pace yet. Calls sent after the refused one that went through
    /// (before its answer came, or while the pause runs; two, more than were refused) show a busy environment; calls sent
    /// after it refused too show a rate limit. Other calls in flight but none sent after the refused one through by the end
    /// of the pause: a rate limit (a window that emptied during the pause would take a burst at the old pace, then refuse it
    /// whole). With one call at a time, the first calls after the pause decide: two through, busy; one refused, a rate
    /// limit, paced from then on at what the first throttling measured. In a busy environment the pause ends
    /// at once, each refused call waits its own Retry-After while the others go on, and a session that was not paced stays
    /// unpaced (a rate measured over the few calls before a first 429 would be a crawl). A paced session throttled again while
    /// its pace is lowered and has not grown back to the rate the service let through (a rate limit throttles again only once
    /// the pace has passed it) is in a busy environment too: going slower did not make the 429s rarer; its pace goes back to
    /// the best rate the service let through in the last <see cref="RecentRates"/> spells between throttlings. A rate limit
    /// refuses every call once it is reached, a busy environment only a share: <see cref="RefusedInARow"/> refusals in a row
    /// mean a rate limit, and from then on the session keeps to the rules above (a busy spell ends, paced from the rate
    /// measured before it).</item>
    /// </list>
    /// </summary>
    internal sealed class FlowControl
    {
        public const int MaxInFlight = 52;
        private const int InitialInFlight = 16;
        /// <summary>Answers of a kind that only set the measure of a prompt answer (see <see cref="Measure"/>).</summary>
        private const int MeasuredAnswers = 8;
        /// <summary>
        /// A kind of call whose quickest first answer took this long waits mostly on the network and the service, not on this
        /// machine's work: more calls in flight overlap those waits (a call to a D365 environment takes 100 ms or more).
        /// </summary>
        private static readonly TimeSpan DistantAnswer = TimeSpan.FromMilliseconds(20);
        /// <summary>Queued answers lower the cap on calls in flight to no less than this.</summary>
        private const int QueuedInFlight = 8;
        private const double MinRate = 0.5;
        private const int RecentRates = 8;
        /// <summary>With 1 call in 5 refused by a busy environment, 6 in a row come once in 20,000 answers.</summary>
        private const int RefusedInARow = 6;
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
        /// <summary>
        /// The cap's jump to the service's 52 is spread over one quickest answer (see <see cref="SpreadCap"/>): from this
        /// many calls in flight, one more every <see cref="_spreadEvery"/> since <see cref="_spreadSince"/>.
        /// </summary>
        private int _spreadFrom = MaxInFlight;
        private TimeSpan _spreadSince;
        private TimeSpan _spreadEvery;
        private int _inFlight;
        private TaskCompletionSource<bool> _slotFreed = NewSignal();
        private RateSample _sample = new RateSample(0, TimeSpan.Zero, TimeSpan.Zero, 0);
        private double _uncutConcurrency = InitialInFlight;
        private readonly Queue<double> _letThrough = new Queue<double>();
        private bool _busyEnvironment;
        private bool _rateLimited;
        private bool _undecided;
        private TimeSpan _refusedAdmittedAt;
        private int _laterPassed;
        /// <summary>When the last calls that went through were sent: those sent after a first refused call count as passed.</summary>
        private readonly Queue<TimeSpan> _passedSentAt = new Queue<TimeSpan>();
        private int _laterRefused;
        private TimeSpan _probeFrom;
        /// <summary>
        /// The first refused call was the only one in flight (one call at a time): no call sent after it can tell a busy
        /// environment from a rate limit, so the first calls after the pause do.
        /// </summary>
        private bool _refusedAlone;
        /// <summary>When the last answer came (any answer, or a failure), to tell whether a refused call was alone.</summary>
        private TimeSpan _lastAnswerAt = TimeSpan.MinValue;
        private int _probesPassed;
        private double _cutConcurrency;
        private double _rateBeforeBusy;
        private int _refusedInARow;
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

        /// <summary>Whether the service refuses a share of calls whatever their pace (resource-based throttling): see the summary.</summary>
        public bool BusyEnvironment
        {
            get { lock (_gate) return _busyEnvironment; }
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
            var told = TimeSpan.MinValue;
            while (true)
            {
                TimeSpan wait, until = TimeSpan.Zero;
                Task slot;
                bool paused, ownWait, spread = false;
                string? decided = null;
                TimeSpan? admitted = null;
                lock (_gate)
                {
                    var now = Now;
                    if (_undecided && !_refusedAlone && now >= _pausedUntil)
                    {
                        // A pause with calls in flight and none sent after the refused one went through: a busy environment
                        // would have let them through. Taken for a rate limit, so the session does not meet it again at the
                        // pace of before (a window that emptied during the pause would take a burst, then refuse it whole).
                        decided = $"{message.Operation}: no call sent after the throttled one went through while the session waited: " +
                                  $"the service limits the rate; {PaceAfterRateLimit()}.";
                    }
                    slot = _slotFreed.Task;
                    ownWait = message.RefusedUntil > _pausedUntil;
                    until = ownWait ? message.RefusedUntil : _pausedUntil;
                    paused = until > now;
                    if (paused)
                        wait = until - now;
                    else if (_pacing && Refill(now) < 1)
                        wait = TokenWait(1 - _tokens, CurrentRate(now));
                    else if (_inFlight >= (int)_concurrency)
                        wait = Timeout.InfiniteTimeSpan;
                    else if (_inFlight >= SpreadCap(now))
                    {
                        spread = true;
                        var next = _spreadSince + TimeSpan.FromTicks(_spreadEvery.Ticks * (_inFlight - _spreadFrom)) - now;
                        // Whole milliseconds, as TokenWait: a shorter wait would end at once on the tests' clock.
                        wait = TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(next.TotalMilliseconds)));
                    }
                    else
                    {
                        if (_pacing) _tokens -= 1;
                        _inFlight++;
                        admitted = now;
                        wait = TimeSpan.Zero;
                    }
                }
                if (decided != null) message.Say(decided);
                if (admitted is { } at) return at;

                var left = Budget - message.ThrottledWait;
                if (wait != Timeout.InfiniteTimeSpan && wait > left)
                    throw Throttled(message, paused
                        ? $"the session is paused {Format.Duration(wait)} more, beyond what is left of it"
                        : "the session's pace leaves no room within it");
                if (paused && wait >= TimeSpan.FromSeconds(1) && until != told)
                {
                    told = until;
                    message.Say(ownWait
                        ? $"{message.Operation}: waiting {Format.Duration(wait)}: the service refused this call and asked it to wait."
                        : $"{message.Operation}: waiting {Format.Duration(wait)}: the session is paused because the service throttled it.");
                }
                var started = Now;
                if (wait == Timeout.InfiniteTimeSpan || (paused && !ownWait) || spread)
                {
                    // A freed slot, or an answer that ends the session's pause (a busy environment, see Leave), lets it go sooner.
                    using var stop = CancellationTokenSource.CreateLinkedTokenSource(message.CancellationToken);
                    var expired = _time.Delay(wait == Timeout.InfiniteTimeSpan ? left : wait, stop.Token);
                    var first = await Task.WhenAny(slot, expired).ConfigureAwait(false);
                    stop.Cancel();
                    message.CancellationToken.ThrowIfCancellationRequested();
                    if (first == expired && wait == Timeout.InfiniteTimeSpan) throw Throttled(message, "no call slot of the session came free within it");
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
                var refused = throttledFor is { } named && named > TimeSpan.Zero;
                // Whatever the session does, a refused call itself waits at least what it was told.
                if (refused) message.RefusedUntil = now + throttledFor!.Value;
                if (attempt.Response != null) _refusedInARow = refused ? _refusedInARow + 1 : 0;
                if (_refusedInARow >= RefusedInARow && !_rateLimited)
                {
                    _rateLimited = true;
                    if (_undecided)
                        line = $"{message.Operation}: {RefusedInARow} calls in a row were throttled: the service limits the rate; {PaceAfterRateLimit()}.";
                    else if (_busyEnvironment)
                    {
                        // Every call refused: a rate limit after all. This 429 starts a throttling, from the pace the session
                        // kept before it took the environment for busy.
                        _busyEnvironment = false;
                        _pacing = true;
                        _baseRate = _rateBeforeBusy;
                        OnPlateau(now);
                        _throttledAt = TimeSpan.MinValue;
                        line = $"{message.Operation}: {RefusedInARow} calls in a row were throttled: the service limits the rate after all, and the session paces its calls again.";
                    }
                }
                if (refused && _busyEnvironment)
                {
                    // A busy environment's 429: only this call waits what it was told; the pace and the other calls go on.
                }
                else if (refused)
                {
                    var pause = throttledFor!.Value;
                    if (admittedAt > _throttledAt)
                    {
                        // A new throttling: calls sent before the last one was known answer for that one (once per round trip, as TCP).
                        _throttledAt = now;
                        var busy = _busy + (_active > 0 ? ActiveSince(_activeSince, now) : TimeSpan.Zero);
                        var successes = _successes;
                        if (successes > 0 && busy > TimeSpan.Zero)
                        {
                            if (_letThrough.Count == RecentRates) _letThrough.Dequeue();
                            _letThrough.Enqueue(successes / busy.TotalSeconds);
                        }
                        _busy = TimeSpan.Zero;
                        _activeSince = now;
                        _successes = 0;
                        if (_undecided)
                        {
                            // Refused again as soon as the pause was over, at the pace of before: a rate limit. The pace is what
                            // the first throttling measured, not this short spell.
                            line = $"{message.Operation} was throttled again right after the pause ({(int)attempt.Response!.StatusCode}, Retry-After {Format.Duration(pause)}): " +
                                   $"the service limits the rate. Every call of the session waits {Format.Duration(pause)}; {PaceAfterRateLimit()}.";
                        }
                        else if (!_rateLimited && _pacing && CurrentRate(now) <= _baseRate)
                        {
                            BecomeBusy(now);
                            line = $"{message.Operation} was throttled ({(int)attempt.Response!.StatusCode}, Retry-After {Format.Duration(pause)}) although the pace was lowered: " +
                                   $"the environment is busy, not limiting the rate. {BusyTerms()}";
                        }
                        else
                        {
                            _uncutConcurrency = Math.Max(_uncutConcurrency, _concurrency);
                            // At most 30% lower per throttling (AIMD, as AWS's adaptive mode): a short sample says little.
                            _sample = new RateSample(successes, busy, now + pause, _pacing ? 0.7 * CurrentRate(now) : 0);
                            _baseRate = _sample.Rate(now);
                            _cutConcurrency = Math.Max(2, Math.Min(_concurrency, Math.Ceiling((_inFlight + 1) * 0.7)));
                            if (!_pacing && !_rateLimited)
                            {
                                // The first throttling: a rate limit or a busy environment. The session waits what the service said
                                // while the answers of calls sent after this one tell which; failing that, the first calls after
                                // the pause do (see the summary).
                                _undecided = true;
                                _refusedAdmittedAt = admittedAt;
                                _laterRefused = _probesPassed = 0;
                                // Alone: no other call in flight now, and none answered since this one was sent.
                                _refusedAlone = _inFlight == 0 && _lastAnswerAt <= admittedAt;
                                // Calls sent after this one may have gone through already (a slow answer to the refused call).
                                _laterPassed = _passedSentAt.Count(sentAt => sentAt > admittedAt);
                                if (_laterPassed >= 2)
                                {
                                    BecomeBusy(now);
                                    line = $"{message.Operation} was throttled ({(int)attempt.Response!.StatusCode}, Retry-After {Format.Duration(pause)}), " +
                                           $"but calls sent after it went through: the environment is busy, not limiting the rate. {BusyTerms()}";
                                }
                                else
                                    line = (line == null ? "" : line + " ") +
                                           $"{message.Operation} was throttled ({(int)attempt.Response!.StatusCode}, Retry-After {Format.Duration(pause)}): " +
                                           $"every call of the session waits {Format.Duration(pause)}.";
                            }
                            else
                            {
                                line = (line == null ? "" : line + " ") +
                                       $"{message.Operation} was throttled ({(int)attempt.Response!.StatusCode}, Retry-After {Format.Duration(pause)}): " +
                                       $"every call of the session waits {Format.Duration(pause)}; {PaceAfterRateLimit()}.";
                            }
                        }
                    }
                    else
                    {
                        if (now + pause < _sample.WaitEnds)
                        {
                            // An answer for the same throttling naming an earlier end: the longer wait was a penalty for calls
                            // already on their way, not the service's rate.
                            _sample.WaitEnds = now + pause;
                            _baseRate = _sample.Rate(_throttledAt);
                        }
                        if (_undecided && admittedAt > _refusedAdmittedAt && ++_laterRefused >= 2 && _laterRefused > _laterPassed)
                            line = $"{message.Operation}: calls sent after the throttled one were refused too: the service limits the rate; {PaceAfterRateLimit()}.";
                    }
                    if (!_busyEnvironment && now + pause > _pausedUntil)
                    {
                        // The pace starts when the pause ends; calls that were on their way when the service said to wait
                        // make it end later.
                        _pausedUntil = now + pause;
                        _rateSince = _refilledAt = _pausedUntil;
                        if (_undecided) _probeFrom = _pausedUntil;
                    }
                }
                else if (attempt.Succeeded)
                {
                    _successes++;
                    if (_passedSentAt.Count == 2 * MaxInFlight) _passedSentAt.Dequeue();
                    _passedSentAt.Enqueue(admittedAt);
                    if (_undecided && (admittedAt > _refusedAdmittedAt && admittedAt <= _throttledAt ? ++_laterPassed >= 2 && _laterPassed > _laterRefused
                                                                                                       : _refusedAlone && admittedAt >= _probeFrom && ++_probesPassed >= 2))
                    {
                        BecomeBusy(now);
                        line = $"{message.Operation}: calls sent {(_probesPassed >= 2 ? "after the pause" : "after the throttled one")} went through: " +
                               $"the environment is busy, not limiting the rate. {BusyTerms()}";
                    }
                    var speed = Measure(message, admittedAt, now);
                    if (speed == Speed.Distant && !_pacing && _concurrency < MaxInFlight)
                    {
                        _spreadFrom = (int)_concurrency;
                        _spreadSince = now;
                        _spreadEvery = TimeSpan.FromTicks(Quickest(message).Ticks / (MaxInFlight - _spreadFrom));
                        _concurrency = MaxInFlight;
                    }
                    // In a busy environment the 429s are not about load: the cap grows as before the first throttling.
                    else if (speed == Speed.Prompt && _concurrency < MaxInFlight)
                        _concurrency = Math.Min(MaxInFlight, _concurrency + (_pacing && !_busyEnvironment ? 1 / _concurrency : 1));
                    else if (speed == Speed.Queued && _concurrency > QueuedInFlight)
                        _concurrency = Math.Max(QueuedInFlight, _concurrency * 0.9);
                }
                _lastAnswerAt = now;
                freed = _slotFreed;
                _slotFreed = NewSignal();
            }
            if (line != null) message.Say(line);
            freed.TrySetResult(true);
        }

        /// <summary>
        /// The 429s are not about the session's pace: a session that was paced goes back to the best rate the service let
        /// through recently (from there it follows the cubic's plateau, as when it came back to a rate; one that was not stays
        /// unpaced: a rate measured over the few calls before a first 429 would be a crawl), the cap on calls in
        /// flight to what it was before the cuts, and a pause of the whole session ends: each refused call waits alone.
        /// </summary>
        private void BecomeBusy(TimeSpan now)
        {
            _busyEnvironment = true;
            _undecided = false;
            _rateBeforeBusy = _baseRate;
            _baseRate = Math.Max(MinRate, Math.Max(_baseRate, _letThrough.Count > 0 ? _letThrough.Max() : 0));
            OnPlateau(now);
            _refilledAt = now;
            _tokens = 1;
            _concurrency = Math.Max(_concurrency, _uncutConcurrency);
            if (_pausedUntil > now) _pausedUntil = now;
        }

        private string BusyTerms() =>
            $"Each refused call waits its own Retry-After; {(_pacing ? $"the pace is {_baseRate:0.0} calls/s" : "no pace")}, at most {(int)_concurrency} in flight.";

        /// <summary>
        /// The throttling is a rate limit: from the end of the pause the session is paced at the rate the throttling measured,
        /// with fewer calls in flight. Returns the terms, for the verbose line.
        /// </summary>
        private string PaceAfterRateLimit()
        {
            _undecided = false;
            _pacing = true;
            // Nothing goes during the pause, and the pace starts from an empty bucket after it.
            _tokens = 0;
            _concurrency = _cutConcurrency;
            return $"then the pace is {_baseRate:0.0} calls/s, at most {(int)_concurrency} in flight";
        }

        /// <summary>Puts the pace on the cubic's plateau, at the base rate now: no restart below it.</summary>
        private void OnPlateau(TimeSpan now) => _rateSince = now - TimeSpan.FromTicks((long)(Regrowth.Ticks * RestartBelow));

        /// <summary>
        /// How long until <paramref name="tokens"/> more come at <paramref name="rate"/>, in whole milliseconds rounded up:
        /// timers (the system's and the tests' fake one) count whole milliseconds, so a shorter wait would end at once and the
        /// wait loop spin without the clock moving.
        /// </summary>
        internal static TimeSpan TokenWait(double tokens, double rate) =>
            // Less a nanosecond: 1 / (1 / 0.15) is 150.00000000000003 ms, which is 150.
            TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(tokens / rate * 1000 - 1e-6)));

        /// <summary>
        /// The calls that may be in flight now while the cap's jump to the service's 52 is spread: the calls that were in
        /// flight go on at once, and the new ones start one every quickest answer / new slots, so that their answers (and
        /// the work of sending the next) come one after another, not all in the same instant, and the calls stay spread
        /// (each freed slot is taken at once): 36 calls started together come back together, and each round would wait for
        /// the slowest of them.
        /// </summary>
        private int SpreadCap(TimeSpan now)
        {
            var cap = (int)_concurrency;
            if (_spreadFrom >= cap) return cap;
            var grown = _spreadFrom + 1 + (now - _spreadSince).Ticks / Math.Max(1, _spreadEvery.Ticks);
            if (grown < cap) return (int)grown;
            _spreadFrom = cap;
            return cap;
        }

        private TimeSpan Quickest(HttpMessage message) => _answers[message.Operation].Quickest;

        private enum Speed { Unknown, Distant, Prompt, Between, Queued }

        /// <summary>
        /// How fast the call was answered against the quickest answer to the same kind of call (its operation: Enqueue,
        /// Dequeue, GetMessageStatus...): at most 1.5 times it is prompt, over twice it the call was queued at the service. The
        /// first answers of a kind only set the measure: they include opening connections, which makes any later answer look
        /// quick; the last of them says whether the kind is <see cref="DistantAnswer"/> far. Against a distant service, calls sent
        /// before that answer came were sent with the first ones, on connections still opening: a slow answer to one of them
        /// says nothing of a queue.
        /// </summary>
        private Speed Measure(HttpMessage message, TimeSpan admittedAt, TimeSpan now)
        {
            var took = now - admittedAt;
            if (!_answers.TryGetValue(message.Operation, out var answers)) _answers[message.Operation] = answers = new Answers();
            answers.Count++;
            if (took < answers.Quickest) answers.Quickest = took;
            if (answers.Count == MeasuredAnswers)
            {
                if (answers.Quickest < DistantAnswer) return Speed.Unknown;
                answers.MeasuredAt = now;
                return Speed.Distant;
            }
            if (answers.Count < MeasuredAnswers || admittedAt < answers.MeasuredAt) return Speed.Unknown;
            return took.Ticks <= answers.Quickest.Ticks * 3 / 2 ? Speed.Prompt : took.Ticks > answers.Quickest.Ticks * 2 ? Speed.Queued : Speed.Between;
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
            /// <summary>
            /// When the last of the <see cref="MeasuredAnswers"/> came, for a distant kind: calls sent before it are not judged.
            /// Against a near service they are: opening connections there is slow next to its answers, and a cap lowered by
            /// them is what a near service needs (more calls at once would only share the same cores).
            /// </summary>
            public TimeSpan MeasuredAt = TimeSpan.MinValue;
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
