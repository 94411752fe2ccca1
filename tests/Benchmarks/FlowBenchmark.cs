using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// Flow control under throttling: what users write instead of the module, and Send-D365Enqueue at four throttle limits,
/// each against a fresh emulator process (0 or 100 ms added latency; or throttling at 5 or 10 calls/s over a 5 s window).
/// Every row runs in its own pwsh; times are Measure-Command inside it (pwsh start-up, Connect-D365 and one file sent
/// first, untimed, not counted).
/// </summary>
internal static class FlowBenchmark
{
    private const double ThrottledTimeLimit = 1.3;
    private const double ThrottledShareLimit = 0.20;
    /// <summary>A row still running after this is stopped: a script that keeps calling while told to wait can take hours.</summary>
    private static readonly TimeSpan RowLimit = TimeSpan.FromMinutes(2);

    private const double SporadicTimeLimit = 1.5;

    /// <summary>
    /// One condition of the service. <paramref name="Faults"/>: a scenario file's fault list (a busy environment: a share of
    /// calls refused whatever the pace); <paramref name="Limits"/>: only the module at these throttle limits (null: every
    /// way); <paramref name="ProducerMs"/>: the files come from a pipeline that makes one every that many ms.
    /// </summary>
    private sealed record Condition(string Name, int LatencyMs, double? Rate, string? Faults = null, int[]? Limits = null, int ProducerMs = 0)
    {
        public string[] Arguments(string work)
        {
            var arguments = new List<string>();
            if (LatencyMs > 0) arguments.AddRange(new[] { "--fault", $"delay-{LatencyMs}:/api/connector/enqueue:-1" });
            if (Rate is { } rate) arguments.AddRange(new[] { "--throttle-rate", rate.ToString(CultureInfo.InvariantCulture), "--throttle-window-ms", "5000" });
            if (Faults is not null)
            {
                var scenario = Path.Combine(work, "scenario-" + Guid.NewGuid().ToString("N")[..8] + ".json");
                File.WriteAllText(scenario, "{ \"faults\": [" + Faults + "] }");
                arguments.AddRange(new[] { "--scenario", scenario });
            }
            return arguments.ToArray();
        }

        public bool Runs(Way way) => Limits is null ? ProducerMs == 0 : way.IsModule && Limits.Contains(way.Concurrency);
    }

    /// <summary>A share of enqueues answered 429 with Retry-After 1, whatever the pace (the emulator's fault draws are seeded).</summary>
    private static string Refused(double share) =>
        $"{{ \"operation\": \"Enqueue\", \"kind\": \"429\", \"times\": -1, \"probability\": {share.ToString(CultureInfo.InvariantCulture)}, \"retryAfter\": \"1\" }}";

    private static string Fault(string kind, double share) =>
        $"{{ \"operation\": \"Enqueue\", \"kind\": \"{kind}\", \"times\": -1, \"probability\": {share.ToString(CultureInfo.InvariantCulture)} }}";

    private sealed record Way(string Name, int Concurrency, bool IsModule, Func<string, string> Script);

    private sealed record Row(Condition Condition, Way Way, double Seconds, double Floor, int Calls, int Throttled, int Failed, int Unknown)
    {
        public double Ratio => Floor > 0 ? Seconds / Floor : double.NaN;
        public double Share => Calls == 0 ? 0 : (double)Throttled / Calls;
    }

