using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Tests.Support;

/// <summary>
/// The wire of a session in a unit test (as Azure.Core's MockTransport): records each request with the fake time it was
/// sent at, and answers it at once from the test's list of answers, the last one repeated. An answer can also be a
/// transport failure, or no answer at all (the request hangs until the try is cancelled).
/// </summary>
public sealed class MockTransport(TimeProvider time, params Func<HttpRequestMessage, HttpResponseMessage>[] answers) : HttpMessageHandler
{
    private readonly DateTimeOffset _start = time.GetUtcNow();
    private readonly object _gate = new();
    private readonly List<SentRequest> _requests = new();

    public IReadOnlyList<SentRequest> Requests
    {
        get { lock (_gate) return _requests.ToArray(); }
    }

    /// <summary>The milliseconds of fake time since the transport was made at which each request was sent.</summary>
    public IReadOnlyList<double> SentAt
    {
        get { lock (_gate) return _requests.ConvertAll(r => r.At.TotalMilliseconds); }
    }

    public static Func<HttpRequestMessage, HttpResponseMessage> Status(int status, string body = "", string? retryAfter = null) => _ =>
    {
        var response = new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(body) };
        if (retryAfter != null) response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        return response;
    };

    public static Func<HttpRequestMessage, HttpResponseMessage> Json(string body) => _ =>
        new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };

    /// <summary>The connection fails (as a reset would).</summary>
    public static Func<HttpRequestMessage, HttpResponseMessage> Fails(string why = "Connection reset by peer") => _ =>
        throw new HttpRequestException(why);

    /// <summary>Nothing listens: the connection is refused before any byte of the request leaves.</summary>
    public static Func<HttpRequestMessage, HttpResponseMessage> Refused() => _ =>
        throw new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused));

    /// <summary>The request's body is sent whole, then <paramref name="then"/> answers.</summary>
    public static Func<HttpRequestMessage, HttpResponseMessage> AfterBody(Func<HttpRequestMessage, HttpResponseMessage> then) => request =>
    {
        request.Content?.ReadAsStringAsync().GetAwaiter().GetResult();
        return then(request);
    };

    /// <summary>Answers as <paramref name="then"/> once the task <paramref name="gate"/> gives for the request has ended.</summary>
    public static Func<HttpRequestMessage, HttpResponseMessage> After(Func<HttpRequestMessage, Task> gate, Func<HttpRequestMessage, HttpResponseMessage> then) =>
        request => throw new GatedException(gate(request), () => then(request));

    /// <summary>No answer: the request waits until it is cancelled.</summary>
    public static readonly Func<HttpRequestMessage, HttpResponseMessage> Hangs = _ => throw new HangException();

    /// <summary>No answer, and deaf to the token: .NET Framework's HttpClient once it stopped observing it.</summary>
    public static readonly Func<HttpRequestMessage, HttpResponseMessage> HangsDeaf = _ => throw new DeafHangException();

    /// <summary>
    /// 200 with a body that never brings a byte and ignores the token on reads, as .NET Framework's response stream does;
    /// only disposing it ends a read. Each answer's stream is kept in <paramref name="bodies"/>.
    /// </summary>
    public static Func<HttpRequestMessage, HttpResponseMessage> StalledBody(List<DeafStream> bodies) => _ =>
    {
        var body = new DeafStream();
        lock (bodies) bodies.Add(body);
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body) };
    };

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Func<HttpRequestMessage, HttpResponseMessage> answer;
        lock (_gate)
        {
            _requests.Add(new SentRequest(request.Method.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), time.GetUtcNow() - _start));
            answer = answers[Math.Min(_requests.Count, answers.Length) - 1];
        }
        try
        {
            return Task.FromResult(answer(request));
        }
        catch (GatedException gated)
        {
            return AnswerAfterAsync(gated);
        }
        catch (DeafHangException)
        {
            return new TaskCompletionSource<HttpResponseMessage>().Task;
        }
        catch (HangException)
        {
            var hanging = new TaskCompletionSource<HttpResponseMessage>();
            cancellationToken.Register(() => hanging.TrySetCanceled(cancellationToken));
            return hanging.Task;
        }
        catch (HttpRequestException ex)
        {
            return Task.FromException<HttpResponseMessage>(ex);
        }
    }

    private static async Task<HttpResponseMessage> AnswerAfterAsync(GatedException gated)
    {
        await gated.Gate.ConfigureAwait(false);
        return gated.Then();
    }

    public sealed record SentRequest(string Method, Uri Uri, string? Authorization, TimeSpan At);

    private sealed class GatedException(Task gate, Func<HttpResponseMessage> then) : Exception
    {
        public Task Gate { get; } = gate;
        public Func<HttpResponseMessage> Then { get; } = then;
    }

    private class HangException : Exception;

    private sealed class DeafHangException : HangException;

    /// <summary>
    /// A stream that brings <paramref name="first"/> (none by default), then stalls: its reads ignore the token and end only
    /// when it is disposed (then with ObjectDisposedException).
    /// </summary>
    public sealed class DeafStream(byte[]? first = null) : Stream
    {
        private readonly TaskCompletionSource<int> _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _brought;

        public bool Disposed => _disposed.Task.IsCompleted;
        public int Reads { get; private set; }
        /// <summary>Ends when a read has found nothing more to bring and waits.</summary>
        public Task Stalled => _stalled.Task;

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Reads++;
            if (first is not null && _brought < first.Length)
            {
                var brought = Math.Min(count, first.Length - _brought);
                Buffer.BlockCopy(first, _brought, buffer, offset, brought);
                _brought += brought;
                return Task.FromResult(brought);
            }
            _stalled.TrySetResult();
            return _disposed.Task;
        }

        protected override void Dispose(bool disposing)
        {
            _disposed.TrySetException(new ObjectDisposedException(nameof(DeafStream)));
            base.Dispose(disposing);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
