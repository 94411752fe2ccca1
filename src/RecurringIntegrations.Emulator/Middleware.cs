using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace RecurringIntegrations.Emulator;

/// <summary>What an endpoint is: its operation name (what fault rules and scenarios match on) and who may call it.</summary>
public sealed record Operation(string Name, OperationAccess Access)
{
    /// <summary>The operation of the request's endpoint; null before routing or when nothing matched.</summary>
    internal static Operation? Of(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<Operation>();
}

public enum OperationAccess
{
    /// <summary>An /api or /data call of the environment: needs the environment's token, counts for throttling.</summary>
    Service,

    /// <summary>The token endpoints, the environment's root and the blob storage: no environment token.</summary>
    Anonymous,

    /// <summary>The emulator's own /emulator endpoints: not the service, so never throttled, faulted or recorded.</summary>
    Admin,
}

/// <summary>Records every request but the admin ones in <see cref="EmulatorState.Requests"/>, after it was answered (or aborted).</summary>
internal sealed class RecordingMiddleware(RequestDelegate next, EmulatorState state)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        finally
        {
            if (Operation.Of(context)?.Access != OperationAccess.Admin)
            {
                var request = context.Request;
                var fault = context.Features.Get<FaultFeature>();
                state.Record(new RequestRecord(
                    DateTimeOffset.UtcNow,
                    request.Method,
                    request.Headers.Host.ToString(),
                    context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget,
                    request.Headers.Authorization.Count > 0,
                    fault?.Aborted == true ? 0 : context.Response.StatusCode,
                    fault?.Kind,
                    request.Headers.TryGetValue("x-ms-dyn-externalidentifier", out var external) ? external.ToString() : null));
            }
        }
    }
}

/// <summary>The fault that hit a request, for the recording middleware.</summary>
internal sealed class FaultFeature(FaultKind kind)
{
    public FaultKind Kind { get; } = kind;
    public bool Aborted { get; set; }
}

/// <summary>The service's per-client throttling (<see cref="Throttle"/>) in front of every /api and /data call.</summary>
internal sealed class ThrottlingMiddleware(RequestDelegate next, Throttle throttle)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Operation.Of(context)?.Access != OperationAccess.Service)
        {
            await next(context);
            return;
        }
        var client = ClientOf(context);
        if (throttle.TryEnter(client, DateTimeOffset.UtcNow) is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = retryAfter;
            await Wire.WriteODataErrorAsync(context, StatusCodes.Status429TooManyRequests,
                $"The request was throttled: too many requests. Retry after {retryAfter} seconds.");
            return;
        }
        try
        {
            await next(context);
        }
        finally
        {
            throttle.Leave(client);
        }
    }

    /// <summary>The token's appid, unchecked: the service counts calls per caller before authorization.</summary>
    private static string ClientOf(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? TokenService.ClientOf(header[scheme.Length..].Trim()) ?? "anonymous"
            : "anonymous";
    }
}

/// <summary>Applies the first fault rule that hits the request (<see cref="FaultInjector"/>), before authorization.</summary>
internal sealed class FaultMiddleware(RequestDelegate next, FaultInjector faults)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var operation = Operation.Of(context);
        if (operation?.Access == OperationAccess.Admin
            || faults.Match(context.Request.Method, context.Request.Path.Value ?? "/", operation?.Name) is not { } rule)
        {
            await next(context);
            return;
        }
        var feature = new FaultFeature(rule.Kind);
        context.Features.Set(feature);
        switch (rule.Kind)
        {
            case FaultKind.Reset:
                feature.Aborted = true;
                context.Abort();
                return;
            case FaultKind.ResetAfterBody:
                // Serve normally into nowhere, then drop the connection: the work is done, the answer lost.
                context.Response.Body = Stream.Null;
                await next(context);
                feature.Aborted = true;
                context.Abort();
                return;
            case FaultKind.Status:
                await WriteStatusAsync(context, rule);
                return;
            case FaultKind.HtmlPage:
                await Wire.WriteSignInPageAsync(context);
                return;
            case FaultKind.GatewayPage:
                await Wire.WriteGatewayPageAsync(context, rule.StatusCode);
                return;
            case FaultKind.MalformedJson:
                await Wire.WriteTruncatedJsonAsync(context);
                return;
            case FaultKind.Delay:
                var started = Stopwatch.GetTimestamp();
                await Task.Delay(rule.Delay, context.RequestAborted);
                faults.RecordDelay(Stopwatch.GetElapsedTime(started));
                await next(context);
                return;
            case FaultKind.SlowBody:
                context.Response.Body = new SlowStream(context.Response.Body, rule.Delay, context.RequestAborted);
                await next(context);
                return;
        }
    }

    private static Task WriteStatusAsync(HttpContext context, FaultRule rule)
    {
        var retryAfter = rule.RetryAfter ?? (rule.StatusCode == StatusCodes.Status429TooManyRequests ? "1" : null);
        if (retryAfter is not null)
            context.Response.Headers.RetryAfter = retryAfter;
        if (rule.StatusCode == StatusCodes.Status401Unauthorized)
            return Wire.WriteUnauthorizedAsync(context);
        // A 500 without the service's body is what a crashed front end answers: no OData error to read.
        return rule.WithoutBody
            ? Wire.WriteBytesAsync(context, rule.StatusCode, null, ReadOnlyMemory<byte>.Empty)
            : Wire.WriteODataErrorAsync(context, rule.StatusCode, $"Fault injected by the emulator: HTTP {rule.StatusCode}.");
    }

    /// <summary>Writes the answer in small pieces with a pause before each, as a congested link delivers it.</summary>
    private sealed class SlowStream(Stream inner, TimeSpan pause, CancellationToken aborted) : Stream
    {
        private const int Piece = 1024;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Write asynchronously.");

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (buffer.Length > 0)
            {
                var piece = buffer[..Math.Min(Piece, buffer.Length)];
                await Task.Delay(pause, aborted);
                await inner.WriteAsync(piece, cancellationToken);
                await inner.FlushAsync(cancellationToken);
                buffer = buffer[piece.Length..];
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

/// <summary>D365 accepts a token whose aud is exactly the environment URL it was called at, in lower case with no
/// trailing slash and no default port (docs/protocol.md, "Tokens and the audience"); anything else is an empty 401.</summary>
internal sealed class TokenCheckMiddleware(RequestDelegate next, TokenService tokens)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Operation.Of(context)?.Access == OperationAccess.Service && !IsAuthorized(context, tokens))
        {
            await Wire.WriteUnauthorizedAsync(context);
            return;
        }
        await next(context);
    }

    internal static bool IsAuthorized(HttpContext context, TokenService tokens)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            && tokens.Validate(header[scheme.Length..].Trim(), IdentityEndpoints.Origin(context));
    }
}