    public static async Task<int> RunAsync(int fileCount, int sizeKB, string workRoot, string? only)
    {
        var pwsh = PowerShellRunner.Find();
        var module = PowerShellRunner.FindBuiltModule();
        if (pwsh is null || module is null)
        {
            Console.Error.WriteLine(pwsh is null ? "pwsh is neither on PATH nor in ../shared/tools." : "Build the module first (dotnet build src/RecurringIntegrations.PowerShell).");
            return 2;
        }
        var work = Path.Combine(workRoot, "ri-flow-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        var total = Stopwatch.StartNew();
        try
        {
            var files = TestFiles.CreateSmall(Path.Combine(work, "small"), fileCount, sizeKB);
            var list = Path.Combine(work, "files.txt");
            await File.WriteAllLinesAsync(list, files);
            var runner = new PowerShellRunner(pwsh, work);
            var conditions = new[]
            {
                new Condition("0 ms latency", 0, null),
                new Condition("100 ms latency", 100, null),
                new Condition("throttled 5 calls/s (5 s window)", 0, 5),
                new Condition("throttled 10 calls/s (5 s window)", 0, 10),
                new Condition("50 ms latency", 50, null, Limits: new[] { 1, 8, 32, 64 }),
                new Condition("busy: 1 in 5 refused (429, Retry-After 1)", 0, null, Refused(0.2), new[] { 1, 8, 32 }),
                new Condition("busy: 1 in 20 refused (429, Retry-After 1)", 0, null, Refused(0.05), new[] { 1, 8, 32 }),
                new Condition("busy: 1 in 20 refused, 1 in 50 answered 500, 1 in 100 reset", 0, null,
                    Refused(0.05) + ", " + Fault("500", 0.02) + ", " + Fault("reset", 0.01), new[] { 1, 8, 32 }),
                new Condition("100 ms latency, a file every 100 ms from the pipeline", 100, null, Limits: new[] { 8 }, ProducerMs: 100),
            };
            var ways = Ways(list, module);
            Console.WriteLine($"Flow benchmark: {fileCount} files of {sizeKB} KB, {Environment.ProcessorCount} cores, pwsh {pwsh}");
            Console.WriteLine($"| Condition | Way | Time (s) | x floor | 429s / calls | Failed files |");
            Console.WriteLine($"|---|---|---|---|---|---|");
            var rows = new List<Row>();
            foreach (var condition in conditions)
                foreach (var way in ways)
                {
                    if (!condition.Runs(way)) continue;
                    if (only is not null && !$"{condition.Name}, {way.Name}".Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
                    var unthrottled = rows.SingleOrDefault(r => r.Condition == conditions[0] && r.Way == way);
                    if (unthrottled is null && condition.Faults is not null)
                    {
                        // A busy row's floor is its way's time unthrottled: run that row first when --rows left it out.
                        unthrottled = await RunRowAsync(runner, work, conditions[0], way, fileCount, null);
                        Print(unthrottled);
                    }
                    Print(await RunRowAsync(runner, work, condition, way, fileCount, unthrottled?.Seconds));
                }
            var passed = Verdicts(rows);

            void Print(Row row)
            {
                rows.Add(row);
                Console.WriteLine($"| {row.Condition.Name} | {row.Way.Name} | {row.Seconds:0.00} | {(double.IsNaN(row.Ratio) ? "-" : row.Ratio.ToString("0.00", CultureInfo.InvariantCulture))} | " +
                                  $"{row.Share:P0} ({row.Throttled} of {row.Calls}) | {row.Failed}{(row.Unknown > 0 ? $" (+{row.Unknown} outcome unknown)" : "")} |");
            }
            Console.WriteLine("Floor: files x latency (the wait the emulator measured) / concurrency (at most the service's 52) unthrottled (none at 0 ms; with a producer: files x its interval + latency), " +
                              "files / allowed rate throttled, busy: the same way's 0 ms time + the 429s x Retry-After in rounds of its concurrency (ceiling of 429s / concurrency, x 1 s; " +
                              "at least the most 429s one file got, x 1 s). Counts of calls and 429s are the timed part's. " +
                              $"Whole run {total.Elapsed.TotalMinutes:0.0} min.");
            return passed ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    private static bool Verdicts(List<Row> rows)
    {
        var all = true;
        void Check(string what, bool ok, string detail)
        {
            all &= ok;
            Console.WriteLine($"{(ok ? "PASS" : "FAIL")}: {what}: {detail}");
        }
        var module = rows.Where(r => r.Way.IsModule).ToList();
        Check("0 failed files in every row of the module", module.All(r => r.Failed == 0), $"{module.Sum(r => r.Failed)} failed");
        foreach (var row in module.Where(r => r.Condition.Rate is not null))
            Check($"{row.Condition.Name}, {row.Way.Name}: within {ThrottledTimeLimit}x of the floor, 429s at most {ThrottledShareLimit:P0} of calls",
                row.Ratio <= ThrottledTimeLimit && row.Share <= ThrottledShareLimit, $"{row.Ratio:0.00}x, {row.Share:P0}");
        foreach (var row in module.Where(r => r.Condition.Faults is not null))
            Check($"{row.Condition.Name}, {row.Way.Name}: within {SporadicTimeLimit}x of the floor", row.Ratio <= SporadicTimeLimit,
                double.IsNaN(row.Ratio) ? "no floor (its 0 ms row did not run)" : $"{row.Ratio:0.00}x");
        // Unthrottled with latency: the in-flight cap must reach the throttle limit quickly.
        foreach (var row in module.Where(r => r.Condition.LatencyMs > 0 && r.Condition.Faults is null && r.Condition.Rate is null && r.Way.Concurrency > 1))
        {
            var limit = row.Condition.ProducerMs > 0 ? 1.05 : row.Way.Concurrency switch { 8 => 1.05, 32 => 1.3, _ => 1.5 };
            Check($"{row.Condition.Name}, {row.Way.Name}: within {limit}x of its floor", row.Ratio <= limit, $"{row.Ratio:0.00}x");
        }
        var eight = rows.SingleOrDefault(r => r.Condition.LatencyMs == 100 && r.Condition.ProducerMs == 0 && r.Condition.Rate is null && r.Way.IsModule && r.Way.Concurrency == 8);
        var parallel = rows.SingleOrDefault(r => r.Condition.LatencyMs == 100 && r.Condition.Rate is null && r.Way.Name.StartsWith("ForEach-Object", StringComparison.Ordinal));
        if (eight is not null && parallel is not null)
            Check("100 ms, -ThrottleLimit 8 at least 1.2x faster than ForEach-Object -Parallel -ThrottleLimit 8", parallel.Seconds / eight.Seconds >= 1.2,
                $"{parallel.Seconds / eight.Seconds:0.00}x");
        Console.WriteLine(all ? "ALL PASS" : "SOME FAIL");
        return all;
    }

    private static async Task<Row> RunRowAsync(PowerShellRunner runner, string work, Condition condition, Way way, int fileCount, double? unthrottledSeconds)
    {
        await using var emulator = await EmulatorProcess.StartAsync(work, null, CancellationToken.None, condition.Arguments(work));
        using var limit = new CancellationTokenSource(RowLimit);
        double seconds;
        int failed, unknown = 0;
        int calls, throttled, mostOfOne;
        double latencyMs;
        try
        {
            var output = (await runner.RunScriptAsync(Prologue(emulator, condition.ProducerMs) + way.Script(Target(emulator)), limit.Token)).Trim().Split(' ');
            seconds = double.Parse(output[0], CultureInfo.InvariantCulture) / 1000;
            failed = int.Parse(output[1], CultureInfo.InvariantCulture);
            unknown = int.Parse(output[2], CultureInfo.InvariantCulture);
            (calls, throttled, mostOfOne, latencyMs) = await StatsAsync(emulator, condition.LatencyMs, output.Length > 3 ? output[3] : null);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            // Stopped: every file the service did not take by then counts as failed.
            (calls, throttled, mostOfOne, latencyMs) = await StatsAsync(emulator, condition.LatencyMs, null);
            seconds = RowLimit.TotalSeconds;
            failed = fileCount - (calls - throttled);
            Console.WriteLine($"  ({way.Name} stopped after {RowLimit.TotalSeconds:0} s)");
        }
        var floor = condition switch
        {
            { Rate: { } rate } => fileCount / rate,
            // The waits the service asked for (Retry-After 1 s each) after the time unthrottled: done way.Concurrency at a
            // time, and one after another for a file refused again when it went again.
            { Faults: not null } => unthrottledSeconds is { } alone
                ? alone + Math.Max(Math.Ceiling((double)throttled / way.Concurrency), mostOfOne) * 1.0
                : double.NaN,
            { ProducerMs: > 0 } => (fileCount * condition.ProducerMs + latencyMs) / 1000.0,
            // The service takes at most 52 calls of a user at once (docs/protocol.md): -ThrottleLimit 64 has 52 in flight.
            _ => fileCount * latencyMs / 1000.0 / Math.Min(way.Concurrency, 52),
        };
        return new Row(condition, way, seconds, floor, calls, throttled, failed, unknown);
    }

    /// <summary>
    /// The service's calls and 429s since the timed part began, the most 429s one file got, and the latency it really
    /// added per call: a timer wakes late (on this machine a 50 ms wait takes about 52 ms), and the floor counts the wait
    /// the service made, not the one it was asked for.
    /// </summary>
    private static async Task<(int Calls, int Throttled, int MostOfOne, double LatencyMs)> StatsAsync(EmulatorProcess emulator, int askedLatencyMs, string? since)
    {
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        var query = string.IsNullOrEmpty(since) ? "" : "?since=" + Uri.EscapeDataString(since);
        using var stats = JsonDocument.Parse(await http.GetStringAsync(emulator.Environment + "/emulator/stats" + query));
        var root = stats.RootElement;
        var delays = root.GetProperty("delays").GetInt32();
        var latencyMs = delays > 0 ? root.GetProperty("delayedMs").GetDouble() / delays : askedLatencyMs;
        return (root.GetProperty("calls").GetInt32(), root.GetProperty("throttled").GetInt32(), root.GetProperty("mostThrottledOfOne").GetInt32(), latencyMs);
    }

    private static string Target(EmulatorProcess emulator) => PowerShellRunner.Quote($"{emulator.Environment}/api/connector/enqueue/{emulator.ImportActivity}?entity=Benchmark");

    /// <summary>
    /// Variables every row's script has: $files, $tokenBody, $tokenUri, $activity, $produce (passes the files on, one every
    /// <paramref name="producerMs"/> ms when that is above 0).
    /// </summary>
    private static string Prologue(EmulatorProcess emulator, int producerMs) => $$"""
        $ErrorActionPreference = 'Stop'
        $ProgressPreference = 'SilentlyContinue'
        $statsSince = ''
        $tokenUri = {{PowerShellRunner.Quote(emulator.TokenEndpoint)}}
        $tokenBody = @{ grant_type = 'client_credentials'; client_id = {{PowerShellRunner.Quote(emulator.ClientId)}}; client_secret = {{PowerShellRunner.Quote(emulator.ClientSecret)}}; scope = {{PowerShellRunner.Quote(emulator.Environment + "/.default")}} }
        $activity = {{PowerShellRunner.Quote(emulator.ImportActivity.ToString())}}
        function produce { process { {{(producerMs > 0 ? $"Start-Sleep -Milliseconds {producerMs}; " : "")}}$_ } }
        $connect = @{ Environment = {{PowerShellRunner.Quote(emulator.Environment)}}; TenantId = {{PowerShellRunner.Quote(emulator.TenantId)}}; ClientId = {{PowerShellRunner.Quote(emulator.ClientId)}}; AuthorityHost = {{PowerShellRunner.Quote(emulator.AuthorityHost)}} }

        """;

    private static List<Way> Ways(string list, string module)
    {
        var files = $"$files = Get-Content -LiteralPath {PowerShellRunner.Quote(list)} | ForEach-Object {{ Get-Item -LiteralPath $_ }}\n";
        // Every way first sends one file untimed, as the Core benchmarks make 20 untimed calls: the first call of a process
        // compiles its code (about 150 ms here), a cost of start-up, not of flow control. The timed part still opens every
        // connection but one, and the module's cap on calls in flight still starts from nothing (it decides after 8 answers).
        string WarmUp(string uri) => files + $"$uri = {uri}\n" + """
            $warmToken = (Invoke-RestMethod -Method Post -Uri $tokenUri -Body $tokenBody -SkipCertificateCheck).access_token
            try { Invoke-RestMethod -Method Post -Uri $uri -InFile $files[0].FullName -ContentType 'application/octet-stream' -Headers @{ Authorization = "Bearer $warmToken" } -SkipCertificateCheck | Out-Null } catch { }
            $statsSince = [DateTime]::UtcNow.ToString('o')

            """;
        // What a careful script does with a 429: wait as Retry-After says, up to 10 tries.
        const string carefulSend = """
            for ($try = 1; ; $try++) {
                try { Invoke-RestMethod -Method Post -Uri $uri -InFile $file.FullName -ContentType 'application/octet-stream' -Headers @{ Authorization = "Bearer $token" } -SkipCertificateCheck | Out-Null; $ok = $true; break }
                catch {
                    $response = $_.Exception.Response
                    if ($response -and [int]$response.StatusCode -eq 429 -and $try -lt 10) {
                        $wait = if ($response.Headers.RetryAfter.Delta) { $response.Headers.RetryAfter.Delta.TotalSeconds } else { 1 }
                        Start-Sleep -Milliseconds ([int](1000 * $wait))
                    } else { $ok = $false; break }
                }
            }
            """;
        // The time, the failed files, the ones whose outcome is unknown, and when the timed part began (for the service's counts).
        string Report(string measured, string failed, string unknown = "0") => $"'{{0}} {{1}} {{2}} {{3}}' -f {measured}.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture), {failed}, {unknown}, $statsSince\n";
        var ways = new List<Way>
        {
            new("Invoke-RestMethod loop, token per call", 1, false, uri => WarmUp(uri) + $$"""
                $failed = 0
                $time = Measure-Command { foreach ($file in $files) { try {
                    $token = (Invoke-RestMethod -Method Post -Uri $tokenUri -Body $tokenBody -SkipCertificateCheck).access_token
                    Invoke-RestMethod -Method Post -Uri $uri -InFile $file.FullName -ContentType 'application/octet-stream' -Headers @{ Authorization = "Bearer $token" } -SkipCertificateCheck | Out-Null
                } catch { $failed++ } } }
                """ + "\n" + Report("$time", "$failed")),
            new("Invoke-RestMethod loop, one token, waits on 429", 1, false, uri => WarmUp(uri) + $$"""
                $failed = 0
                $time = Measure-Command {
                    $token = (Invoke-RestMethod -Method Post -Uri $tokenUri -Body $tokenBody -SkipCertificateCheck).access_token
                    foreach ($file in $files) {
                {{carefulSend}}
                        if (-not $ok) { $failed++ }
                    }
                }
                """ + "\n" + Report("$time", "$failed")),
            new("ForEach-Object -Parallel -ThrottleLimit 8, one token, waits on 429", 8, false, uri => WarmUp(uri) + $$"""
                $results = $null
                $time = Measure-Command {
                    $token = (Invoke-RestMethod -Method Post -Uri $tokenUri -Body $tokenBody -SkipCertificateCheck).access_token
                    $results = $files | ForEach-Object -ThrottleLimit 8 -Parallel {
                        $file = $_; $token = $using:token; $uri = $using:uri
                {{carefulSend}}
                        $ok
                    }
                }
                """ + "\n" + Report("$time", "@($results | Where-Object { -not $_ }).Count")),
        };
        foreach (var limit in new[] { 1, 8, 32, 64 })
            ways.Add(new($"Send-D365Enqueue -ThrottleLimit {limit}", limit, true, _ => files + $$"""
                Import-Module {{PowerShellRunner.Quote(module)}}
                $secret = ConvertTo-SecureString $tokenBody.client_secret -AsPlainText -Force
                Connect-D365 @connect -ClientSecret $secret -SkipCertificateCheck -WarningAction SilentlyContinue | Out-Null
                $files[0] | Send-D365Enqueue -ActivityId $activity -EntityName 'Benchmark' -ErrorAction SilentlyContinue | Out-Null
                $statsSince = [DateTime]::UtcNow.ToString('o')
                $time = Measure-Command { $files | produce | Send-D365Enqueue -ActivityId $activity -EntityName 'Benchmark' -ThrottleLimit {{limit}} -ErrorVariable failures -ErrorAction SilentlyContinue | Out-Null }
                # A reset after the file was sent may hide an upload the service took: never sent again, reported as unknown.
                $unknown = @($failures | Where-Object { $_.FullyQualifiedErrorId -like 'EnqueueOutcomeUnknown*' }).Count
                """ + "\n" + Report("$time", "($failures.Count - $unknown)", "$unknown")));
        return ways;
    }
}
