using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// The two JSON files of the standalone emulator. A scenario (<c>--scenario</c>) says how the service behaves: processing
/// delay, which package executions are "not found" first, throttling, faults by operation and count. An environment file
/// (<c>--environment</c>) declares the recurring jobs (activities) and data projects. Unknown properties are refused, so a
/// misspelt name is an error and not a silently ignored setting.
/// </summary>
internal static class ScenarioFiles
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNameCaseInsensitive = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Fault kinds a scenario or --fault names, as the README lists them.</summary>
    public const string FaultKinds = "429, 500, 500-no-body, 503, gateway-N (status N with an HTML page, e.g. gateway-502, gateway-504), reset, " +
                                     "reset-after-body, html, malformed-json, delay-N (N ms, then served), slow-body-N (N ms before each KiB of the answer)";

    public static void ApplyScenario(string path, EmulatorOptions options, List<FaultRule> faults)
    {
        var scenario = Read<Scenario>(path);
        if (scenario.ProcessingDelayMs is { } delay)
            options.ProcessingDelay = TimeSpan.FromMilliseconds(NotNegative(delay, "processingDelayMs", path));
        if (scenario.NotFoundFirst is { } notFound)
            options.ExecutionNotFoundEvery = notFound.ValueKind switch
            {
                JsonValueKind.Number when notFound.TryGetInt32(out var every) && every >= 0 => every,
                JsonValueKind.String => notFound.GetString()!.ToLowerInvariant() switch
                {
                    "always" => 1,
                    "sometimes" => 2,
                    "never" => 0,
                    var other => throw Bad(path, $"notFoundFirst '{other}' is not always, sometimes, never or a number N (every Nth execution)."),
                },
                _ => throw Bad(path, "notFoundFirst must be always, sometimes, never or a number N (every Nth execution)."),
            };
        if (scenario.NotFoundStatusCode is { } status)
            options.ExecutionNotFoundStatusCode = status is 400 or 500 ? status : throw Bad(path, "notFoundStatusCode must be 400 or 500 (the service has been seen to answer both).");
        if (scenario.StorageLatencyMs is { } latency)
            options.StorageLatency = TimeSpan.FromMilliseconds(NotNegative(latency, "storageLatencyMs", path));
        if (scenario.AsyncPackageActions is { } asyncActions)
            options.AsyncPackageActions = asyncActions;
        if (scenario.Throttling is { } throttling)
        {
            var options2 = options.Throttling ??= new ThrottlingOptions();
            if (throttling.CallsPerSecond is { } rate)
                options2.CallsPerSecond = rate > 0 ? rate : throw Bad(path, "throttling.callsPerSecond must be above 0.");
            if (throttling.WindowMs is { } window)
                options2.Window = TimeSpan.FromMilliseconds(window > 0 ? window : throw Bad(path, "throttling.windowMs must be above 0."));
            if (throttling.MaxInFlight is { } inFlight)
                options2.MaxInFlight = inFlight > 0 ? inFlight : throw Bad(path, "throttling.maxInFlight must be above 0.");
        }
        foreach (var fault in scenario.Faults ?? [])
        {
            if (string.IsNullOrEmpty(fault.Kind))
                throw Bad(path, "every fault needs a kind: " + FaultKinds + ".");
            try
            {
                var rule = CreateFault(fault.Kind, fault.Path ?? "", fault.Times ?? 1);
                faults.Add(rule with
                {
                    Operation = fault.Operation,
                    Method = fault.Method,
                    SkipFirst = fault.SkipFirst ?? 0,
                    Probability = fault.Probability ?? 1.0,
                    RetryAfter = fault.RetryAfter ?? rule.RetryAfter,
                });
            }
            catch (ArgumentException e)
            {
                throw Bad(path, e.Message);
            }
        }
    }

    public static void ApplyEnvironment(string path, EmulatorOptions options)
    {
        var environment = Read<EnvironmentFile>(path);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var activity in environment.Activities ?? [])
        {
            if (!Guid.TryParse(activity.Id, out var id))
                throw Bad(path, $"activity id '{activity.Id}' is not a GUID.");
            if (!Enum.TryParse<ActivityKind>(activity.Kind, ignoreCase: true, out var kind))
                throw Bad(path, $"activity {id}: kind '{activity.Kind}' is not Import or Export.");
            options.Activities.Add(new EmulatorActivity(id, kind, activity.Name ?? $"{kind} {id}"));
        }
        foreach (var project in environment.DataProjects ?? [])
        {
            if (string.IsNullOrWhiteSpace(project.Name))
                throw Bad(path, "every data project needs a name.");
            var package = project.ExportPackage is { } file ? Path.GetFullPath(Path.Combine(folder, file)) : null;
            if (package is not null && !File.Exists(package))
                throw Bad(path, $"data project '{project.Name}': exportPackage '{package}' does not exist.");
            options.DefinitionGroups.Add(new DefinitionGroup(project.Name, project.Entities ?? [], package));
        }
    }

    /// <summary>A fault of a kind named as in <see cref="FaultKinds"/>, on requests whose path contains <paramref name="path"/>.</summary>
    public static FaultRule CreateFault(string kind, string path, int times)
    {
        kind = kind.ToLowerInvariant();
        int Number(string prefix) => int.TryParse(kind[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n : throw new ArgumentException($"fault kind '{kind}' needs a number after '{prefix}'.");
        return kind switch
        {
            "429" or "503" => new FaultRule { Kind = FaultKind.Status, StatusCode = int.Parse(kind, CultureInfo.InvariantCulture), RetryAfter = "1", PathContains = path, Times = times },
            "500" => new FaultRule { Kind = FaultKind.Status, StatusCode = 500, PathContains = path, Times = times },
            "500-no-body" => new FaultRule { Kind = FaultKind.Status, StatusCode = 500, WithoutBody = true, PathContains = path, Times = times },
            "reset" => new FaultRule { Kind = FaultKind.Reset, PathContains = path, Times = times },
            "reset-after-body" => new FaultRule { Kind = FaultKind.ResetAfterBody, PathContains = path, Times = times },
            "html" => new FaultRule { Kind = FaultKind.HtmlPage, PathContains = path, Times = times },
            "malformed-json" => new FaultRule { Kind = FaultKind.MalformedJson, PathContains = path, Times = times },
            _ when kind.StartsWith("gateway-", StringComparison.Ordinal) =>
                new FaultRule { Kind = FaultKind.GatewayPage, StatusCode = Number("gateway-"), PathContains = path, Times = times },
            _ when kind.StartsWith("delay-", StringComparison.Ordinal) =>
                new FaultRule { Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(Number("delay-")), PathContains = path, Times = times },
            _ when kind.StartsWith("slow-body-", StringComparison.Ordinal) =>
                new FaultRule { Kind = FaultKind.SlowBody, Delay = TimeSpan.FromMilliseconds(Number("slow-body-")), PathContains = path, Times = times },
            _ => throw new ArgumentException($"fault kind '{kind}' is not one of {FaultKinds}."),
        };
    }

    private static T Read<T>(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json) ?? throw Bad(path, "the file is empty.");
        }
        catch (JsonException e)
        {
            throw Bad(path, e.Message);
        }
        catch (IOException e)
        {
            throw new ArgumentException($"{path} cannot be read: {e.Message}");
        }
    }

    private static int NotNegative(int value, string name, string path) => value >= 0 ? value : throw Bad(path, $"{name} must not be negative.");

    private static ArgumentException Bad(string path, string problem) => new($"{path}: {problem}");

    private sealed record Scenario(int? ProcessingDelayMs, JsonElement? NotFoundFirst, int? NotFoundStatusCode, ThrottlingSection? Throttling, List<FaultSection>? Faults,
        bool? AsyncPackageActions = null, int? StorageLatencyMs = null);

    private sealed record ThrottlingSection(double? CallsPerSecond, int? WindowMs, int? MaxInFlight);

    private sealed record FaultSection(string Kind, string? Operation, string? Path, string? Method, int? Times, int? SkipFirst, double? Probability, string? RetryAfter);

    private sealed record EnvironmentFile(List<ActivitySection>? Activities, List<DataProjectSection>? DataProjects);

    private sealed record ActivitySection(string Id, string Kind, string? Name);

    private sealed record DataProjectSection(string Name, List<string>? Entities, string? ExportPackage);
}
