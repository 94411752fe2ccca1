using System;
using System.Collections.Generic;
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

    /// <summary>No answer: the request waits until it is cancelled.</summary>
    public static readonly Func<HttpRequestMessage, HttpResponseMessage> Hangs = _ => throw new HangException();

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

    public sealed record SentRequest(string Method, Uri Uri, string? Authorization, TimeSpan At);

    private sealed class HangException : Exception;
}
