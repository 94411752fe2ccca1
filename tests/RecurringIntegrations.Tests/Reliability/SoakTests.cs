using System;
using System.IO;
using System.Threading.Tasks;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Reliability;

public class SoakTests
{
    [Fact]
    public async Task Two_thousand_imports_and_exports_with_ten_percent_faults_lose_and_duplicate_nothing()
    {
        const int count = 2000;
        await using var env = await Emulated.StartAsync(o =>
        {
            o.RedeliveryTimeout = TimeSpan.FromMilliseconds(300);
            o.ProcessingDelay = TimeSpan.FromMilliseconds(50);
        });
        env.Emulator.Faults.Seed = 20261122;
        // Across every call: 5% throttled, 3% unavailable, 2% dropped connections.
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/", Kind = FaultKind.Status, StatusCode = 429, RetryAfter = "0", Times = -1, Probability = 0.05 });
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/", Kind = FaultKind.Status, StatusCode = 503, Times = -1, Probability = 0.03 });
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/", Kind = FaultKind.Reset, Times = -1, Probability = 0.02 });

        var files = Ledger.MakeImportFiles(Path.Combine(env.Folder, "in"), count);
        var imports = await Ledger.EnqueueAsync(env, files, throttleLimit: 8);
        Ledger.AssertImportBooks(env, files, imports);
        Assert.True(imports.Results.Count >= count * 0.95, $"only {imports.Results.Count} of {count} uploads succeeded");

        var queued = Ledger.QueueExports(env.Emulator, count);
        var output = Path.Combine(env.Folder, "out");
        var saved = await Ledger.DrainUntilEmptyAsync(env, output, rounds: 50);
        Ledger.AssertExportBooks(env, queued, saved, output);
        Assert.Equal(count, saved.Count);
        Assert.True(env.Emulator.Faults.Hits > count / 10, $"only {env.Emulator.Faults.Hits} faults were injected");
    }
}
