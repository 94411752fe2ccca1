using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// A small HTTP proxy on 127.0.0.1 as corporate networks have them: CONNECT tunnels only (every call of a D365 client is
/// https), Basic authentication when given a user name and password (407 with Proxy-Authenticate otherwise, on a
/// connection kept open for the answer with credentials, as clients expect), and every tunnel to whatever
/// <c>route</c> names. Given the emulator's port, host names that resolve nowhere (d365.proxied.test) reach the emulator
/// through it and only through it.
/// </summary>
public sealed class ConnectProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<string, int, IPEndPoint?> _route;
    private readonly string? _expectedAuthorization;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<string> _tunnels = new();
    private int _refused;

    /// <param name="route">Where a tunnel to host:port goes; null answers 502.</param>
    /// <param name="userName">Null: no authentication asked.</param>
    public ConnectProxy(Func<string, int, IPEndPoint?> route, string? userName = null, string? password = null, int port = 0)
    {
        _route = route;
        if (userName is not null)
            _expectedAuthorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(userName + ":" + password));
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    /// <summary>The proxy's address, http://127.0.0.1:port.</summary>
    public Uri Address { get; }

    /// <summary>host:port of every tunnel opened, in order.</summary>
    public IReadOnlyCollection<string> Tunnels => _tunnels.ToArray();

    /// <summary>How many requests were answered 407.</summary>
    public int Refused => Volatile.Read(ref _refused);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                while (true)
                {
                    var head = await ReadHeadAsync(stream);
                    if (head is null) return;
                    var lines = head.Split("\r\n");
                    var parts = lines[0].Split(' ');
                    if (parts.Length != 3 || parts[0] != "CONNECT")
                    {
                        await WriteAsync(stream, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    if (_expectedAuthorization is not null && Header(lines, "Proxy-Authorization") != _expectedAuthorization)
                    {
                        Interlocked.Increment(ref _refused);
                        await WriteAsync(stream, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"emulator proxy\"\r\nContent-Length: 0\r\n\r\n");
                        continue;
                    }
                    var colon = parts[1].LastIndexOf(':');
                    var target = colon > 0 && int.TryParse(parts[1][(colon + 1)..], out var port) ? _route(parts[1][..colon], port) : null;
                    if (target is null)
                    {
                        await WriteAsync(stream, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    using var upstream = new TcpClient();
                    await upstream.ConnectAsync(target.Address, target.Port);
                    _tunnels.Enqueue(parts[1]);
                    await WriteAsync(stream, "HTTP/1.1 200 Connection established\r\n\r\n");
                    var upstreamStream = upstream.GetStream();
                    var up = PumpAsync(stream, upstreamStream);
                    var down = PumpAsync(upstreamStream, stream);
                    await Task.WhenAny(up, down);
                    return;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // A client or the emulator closed its side: the tunnel ends with it.
            }
        }
    }

    private async Task PumpAsync(Stream from, Stream to)
    {
        var buffer = new byte[81920];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    /// <summary>The request line and headers, up to the blank line; null when the client closed the connection first.</summary>
    private async Task<string?> ReadHeadAsync(Stream stream)
    {
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0) return null;
            head.Append((char)one[0]);
            if (head.Length > 16384) return null;
        }
        return head.ToString(0, head.Length - 4);
    }

    private static string? Header(string[] lines, string name)
    {
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && string.Equals(line[..colon].Trim(), name, StringComparison.OrdinalIgnoreCase))
                return line[(colon + 1)..].Trim();
        }
        return null;
    }

    private Task WriteAsync(Stream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text), _stop.Token).AsTask();

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
