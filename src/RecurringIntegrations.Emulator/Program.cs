using System.Globalization;
using System.Text.Json;

namespace RecurringIntegrations.Emulator;

/// <summary>Standalone entry point: serves one emulated environment until Ctrl+C.</summary>
internal static class Program
{
    private const string Usage = """
        RecurringIntegrations.Emulator: a local D365 F&O environment and Entra ID token endpoint.

        Options:
          --port N                  port on 127.0.0.1 (default: a free one)
          --http                    serve plain http instead of https with a self-signed certificate
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
          --export-folder DIR       queue every file in DIR as an export message on the export activity
          --ready-file PATH         once listening, write the connection details as JSON to PATH
          --blob-folder DIR         keep the package API's blobs in DIR (default: a temp folder removed on a clean stop)
          --definition-group NAME=ENTITY[,ENTITY...]
                                    a data project for the package API (repeatable; default: one named
                                    'Emulator package project' with Customer groups and Vendor groups)
          --export-package NAME=PATH an export of data project NAME serves the package at PATH
          --nested-package-values   answer ExportToPackage and GetExportedPackageUrl with value.value
          --fault KIND:PATH[:TIMES] inject a fault into requests whose path contains PATH, TIMES times (default 1,
                                    -1 = always); KIND is 429, 500, 503 (with Retry-After: 1), reset, reset-after-body,
                                    html, gateway-N (status N, HTML page), malformed-json or delay-N (N ms). Repeatable.
          --throttle-rate N         throttle /api and /data calls per client as the service does: N calls/s over a
                                    sliding window, 429 with Retry-After when a slot frees (longer when called while
                                    told to wait)
          --throttle-window-ms N    length of that window (default 5000)
          --throttle-in-flight N    calls of one client in progress at once (default 52)
          --help                    show this text

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
        var faults = new System.Collections.Generic.List<FaultRule>();
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--help" or "-h" or "-?":
                        Console.WriteLine(Usage);
                        return 0;
                    case "--port": options.Port = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--http": options.UseHttps = false; break;
                    case "--tenant": options.TenantId = Value(); break;
                    case "--client-id": options.ClientId = Value(); break;
                    case "--client-secret": options.ClientSecret = Value(); break;
                    case "--client-certificate": options.ClientCertificates.Add(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Value())); break;
                    case "--token-lifetime-seconds": options.TokenLifetime = TimeSpan.FromSeconds(int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                    case "--device-code-approval-ms": options.DeviceCodeApprovalDelay = TimeSpan.FromMilliseconds(int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                    case "--no-public-client-flows": options.AllowPublicClientFlows = false; break;
                    case "--processing-delay-ms": options.ProcessingDelay = TimeSpan.FromMilliseconds(int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                    case "--http-download-location": options.HttpDownloadLocation = true; break;
                    case "--export-folder": exportFolder = Value(); break;
                    case "--ready-file": readyFile = Value(); break;
                    case "--blob-folder": options.BlobFolder = Path.GetFullPath(Value()); break;
                    case "--fault": faults.Add(ParseFault(Value())); break;
                    case "--definition-group":
                        var (group, entities) = SplitPair(Value());
                        options.DefinitionGroups.Add(new DefinitionGroup(group, entities.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
                        break;
                    case "--export-package":
                        var (name, package) = SplitPair(Value());
                        options.DefinitionGroups.Add(new DefinitionGroup(name, Array.Empty<string>(), Path.GetFullPath(package)));
                        break;
                    case "--nested-package-values": options.NestedPackageValues = true; break;
                    case "--throttle-rate": (options.Throttling ??= new ThrottlingOptions()).CallsPerSecond = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--throttle-window-ms": (options.Throttling ??= new ThrottlingOptions()).Window = TimeSpan.FromMilliseconds(int.Parse(Value(), CultureInfo.InvariantCulture)); break;
                    case "--throttle-in-flight": (options.Throttling ??= new ThrottlingOptions()).MaxInFlight = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    default: throw new ArgumentException($"Unknown option {args[i]}.");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        await using var emulator = await D365Emulator.StartAsync(options);
        foreach (var fault in faults) emulator.Faults.Add(fault);
        if (exportFolder is not null)
        {
            foreach (var file in Directory.EnumerateFiles(exportFolder))
                emulator.AddExportFile(WellKnown.ExportActivity, file);
        }
        Console.WriteLine(
            $"Environment {emulator.Environment}  AuthorityHost {emulator.AuthorityHost}  Tenant {options.TenantId}  " +
            $"ClientId {options.ClientId}  ImportActivity {WellKnown.ImportActivity}  ExportActivity {WellKnown.ExportActivity}");
        if (readyFile is not null)
            await WriteReadyFileAsync(emulator, readyFile);

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
        var kind = parts[0].ToLowerInvariant();
        return kind switch
        {
            "429" or "500" or "503" => new FaultRule { Kind = FaultKind.Status, StatusCode = int.Parse(kind, CultureInfo.InvariantCulture), RetryAfter = kind == "500" ? null : "1", PathContains = parts[1], Times = times },
            "reset" => new FaultRule { Kind = FaultKind.Reset, PathContains = parts[1], Times = times },
            "reset-after-body" => new FaultRule { Kind = FaultKind.ResetAfterBody, PathContains = parts[1], Times = times },
            "html" => new FaultRule { Kind = FaultKind.HtmlPage, PathContains = parts[1], Times = times },
            _ when kind.StartsWith("gateway-", StringComparison.Ordinal) => new FaultRule
            {
                Kind = FaultKind.GatewayPage, StatusCode = int.Parse(kind["gateway-".Length..], CultureInfo.InvariantCulture), PathContains = parts[1], Times = times,
            },
            "malformed-json" => new FaultRule { Kind = FaultKind.MalformedJson, PathContains = parts[1], Times = times },
            _ when kind.StartsWith("delay-", StringComparison.Ordinal) => new FaultRule
            {
                Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(int.Parse(kind["delay-".Length..], CultureInfo.InvariantCulture)), PathContains = parts[1], Times = times,
            },
            _ => throw new ArgumentException($"--fault kind '{parts[0]}' is not one of 429, 500, 503, reset, reset-after-body, html, gateway-N, malformed-json, delay-N."),
        };
    }

    /// <summary>Written to a temporary name and moved, so a script polling for the file never reads half of it.</summary>
    private static async Task WriteReadyFileAsync(D365Emulator emulator, string path)
    {
        var details = new
        {
            environment = emulator.Environment,
            authorityHost = emulator.AuthorityHost.ToString().TrimEnd('/'),
            tenantId = emulator.Options.TenantId,
            clientId = emulator.Options.ClientId,
            clientSecret = emulator.Options.ClientSecret,
            importActivity = WellKnown.ImportActivity,
            exportActivity = WellKnown.ExportActivity,
            managedIdentityEndpoint = emulator.ManagedIdentityEndpoint.ToString(),
            managedIdentityHeader = emulator.Options.ManagedIdentityHeader,
            serverCertificateThumbprint = emulator.ServerCertificate.Thumbprint,
        };
        var temporary = path + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(details, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temporary, path, overwrite: true);
    }
}
