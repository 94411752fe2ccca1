using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Packages;

/// <summary>
/// Package blocks several at once and ranged downloads, on fake time over an in-memory storage host: how many calls are in
/// flight, the order of the committed block list, retries through the storage pipeline, cancellation, and downloads that
/// are assembled from ranges, fall back to one stream, or meet a storage that contradicts itself.
/// </summary>
public sealed class BlobTransferTests : IDisposable
{
    private const int Block = 1024;
    private static readonly Uri BlobUrl = new("https://account.blob.core.windows.net/dmf/p.zip?sv=2014-02-14&sr=b&sp=rw&sig=SECRET");
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-blobs-").FullName;
    private readonly ManualClock _time = new();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private (BlobStorage Storage, D365Session Session) Connect(FakeStorage storage)
    {
        var options = new ConnectionOptions(Mocked.Environment, new AccessTokenCredential(Emulated.Secure("a-token")))
        {
            // Tries go again at once: the backoff's timing is the storage pipeline's own (StoragePipelineTests), and the
            // transfers here hop threads (file I/O), so no clock is stepped; a test waits for the call with a hang guard.
            Retry = new RetryOptions { BaseDelay = TimeSpan.Zero },
            Time = _time,
            Transport = storage,
            Jitter = new Random(7),
        };
        var session = D365Session.ConnectAsync(options, CancellationToken.None).GetAwaiter().GetResult();
        var blobs = new DataPackageClient(session).Storage;
        blobs.SinglePutLimit = Block;
        blobs.BlockSize = Block;
        blobs.RangeSize = Block;
        return (blobs, session);
    }

