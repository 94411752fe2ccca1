using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace RecurringIntegrations.Benchmarks;

/// <summary>Runs the built module in pwsh, for the figures a user of the cmdlets sees.</summary>
internal sealed class PowerShellRunner
{
    private readonly string _pwsh;
    private readonly string _work;

    public PowerShellRunner(string pwsh, string work)
    {
        _pwsh = pwsh;
        _work = work;
    }

    /// <summary>pwsh from PATH, else the copy in ../shared/tools beside the repository.</summary>
    public static string? Find()
    {
        var names = OperatingSystem.IsWindows() ? new[] { "pwsh.exe" } : new[] { "pwsh" };
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(folder => names.Select(name => Path.Combine(folder, name)))
            .FirstOrDefault(File.Exists);
        if (onPath is not null || RepositoryRoot() is not { } root) return onPath;
        return names.Select(name => Path.Combine(root, "..", "shared", "tools", name)).FirstOrDefault(File.Exists);
    }

    /// <summary>PowerShell 7.4 LTS (Azure Automation's runtime): pwsh-7.4 on PATH, else ../shared/tools/pwsh-7.4.</summary>
    public static string? FindLts()
    {
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "pwsh-7.4"))
            .FirstOrDefault(File.Exists);
        if (onPath is not null || RepositoryRoot() is not { } root) return onPath;
        var shared = Path.Combine(root, "..", "shared", "tools", "pwsh-7.4");
        return File.Exists(shared) ? Path.GetFullPath(shared) : null;
    }

    /// <summary>"PowerShell 7.4.19 (.NET 8.0.31)": the version the figures of this runner are for.</summary>
    public Task<string> VersionAsync(CancellationToken cancellationToken) => RunScriptAsync(
        "'PowerShell {0} ({1})' -f $PSVersionTable.PSVersion, [Runtime.InteropServices.RuntimeInformation]::FrameworkDescription", cancellationToken);

    /// <summary>./build.ps1 -Task Demo in this pwsh, as the README's first command; its wall time.</summary>
    public async Task<TimeSpan> DemoAsync(CancellationToken cancellationToken)
    {
        var build = Path.Combine(RepositoryRoot() ?? throw new InvalidOperationException("The repository was not found."), "build.ps1");
        var watch = Stopwatch.StartNew();
        await RunAsync(["-NoProfile", "-NonInteractive", "-File", build, "-Task", "Demo"], cancellationToken);
        return watch.Elapsed;
    }

    private static string? RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "RecurringIntegrations.slnx"))) return folder.FullName;
        return null;
    }

    /// <summary>out/RecurringIntegrations of the repository this benchmark was built from.</summary>
    public static string? FindBuiltModule()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "RecurringIntegrations.slnx")))
            {
                var module = Path.Combine(folder.FullName, "out", "RecurringIntegrations");
                return Directory.Exists(module) ? module : null;
            }
        }
        return null;
    }

    /// <summary>Import-Module timed inside a fresh pwsh, so pwsh's own start-up is not counted.</summary>
    public async Task<double> ImportModuleMillisecondsAsync(string module, CancellationToken cancellationToken)
    {
        var output = await RunScriptAsync($"(Measure-Command {{ Import-Module {Quote(module)} }}).TotalMilliseconds", cancellationToken);
        return double.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>The same files through Send-D365Enqueue and through an Invoke-RestMethod loop that fetches one token first.</summary>
    public async Task<(double ModuleMilliseconds, double LoopMilliseconds)> EnqueueComparisonAsync(string module, EmulatorProcess emulator,
        IReadOnlyList<string> files, int throttle, CancellationToken cancellationToken)
    {
        var list = Path.Combine(_work, "pwsh-files.txt");
        await File.WriteAllLinesAsync(list, files, cancellationToken);
        var script = $$"""
            $ErrorActionPreference = 'Stop'
            $ProgressPreference = 'SilentlyContinue'
            Import-Module {{Quote(module)}}
            $files = Get-Content -LiteralPath {{Quote(list)}} | ForEach-Object { Get-Item -LiteralPath $_ }
            $secret = ConvertTo-SecureString {{Quote(emulator.ClientSecret)}} -AsPlainText -Force
            Connect-D365 -Environment {{Quote(emulator.Environment)}} -TenantId {{Quote(emulator.TenantId)}} -ClientId {{Quote(emulator.ClientId)}} -ClientSecret $secret -AuthorityHost {{Quote(emulator.AuthorityHost)}} -SkipCertificateCheck -WarningAction SilentlyContinue | Out-Null
            $module = Measure-Command { $files | Send-D365Enqueue -ActivityId {{Quote(emulator.ImportActivity.ToString())}} -EntityName 'Benchmark' -ThrottleLimit {{throttle}} | Out-Null }
            $loop = Measure-Command {
                $token = (Invoke-RestMethod -Method Post -Uri {{Quote(emulator.TokenEndpoint)}} -SkipCertificateCheck -Body @{ grant_type = 'client_credentials'; client_id = {{Quote(emulator.ClientId)}}; client_secret = {{Quote(emulator.ClientSecret)}}; scope = {{Quote(emulator.Environment + "/.default")}} }).access_token
                foreach ($file in $files) {
                    Invoke-RestMethod -Method Post -Uri {{Quote($"{emulator.Environment}/api/connector/enqueue/{emulator.ImportActivity}?entity=Benchmark")}} -InFile $file.FullName -ContentType 'application/octet-stream' -Headers @{ Authorization = "Bearer $token" } -SkipCertificateCheck | Out-Null
                }
            }
            '{0} {1}' -f $module.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture), $loop.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture)
            """;
        var output = (await RunScriptAsync(script, cancellationToken)).Trim().Split(' ');
        return (double.Parse(output[0], CultureInfo.InvariantCulture), double.Parse(output[1], CultureInfo.InvariantCulture));
    }

    internal async Task<string> RunScriptAsync(string script, CancellationToken cancellationToken)
    {
        var path = Path.Combine(_work, "bench-" + Guid.NewGuid().ToString("N") + ".ps1");
        await File.WriteAllTextAsync(path, script, cancellationToken);
        return await RunAsync(["-NoProfile", "-NonInteractive", "-File", path], cancellationToken);
    }

    /// <summary>Runs pwsh with these arguments; its last line of output. Throws with its errors when it fails.</summary>
    private async Task<string> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_pwsh) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("pwsh did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"pwsh failed ({process.ExitCode}): {await errors}");
        return (await output).Trim().Split('\n').Last();
    }

    internal static string Quote(string text) => "'" + text.Replace("'", "''") + "'";
}
