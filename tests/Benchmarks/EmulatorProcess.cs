using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Security;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// The emulator in its own process, so the client's memory and CPU are measured apart from the server's.
/// It is the built emulator dll that the project reference copies next to the benchmark.
/// </summary>
internal sealed class EmulatorProcess : IAsyncDisposable
{
    private readonly Process _process;

    private EmulatorProcess(Process process, JsonElement ready)
    {
        _process = process;
        Environment = ready.GetProperty("environment").GetString()!;
        AuthorityHost = ready.GetProperty("authorityHost").GetString()!;
        TenantId = ready.GetProperty("tenantId").GetString()!;
        ClientId = ready.GetProperty("clientId").GetString()!;
        ClientSecret = ready.GetProperty("clientSecret").GetString()!;
        ImportActivity = ready.GetProperty("importActivity").GetGuid();
        ExportActivity = ready.GetProperty("exportActivity").GetGuid();
    }

    public string Environment { get; }
    public string AuthorityHost { get; }
    public string TenantId { get; }
    public string ClientId { get; }
    public string ClientSecret { get; }
    public Guid ImportActivity { get; }
    public Guid ExportActivity { get; }
    public string TokenEndpoint => $"{AuthorityHost}/{TenantId}/oauth2/v2.0/token";

    /// <summary>CPU time the emulator process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static async Task<EmulatorProcess> StartAsync(string workFolder, string? exportFolder, CancellationToken cancellationToken,
        params string[] moreArguments)
    {
        var readyFile = Path.Combine(workFolder, "ready-" + Guid.NewGuid().ToString("N") + ".json");
        var start = new ProcessStartInfo(System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "RecurringIntegrations.Emulator.dll"));
        foreach (var argument in new[] { "--port", "0", "--ready-file", readyFile, "--blob-folder", Path.Combine(workFolder, "blobs") })
            start.ArgumentList.Add(argument);
        if (exportFolder is not null)
        {
            start.ArgumentList.Add("--export-folder");
            start.ArgumentList.Add(exportFolder);
        }
        foreach (var argument in moreArguments) start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException("The emulator did not start.");
        // Drained so a full pipe never blocks the emulator.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var deadline = DateTime.UtcNow.AddMinutes(1);
            while (!File.Exists(readyFile))
            {
                if (process.HasExited) throw new InvalidOperationException($"The emulator ended with exit code {process.ExitCode} before it was ready.");
                if (DateTime.UtcNow > deadline) throw new TimeoutException("The emulator was not ready within a minute.");
                await Task.Delay(50, cancellationToken);
            }
            using var ready = JsonDocument.Parse(await File.ReadAllTextAsync(readyFile, cancellationToken));
            File.Delete(readyFile);
            return new EmulatorProcess(process, ready.RootElement.Clone());
        }
        catch
        {
            Stop(process);
            throw;
        }
    }

    /// <summary>A module session as a user would open one: client secret, one token at connect.</summary>
    public Task<D365Session> ConnectAsync(CancellationToken cancellationToken)
    {
        var secret = new SecureString();
        foreach (var c in ClientSecret) secret.AppendChar(c);
        secret.MakeReadOnly();
        var options = new ConnectionOptions(Environment, new ClientSecretCredential(TenantId, ClientId, secret))
        {
            AuthorityHost = new Uri(AuthorityHost),
            // The emulator's certificate is self-signed and made at start-up.
            SkipCertificateCheck = true,
        };
        return D365Session.ConnectAsync(options, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        Stop(_process);
        return ValueTask.CompletedTask;
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It ended on its own in the meantime.
        }
        process.Dispose();
    }
}
