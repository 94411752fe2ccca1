using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.PowerShell;
using Xunit;

namespace RecurringIntegrations.Tests.Cmdlets
{
    public sealed class PipelineBridgeTests
    {
        [Fact]
        public void Posts_from_background_threads_run_on_the_calling_thread()
        {
            var bridge = new PipelineBridge();
            var caller = Environment.CurrentManagedThreadId;
            var threads = new List<int>();

            bridge.Run(async token =>
            {
                var posts = new List<Task>();
                for (var i = 0; i < 20; i++) posts.Add(Task.Run(() => bridge.Post(() => threads.Add(Environment.CurrentManagedThreadId)), token));
                await Task.WhenAll(posts);
                var answer = await bridge.InvokeAsync(() => Environment.CurrentManagedThreadId);
                Assert.Equal(caller, answer);
            }, CancellationToken.None);

            Assert.Equal(20, threads.Count);
            Assert.All(threads, id => Assert.Equal(caller, id));
        }

        [Fact]
        public void A_throwing_post_cancels_the_work_and_is_rethrown()
        {
            var bridge = new PipelineBridge();
            var workSawCancellation = false;

            Assert.Throws<InvalidTimeProviderException>(() => bridge.Run(async token =>
            {
                bridge.Post(() => throw new InvalidTimeProviderException());
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), token);
                }
                catch (OperationCanceledException)
                {
                    workSawCancellation = true;
                    throw;
                }
            }, CancellationToken.None));

            Assert.True(workSawCancellation);
        }

        [Fact]
        public void Cancelling_ends_the_run_with_OperationCanceledException()
        {
            var bridge = new PipelineBridge();
            using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

            Assert.ThrowsAny<OperationCanceledException>(() => bridge.Run(token => Task.Delay(TimeSpan.FromSeconds(30), token), cancellation.Token));
        }

        [Fact]
        public void Work_started_here_runs_on_the_calling_thread_up_to_its_first_wait_and_its_prompts_run_at_once()
        {
            var bridge = new PipelineBridge();
            var caller = Environment.CurrentManagedThreadId;
            int startedOn = 0, promptedOn = 0, resumedOn = 0;
            var context = new RefusingContext();
            SynchronizationContext.SetSynchronizationContext(context);
            try
            {
                bridge.Run(async token =>
                {
                    startedOn = Environment.CurrentManagedThreadId;
                    // A prompt asked on the pumping thread itself runs there and then: nothing waits for a pump.
                    var prompt = bridge.InvokeAsync(() => Environment.CurrentManagedThreadId);
                    Assert.True(prompt.IsCompleted);
                    promptedOn = await prompt;
                    // The host's context is set aside: the work resumes on the pool, not on this thread, which waits for it.
                    await Task.Yield();
                    resumedOn = Environment.CurrentManagedThreadId;
                }, CancellationToken.None, startHere: true);
            }
            finally
            {
                SynchronizationContext.SetSynchronizationContext(null);
            }

            Assert.Equal(caller, startedOn);
            Assert.Equal(caller, promptedOn);
            Assert.NotEqual(caller, resumedOn);
            Assert.Equal(0, context.Posts);
        }

        [Fact]
        public void A_prompt_that_throws_on_the_pumping_thread_cancels_the_work_and_is_rethrown()
        {
            var bridge = new PipelineBridge();
            var workSawIt = false;
            var workSawCancellation = false;

            Assert.Throws<InvalidTimeProviderException>(() => bridge.Run(async token =>
            {
                try
                {
                    await bridge.InvokeAsync<bool>(() => throw new InvalidTimeProviderException());
                }
                catch (InvalidTimeProviderException)
                {
                    // As with a pumped prompt: the work sees the failure too, and is cancelled.
                    workSawIt = true;
                }
                workSawCancellation = token.IsCancellationRequested;
            }, CancellationToken.None, startHere: true));

            Assert.True(workSawIt);
            Assert.True(workSawCancellation);
        }

        [Fact]
        public void Work_started_here_that_throws_before_its_first_wait_is_rethrown()
        {
            var bridge = new PipelineBridge();

            Assert.Throws<InvalidTimeProviderException>(() => bridge.Run(_ => throw new InvalidTimeProviderException(), CancellationToken.None, startHere: true));
            // The bridge is free again.
            bridge.Run(_ => Task.CompletedTask, CancellationToken.None, startHere: true);
        }

        /// <summary>A host context that must never be used: the pumping thread is blocked in Run.</summary>
        private sealed class RefusingContext : SynchronizationContext
        {
            public int Posts;

            public override void Post(SendOrPostCallback d, object? state)
            {
                Interlocked.Increment(ref Posts);
                base.Post(d, state);
            }
        }

        private sealed class InvalidTimeProviderException : Exception
        {
        }
    }
}
