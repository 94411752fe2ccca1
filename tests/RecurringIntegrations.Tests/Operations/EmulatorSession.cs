using System;
using System.Collections.Concurrent;
using System.IO;
using System.Security;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;

namespace RecurringIntegrations.Tests.Operations
{
    /// <summary>A running emulator, a session connected to it over real sockets, and a scratch folder; all torn down together.</summary>
    internal sealed class EmulatorSession : IAsyncDisposable
    {
        private EmulatorSession(D365Emulator emulator, D365Session session, string folder)
        {
            Emulator = emulator;
            Session = session;
            Folder = folder;
            Client = new D365Client(session, Verbose.Enqueue);
        }

        public D365Emulator Emulator { get; }
        public D365Session Session { get; }
        public D365Client Client { get; }
        public string Folder { get; }
        public ConcurrentQueue<string> Verbose { get; } = new ConcurrentQueue<string>();

        public static async Task<EmulatorSession> StartAsync(Action<EmulatorOptions>? configure = null)
        {
            var options = new EmulatorOptions { ProcessingDelay = TimeSpan.FromMilliseconds(150) };
            configure?.Invoke(options);
            var emulator = await D365Emulator.StartAsync(options);
            var secret = new SecureString();
            foreach (var c in options.ClientSecret) secret.AppendChar(c);
            var connection = new ConnectionOptions(emulator.Environment, new ClientSecretCredential(options.TenantId, options.ClientId, secret))
            {
                AuthorityHost = emulator.AuthorityHost,
                TrustedServerCertificate = emulator.ServerCertificate,
                Retry = new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(10) },
            };
            var session = await D365Session.ConnectAsync(connection, CancellationToken.None);
            var folder = Path.Combine(Path.GetTempPath(), "ri-ops-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            return new EmulatorSession(emulator, session, folder);
        }

        public string WriteFile(string name, string content)
        {
            var path = Path.Combine(Folder, name);
            File.WriteAllText(path, content);
            return path;
        }

        public async ValueTask DisposeAsync()
        {
            Session.Dispose();
            await Emulator.DisposeAsync();
            try
            {
                Directory.Delete(Folder, true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Collects what an operation reports, from whatever threads it reports on.</summary>
    internal sealed class Recorder<T>
    {
        public ConcurrentQueue<T> Results { get; } = new ConcurrentQueue<T>();
        public ConcurrentQueue<(object Target, D365Exception Error)> Errors { get; } = new ConcurrentQueue<(object, D365Exception)>();
        public ConcurrentQueue<string> Warnings { get; } = new ConcurrentQueue<string>();
        public ConcurrentQueue<OperationProgress> Progress { get; } = new ConcurrentQueue<OperationProgress>();

        public OperationCallbacks<T> Callbacks(Func<string, bool>? confirm = null) => new OperationCallbacks<T>
        {
            Result = Results.Enqueue,
            Error = (target, error) => Errors.Enqueue((target, error)),
            Warning = Warnings.Enqueue,
            Progress = Progress.Enqueue,
            Confirm = confirm is null ? null : (target, _, _) => Task.FromResult(confirm(target)),
        };
    }
}
