using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Reliability;

/// <summary>
/// Runs whole imports and exports through the operations the cmdlets use and checks the books afterwards:
/// every file is either reported with a message id the service holds, or reported as an error and left untouched;
/// no file reaches the service twice; every saved file is complete; every acked message has its file on disk;
/// every message not acked is still on the service's queue.
/// </summary>
internal static class Ledger
{
    public static List<string> MakeImportFiles(string folder, int count)
    {
        var files = new List<string>(count);
        Directory.CreateDirectory(folder);
        for (var i = 0; i < count; i++)
        {
            var path = Path.Combine(folder, $"import-{i:D5}.csv");
            File.WriteAllText(path, $"ID,NAME\n{i},Customer group {i}\n");
            files.Add(path);
        }
        return files;
    }

    public static Dictionary<Guid, byte[]> QueueExports(D365Emulator emulator, int count)
    {
        var contents = new Dictionary<Guid, byte[]>();
        for (var i = 0; i < count; i++)
        {
            var content = System.Text.Encoding.UTF8.GetBytes($"<Export n=\"{i}\">{new string('x', i % 97)}</Export>");
            contents[emulator.AddExportMessage(WellKnown.ExportActivity, $"export-{i:D5}.xml", content)] = content;
        }
        return contents;
    }

    public static async Task<Recorder<EnqueuedMessage>> EnqueueAsync(Emulated env, IReadOnlyList<string> files, int throttleLimit, CancellationToken cancellationToken = default)
    {
        var recorder = new Recorder<EnqueuedMessage>();
        var batch = new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity) { ThrottleLimit = throttleLimit };
        await batch.RunAsync(files.Select(f => new EnqueueRequest(f) { EntityName = "Customer groups" }).ToList(), recorder.Callbacks(), cancellationToken);
        return recorder;
    }

    /// <summary>Drains with acks until the service has nothing left, going round again for redelivered messages.</summary>
    public static async Task<List<DequeuedMessage>> DrainUntilEmptyAsync(Emulated env, string folder, int rounds = 20)
    {
        var saved = new List<DequeuedMessage>();
        for (var round = 0; round < rounds && env.Emulator.State.PendingExports(WellKnown.ExportActivity) > 0; round++)
        {
            var recorder = new Recorder<DequeuedMessage>();
            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = folder, Acknowledge = true }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);
            saved.AddRange(recorder.Results);
            if (env.Emulator.State.PendingExports(WellKnown.ExportActivity) > 0)
                await Task.Delay(env.Emulator.Options.RedeliveryTimeout + TimeSpan.FromMilliseconds(100));
        }
        return saved;
    }

    public static void AssertImportBooks(Emulated env, IReadOnlyList<string> files, Recorder<EnqueuedMessage> recorder)
    {
        var onService = env.Emulator.State.Enqueued;
        var reported = recorder.Results.ToList();
        var failedPaths = recorder.Errors.Select(e => (string)e.Target).ToList();

        // Every file is accounted for exactly once: a message id or an error.
        Assert.Equal(files.OrderBy(f => f), reported.Select(r => r.Path).Concat(failedPaths).OrderBy(f => f));
        // No message id is reported that the service does not hold.
        var serviceIds = onService.Select(m => m.MessageId).ToHashSet();
        Assert.All(reported, r => Assert.Contains(r.MessageId, serviceIds));
        // No file reached the service twice.
        var hashes = onService.Select(m => m.Sha256).ToList();
        Assert.Equal(hashes.Count, hashes.Distinct().Count());
        // Only a file whose outcome the module reported as unknown may be on the service without an id.
        var unknown = recorder.Errors.Count(e => e.Error.ErrorId == "EnqueueOutcomeUnknown");
        Assert.InRange(onService.Count, reported.Count, reported.Count + unknown);
        // Nothing is lost: every file is still where it was.
        Assert.All(files, f => Assert.True(File.Exists(f)));
    }

    public static void AssertExportBooks(Emulated env, Dictionary<Guid, byte[]> queued, IReadOnlyList<DequeuedMessage> saved, string folder)
    {
        Assert.Empty(Directory.GetFiles(folder, "*.partial", SearchOption.AllDirectories));
        Assert.Equal(saved.Count, saved.Select(m => m.CorrelationId).Distinct().Count());
        foreach (var message in saved)
        {
            Assert.True(message.Acknowledged);
            Assert.Equal(queued[message.CorrelationId], File.ReadAllBytes(message.Path));
        }
        var acked = env.Emulator.State.Acknowledged.ToHashSet();
        Assert.Equal(saved.Select(m => m.CorrelationId).ToHashSet(), acked);
        Assert.Equal(queued.Count - acked.Count, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
    }

    public static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
