using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Http;

/// <summary>
/// Issue 18 item 2: on .NET Framework a response stream ignores the token on reads and HttpClient stops observing it once
/// the headers are in. Injected here as a transport and a body that are deaf to the token: the idle timeout (on fake time)
/// and the caller's cancellation (Ctrl+C, Stop-Job) must still end every download.
/// </summary>
public sealed class StalledTransportTests : IDisposable
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(100);
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-stalled-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A hang guard only: the call must already have ended, or end on its own at once.</summary>
    private static void Ended(Task call) =>
        Assert.True(((IAsyncResult)call).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "the call still hangs");

    private static LandingFile Landing(string folder) =>
        LandingFile.Create(folder, "x", " It stays.", ex => ErrorCatalog.DownloadWriteFailed.Wrap(ex, "Saving", ex.Message));

    private static DequeueResult Message() => new()
    {
        CorrelationId = Guid.NewGuid(),
        DownloadLocation = Mocked.Environment + "/api/connector/download/1",
        IsDownloadFileExist = true,
    };

    [Fact]
    public void A_read_that_ignores_the_token_ends_after_the_idle_timeout_and_the_stream_is_disposed()
    {
        var time = new ManualClock();
        var body = new DeafStream();
        Task copy;
        using (var landing = Landing(_folder))
        {
            copy = landing.CopyFromAsync(body, Idle, time, CancellationToken.None);
            Mocked.Inline(() => time.Advance(Idle - TimeSpan.FromMilliseconds(1)));
            Assert.False(copy.IsCompleted);
            Mocked.Inline(() => time.Advance(TimeSpan.FromMilliseconds(1)));
            Ended(copy);
        }
        Assert.Contains("no data arrived for 100 s", Assert.IsType<IOException>(copy.Exception!.InnerException).Message);
        Assert.True(body.Disposed);
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void Cancelling_a_read_that_ignores_the_token_ends_it_at_once()
    {
        var body = new DeafStream();
        using var stop = new CancellationTokenSource();
        using var landing = Landing(_folder);

        var copy = landing.CopyFromAsync(body, Idle, new ManualClock(), stop.Token);
        Mocked.Inline(stop.Cancel);

        Ended(copy);
        Assert.True(copy.IsCanceled || copy.Exception?.InnerException is OperationCanceledException);
        Assert.True(body.Disposed);
    }

    [Fact]
    public void A_stalled_download_goes_again_after_the_idle_timeout_and_Ctrl_C_ends_it()
    {
        var bodies = new List<DeafStream>();
        using var mocked = Mocked.Connect(StalledBody(bodies));
        using var stop = new CancellationTokenSource();

        var download = mocked.Client.DownloadAsync(Message(), _folder, overwrite: false, stop.Token);
        mocked.Advance(Idle.TotalMilliseconds);
        mocked.Advance(500);

        Assert.Equal(2, mocked.Transport.Requests.Count);
        Assert.True(bodies[0].Disposed);
        Assert.Contains(mocked.VerboseLines, l => l.Contains("no data arrived for 100 s"));

        Mocked.Inline(stop.Cancel);
        Ended(download);
        Assert.True(download.IsCanceled || download.Exception?.InnerException is OperationCanceledException);
        Assert.True(bodies[1].Disposed);
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void A_stalled_package_download_from_storage_ends_at_Ctrl_C()
    {
        var bodies = new List<DeafStream>();
        using var mocked = Mocked.Connect(StalledBody(bodies));
        var storage = new DataPackageClient(mocked.Session, mocked.VerboseLines.Enqueue).Storage;
        using var stop = new CancellationTokenSource();

        var download = storage.DownloadAsync(new Uri("https://account.blob.core.windows.net/dmf/p.zip?sig=S"), Path.Combine(_folder, "p.zip"), false, stop.Token);
        Assert.Equal(1, Assert.Single(bodies).Reads);
        Mocked.Inline(stop.Cancel);

        Ended(download);
        Assert.True(download.IsCanceled || download.Exception?.InnerException is OperationCanceledException);
        Assert.True(bodies[0].Disposed);
        Assert.Empty(Directory.GetFileSystemEntries(_folder));
    }

    [Fact]
    public void A_send_whose_transport_ignores_the_token_ends_at_the_tries_time_limit_and_at_Ctrl_C()
    {
        using var mocked = Mocked.Connect(HangsDeaf);
        using var stop = new CancellationTokenSource();

        var dequeue = mocked.Client.DequeueAsync(Guid.NewGuid(), stop.Token);
        mocked.Advance(Idle.TotalMilliseconds);
        mocked.Advance(500);
        Assert.Equal(2, mocked.Transport.Requests.Count);

        Mocked.Inline(stop.Cancel);
        Ended(dequeue);
        Assert.True(dequeue.IsCanceled || dequeue.Exception?.InnerException is OperationCanceledException);
    }
}
