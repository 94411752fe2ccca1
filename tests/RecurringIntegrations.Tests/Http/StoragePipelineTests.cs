using System;
using System.IO;
using System.Linq;
using System.Threading;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Http;

/// <summary>
/// The storage pipeline behind the package API, on fake time: the session's retry and time limits, no token, no flow
/// control, and verbose lines that never show a URL's signature.
/// </summary>
public sealed class StoragePipelineTests : IDisposable
{
    private static readonly Uri BlobUrl = new("https://account.blob.core.windows.net/dmf/p.zip?sv=2014-02-14&sr=b&sp=rw&sig=SECRET");
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-storage-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Package()
    {
        var path = Path.Combine(_folder, "p.zip");
        File.WriteAllText(path, "not really a zip");
        return path;
    }

    [Fact]
    public void An_upload_carries_no_token_and_its_verbose_lines_hide_the_signature()
    {
        using var mocked = Mocked.Connect(Status(201));
        var storage = new DataPackageClient(mocked.Session, mocked.VerboseLines.Enqueue).Storage;
        var path = Package();

        var upload = storage.UploadAsync(BlobUrl, path, new FileInfo(path).Length, 1, null, CancellationToken.None);

        Assert.True(upload.IsCompletedSuccessfully);
        var request = Assert.Single(mocked.Transport.Requests);
        Assert.Null(request.Authorization);
        Assert.Equal("PUT https://account.blob.core.windows.net/dmf/p.zip?sv=2014-02-14&sr=b&sp=rw&sig=REDACTED -> 201 Created (0 ms)", Assert.Single(mocked.VerboseLines));
    }

    [Fact]
    public void A_storage_failure_goes_again_on_the_sessions_backoff_and_a_throttled_one_pauses_no_other_call()
    {
        using var mocked = Mocked.Connect(Status(503), Status(429, "", "2"), Status(201));
        var storage = new DataPackageClient(mocked.Session, mocked.VerboseLines.Enqueue).Storage;
        var path = Package();

        var upload = storage.UploadAsync(BlobUrl, path, new FileInfo(path).Length, 1, null, CancellationToken.None);
        mocked.Step(5_000, upload);

        // 503: 125 ms of backoff; 429 with Retry-After 2: 2 s, for this call alone.
        Assert.True(upload.IsCompletedSuccessfully);
        Assert.Equal(new[] { 0.0, 125, 2125 }, mocked.Transport.SentAt);
        Assert.Null(mocked.Session.Flow.Rate);
        Assert.DoesNotContain(mocked.VerboseLines, l => l.Contains("SECRET"));
    }

    [Fact]
    public void A_storage_answer_of_Retry_After_0_still_waits_the_backoff()
    {
        using var mocked = Mocked.Connect(Status(503, "", "0"), Status(201));
        var storage = new DataPackageClient(mocked.Session).Storage;
        var path = Package();

        var upload = storage.UploadAsync(BlobUrl, path, new FileInfo(path).Length, 1, null, CancellationToken.None);
        mocked.Step(1_000, upload);

        Assert.True(upload.IsCompletedSuccessfully);
        Assert.Equal(new[] { 0.0, 125 }, mocked.Transport.SentAt);
    }

    [Fact]
    public void A_refused_storage_url_fails_at_once_with_the_storage_error_code()
    {
        using var mocked = Mocked.Connect(Status(403, "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>sig=SECRET</Message></Error>"));
        var storage = new DataPackageClient(mocked.Session).Storage;
        var path = Package();

        var upload = storage.UploadAsync(BlobUrl, path, new FileInfo(path).Length, 1, null, CancellationToken.None);

        var error = Assert.IsType<D365Exception>(upload.Exception!.InnerException);
        Assert.Equal("PackageStorageRefused", error.ErrorId);
        Assert.Equal("AuthenticationFailed", error.ServiceMessage);
        Assert.StartsWith("Put Blob: the storage host answered 403 Forbidden (AuthenticationFailed).", error.Message);
        Assert.DoesNotContain("SECRET", error.ToString());
        Assert.Single(mocked.Transport.Requests);
    }

    [Fact]
    public void A_storage_host_that_never_answers_fails_after_the_sessions_tries()
    {
        using var mocked = Mocked.Connect(Fails("No such host is known"));
        var storage = new DataPackageClient(mocked.Session).Storage;
        var path = Package();

        var upload = storage.UploadAsync(BlobUrl, path, new FileInfo(path).Length, 1, null, CancellationToken.None);
        mocked.Step(20_000, upload);

        var error = Assert.IsType<D365Exception>(upload.Exception!.InnerException);
        Assert.Equal("PackageStorageUnreachable", error.ErrorId);
        Assert.StartsWith("Put Blob: no complete answer from the storage host account.blob.core.windows.net: No such host is known. Tried 8 times over 16 s, then gave up.", error.Message);
        Assert.Equal(8, mocked.Transport.Requests.Count);
    }
}
