using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Reliability;

public class InterruptedDrainTests
{
    [Fact]
    public async Task Ctrl_C_mid_drain_keeps_what_was_saved_and_leaves_the_rest_on_the_queue()
    {
        await using var env = await Emulated.StartAsync(o => o.RedeliveryTimeout = TimeSpan.FromMilliseconds(500));
        var queued = Ledger.QueueExports(env.Emulator, 40);
        // Slow downloads so the stop lands in the middle of one.
        env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(60), Times = -1 });
        var output = Path.Combine(env.Folder, "out");
        var recorder = new Recorder<DequeuedMessage>();
        using var stop = new CancellationTokenSource();
        var callbacks = recorder.Callbacks();
        // Ctrl+C after the fifth saved file, while the sixth is being downloaded.
        callbacks.Result = message =>
        {
            recorder.Results.Enqueue(message);
            if (recorder.Results.Count == 5) stop.CancelAfter(TimeSpan.FromMilliseconds(30));
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = output, Acknowledge = true }.RunAsync(callbacks, stop.Token));

        var savedBeforeStop = recorder.Results.ToList();
        Assert.InRange(savedBeforeStop.Count, 5, 39);
        Ledger.AssertExportBooks(env, queued, savedBeforeStop, output);
        Assert.Equal(savedBeforeStop.Count, Directory.GetFiles(output).Length);

        // The next run, after the redelivery timeout, gets everything that was left, including the interrupted one.
        env.Emulator.Faults.Clear();
        await Task.Delay(600);
        var rest = await Ledger.DrainUntilEmptyAsync(env, output);
        Ledger.AssertExportBooks(env, queued, savedBeforeStop.Concat(rest).ToList(), output);
        Assert.Equal(0, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
    }
}
