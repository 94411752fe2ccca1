using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Operations
{
    public sealed class EnqueueBatchTests
    {
        [Fact]
        public async Task Throttle_1_uploads_in_order_and_a_missing_and_an_empty_file_do_not_stop_the_rest()
        {
            await using var env = await Emulated.StartAsync();
            var files = new[]
            {
                new EnqueueRequest(env.WriteFile("a.xml", "<a/>")) { EntityName = "Customer groups" },
                new EnqueueRequest(env.WriteFile("b.xml", "<b/>")) { EntityName = "Customer groups" },
                new EnqueueRequest(System.IO.Path.Combine(env.Folder, "missing.xml")) { EntityName = "Customer groups" },
                new EnqueueRequest(env.WriteFile("empty.xml", string.Empty)) { EntityName = "Customer groups" },
                new EnqueueRequest(env.WriteFile("c.xml", "<c/>")) { EntityName = "Customer groups" },
            };
            var recorder = new Recorder<EnqueuedMessage>();

            await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity).RunAsync(files, recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(new[] { "a.xml", "b.xml", "c.xml" }, recorder.Results.Select(m => m.FileName));
            Assert.Equal(new[] { "a.xml", "b.xml", "c.xml" }, env.Emulator.State.Enqueued.Select(m => m.ExternalIdentifier));
            Assert.Equal(recorder.Results.Select(m => m.MessageId), env.Emulator.State.Enqueued.Select(m => m.MessageId));
            Assert.Equal(new[] { "EnqueueFileNotFound", "EnqueueFileEmpty" }, recorder.Errors.Select(e => e.Error.ErrorId));
            Assert.Equal(files[2].Path, recorder.Errors.First().Target);
            Assert.Equal(5, recorder.Progress.Last().Completed);
        }

        [Fact]
        public async Task Throttle_above_1_uploads_every_file_once_and_isolates_a_refused_one()
        {
            await using var env = await Emulated.StartAsync(o => o.MaxEnqueueBytes = 100);
            var files = Enumerable.Range(1, 12)
                .Select(i => new EnqueueRequest(env.WriteFile($"f{i:00}.csv", i == 7 ? new string('x', 500) : "id,name\n" + i)))
                .ToList();
            var recorder = new Recorder<EnqueuedMessage>();

            await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity) { ThrottleLimit = 4 }
                .RunAsync(files, recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(11, recorder.Results.Count);
            Assert.Equal(11, recorder.Results.Select(m => m.MessageId).Distinct().Count());
            Assert.Equal(11, env.Emulator.State.Enqueued.Count);
            var (target, error) = Assert.Single(recorder.Errors);
            Assert.Equal(files[6].Path, target);
            Assert.Equal(12, recorder.Progress.Max(p => p.Completed));
        }

        [Fact]
        public async Task A_file_declined_at_confirmation_is_not_uploaded()
        {
            await using var env = await Emulated.StartAsync();
            var files = new[] { new EnqueueRequest(env.WriteFile("keep.xml", "<k/>")), new EnqueueRequest(env.WriteFile("skip.xml", "<s/>")) };
            var recorder = new Recorder<EnqueuedMessage>();

            await new EnqueueBatch(env.Session, env.Client, WellKnown.ImportActivity)
                .RunAsync(files, recorder.Callbacks(path => !path.EndsWith("skip.xml", StringComparison.Ordinal)), CancellationToken.None);

            Assert.Equal("keep.xml", Assert.Single(recorder.Results).FileName);
            Assert.Single(env.Emulator.State.Enqueued);
        }
    }
}
