using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.PowerShell;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Operations
{
    public sealed class QueueDrainParallelTests
    {
        [Fact]
        public async Task Eight_workers_save_and_acknowledge_every_message_exactly_once()
        {
            await using var env = await Emulated.StartAsync();
            var contents = new Dictionary<Guid, string>();
            for (var i = 0; i < 200; i++)
            {
                var text = $"<row n=\"{i}\"/>";
                contents.Add(env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"p{i}.xml", Encoding.UTF8.GetBytes(text)), text);
            }
            var recorder = new Recorder<DequeuedMessage>();
            var output = Path.Combine(env.Folder, "out");

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = output, Acknowledge = true, ThrottleLimit = 8 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Empty(recorder.Errors);
            Assert.Empty(recorder.Warnings);
            Assert.Equal(contents.Keys.OrderBy(i => i), recorder.Results.Select(m => m.CorrelationId).OrderBy(i => i));
            Assert.All(recorder.Results, m =>
            {
                Assert.True(m.Acknowledged);
                Assert.Equal(contents[m.CorrelationId], File.ReadAllText(m.Path));
            });
            Assert.Equal(200, Directory.GetFiles(output).Length);
            Assert.Equal(contents.Keys.OrderBy(i => i), env.Emulator.State.Acknowledged.OrderBy(i => i));
            Assert.All(env.Emulator.State.DequeueCounts.Values, count => Assert.Equal(1, count));
            Assert.Equal(200, recorder.Progress.Max(p => p.Completed));
        }

        [Fact]
        public async Task MaxCount_is_exact_across_workers()
        {
            await using var env = await Emulated.StartAsync();
            var ids = Enumerable.Range(0, 100).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"m{i}.xml", Encoding.UTF8.GetBytes("<m/>"))).ToList();
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true, MaxCount = 37, ThrottleLimit = 8 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(37, recorder.Results.Count);
            Assert.Equal(37, ids.Count(id => env.Emulator.State.DequeueCount(id) > 0));
            Assert.Equal(37, env.Emulator.State.Acknowledged.Count);
            Assert.Equal(63, env.Emulator.State.PendingExports(WellKnown.ExportActivity));
        }

        [Fact]
        public async Task Workers_download_at_the_same_time()
        {
            await using var env = await Emulated.StartAsync();
            for (var i = 0; i < 16; i++) env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"s{i}.xml", Encoding.UTF8.GetBytes("<s/>"));
            env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(300), Times = -1 });
            var recorder = new Recorder<DequeuedMessage>();
            var watch = Stopwatch.StartNew();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, ThrottleLimit = 8 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(16, recorder.Results.Count);
            // One after the other this takes 16 x 300 ms = 4.8 s; eight at a time about 0.6 s.
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2.4), $"took {watch.Elapsed}");
        }

        [Fact]
        public async Task Failed_downloads_are_not_acknowledged_and_the_other_workers_go_on()
        {
            await using var env = await Emulated.StartAsync();
            var ids = Enumerable.Range(0, 20).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"f{i}.xml", Encoding.UTF8.GetBytes("<f/>"))).ToList();
            env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Status, StatusCode = 404, SkipFirst = 5, Times = 2 });
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true, ThrottleLimit = 4 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            var failed = recorder.Errors.Select(e => Assert.IsType<DequeuedMessage>(e.Target).CorrelationId).ToList();
            Assert.Equal(2, failed.Count);
            Assert.Equal(18, recorder.Results.Count);
            Assert.Equal(ids.Except(failed).OrderBy(i => i), env.Emulator.State.Acknowledged.OrderBy(i => i));
            Assert.Empty(Directory.GetFiles(env.Folder, "*.partial", SearchOption.AllDirectories));
        }

        [Fact]
        public async Task Downloads_failing_in_a_row_stop_every_worker()
        {
            await using var env = await Emulated.StartAsync();
            for (var i = 0; i < 50; i++) env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"x{i}.xml", Encoding.UTF8.GetBytes("<x/>"));
            env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Status, StatusCode = 404, Times = -1 });
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true, ThrottleLimit = 4 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            // The third failure stops the drain; the other workers only finish the message each already holds.
            Assert.InRange(recorder.Errors.Count, QueueDrain.MaxConsecutiveFailures, QueueDrain.MaxConsecutiveFailures + 3);
            Assert.Single(recorder.Warnings);
            Assert.Empty(recorder.Results);
            Assert.Empty(env.Emulator.State.Acknowledged);
            Assert.True(env.Emulator.State.PendingExports(WellKnown.ExportActivity) >= 50 - QueueDrain.MaxConsecutiveFailures - 3);
        }

        [Fact]
        public async Task A_message_redelivered_to_another_worker_ends_the_drain()
        {
            await using var env = await Emulated.StartAsync(o => o.RedeliveryTimeout = TimeSpan.Zero);
            env.Emulator.AddExportMessage(WellKnown.ExportActivity, "bad.xml", Encoding.UTF8.GetBytes("<b/>"));
            env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Status, StatusCode = 404, Times = -1 });
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, ThrottleLimit = 4 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Single(recorder.Warnings);
            Assert.Empty(recorder.Results);
            Assert.Empty(env.Emulator.State.Acknowledged);
        }

        [Fact]
        public async Task Through_the_bridge_every_callback_runs_on_the_pumping_thread()
        {
            await using var env = await Emulated.StartAsync();
            for (var i = 0; i < 40; i++) env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"b{i}.xml", Encoding.UTF8.GetBytes("<b/>"));
            var bridge = new PipelineBridge();
            var pump = Environment.CurrentManagedThreadId;
            // Plain lists: only the pumping thread touches them, as only the pipeline thread may call Write* in a cmdlet.
            var threads = new List<int>();
            var results = new List<DequeuedMessage>();
            var confirmed = new List<string>();
            var callbacks = new OperationCallbacks<DequeuedMessage>
            {
                Result = m => bridge.Post(() => { threads.Add(Environment.CurrentManagedThreadId); results.Add(m); }),
                Progress = _ => bridge.Post(() => threads.Add(Environment.CurrentManagedThreadId)),
                Error = (_, _) => bridge.Post(() => threads.Add(Environment.CurrentManagedThreadId)),
                Confirm = (target, _, _) => bridge.InvokeAsync(() =>
                {
                    threads.Add(Environment.CurrentManagedThreadId);
                    confirmed.Add(target);
                    return true;
                }),
            };
            var drain = new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true, ThrottleLimit = 8 };

            bridge.Run(token => drain.RunAsync(callbacks, token), CancellationToken.None);

            Assert.Equal(40, results.Count);
            Assert.Equal(40, confirmed.Count);
            Assert.All(results, m => Assert.True(m.Acknowledged));
            Assert.All(threads, id => Assert.Equal(pump, id));
        }

        [Theory]
        [InlineData(0)]
        [InlineData(EnqueueBatch.MaxThrottleLimit + 1)]
        public async Task A_throttle_limit_out_of_range_is_refused(int limit)
        {
            await using var env = await Emulated.StartAsync();
            var drain = new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, ThrottleLimit = limit };

            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => drain.RunAsync(new Recorder<DequeuedMessage>().Callbacks(), CancellationToken.None));
        }
    }
}
