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
using Microsoft.AspNetCore.Routing;
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
    private readonly AdminEndpoints _admin;
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
        _signIn = new SignInEndpoints(options, _tokens, State);
        _identity = new IdentityEndpoints(options, _tokens, State, _signIn);
        _connector = new ConnectorEndpoints(options, State);
        Blobs = new BlobStore(options);
        Packages = new PackageEndpoints(options, Blobs);
        _data = new DataEndpoints(options, State, Packages);
        _admin = new AdminEndpoints(this);
        Metadata = new MetadataEndpoints(options);
        _throttle = options.Throttling is { } throttling ? new Throttle(throttling) : null;
        BaseUri = null!;
        Environment = null!;
        Audience = null!;
        AuthorityHost = null!;
        ManagedIdentityEndpoint = null!;
    }

    /// <summary>The environment's root, e.g. https://127.0.0.1:54321/ (on-premises https://127.0.0.1:54321/namespaces/AXSF/).</summary>
    public Uri BaseUri { get; private set; }

    /// <summary>The environment URL as clients write it: lower case, no trailing slash, no default port; on-premises with
    /// its path (<see cref="EmulatorOptions.BasePath"/>).</summary>
    public string Environment { get; private set; }

    /// <summary>The token audience: the environment's scheme, host and port, never its path.</summary>
    public string Audience { get; private set; }

    /// <summary>The same server playing login.microsoftonline.com (authority = AuthorityHost + TenantId), or on-premises
    /// the AD FS farm (https://127.0.0.1:port/adfs, no tenant).</summary>
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

    /// <summary>The data entities' metadata and the refresh of the entity list.</summary>
    public MetadataEndpoints Metadata { get; }

    /// <summary>The authority MSAL is given: AuthorityHost + "/" + TenantId.</summary>
    public string Authority => $"{Audience}/{Options.TenantId}";

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
        var dataFolder = options.DataFolder is { } folder ? new DataFolder(folder) : null;
        if (dataFolder is not null)
            options.BlobFolder ??= dataFolder.BlobFolder;
        var certificate = dataFolder?.Certificate(() => CreateServerCertificate(options.DownloadHost)) ?? CreateServerCertificate(options.DownloadHost);

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
        builder.Services.AddRouting();
        var app = builder.Build();
        emulator = new D365Emulator(app, options, certificate);
        if (dataFolder is not null)
        {
            dataFolder.Load(emulator.State, emulator.Packages);
            emulator.State.Changed = emulator.Packages.Changed = () => dataFolder.Save(emulator.State, emulator.Packages);
        }
        emulator.MapPipeline();
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        emulator.Audience = EnvironmentUrl(options.UseHttps, new Uri(address).Port);
        emulator.Environment = emulator.Audience + options.BasePath;
        emulator.BaseUri = new Uri(emulator.Environment + "/");
        emulator.AuthorityHost = new Uri(emulator.Audience + (options.BasePath is null ? "/" : "/adfs"));
        emulator.ManagedIdentityEndpoint = new Uri(emulator.Audience + "/msi/token");
        return emulator;
    }

    /// <summary>A valid bearer token for the audience; a negative lifetime gives one already expired.</summary>
    public string IssueToken(string audience, TimeSpan? lifetime = null) =>
        _tokens.Issue(audience, Options.ClientId, lifetime ?? Options.TokenLifetime);

    /// <summary>Writes the server certificate (its public part, DER) to a .cer file that clients can trust.</summary>
    public void ExportCertificate(string path) => File.WriteAllBytes(path, ServerCertificate.Export(X509ContentType.Cert));

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

    /// <summary>Forgets every message, package execution, recorded request and fault rule (POST /emulator/reset).</summary>
    public void Reset()
    {
        State.Reset();
        Packages.Reset();
        Faults.Clear();
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

    /// <summary>
    /// The request pipeline: recording, then the storage host (a second host on the same port, so its requests never reach
    /// the environment's routes), routing, throttling, faults and the token check as middleware, and the endpoints.
    /// Throttling, faults and the token check read the chosen endpoint's <see cref="Operation"/>.
    /// </summary>
    private void MapPipeline()
    {
        var app = _app;
        app.UseMiddleware<RecordingMiddleware>(State);
        var putBlob = StorageEndpoint("PutBlob");
        var getBlob = StorageEndpoint("GetBlob");
        app.Use((context, next) =>
        {
            if (Blobs.IsStorageRequest(context))
                context.SetEndpoint(HttpMethods.IsPut(context.Request.Method) ? putBlob : getBlob);
            return next(context);
        });
        if (Options.BasePath is { } basePath)
            app.Use((context, next) => UnderBasePathAsync(context, next, basePath));
        app.UseRouting();
        if (_throttle is not null)
            app.UseMiddleware<ThrottlingMiddleware>(_throttle);
        app.UseMiddleware<FaultMiddleware>(Faults);
        app.UseMiddleware<TokenCheckMiddleware>(_tokens);

        _identity.Map(app);
        _signIn.Map(app);
        _connector.Map(app);
        _data.Map(app);
        Packages.Map(app);
        Metadata.Map(app);
        _admin.Map(app);
        foreach (var root in new[] { "/api/{**rest}", "/data/{**rest}" })
            app.Map(root, context => Wire.WriteODataErrorAsync(context, 404, $"No HTTP resource was found that matches the request URI '{context.Request.Path}'."))
                .WithMetadata(new Operation("Unknown", OperationAccess.Service));
    }

    /// <summary>
    /// On-premises the API answers under the environment's path only (docs/protocol.md, "On-premises"): the path becomes the
    /// request's PathBase for the routes, and an /api, /data or /Metadata call without it gets a 302 to the same call under it.
    /// </summary>
    private static Task UnderBasePathAsync(HttpContext context, RequestDelegate next, string basePath)
    {
        var request = context.Request;
        if (context.GetEndpoint() is not null)
            return next(context);
        if (request.Path.StartsWithSegments(basePath, StringComparison.OrdinalIgnoreCase, out var matched, out var rest))
        {
            request.PathBase = matched;
            request.Path = rest.HasValue ? rest : "/";
        }
        else if (request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase) ||
                 request.Path.StartsWithSegments("/data", StringComparison.OrdinalIgnoreCase) ||
                 request.Path.StartsWithSegments("/Metadata", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Redirect($"{IdentityEndpoints.Origin(context)}{basePath}{request.Path}{request.QueryString}");
            return Task.CompletedTask;
        }
        return next(context);
    }

    private Endpoint StorageEndpoint(string operation) =>
        new(Blobs.HandleAsync, new EndpointMetadataCollection(new Operation(operation, OperationAccess.Anonymous)), operation);

    /// <summary>The environment URL as the service advertises it: lower case, no trailing slash, no default port (a token
    /// for https://host:443 would not match the audience of https://host).</summary>
    internal static string EnvironmentUrl(bool https, int port) =>
        (https, port) is (true, 443) or (false, 80)
            ? $"{(https ? "https" : "http")}://127.0.0.1"
            : $"{(https ? "https" : "http")}://127.0.0.1:{port}";

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
