using System.Globalization;
using System.Text.Json;

namespace RecurringIntegrations.Emulator;

/// <summary>Standalone entry point: serves one emulated environment until Ctrl+C.</summary>
internal static class Program
{
    internal const string Usage = """
        d365-emulator: a local Dynamics 365 F&O environment (recurring integrations, package API, blob storage) and its
        Entra ID token endpoint, on 127.0.0.1.

        Options:
          --port N                  port on 127.0.0.1 (default 0: a free one; the line printed at start names it)
          --http                    serve plain http instead of https with a self-signed certificate
          --on-premises             an on-premises environment: the API under /namespaces/AXSF (a call without the
                                    path gets a 302), sign-in at the AD FS token endpoint /adfs/oauth2/token
          --export-certificate PATH write the server certificate (DER .cer) to PATH, for clients to trust it instead of
                                    skipping certificate checks
          --data-folder DIR         keep queues, messages, package executions, blobs and the certificate in DIR, so they
                                    survive a restart (default: in memory, gone at stop)
          --environment FILE        activities and data projects declared in a JSON file (see the README)
          --scenario FILE           throttling, faults, the processing delay and not-found-first from a JSON file
          --tenant T                tenant id the token endpoint accepts
          --client-id C             client id the token endpoint accepts
          --client-secret S         client secret the token endpoint accepts
          --client-certificate PATH accept client assertions signed by this certificate (.cer/.pem; repeatable)
          --token-lifetime-seconds N   tokens live N seconds (default 3600)
          --device-code-approval-ms N  approve a device code sign-in N ms after the code is handed out (default: only
                                    when POST /emulator/devicecode/approve is called)
          --no-public-client-flows  refuse device code sign-in as an app without public client flows does (AADSTS7000218)
          --processing-delay-ms N   an import is Processing after N ms and done after 2N ms (default 1000)
          --http-download-location  answer DownloadLocation as http://host:80/... like production
          --export-folder DIR       queue every file in DIR as an export message on the (first) export activity
          --sync-package-actions    lack ImportFromPackageAsync and ExportToPackageAsync (404), as older environments do
          --ready-file PATH         once listening, write the connection details as JSON to PATH
          --blob-folder DIR         keep the package API's blobs in DIR (default: a temp folder removed on a clean stop)
          --blob-host NAME          host name of the package API's blob storage (default localhost)
          --storage-latency-ms N    every blob storage call waits N ms before it answers, as a storage account far away
          --proxy-port N            also serve an HTTP proxy (CONNECT only) on 127.0.0.1:N (0: a free one) that sends
                                    every tunnel, whatever host it names, to this emulator: host names that resolve
                                    nowhere (https://d365.proxied.test) then reach the emulator only through it
          --proxy-credential USER:PASSWORD
                                    the proxy asks for Basic authentication with these (implies --proxy-port 0)
          --definition-group NAME=ENTITY[,ENTITY...]
                                    a data project for the package API (repeatable; default: one named
                                    'Emulator package project' with Customer groups and Vendor groups)
          --export-package NAME=PATH an export of data project NAME serves the package at PATH
          --fault KIND:PATH[:TIMES] inject a fault into requests whose path contains PATH, TIMES times (default 1,
                                    -1 = always). KIND: 429, 500, 500-no-body, 503, gateway-N, reset, reset-after-body,
                                    html, malformed-json, delay-N, slow-body-N. Repeatable.
          --throttle-rate N         throttle /api and /data calls per client as the service does: N calls/s over a
                                    sliding window, 429 with Retry-After when a slot frees (longer when called while
                                    told to wait)
          --throttle-window-ms N    length of that window (default 5000)
          --throttle-in-flight N    calls of one client in progress at once (default 52)
          --help                    show this text

        Admin endpoints (no token; not throttled, faulted or recorded): GET /emulator/messages, GET /emulator/stats,
        POST /emulator/exports/{activity}?name=FILE (body: the file) queues an export message,
        POST /emulator/exports/{correlationId}/file-missing marks its file bad, POST /emulator/reset forgets everything.

        Import content markers: a line containing 'EMULATOR-ERROR: text' gives an execution error 'text'
        (status ProcessedWithErrors); 'EMULATOR-PREPROCESSING-ERROR' anywhere ends in PreProcessingError.
        In a package's data file an 'EMULATOR-ERROR: text' line makes the import PartiallySucceeded; a zip without
        PackageHeader.xml makes it Failed. The blob storage answers the host name localhost on the same port;
        an Authorization header sent to it is refused and logged as a line starting 'LEAK:'.
        """;

