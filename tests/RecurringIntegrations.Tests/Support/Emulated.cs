using System;
using System.Collections.Concurrent;
using System.IO;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Support;

/// <summary>An emulator on loopback and a session connected to it with a real MSAL client-credential flow.</summary>
public sealed class Emulated : IAsyncDisposable
{
    private Emulated(D365Emulator emulator, D365Session session, string folder)
    {
        Emulator = emulator;
        Session = session;
        Folder = folder;
        Client = new D365Client(session, VerboseLines.Enqueue);
    }

    public D365Emulator Emulator { get; }
    public D365Session Session { get; }
    public D365Client Client { get; }
    /// <summary>A fresh folder for this test's files, deleted at the end.</summary>
    public string Folder { get; }
    public ConcurrentQueue<string> VerboseLines { get; } = new();

    public static async Task<Emulated> StartAsync(Action<EmulatorOptions>? configure = null)
    {
        var options = new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(100) };
        configure?.Invoke(options);
        var emulator = await D365Emulator.StartAsync(options);
        try
        {
            var session = await D365Session.ConnectAsync(Options(emulator), CancellationToken.None);
            var folder = Path.Combine(Path.GetTempPath(), "ri-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            return new Emulated(emulator, session, folder);
        }
        catch
        {
            await emulator.DisposeAsync();
            throw;
        }
    }

    /// <summary>Connection options for the emulator's client-secret app, trusting its certificate, with fast retries.</summary>
    public static ConnectionOptions Options(D365Emulator emulator, D365Credential? credential = null) =>
        new(emulator.Environment, credential ?? new ClientSecretCredential(emulator.Options.TenantId, emulator.Options.ClientId, Secure(emulator.Options.ClientSecret)))
        {
            AuthorityHost = emulator.AuthorityHost,
            TrustedServerCertificate = emulator.ServerCertificate,
            Retry = FastRetry(),
        };

    public static RetryOptions FastRetry() => new()
    {
        BaseDelay = TimeSpan.FromMilliseconds(10),
        MaxDelay = TimeSpan.FromMilliseconds(100),
        MaxTotalWait = TimeSpan.FromSeconds(10),
        ThrottlingBudget = TimeSpan.FromSeconds(20),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    public static SecureString Secure(string text)
    {
        var secure = new SecureString();
        foreach (var c in text) secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }

    public string WriteFile(string name, string content)
    {
        var path = Path.Combine(Folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        Session.Dispose();
        await Emulator.DisposeAsync();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
