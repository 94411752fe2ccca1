using System.Globalization;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// Priority-based throttling as the service applies it per user (docs/protocol.md, "Throttling and limits"): at most
/// <see cref="ThrottlingOptions.CallsPerSecond"/> x <see cref="ThrottlingOptions.Window"/> calls in any sliding window,
/// at most <see cref="ThrottlingOptions.MaxInFlight"/> at once. A refused call gets 429 with a Retry-After that says when a
/// slot frees; a call that arrives while its client was told to wait is refused with a longer wait.
/// </summary>
public sealed class ThrottlingOptions
{
    /// <summary>Calls allowed per second, averaged over <see cref="Window"/>.</summary>
    public double CallsPerSecond { get; set; } = 20;

    /// <summary>Length of the sliding window (the real service counts over 5 minutes).</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Calls of one client in progress at once; the real service allows 52.</summary>
    public int MaxInFlight { get; set; } = 52;

    /// <summary>Added to the wait of a client for each call it makes before its Retry-After is over.</summary>
    public TimeSpan Penalty { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Calls admitted per window.</summary>
    public int CallsPerWindow => Math.Max(1, (int)Math.Round(CallsPerSecond * Window.TotalSeconds));
}

internal sealed class Throttle
{
    private readonly ThrottlingOptions _options;
    private readonly Dictionary<string, ClientState> _clients = new(StringComparer.Ordinal);

    public Throttle(ThrottlingOptions options) => _options = options;

    /// <summary>Admits the call (the caller must <see cref="Leave"/>), or returns the Retry-After to answer with.</summary>
    public string? TryEnter(string client, DateTimeOffset now)
    {
        lock (_clients)
        {
            if (!_clients.TryGetValue(client, out var state))
                _clients[client] = state = new ClientState();
            while (state.Admitted.Count > 0 && state.Admitted.Peek() <= now - _options.Window)
                state.Admitted.Dequeue();

            if (now < state.WaitUntil)
            {
                // Calling while told to wait makes the wait longer, as on the real service.
                state.WaitUntil += _options.Penalty;
                return Seconds(state.WaitUntil - now);
            }
            if (state.Admitted.Count >= _options.CallsPerWindow)
            {
                state.WaitUntil = state.Admitted.Peek() + _options.Window;
                return Seconds(state.WaitUntil - now);
            }
            if (state.InFlight >= _options.MaxInFlight)
                return "1";
            state.Admitted.Enqueue(now);
            state.InFlight++;
            return null;
        }
    }

    public void Leave(string client)
    {
        lock (_clients) _clients[client].InFlight--;
    }

    /// <summary>Whole seconds, rounded up: Retry-After has no fractions, and a client waiting that long finds a free slot.</summary>
    private static string Seconds(TimeSpan wait) =>
        Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private sealed class ClientState
    {
        public Queue<DateTimeOffset> Admitted { get; } = new();
        public DateTimeOffset WaitUntil { get; set; }
        public int InFlight { get; set; }
    }
}
