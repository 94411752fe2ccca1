using System;
using System.Threading;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Packages;

/// <summary>Waiting for a package execution on the session's fake clock: polls every interval, and stops at the timeout.</summary>
public sealed class PackagePollingTests
{
    private static readonly Func<System.Net.Http.HttpRequestMessage, System.Net.Http.HttpResponseMessage> Executing = Json("{\"value\":\"Executing\"}");
    private static readonly Func<System.Net.Http.HttpRequestMessage, System.Net.Http.HttpResponseMessage> PageUrl = Json("{\"value\":\"https://contoso.operations.dynamics.com/?mi=DMFExecutionSummary\"}");

    [Fact]
    public void A_wait_polls_every_interval_until_the_status_is_final()
    {
        using var mocked = Mocked.Connect(Executing, PageUrl, Executing, Json("{\"value\":\"Succeeded\"}"));
        var jobs = new PackageJobs(new DataPackageClient(mocked.Session)) { PollInterval = TimeSpan.FromSeconds(5) };

        var wait = jobs.WaitAsync(new PackageExecution { ExecutionId = "exec-1" }, CancellationToken.None);
        mocked.Step(4_999);
        Assert.Equal(2, mocked.Transport.Requests.Count);
        mocked.Step(5_001);

        // The first poll also reads the summary page's address; later ones only the status.
        Assert.Equal(new[] { 0.0, 0, 5_000, 10_000 }, mocked.Transport.SentAt);
        var done = Mocked.Done(wait);
        Assert.Equal(("Succeeded", true), (done.Status, done.IsTerminal));
    }

    [Fact]
    public void A_wait_ends_at_its_timeout_with_the_last_status()
    {
        using var mocked = Mocked.Connect(Executing, PageUrl, Executing);
        var jobs = new PackageJobs(new DataPackageClient(mocked.Session)) { PollInterval = TimeSpan.FromSeconds(5), Timeout = TimeSpan.FromSeconds(12) };

        var wait = jobs.WaitAsync(new PackageExecution { ExecutionId = "exec-1" }, CancellationToken.None);
        mocked.Step(12_000);

        // Polls at 0, 5 and 10 s, then once more at the timeout, 2 s later.
        Assert.Equal(new[] { 0.0, 0, 5_000, 10_000, 12_000 }, mocked.Transport.SentAt);
        var last = Mocked.Done(wait);
        Assert.Equal(("Executing", false), (last.Status, last.IsTerminal));
        Assert.Equal("ExecutionWaitTimeout", jobs.WaitTimedOut(last).ErrorId);
    }
}
