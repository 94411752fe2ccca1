using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace RecurringIntegrations.Emulator;

/// <summary>A local stand-in for one D365 F&amp;O environment and its Entra ID token endpoint, on 127.0.0.1.</summary>
public sealed class D365Emulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TokenService _tokens;
    private readonly IdentityEndpoints _identity;
    private readonly SignInEndpoints _signIn;
    private readonly ConnectorEndpoints _connector;
    private readonly DataEndpoints _data;
    private readonly Throttle? _throttle;
    private int _stopped;

    private D365Emulator(WebApplication app, EmulatorOptions options, X509Certificate2 certificate)
    {
        _app = app;
        Options = options;
        ServerCertificate = certificate;
        Faults = new FaultInjector();
        State = new EmulatorState(options);
        _tokens = new TokenService(options);
        _identity = new IdentityEndpoints(options, _tokens, State);
        _signIn = new SignInEndpoints(options, _tokens, State);
        _connector = new ConnectorEndpoints(options, State);
        _data = new DataEndpoints(options, State);
        Blobs = new BlobStore(options);
        Packages = new PackageEndpoints(options, Blobs);
        _throttle = options.Throttling is { } throttling ? new Throttle(throttling) : null;
        BaseUri = null!;
        Environment = null!;
        AuthorityHost = null!;
        ManagedIdentityEndpoint = null!;
    }

    /// <summary>The environment's root, e.g. https://127.0.0.1:54321/.</summary>
    public Uri BaseUri { get; private set; }

    /// <summary>The environment URL as clients write it: lower case, no trailing slash (the token audience).</summary>
    public string Environment { get; private set; }

    /// <summary>The same server playing login.microsoftonline.com: authority = AuthorityHost + TenantId.</summary>
    public Uri AuthorityHost { get; private set; }

    /// <summary>Full URL of the App Service style managed identity endpoint (IDENTITY_ENDPOINT).</summary>
    public Uri ManagedIdentityEndpoint { get; private set; }

    /// <summary>The self-signed certificate served over https (made even for http, so it is never null).</summary>
    public X509Certificate2 ServerCertificate { get; }

    public EmulatorOptions Options { get; }

    public FaultInjector Faults { get; }

    /// <summary>
    /// How many of the next new connections to close as soon as they open, before the TLS handshake: as a restarting server or
    /// a load balancer drops them. No byte of any request reaches the service on them. Each drop is counted in
    /// <see cref="DroppedConnections"/>.
    /// </summary>
    public int DropNewConnections
    {
        get { lock (_dropGate) return _dropsLeft; }
        set { lock (_dropGate) _dropsLeft = value; }
    }

    public int DroppedConnections
    {
        get { lock (_dropGate) return _dropped; }
    }

    private readonly object _dropGate = new();
    private int _dropsLeft;
    private int _dropped;

    private bool TakeConnectionDrop()
    {
        lock (_dropGate)
        {
            if (_dropsLeft <= 0) return false;
            _dropsLeft--;
            _dropped++;
            return true;
        }
    }

    private static Task DropAsync(ConnectionContext connection)
    {
        connection.Abort();
        return Task.CompletedTask;
    }

    public EmulatorState State { get; }

    /// <summary>The blob storage behind the package API, on the host name <see cref="EmulatorOptions.BlobHost"/>.</summary>
    public BlobStore Blobs { get; }

    /// <summary>The package API's data projects and executions.</summary>
    public PackageEndpoints Packages { get; }

    /// <summary>The authority MSAL is given: AuthorityHost + "/" + TenantId.</summary>
    public string Authority => $"{Environment}/{Options.TenantId}";

    /// <summary>The token endpoint the authority implies.</summary>
    public Uri TokenEndpoint => new($"{Authority}/oauth2/v2.0/token");

    public static async Task<D365Emulator> StartAsync(EmulatorOptions? options = null, CancellationToken ct = default)
    {
        options ??= new EmulatorOptions();
        if (options.Activities.Count == 0)
        {
            options.Activities.Add(new EmulatorActivity(WellKnown.ImportActivity, ActivityKind.Import, "Emulator import"));
            options.Activities.Add(new EmulatorActivity(WellKnown.ExportActivity, ActivityKind.Export, "Emulator export"));
        }
        if (options.DefinitionGroups.Count == 0)
            options.DefinitionGroups.Add(new DefinitionGroup(WellKnown.DefinitionGroup, new[] { "Customer groups", "Vendor groups" }));
        var certificate = CreateServerCertificate(options.DownloadHost);

        D365Emulator? emulator = null;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            // Uploads of any size stream through; MaxEnqueueBytes is the emulator's own, observable limit.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, options.Port, listen =>
            {
                // HTTP/1.1 only, as D365 clients speak it, so an aborted request resets the whole connection.
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(next => connection => emulator!.TakeConnectionDrop() ? DropAsync(connection) : next(connection));
                if (options.UseHttps)
                    listen.UseHttps(certificate);
            });
        });
        var app = builder.Build();
        emulator = new D365Emulator(app, options, certificate);
        app.Run(emulator.HandleAsync);
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var port = new Uri(address).Port;
        emulator.Environment = $"{(options.UseHttps ? "https" : "http")}://127.0.0.1:{port}";
        emulator.BaseUri = new Uri(emulator.Environment + "/");
        emulator.AuthorityHost = emulator.BaseUri;
        emulator.ManagedIdentityEndpoint = new Uri(emulator.Environment + "/msi/token");
        return emulator;
    }

    /// <summary>A valid bearer token for the audience; a negative lifetime gives one already expired.</summary>
    public string IssueToken(string audience, TimeSpan? lifetime = null) =>
        _tokens.Issue(audience, Options.ClientId, lifetime ?? Options.TokenLifetime);

    /// <summary>Queues an export message for dequeue and returns its correlation id.</summary>
    public Guid AddExportMessage(Guid activityId, string fileName, byte[] content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return AddExport(activityId, fileName, content, null);
    }

    /// <summary>Queues an export message served straight from a file (for large downloads); the file must
    /// stay in place until the message is downloaded.</summary>
    public Guid AddExportFile(Guid activityId, string path)
    {
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new FileNotFoundException("Export file not found.", fullPath);
        return AddExport(activityId, Path.GetFileName(fullPath), null, fullPath);
    }

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        Blobs.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>Completes when the host is shut down by Ctrl+C or SIGTERM (the standalone program waits on it).</summary>
    internal Task WaitForShutdownAsync() => Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.WaitForShutdownAsync(_app);

    private Guid AddExport(Guid activityId, string fileName, byte[]? content, string? filePath)
    {
        if (!Options.Activities.Any(a => a.Id == activityId && a.Kind == ActivityKind.Export))
            throw new ArgumentException($"Activity {activityId} is not a registered export activity.", nameof(activityId));
        var message = new ExportMessage
        {
            CorrelationId = Guid.NewGuid(),
            ActivityId = activityId,
            BlobId = Guid.NewGuid(),
            FileName = fileName,
            Content = content,
            FilePath = filePath,
        };
        State.AddExport(message);
        return message.CorrelationId;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        if (request.Method == "GET" && Is(path, "/emulator/stats"))
        {
            await WriteStatsAsync(context);
            return;
        }
        FaultRule? rule = null;
        var aborted = false;
        string? throttledClient = null;
        try
        {
            if (_throttle is not null && (IsUnder(path, "/api") || IsUnder(path, "/data")))
            {
                var client = ClientOf(context);
                if (_throttle.TryEnter(client, DateTimeOffset.UtcNow) is { } retryAfter)
                {
                    context.Response.Headers.RetryAfter = retryAfter;
                    await Wire.WriteODataErrorAsync(context, StatusCodes.Status429TooManyRequests,
                        $"The request was throttled: too many requests. Retry after {retryAfter} seconds.");
                    return;
                }
                throttledClient = client;
            }
            rule = Faults.Match(request.Method, path);
            switch (rule?.Kind)
            {
                case FaultKind.Reset:
                    aborted = true;
                    context.Abort();
                    return;
                case FaultKind.ResetAfterBody:
                    // Serve normally into nowhere, then drop the connection: the work is done, the answer lost.
                    context.Response.Body = Stream.Null;
                    await RouteAsync(context, path);
                    aborted = true;
                    context.Abort();
                    return;
                case FaultKind.Status:
                    await WriteStatusFaultAsync(context, rule);
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
                    await Task.Delay(rule.Delay, context.RequestAborted);
                    break;
            }
            await RouteAsync(context, path);
        }
        finally
        {
            if (throttledClient is not null) _throttle!.Leave(throttledClient);
            State.Record(new RequestRecord(
                DateTimeOffset.UtcNow,
                request.Method,
                request.Headers.Host.ToString(),
                context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget,
                request.Headers.Authorization.Count > 0,
                aborted ? 0 : context.Response.StatusCode,
                rule?.Kind));
        }
    }

    private static string ClientOf(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? TokenService.ClientOf(header[scheme.Length..].Trim()) ?? "anonymous"
            : "anonymous";
    }

    /// <summary>Counts for a client in another process (the benchmark): API calls so far, and how many were answered 429.</summary>
    private Task WriteStatsAsync(HttpContext context)
    {
        var calls = State.Requests.Where(r => IsUnder(PathOf(r.PathAndQuery), "/api") || IsUnder(PathOf(r.PathAndQuery), "/data")).ToList();
        return context.Response.WriteAsJsonAsync(new { calls = calls.Count, throttled = calls.Count(r => r.StatusCode == StatusCodes.Status429TooManyRequests) });
    }

    private static string PathOf(string pathAndQuery) => pathAndQuery.Split('?')[0];

    private static Task WriteStatusFaultAsync(HttpContext context, FaultRule rule)
    {
        var retryAfter = rule.RetryAfter ?? (rule.StatusCode == StatusCodes.Status429TooManyRequests ? "1" : null);
        if (retryAfter is not null)
            context.Response.Headers.RetryAfter = retryAfter;
        return rule.StatusCode == StatusCodes.Status401Unauthorized
            ? Wire.WriteUnauthorizedAsync(context)
            : Wire.WriteODataErrorAsync(context, rule.StatusCode, $"Fault injected by the emulator: HTTP {rule.StatusCode}.");
    }

    private async Task RouteAsync(HttpContext context, string path)
    {
        var method = context.Request.Method;
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (Blobs.IsStorageRequest(context))
        {
            await Blobs.HandleAsync(context);
            return;
        }

        if (IsUnder(path, "/api") || IsUnder(path, "/data"))
        {
            if (!IsAuthorized(context))
            {
                await Wire.WriteUnauthorizedAsync(context);
                return;
            }
            if (segments.Length == 4 && Is(segments[0], "api") && Is(segments[1], "connector"))
            {
                var activity = segments[3];
                switch (segments[2].ToLowerInvariant(), method)
                {
                    case ("enqueue", "POST"):
                        await _connector.EnqueueAsync(context, activity);
                        return;
                    case ("dequeue", "GET"):
                        await _connector.DequeueAsync(context, activity);
                        return;
                    case ("download", "GET"):
                        await _connector.DownloadAsync(context, activity);
                        return;
                    case ("ack", "POST"):
                        await _connector.AckAsync(context, activity);
                        return;
                }
            }
            if (method == "POST" && path.StartsWith(DataEndpoints.ActionPrefix, StringComparison.OrdinalIgnoreCase)
                && (await Packages.TryServeAsync(context, path[DataEndpoints.ActionPrefix.Length..])
                    || await _data.TryServeAsync(context, path[DataEndpoints.ActionPrefix.Length..])))
                return;
            await Wire.WriteODataErrorAsync(context, 404, $"No HTTP resource was found that matches the request URI '{path}'.");
            return;
        }

        if (await _signIn.TryServeAsync(context, segments))
            return;
        if (method == "GET" && Is(path, "/msi/token"))
        {
            await _identity.ManagedIdentityAsync(context);
            return;
        }
        if (method == "POST" && segments.Length == 4 && Is(segments[1], "oauth2") && Is(segments[2], "v2.0") && Is(segments[3], "token"))
        {
            await _identity.TokenAsync(context, segments[0]);
            return;
        }
        if (method == "GET" && segments.Length >= 3 && path.EndsWith("/.well-known/openid-configuration", StringComparison.OrdinalIgnoreCase))
        {
            await _identity.OpenIdConfigurationAsync(context, segments[0]);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status404NotFound;
    }

    /// <summary>D365 accepts a token whose aud is exactly the environment URL it was called at, in lower
    /// case with no trailing slash (d365-api.md section 10).</summary>
    private bool IsAuthorized(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            && _tokens.Validate(header[scheme.Length..].Trim(), IdentityEndpoints.Origin(context));
    }

    private static bool IsUnder(string path, string root) =>
        Is(path, root) || path.StartsWith(root + "/", StringComparison.OrdinalIgnoreCase);

    private static bool Is(string value, string expected) => string.Equals(value, expected, StringComparison.OrdinalIgnoreCase);

    /// <summary>An in-memory self-signed certificate for 127.0.0.1, ::1, localhost and the DownloadHost.</summary>
    private static X509Certificate2 CreateServerCertificate(string? extraHost)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=RecurringIntegrations Emulator", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        names.AddDnsName("localhost");
        if (!string.IsNullOrEmpty(extraHost) && !Is(extraHost, "localhost"))
        {
            if (IPAddress.TryParse(extraHost, out var ip))
                names.AddIpAddress(ip);
            else
                names.AddDnsName(extraHost);
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new("1.3.6.1.5.5.7.3.1") }, false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        // A round trip through PFX gives a key SslStream can use on every platform (not an ephemeral one).
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}