    private string File(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        var path = Path.Combine(_folder, "p.zip");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Waits for a call that needs nothing more from the test (at most 30 s, a hang guard); true when it succeeded.</summary>
    private static async Task<bool> EndsAsync(Task call)
    {
        try
        {
            await call.WaitAsync(TimeSpan.FromSeconds(30));
            return true;
        }
        catch (Exception) when (call.IsFaulted || call.IsCanceled)
        {
            return false;
        }
    }

    [Fact]
    public async Task Blocks_go_up_to_the_limit_at_once_and_no_more_and_the_list_names_them_in_file_order()
    {
        var storage = new FakeStorage { HoldBlocks = true };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var path = File(10 * Block + 100);
        var progress = new List<long>();

        Task upload = null!;
        Mocked.Inline(() => upload = blobs.UploadAsync(BlobUrl, path, 10 * Block + 100, 3, p => { lock (progress) progress.Add(p); }, CancellationToken.None));
        await storage.WaitForBlocksAsync(3);
        Assert.Equal(3, storage.InFlight);
        // The newest block first, each time: blocks finish out of order.
        for (var sent = 3; sent <= 11; sent++)
        {
            storage.ReleaseNewest();
            if (sent < 11) await storage.WaitForBlocksAsync(sent + 1);
        }
        while (storage.InFlight > 0) storage.ReleaseNewest();
        await upload.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(3, storage.MaxInFlight);
        Assert.NotEqual(Enumerable.Range(0, 11).ToList(), storage.BlocksTaken.Select(BlockIndex).ToList());
        Assert.Equal(Enumerable.Range(0, 11).ToList(), storage.CommittedList!.Select(BlockIndex).ToList());
        Assert.Equal(System.IO.File.ReadAllBytes(path), storage.Blob);
        Assert.Equal(10 * Block + 100, progress.Max());
        Assert.Equal(progress.OrderBy(p => p).ToList(), progress);
    }

    [Fact]
    public async Task A_failed_block_goes_again_through_the_storage_pipeline_and_the_blob_is_whole()
    {
        var storage = new FakeStorage();
        storage.BlockAnswers[2] = new Queue<int>(new[] { 500, 503 });
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var path = File(5 * Block);

        Task upload = null!;
        Mocked.Inline(() => upload = blobs.UploadAsync(BlobUrl, path, 5 * Block, 4, null, CancellationToken.None));
        Assert.True(await EndsAsync(upload), upload.Exception?.ToString());
        Assert.Equal(3, storage.BlockArrivals.Count(id => BlockIndex(id) == 2));
        Assert.Equal(System.IO.File.ReadAllBytes(path), storage.Blob);
    }

    [Fact]
    public async Task A_block_that_fails_for_good_fails_the_upload_with_the_storage_error_and_nothing_is_committed()
    {
        var storage = new FakeStorage();
        storage.BlockAnswers[1] = new Queue<int>(Enumerable.Repeat(500, 10));
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var path = File(8 * Block);

        Task upload = null!;
        Mocked.Inline(() => upload = blobs.UploadAsync(BlobUrl, path, 8 * Block, 2, null, CancellationToken.None));
        Assert.False(await EndsAsync(upload));

        var error = Assert.IsType<D365Exception>(upload.Exception!.InnerException);
        Assert.Equal("PackageStorageFailed", error.ErrorId);
        Assert.StartsWith("Put Block: the storage host answered 500 Internal Server Error (ServerBusy). Tried 8 times over", error.Message);
        Assert.Null(storage.CommittedList);
        Assert.Equal(8, storage.BlockArrivals.Count(id => BlockIndex(id) == 1));
    }

    [Fact]
    public async Task Cancellation_stops_every_block_in_flight_at_once_and_commits_nothing()
    {
        var storage = new FakeStorage { HoldBlocks = true };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var path = File(12 * Block);
        using var cancellation = new CancellationTokenSource();

        Task upload = null!;
        Mocked.Inline(() => upload = blobs.UploadAsync(BlobUrl, path, 12 * Block, 4, null, cancellation.Token));
        await storage.WaitForBlocksAsync(4);
        Mocked.Inline(cancellation.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => upload.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(4, storage.CancelledInFlight);
        Assert.Equal(4, storage.BlockArrivals.Count);
        Assert.Null(storage.CommittedList);
    }

    [Fact]
    public void BlockConcurrency_outside_1_to_16_is_refused_before_anything_is_sent()
    {
        var storage = new FakeStorage();
        var (_, session) = Connect(storage);
        using var __ = session;
        var jobs = new PackageJobs(new DataPackageClient(session));

        var error = Assert.IsType<D365Exception>(jobs.ImportAsync(new PackageImportRequest(File(10), "G", "usmf") { BlockConcurrency = 17 }, null,
            CancellationToken.None).Exception!.InnerException);

        Assert.Equal("BlockConcurrencyOutOfRange", error.ErrorId);
        Assert.StartsWith("-BlockConcurrency 17 is outside 1 to 16.", error.Message);
        Assert.Empty(storage.Requests);
    }

    [Theory]
    [InlineData(10 * Block + 37)]   // an odd-sized last range
    [InlineData(Block + 1)]         // a last range of one byte
    [InlineData(4 * Block)]         // ranges that end with the blob
    [InlineData(100)]               // shorter than one range: the first answer is all of it
    public async Task A_ranged_download_assembles_the_blob_from_its_ranges(int length)
    {
        var storage = new FakeStorage { Blob = Bytes(length) };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        blobs.DownloadConcurrency = 3;
        var target = Path.Combine(_folder, "out.zip");

        var saved = await Download(blobs, target);

        Assert.Equal(length, saved);
        Assert.Equal(storage.Blob, System.IO.File.ReadAllBytes(target));
        var ranges = storage.Requests.Select(r => r.Range).ToList();
        Assert.Equal((length + Block - 1) / Block, ranges.Count);
        // The first range is asked for whole (the length is not known yet); the others end where the blob does.
        Assert.Equal(Enumerable.Range(0, ranges.Count).Select(i => $"bytes={i * Block}-{(i == 0 ? Block : Math.Min(length, i * Block + Block)) - 1}"),
            ranges.OrderBy(r => int.Parse(r!.Split('=', '-')[1])));
        Assert.Equal(new[] { target }, Directory.GetFiles(_folder, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task Ranges_go_several_at_once_up_to_the_limit()
    {
        var storage = new FakeStorage { Blob = Bytes(9 * Block), HoldRanges = true };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        blobs.DownloadConcurrency = 3;

        Task<long> download = null!;
        Mocked.Inline(() => download = blobs.DownloadAsync(BlobUrl, Path.Combine(_folder, "out.zip"), false, CancellationToken.None));
        // The first range alone (it tells the length), then three at once, until all are in.
        await storage.WaitForRangesAsync(1);
        Assert.Equal(1, storage.InFlight);
        storage.ReleaseNewest();
        for (var asked = 4; asked <= 9; asked++)
        {
            await storage.WaitForRangesAsync(asked);
            storage.ReleaseNewest();
        }
        while (storage.InFlight > 0) storage.ReleaseNewest();

        Assert.Equal(9 * Block, await download.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(3, storage.MaxInFlight);
        Assert.Equal(storage.Blob, System.IO.File.ReadAllBytes(Path.Combine(_folder, "out.zip")));
    }

    [Fact]
    public async Task A_storage_without_ranges_gives_the_whole_blob_as_one_stream()
    {
        var storage = new FakeStorage { Blob = Bytes(5 * Block + 3), AnswersRanges = false, SendsMd5 = true };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var target = Path.Combine(_folder, "out.zip");

        Assert.Equal(5 * Block + 3, await Download(blobs, target));

        Assert.Equal(storage.Blob, System.IO.File.ReadAllBytes(target));
        Assert.Single(storage.Requests);
    }

    [Fact]
    public async Task An_empty_blob_answered_416_for_a_range_is_read_whole()
    {
        var storage = new FakeStorage { Blob = Array.Empty<byte>() };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var target = Path.Combine(_folder, "out.zip");

        Assert.Equal(0, await Download(blobs, target));

        Assert.Empty(System.IO.File.ReadAllBytes(target));
        Assert.Equal(new[] { "bytes=0-1023", null }, storage.Requests.Select(r => r.Range));
    }

    [Fact]
    public async Task A_storage_that_changes_the_blobs_length_between_ranges_fails_and_saves_nothing()
    {
        var storage = new FakeStorage { Blob = Bytes(6 * Block), LieAboutTotalAfter = 1 };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var target = Path.Combine(_folder, "out.zip");

        var error = Assert.IsType<D365Exception>(await DownloadFails(blobs, target));

        Assert.Equal("PackageDownloadMismatch", error.ErrorId);
        Assert.Matches("^Get Blob of bytes \\d+-\\d+: the storage host now gives the blob's length as 6145, earlier as 6144\\.", error.Message);
        Assert.Empty(Directory.GetFiles(_folder, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task A_range_shorter_than_announced_goes_again_and_in_the_end_fails_as_a_broken_transfer()
    {
        var storage = new FakeStorage { Blob = Bytes(3 * Block), ShortBodies = int.MaxValue };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var target = Path.Combine(_folder, "out.zip");

        var error = Assert.IsType<D365Exception>(await DownloadFails(blobs, target));

        Assert.Equal("PackageStorageUnreachable", error.ErrorId);
        Assert.StartsWith("Get Blob: no complete answer from the storage host account.blob.core.windows.net: the download ended after 1023 of 1024 bytes. Tried 8 times", error.Message);
        Assert.Empty(Directory.GetFiles(_folder, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task A_short_range_is_read_again_and_the_blob_is_whole()
    {
        var storage = new FakeStorage { Blob = Bytes(3 * Block + 5), ShortBodies = 2 };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var target = Path.Combine(_folder, "out.zip");

        Assert.Equal(3 * Block + 5, await Download(blobs, target));

        Assert.Equal(storage.Blob, System.IO.File.ReadAllBytes(target));
        Assert.Equal(6, storage.Requests.Count);
    }

    [Fact]
    public async Task A_whole_blob_that_does_not_match_its_Content_MD5_is_read_again_then_refused()
    {
        var storage = new FakeStorage { Blob = Bytes(2 * Block), AnswersRanges = false, SendsMd5 = true, CorruptBodies = int.MaxValue };
        var (blobs, session) = Connect(storage);
        using var _ = session;
        var target = Path.Combine(_folder, "out.zip");

        var error = Assert.IsType<D365Exception>(await DownloadFails(blobs, target));

        Assert.Equal("PackageStorageUnreachable", error.ErrorId);
        Assert.Contains("the bytes that arrived do not match the Content-MD5 the storage sent", error.Message);
        Assert.Equal(8, storage.Requests.Count);
        Assert.Empty(Directory.GetFiles(_folder, "*", new EnumerationOptions { AttributesToSkip = 0 }));
    }

    [Fact]
    public async Task A_range_answered_where_another_was_asked_for_is_refused()
    {
        var storage = new FakeStorage { Blob = Bytes(3 * Block), WrongRangeAfter = 1 };
        var (blobs, session) = Connect(storage);
        using var _ = session;

        var error = Assert.IsType<D365Exception>(await DownloadFails(blobs, Path.Combine(_folder, "out.zip")));

        Assert.Equal("PackageDownloadMismatch", error.ErrorId);
        Assert.Contains("answered 206 with Content-Range 'bytes 0-1023/3072'", error.Message);
    }

    private static async Task<long> Download(BlobStorage blobs, string target) =>
        await blobs.DownloadAsync(BlobUrl, target, false, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

    private static async Task<Exception> DownloadFails(BlobStorage blobs, string target)
    {
        var download = blobs.DownloadAsync(BlobUrl, target, false, CancellationToken.None);
        Assert.False(await EndsAsync(download), "the download did not fail");
        return download.Exception!.InnerException!;
    }

    private static byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        new Random(length + 1).NextBytes(bytes);
        return bytes;
    }

    private static int BlockIndex(string blockId) => int.Parse(Encoding.ASCII.GetString(Convert.FromBase64String(blockId)).Substring("block-".Length));

    /// <summary>
    /// Azure blob storage in memory: Put Block, Put Block List and Get Blob (ranges or not), each call recorded. Calls can be
    /// held until the test lets them go, newest first; and the storage can fail blocks, or contradict itself on download.
    /// </summary>
    private sealed class FakeStorage : HttpMessageHandler
    {
        private readonly object _gate = new();
        private readonly Dictionary<string, byte[]> _blocks = new();
        private readonly List<TaskCompletionSource<HttpResponseMessage>> _held = new();
        private readonly List<(string Method, string? Range)> _requests = new();
        private readonly SemaphoreSlim _arrived = new(0);
        private int _arrivals;
        private int _gets;
        private int _short;
        private int _corrupt;

        public bool HoldBlocks { get; init; }
        public bool HoldRanges { get; init; }
        public bool AnswersRanges { get; init; } = true;
        public bool SendsMd5 { get; init; }
        /// <summary>Gets after this many answer a length one byte longer.</summary>
        public int? LieAboutTotalAfter { get; init; }
        /// <summary>Gets after this many answer the first range, whatever was asked.</summary>
        public int? WrongRangeAfter { get; init; }
        /// <summary>This many answers end one byte early.</summary>
        public int ShortBodies { init => _short = value; }
        /// <summary>This many answers have their first byte changed.</summary>
        public int CorruptBodies { init => _corrupt = value; }
        /// <summary>The statuses a block of that index gets before it is taken.</summary>
        public Dictionary<int, Queue<int>> BlockAnswers { get; } = new();

        public byte[] Blob { get; set; } = Array.Empty<byte>();
        public List<string>? CommittedList { get; private set; }
        public List<string> BlockArrivals { get; } = new();
        public List<string> BlocksTaken { get; } = new();
        public int InFlight { get { lock (_gate) return _held.Count; } }
        public int MaxInFlight { get; private set; }
        public int CancelledInFlight;

        public IReadOnlyList<(string Method, string? Range)> Requests { get { lock (_gate) return _requests.ToList(); } }

        public Task WaitForBlocksAsync(int count) => WaitForAsync(count);

        public Task WaitForRangesAsync(int count) => WaitForAsync(count);

        /// <summary>Waits (at most 10 s, a hang guard) until <paramref name="count"/> held calls have arrived in all.</summary>
        private async Task WaitForAsync(int count)
        {
            while (Volatile.Read(ref _arrivals) < count)
                if (!await _arrived.WaitAsync(TimeSpan.FromSeconds(10))) throw new TimeoutException($"Only {_arrivals} calls arrived, not {count}.");
        }

        public void ReleaseNewest()
        {
            TaskCompletionSource<HttpResponseMessage> newest;
            lock (_gate)
            {
                newest = _held[^1];
                _held.RemoveAt(_held.Count - 1);
            }
            newest.TrySetResult(null!);
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Assert.Null(request.Headers.Authorization);
            var query = request.RequestUri!.Query;
            var range = request.Headers.Range?.ToString();
            lock (_gate) _requests.Add((request.Method.Method, range));
            if (request.Method == HttpMethod.Put && query.Contains("comp=blocklist"))
            {
                var ids = Regex.Matches(await request.Content!.ReadAsStringAsync(), "<Latest>([^<]+)</Latest>").Select(m => m.Groups[1].Value).ToList();
                lock (_gate)
                {
                    CommittedList = ids;
                    Blob = ids.SelectMany(id => _blocks[id]).ToArray();
                }
                return new HttpResponseMessage(HttpStatusCode.Created);
            }
            if (request.Method == HttpMethod.Put)
            {
                var id = Uri.UnescapeDataString(Regex.Match(query, "blockid=([^&]+)").Groups[1].Value);
                var body = await request.Content!.ReadAsByteArrayAsync();
                int? status = null;
                lock (_gate)
                {
                    BlockArrivals.Add(id);
                    if (BlockAnswers.TryGetValue(BlockIndex(id), out var answers) && answers.Count > 0) status = answers.Dequeue();
                }
                if (HoldBlocks) await HoldAsync(cancellationToken);
                if (status is { } failed)
                    return Error(failed);
                lock (_gate)
                {
                    _blocks[id] = body;
                    BlocksTaken.Add(id);
                }
                return new HttpResponseMessage(HttpStatusCode.Created);
            }
            return await GetAsync(range, cancellationToken);
        }

        private async Task<HttpResponseMessage> GetAsync(string? range, CancellationToken cancellationToken)
        {
            var get = Interlocked.Increment(ref _gets);
            if (HoldRanges) await HoldAsync(cancellationToken);
            var total = (long)Blob.Length + (get > LieAboutTotalAfter ? 1 : 0);
            if (range is null || !AnswersRanges)
                return Body(HttpStatusCode.OK, Blob, null);
            var bounds = range["bytes=".Length..].Split('-').Select(long.Parse).ToArray();
            if (get > WrongRangeAfter) bounds = new[] { 0L, Block - 1 };
            if (bounds[0] >= Blob.Length)
            {
                var refused = Error(416);
                refused.Content.Headers.ContentRange = new ContentRangeHeaderValue(Blob.Length);
                return refused;
            }
            var last = Math.Min(bounds[1], Blob.Length - 1);
            var part = Blob.AsSpan((int)bounds[0], (int)(last - bounds[0] + 1)).ToArray();
            return Body(HttpStatusCode.PartialContent, part, new ContentRangeHeaderValue(bounds[0], last, total));
        }

        private HttpResponseMessage Body(HttpStatusCode status, byte[] bytes, ContentRangeHeaderValue? range)
        {
            var sent = bytes.ToArray();
            var announced = sent.Length;
            if (sent.Length > 0 && Interlocked.Decrement(ref _corrupt) >= 0) sent[0] ^= 0xFF;
            if (sent.Length > 0 && Interlocked.Decrement(ref _short) >= 0) sent = sent[..^1];
            var response = new HttpResponseMessage(status) { Content = new StreamContent(new MemoryStream(sent)) };
            response.Content.Headers.ContentLength = announced;
            response.Headers.AcceptRanges.Add("bytes");
            if (range is not null) response.Content.Headers.ContentRange = range;
            if (SendsMd5) response.Content.Headers.ContentMD5 = MD5.HashData(bytes);
            return response;
        }

        private async Task HoldAsync(CancellationToken cancellationToken)
        {
            var held = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                _held.Add(held);
                MaxInFlight = Math.Max(MaxInFlight, _held.Count);
            }
            using (cancellationToken.Register(() =>
                   {
                       lock (_gate) _held.Remove(held);
                       Interlocked.Increment(ref CancelledInFlight);
                       held.TrySetCanceled(cancellationToken);
                   }))
            {
                Interlocked.Increment(ref _arrivals);
                _arrived.Release();
                await held.Task;
            }
        }

        private static HttpResponseMessage Error(int status)
        {
            var response = new HttpResponseMessage((HttpStatusCode)status)
            {
                Content = new StringContent("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code></Error>"),
            };
            response.Headers.TryAddWithoutValidation("x-ms-error-code", "ServerBusy");
            return response;
        }
    }
}
