namespace RecurringIntegrations.Emulator;

/// <summary>One kind of misbehaviour, applied to the requests that match it.</summary>
public sealed record FaultRule
{
    /// <summary>HTTP method to match; null matches any.</summary>
    public string? Method { get; init; }

    /// <summary>Substring of the (decoded) request path, e.g. "/api/connector/enqueue", "GetMessageStatus", "/oauth2/".</summary>
    public string PathContains { get; init; } = "";

    /// <summary>Operation to match (an endpoint's <see cref="Emulator.Operation.Name"/>: Enqueue, Dequeue, Download, Ack, JobStatus,
    /// Token, an OData action name such as GetMessageStatus, PutBlob, GetBlob); null matches any.</summary>
    public string? Operation { get; init; }

    public FaultKind Kind { get; init; }

    /// <summary>Status answered by <see cref="FaultKind.Status"/>.</summary>
    public int StatusCode { get; init; } = 503;

    /// <summary>Retry-After value (seconds or an HTTP date). A 429 without one gets "1".</summary>
    public string? RetryAfter { get; init; }

    /// <summary>Wait of <see cref="FaultKind.Delay"/> (then the request proceeds normally), or the pause before each KiB of a
    /// <see cref="FaultKind.SlowBody"/>.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>A <see cref="FaultKind.Status"/> answer without the service's OData error body (an empty body).</summary>
    public bool WithoutBody { get; init; }

    /// <summary>How many matching requests the rule hits; -1 hits all of them.</summary>
    public int Times { get; init; } = 1;

    /// <summary>Matching requests let through before the rule starts hitting.</summary>
    public int SkipFirst { get; init; }

    /// <summary>Chance that a matching request is hit (drawn from the injector's seeded Random).</summary>
    public double Probability { get; init; } = 1.0;
}

public enum FaultKind
{
    /// <summary>Answer <see cref="FaultRule.StatusCode"/> (OData error body; 401 empty; Retry-After when set).</summary>
    Status,

    /// <summary>Abort the connection before reading the body: the request had no effect.</summary>
    Reset,

    /// <summary>Read and accept the request (an enqueue stores its message), then abort the connection
    /// instead of answering: the "service may have accepted it" case.</summary>
    ResetAfterBody,

    /// <summary>Wait <see cref="FaultRule.Delay"/>, then serve the request normally.</summary>
    Delay,

    /// <summary>200 text/html sign-in page instead of JSON, as a misconfigured proxy answers.</summary>
    HtmlPage,

    /// <summary>Answer <see cref="FaultRule.StatusCode"/> with an HTML error page, not the service's OData error: what a
    /// gateway or proxy in front of the service answers (the service itself may have done the work).</summary>
    GatewayPage,

    /// <summary>200 application/json whose body is cut short.</summary>
    MalformedJson,

    /// <summary>Serve the request, but write the answer 1 KiB at a time with <see cref="FaultRule.Delay"/> before each piece.</summary>
    SlowBody,
}

/// <summary>Thread-safe list of fault rules; the first rule that decides to hit a request wins.</summary>
public sealed class FaultInjector
{
    private readonly object _gate = new();
    private readonly List<RuleState> _rules = new();
    private Random _random = new(0);
    private int _hits;
    private int _delays;
    private TimeSpan _delayed;

    /// <summary>Requests hit by any rule since start.</summary>
    public int Hits
    {
        get { lock (_gate) return _hits; }
    }

    /// <summary>
    /// The <see cref="FaultKind.Delay"/> waits done since start and how long they took in all, as measured: a timer wakes
    /// late (on Linux a 50 ms wait takes about 52 ms), so a benchmark's floor counts the latency the emulator really added.
    /// </summary>
    public (int Count, TimeSpan Total) Delays
    {
        get { lock (_gate) return (_delays, _delayed); }
    }

    internal void RecordDelay(TimeSpan waited)
    {
        lock (_gate)
        {
            _delays++;
            _delayed += waited;
        }
    }

    /// <summary>Reseeds the Random behind <see cref="FaultRule.Probability"/>, for repeatable soak runs.</summary>
    public int Seed
    {
        set { lock (_gate) _random = new Random(value); }
    }

    public void Add(FaultRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        lock (_gate) _rules.Add(new RuleState(rule));
    }

    /// <summary>Forgets every rule and the delays recorded.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _rules.Clear();
            _delays = 0;
            _delayed = TimeSpan.Zero;
        }
    }

    internal FaultRule? Match(string method, string path, string? operation)
    {
        lock (_gate)
        {
            foreach (var state in _rules)
            {
                var rule = state.Rule;
                if (rule.Method is not null && !string.Equals(rule.Method, method, StringComparison.OrdinalIgnoreCase))
                    continue;
                if (!path.Contains(rule.PathContains, StringComparison.OrdinalIgnoreCase))
                    continue;
                if (rule.Operation is not null && !string.Equals(rule.Operation, operation, StringComparison.OrdinalIgnoreCase))
                    continue;
                if (rule.Times >= 0 && state.Hits >= rule.Times)
                    continue;
                state.Seen++;
                if (state.Seen <= rule.SkipFirst)
                    continue;
                if (rule.Probability < 1.0 && _random.NextDouble() >= rule.Probability)
                    continue;
                state.Hits++;
                _hits++;
                return rule;
            }
            return null;
        }
    }

    private sealed class RuleState(FaultRule rule)
    {
        public FaultRule Rule { get; } = rule;
        public int Seen { get; set; }
        public int Hits { get; set; }
    }
}
