using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
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
        public async Task A_message_whose_file_is_gone_is_ExportFileMissing_once_without_a_download_and_the_others_are_saved()
        {
            await using var env = await Emulated.StartAsync();
            var good = Enumerable.Range(1, 3).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"g{i}.xml", Encoding.UTF8.GetBytes($"<g>{i}</g>"))).ToList();
            var gone = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "gone.xml", Encoding.UTF8.GetBytes("<gone/>"));
            Assert.True(env.Emulator.State.MarkFileMissing(gone));
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder }.RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(good.OrderBy(i => i), recorder.Results.Select(m => m.CorrelationId).OrderBy(i => i));
            Assert.All(recorder.Results, m => Assert.True(File.Exists(m.Path)));
            var (target, error) = Assert.Single(recorder.Errors);
            Assert.Equal("ExportFileMissing", error.ErrorId);
            Assert.Contains(gone.ToString(), error.Message);
            Assert.Contains(WellKnown.ExportActivity.ToString(), error.Message);
            Assert.Contains("was not found in storage", error.ServiceMessage);
            var message = Assert.IsType<DequeuedMessage>(target);
            Assert.Equal((gone, WellKnown.ExportActivity, ""), (message.CorrelationId, message.ActivityId, message.Path));
            Assert.Contains(gone.ToString(), message.DequeueResponse);
            Assert.DoesNotContain(env.Emulator.State.Requests, r => r.PathAndQuery.Contains("/download/") && r.PathAndQuery.Contains(gone.ToString()));
            Assert.Empty(env.Emulator.State.Acknowledged);

            // The error's target is what Confirm-D365Ack takes: acknowledging it on purpose takes the message off the queue.
            await env.Client.AcknowledgeAsync(message.ActivityId, message.DequeueResponse, CancellationToken.None);
            Assert.Equal(new[] { gone }, env.Emulator.State.Acknowledged);
        }

        [Fact]
        public async Task AcknowledgeMissing_leaves_the_queue_empty_with_a_warning_per_message_whose_file_is_gone()
        {
            // Redelivery at once: a message left on the queue would come back within the run, so an empty end proves the acks.
            await using var env = await Emulated.StartAsync(o => o.RedeliveryTimeout = TimeSpan.Zero);
            var good = Enumerable.Range(1, 3).Select(i => env.Emulator.AddExportMessage(WellKnown.ExportActivity, $"g{i}.xml", Encoding.UTF8.GetBytes($"<g>{i}</g>"))).ToList();
            var gone = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "gone.xml", Encoding.UTF8.GetBytes("<gone/>"));
            env.Emulator.State.MarkFileMissing(gone);
            var recorder = new Recorder<DequeuedMessage>();

            await new QueueDrain(env.Session, env.Client, WellKnown.ExportActivity) { OutputPath = env.Folder, Acknowledge = true, AcknowledgeMissing = true }
                .RunAsync(recorder.Callbacks(), CancellationToken.None);

            Assert.Empty(recorder.Errors);
            Assert.Equal(3, recorder.Results.Count);
            var warning = Assert.Single(recorder.Warnings);
            Assert.Contains(gone.ToString(), warning);
            Assert.Contains("-AcknowledgeMissing", warning);
            Assert.Equal(good.Append(gone).OrderBy(i => i), env.Emulator.State.Acknowledged.OrderBy(i => i));
            Assert.Null(await env.Client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
        }

        [Fact]
        public async Task A_download_answered_404_BlobNotFound_by_storage_is_ExportFileMissing_not_a_web_page()
        {
            await using var env = await Emulated.StartAsync();
            var id = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "late.xml", Encoding.UTF8.GetBytes("<late/>"));
            var dequeued = await env.Client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None);
            Assert.True(dequeued!.IsDownloadFileExist);
            // Cleaned up between the dequeue and the download: the dequeue still said it was there.
            env.Emulator.State.MarkFileMissing(id);

            var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.DownloadAsync(dequeued, env.Folder, false, CancellationToken.None));

            Assert.Equal("ExportFileMissing", error.ErrorId);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, error.StatusCode);
            Assert.StartsWith("BlobNotFound", error.ServiceMessage);
            Assert.Contains(id.ToString(), error.Message);
            Assert.Empty(Directory.GetFiles(env.Folder));
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
            var failed = Assert.IsType<DequeuedMessage>(target).CorrelationId;
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