    public static async Task<int> Main(string[] args)
    {
        var options = new EmulatorOptions();
        string? exportFolder = null;
        string? readyFile = null;
        string? certificateFile = null;
        var faults = new List<FaultRule>();
        int? proxyPort = null;
        string? proxyCredential = null;
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                int Number() => int.Parse(Value(), CultureInfo.InvariantCulture);
                switch (args[i])
                {
                    case "--help" or "-h" or "-?":
                        Console.WriteLine(Usage);
                        return 0;
                    case "--port": options.Port = Number(); break;
                    case "--http": options.UseHttps = false; break;
                    case "--on-premises": options.BasePath = EmulatorOptions.OnPremisesPath; break;
                    case "--export-certificate": certificateFile = Path.GetFullPath(Value()); break;
                    case "--data-folder": options.DataFolder = Path.GetFullPath(Value()); break;
                    case "--environment": ScenarioFiles.ApplyEnvironment(Value(), options); break;
                    case "--scenario": ScenarioFiles.ApplyScenario(Value(), options, faults); break;
                    case "--tenant": options.TenantId = Value(); break;
                    case "--client-id": options.ClientId = Value(); break;
                    case "--client-secret": options.ClientSecret = Value(); break;
                    case "--client-certificate": options.ClientCertificates.Add(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Value())); break;
                    case "--token-lifetime-seconds": options.TokenLifetime = TimeSpan.FromSeconds(Number()); break;
                    case "--device-code-approval-ms": options.DeviceCodeApprovalDelay = TimeSpan.FromMilliseconds(Number()); break;
                    case "--no-public-client-flows": options.AllowPublicClientFlows = false; break;
                    case "--processing-delay-ms": options.ProcessingDelay = TimeSpan.FromMilliseconds(Number()); break;
                    case "--http-download-location": options.HttpDownloadLocation = true; break;
                    case "--sync-package-actions": options.AsyncPackageActions = false; break;
                    case "--export-folder": exportFolder = Value(); break;
                    case "--ready-file": readyFile = Value(); break;
                    case "--blob-folder": options.BlobFolder = Path.GetFullPath(Value()); break;
                    case "--blob-host": options.BlobHost = Value(); break;
                    case "--storage-latency-ms": options.StorageLatency = TimeSpan.FromMilliseconds(Number()); break;
                    case "--proxy-port": proxyPort = Number(); break;
                    case "--proxy-credential":
                        proxyCredential = Value();
                        if (proxyCredential.IndexOf(':') <= 0) throw new ArgumentException("--proxy-credential is USER:PASSWORD.");
                        break;
                    case "--fault": faults.Add(ParseFault(Value())); break;
                    case "--definition-group":
                        var (group, entities) = SplitPair(Value());
                        options.DefinitionGroups.Add(new DefinitionGroup(group, entities.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
                        break;
                    case "--export-package":
                        var (name, package) = SplitPair(Value());
                        options.DefinitionGroups.Add(new DefinitionGroup(name, Array.Empty<string>(), Path.GetFullPath(package)));
                        break;
                    case "--throttle-rate": (options.Throttling ??= new ThrottlingOptions()).CallsPerSecond = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--throttle-window-ms": (options.Throttling ??= new ThrottlingOptions()).Window = TimeSpan.FromMilliseconds(Number()); break;
                    case "--throttle-in-flight": (options.Throttling ??= new ThrottlingOptions()).MaxInFlight = Number(); break;
                    default: throw new ArgumentException($"Unknown option {args[i]}.");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine("Run d365-emulator --help for the options.");
            return 2;
        }

        await using var emulator = await D365Emulator.StartAsync(options);
        foreach (var fault in faults) emulator.Faults.Add(fault);
        var importActivity = options.Activities.FirstOrDefault(a => a.Kind == ActivityKind.Import);
        var exportActivity = options.Activities.FirstOrDefault(a => a.Kind == ActivityKind.Export);
        if (exportFolder is not null)
        {
            if (exportActivity is null)
            {
                Console.Error.WriteLine("--export-folder needs an export activity; the environment file declares none.");
                return 2;
            }
            foreach (var file in Directory.EnumerateFiles(exportFolder))
                emulator.AddExportFile(exportActivity.Id, file);
        }
        if (certificateFile is not null)
            emulator.ExportCertificate(certificateFile);
        await using var proxy = proxyPort is null && proxyCredential is null ? null : new ConnectProxy(
            (_, _) => new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, emulator.BaseUri.Port),
            proxyCredential?[..proxyCredential.IndexOf(':')], proxyCredential?[(proxyCredential.IndexOf(':') + 1)..], proxyPort ?? 0);
        if (proxy is not null)
            Console.WriteLine($"Proxy {proxy.Address} (every tunnel goes to this emulator)");
        Console.WriteLine(
            $"Environment {emulator.Environment}  AuthorityHost {emulator.AuthorityHost}  Tenant {options.TenantId}  " +
            $"ClientId {options.ClientId}  ImportActivity {importActivity?.Id}  ExportActivity {exportActivity?.Id}");
        if (readyFile is not null)
            await WriteReadyFileAsync(emulator, readyFile, importActivity, exportActivity, proxy?.Address);

        // The host's console lifetime turns Ctrl+C and SIGTERM into a clean shutdown.
        await emulator.WaitForShutdownAsync();
        return 0;
    }

