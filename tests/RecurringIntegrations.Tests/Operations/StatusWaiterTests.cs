using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.Tests.Operations
{
    public sealed class StatusWaiterTests
    {
        [Fact]
        public async Task Wait_reports_each_message_once_at_its_terminal_status()
        {
            await using var env = await Emulated.StartAsync();
            var ids = new[] { "<ok1/>", "line\nEMULATOR-ERROR: Customer group 'X' does not exist\n", "<ok2/>" }
                .Select((content, i) => env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile($"s{i}.xml", content), "Customer groups", null, null, CancellationToken.None).Result)
                .ToList();
            var recorder = new Recorder<MessageStatus>();

            await new StatusWaiter(env.Session, env.Client) { PollInterval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromSeconds(30) }
                .RunAsync(ids, recorder.Callbacks(), CancellationToken.None);

            Assert.Empty(recorder.Errors);
            Assert.Equal(ids.OrderBy(i => i), recorder.Results.Select(s => s.MessageId).OrderBy(i => i));
            Assert.All(recorder.Results, s => Assert.True(s.IsTerminal));
            Assert.Equal("ProcessedWithErrors", recorder.Results.Single(s => s.MessageId == ids[1]).Status);
            Assert.False(recorder.Results.Single(s => s.MessageId == ids[1]).Succeeded);
            Assert.True(recorder.Results.Single(s => s.MessageId == ids[0]).Succeeded);
            Assert.Equal(3, recorder.Progress.Last().Completed);

            var errors = await MessageQueries.ExecutionErrorsOfMessageAsync(env.Client, ids[1], CancellationToken.None);
            Assert.Contains("does not exist", Assert.Single(errors).ErrorMessage);
            Assert.Equal(ids[1], errors[0].MessageId);
        }

        private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

        [Fact]
        public async Task Wait_polls_on_the_session_s_clock_and_times_out_at_its_deadline()
        {
            await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromHours(1));
            var id = await env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("slow.xml", "<slow/>"), "Customer groups", null, null, CancellationToken.None);
            var clock = new ManualClock(DateTimeOffset.UtcNow);
            var options = Emulated.Options(env.Emulator);
            options.Time = clock;
            using var session = await D365Session.ConnectAsync(options, CancellationToken.None);
            var recorder = new Recorder<MessageStatus>();
            // Counted as the client logs them, before each call returns: the emulator records a call only after its answer is out,
            // so its own count can lag behind a wait that has already started.
            var polls = () => env.VerboseLines.Count(l => l.Contains("GetMessageStatus", StringComparison.Ordinal));

            var run = new StatusWaiter(session, env.Client) { Timeout = TimeSpan.FromSeconds(10), PollInterval = TimeSpan.FromSeconds(4) }
                .RunAsync(new[] { id }, recorder.Callbacks(), CancellationToken.None);
            var waits = new System.Collections.Generic.List<(TimeSpan Wait, int PollsBefore)>();
            for (var i = 0; i < 5; i++)
            {
                var wait = await clock.NextTimerAsync();
                waits.Add((wait, polls()));
                clock.Advance(wait);
            }
            await run;

            // The first check half a second in, then waits doubling up to the interval, the last one cut at the deadline.
            Assert.Equal(new[] { (S(0.5), 0), (S(1), 1), (S(2), 2), (S(4), 3), (S(2.5), 4) }, waits);
            Assert.Equal(5, polls());
            var last = Assert.Single(recorder.Results);
            Assert.Equal(("Enqueued", false), (last.Status, last.IsTerminal));
            var (target, error) = Assert.Single(recorder.Errors);
            Assert.Equal("StatusWaitTimeout", error.ErrorId);
            Assert.Equal(new[] { id }, (Guid[])target);
            Assert.Equal(TimeSpan.FromSeconds(10), clock.Elapsed);
        }

        [Fact]
        public async Task Statuses_carry_what_the_caller_knew_of_each_message_and_the_execution_id_once_terminal()
        {
            await using var env = await Emulated.StartAsync();
            var path = env.WriteFile("known.xml", "<k/>");
            var id = await env.Client.EnqueueAsync(WellKnown.ImportActivity, path, "Customer groups", null, null, CancellationToken.None);
            var sentAt = DateTimeOffset.Now;
            var known = new MessageReference(id) { FileName = "known.xml", Path = path, ActivityId = WellKnown.ImportActivity, EnqueuedAt = sentAt };
            var recorder = new Recorder<MessageStatus>();

            await new StatusWaiter(env.Session, env.Client) { PollInterval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromSeconds(30) }
                .RunAsync(new[] { known, new MessageReference(id) }, recorder.Callbacks(), CancellationToken.None);

            var status = Assert.Single(recorder.Results);
            Assert.Equal(("known.xml", path, (Guid?)WellKnown.ImportActivity, (DateTimeOffset?)sentAt), (status.FileName, status.Path, status.ActivityId, status.EnqueuedAt));
            Assert.Equal(await env.Client.GetExecutionIdAsync(id, CancellationToken.None), status.ExecutionId);
            Assert.False(string.IsNullOrEmpty(status.ExecutionId));
        }

        [Fact]
        public async Task A_status_still_in_progress_has_no_execution_id_and_costs_no_execution_id_call()
        {
            await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMinutes(10));
            var id = await env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("slow.xml", "<s/>"), "Customer groups", null, null, CancellationToken.None);

            var status = await new StatusWaiter(env.Session, env.Client).GetAsync(new MessageReference(id) { FileName = "slow.xml" }, CancellationToken.None);

            Assert.False(status.IsTerminal);
            Assert.Null(status.ExecutionId);
            Assert.Equal("slow.xml", status.FileName);
            Assert.Contains(env.VerboseLines, l => l.Contains("GetMessageStatus"));
            Assert.DoesNotContain(env.VerboseLines, l => l.Contains("GetExecutionIdByMessageId"));
        }

        [Fact]
        public async Task Timeout_reports_the_last_status_of_the_rest_and_one_summary_error()
        {
            await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMinutes(10));
            var ids = Enumerable.Range(0, 3)
                .Select(i => env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile($"t{i}.xml", "<t/>"), "Customer groups", null, null, CancellationToken.None).Result)
                .ToList();
            var recorder = new Recorder<MessageStatus>();

            await new StatusWaiter(env.Session, env.Client) { PollInterval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromMilliseconds(300) }
                .RunAsync(ids, recorder.Callbacks(), CancellationToken.None);

            Assert.Equal(3, recorder.Results.Count);
            Assert.All(recorder.Results, s => Assert.False(s.IsTerminal));
            var (target, error) = Assert.Single(recorder.Errors);
            Assert.Equal("StatusWaitTimeout", error.ErrorId);
            Assert.Equal(D365ErrorCategory.OperationTimeout, error.Category);
            Assert.Equal(ids.OrderBy(i => i), ((Guid[])target).OrderBy(i => i));
        }

        [Fact]
        public async Task Execution_errors_of_a_message_not_yet_processed_is_one_clear_error()
        {
            await using var env = await Emulated.StartAsync(o => o.ProcessingDelay = TimeSpan.FromMinutes(10));
            var id = await env.Client.EnqueueAsync(WellKnown.ImportActivity, env.WriteFile("n.xml", "<n/>"), "Customer groups", null, null, CancellationToken.None);

            var error = await Assert.ThrowsAsync<D365Exception>(() => MessageQueries.ExecutionErrorsOfMessageAsync(env.Client, id, CancellationToken.None));

            Assert.Equal("ExecutionNotStarted", error.ErrorId);
        }
    }
}
