using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Operations
{
    public sealed class QueueDrainTests
    {
        [Fact]
        public async Task Drain_saves_every_message_and_stops_when_the_queue_is_empty()
        {
            await using var env = await Emulated.StartAsync();
            var ids = Enumerable.Range(1, 5).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"export{i}.xml", Encoding.UTF8.GetBytes($"<n>{i}</n>"))).ToList();
            var recorder = new Recorder<DequeuedMessage>();
            var output = Path.Combine(env.Folder, "out");

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = output }.RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(ids.OrderBy(i => i), recorder.Results.Select(m => m.CorrelationId).OrderBy(i => i));
            foreach (var message in recorder.Results)
            {
                Assert.True(File.Exists(message.Path));
                Assert.Equal(new FileInfo(message.Path).Length, message.Length);
                Assert.False(message.Acknowledged);
                Assert.False(string.IsNullOrEmpty(message.DequeueResponse));
            }
            Assert.Empty(env.Emulator.State.Acknowledged);
            Assert.Empty(recorder.Errors);
            Assert.Empty(Directory.GetFiles(output, "*.partial"));
        }

        [Fact]
        public async Task MaxCount_takes_no_more_than_asked()
        {
            await using var env = await Emulated.StartAsync();
            var ids = Enumerable.Range(0, 4).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"e{i}.xml", Encoding.UTF8.GetBytes("<e/>"))).ToList();
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, MaxCount = 2 }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(2, recorder.Results.Count);
            Assert.Equal(2, ids.Count(id => env.Emulator.State.DequeueCount(id) > 0));
        }

        [Fact]
        public async Task Acknowledge_acks_each_message_after_its_file_is_saved()
        {
            await using var env = await Emulated.StartAsync();
            var ids = Enumerable.Range(1, 3).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"a{i}.xml", Encoding.UTF8.GetBytes("<a/>"))).ToList();
            var recorder = new Recorder<DequeuedMessage>();
            var savedBeforeAck = true;

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true }
                .RunAsync(recorder.Callbacks(path =>
                {
                    // Confirmation comes right before the ack: the file must already be complete under its final name.
                    savedBeforeAck &= File.Exists(path);
                    return true;
                }), CancellationToken.None);

            Assert.True(savedBeforeAck);
            Assert.All(recorder.Results, m => Assert.True(m.Acknowledged));
            Assert.Equal(ids.OrderBy(i => i), env.Emulator.State.Acknowledged.OrderBy(i => i));
        }

        [Fact]
        public async Task A_failed_download_is_reported_not_acknowledged_and_the_drain_goes_on()
        {
            await using var env = await Emulated.StartAsync();
            var ids = Enumerable.Range(1, 3).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"d{i}.xml", Encoding.UTF8.GetBytes("<d/>"))).ToList();
            env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Status, StatusCode = 404, Times = 1 });
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            var (target, error) = Assert.Single(recorder.Errors);
            var failed = Assert.IsType<Guid>(target);
            Assert.Equal(2, recorder.Results.Count);
            Assert.DoesNotContain(failed, env.Emulator.State.Acknowledged);
            Assert.Equal(ids.Where(i => i != failed).OrderBy(i => i), env.Emulator.State.Acknowledged.OrderBy(i => i));
            Assert.Empty(Directory.GetFiles(env.Folder, "*.partial"));
        }

        [Fact]
        public async Task A_message_redelivered_in_the_same_run_ends_the_drain()
        {
            await using var env = await Emulated.StartAsync(o => o.RedeliveryTimeout = TimeSpan.Zero);
            env.Emulator.AddExportMessage(WellKnown.ExportActivity, "bad.xml", Encoding.UTF8.GetBytes("<b/>"));
            env.Emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/download", Kind = FaultKind.Status, StatusCode = 404, Times = -1 });
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Single(recorder.Errors);
            Assert.Single(recorder.Warnings);
            Assert.Empty(recorder.Results);
            Assert.Empty(env.Emulator.State.Acknowledged);
        }
    }
}