    private static (string Name, string Value) SplitPair(string text)
    {
        var at = text.IndexOf('=');
        if (at <= 0 || at == text.Length - 1) throw new ArgumentException($"'{text}' is not NAME=VALUE.");
        return (text[..at].Trim(), text[(at + 1)..].Trim());
    }

    /// <summary>KIND:PATH[:TIMES], for example reset-after-body:/api/connector/enqueue:1.</summary>
    internal static FaultRule ParseFault(string text)
    {
        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3 || parts[1].Length == 0)
            throw new ArgumentException($"--fault '{text}' is not KIND:PATH[:TIMES].");
        var times = parts.Length == 3 ? int.Parse(parts[2], CultureInfo.InvariantCulture) : 1;
        return ScenarioFiles.CreateFault(parts[0], parts[1], times);
    }

    /// <summary>Written to a temporary name and moved, so a script polling for the file never reads half of it.</summary>
    private static async Task WriteReadyFileAsync(D365Emulator emulator, string path, EmulatorActivity? importActivity, EmulatorActivity? exportActivity, Uri? proxy)
    {
        var details = new
        {
            environment = emulator.Environment,
            authorityHost = emulator.AuthorityHost.ToString().TrimEnd('/'),
            tenantId = emulator.Options.TenantId,
            clientId = emulator.Options.ClientId,
            clientSecret = emulator.Options.ClientSecret,
            importActivity = importActivity?.Id,
            exportActivity = exportActivity?.Id,
            activities = emulator.Options.Activities.Select(a => new { id = a.Id, kind = a.Kind.ToString(), name = a.Name }),
            managedIdentityEndpoint = emulator.ManagedIdentityEndpoint.ToString(),
            managedIdentityHeader = emulator.Options.ManagedIdentityHeader,
            serverCertificateThumbprint = emulator.ServerCertificate.Thumbprint,
            proxy = proxy?.ToString().TrimEnd('/'),
            basePath = emulator.Options.BasePath,
        };
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(details, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
    }
}
