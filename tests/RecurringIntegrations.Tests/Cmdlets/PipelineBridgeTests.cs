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

        private sealed class InvalidTimeProviderException : Exception
        {
        }
    }
}
