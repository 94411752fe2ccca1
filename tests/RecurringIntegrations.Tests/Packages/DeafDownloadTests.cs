using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Packages;

/// <summary>
/// A package download on .NET Framework, where a response stream ignores the token on its reads once the headers are in:
/// answers whose bodies stall after the headers (or part way), deaf to the token, in the ranged download (several ranges at
/// once, each written at its offset into the partial file) and in the one-stream download of a storage without ranges.
/// Nothing but the caller's cancellation can end them here (the clock never moves, so no idle time limit falls due), and it
/// must end the download at once, with no file under the target's name and no partial file left behind.
/// </summary>
public sealed class DeafDownloadTests : IDisposable
{
    private const int Range = 1024;
    private static readonly Uri BlobUrl = new("https://account.blob.core.windows.net/dmf/p.zip?sv=2014-02-14&sr=b&sp=r&sig=SECRET");
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-deaf-").FullName;
    private readonly ManualClock _time = new();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private (BlobStorage Storage, D365Session Session) Connect(StallingStorage storage)
    {
        var options = new ConnectionOptions(Mocked.Environment, new AccessTokenCredential(Emulated.Secure("a-token")))
        {
            Time = _time,
            Transport = storage,
            Jitter = new Random(7),
        };
        var session = D365Session.ConnectAsync(options, CancellationToken.None).GetAwaiter().GetResult();
        var blobs = new DataPackageClient(session).Storage;
        blobs.RangeSize = Range;
        blobs.DownloadConcurrency = 3;
        return (blobs, session);
    }

    /// <summary>Every file in the folder, hidden ones too (the partial file is dot-named, and hidden on Windows).</summary>
    private string[] Files() =>
        Directory.GetFiles(_folder, "*", new EnumerationOptions { AttributesToSkip = 0 }).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray()!;

    /// <summary>
    /// Starts the download, waits (hang guard: 10 s) until <paramref name="stalls"/> bodies have stalled, checks that the
    /// download still waits with its partial file beside the target, then cancels; returns how long the partial file was.
    /// </summary>
    private async Task<long> CancelWhenStalledAsync(StallingStorage storage, int stalls)
    {
        var (blobs, session) = Connect(storage);
        using var _ = session;
        using var stop = new CancellationTokenSource();
        var target = Path.Combine(_folder, "out.zip");

        Task<long> download = null!;
        Mocked.Inline(() => download = blobs.DownloadAsync(BlobUrl, target, false, stop.Token));
        await storage.StalledAsync(stalls).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(download.IsCompleted, "the download ended before it was cancelled");
        var partial = Assert.Single(Files());
        Assert.Matches(@"^\.out\.zip\.[0-9a-f]{8}\.partial$", partial);
        var partialLength = new FileInfo(Path.Combine(_folder, partial)).Length;

        Mocked.Inline(stop.Cancel);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => download.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.All(storage.Bodies, body => Assert.True(body.Disposed, "a stalled body was left open"));
        Assert.Empty(Files());
        return partialLength;
    }

    [Fact]
    public async Task Cancelling_ranges_stalled_after_their_headers_ends_the_download_at_once_and_leaves_no_file()
    {
        // Six ranges: the first tells the length, then three at once. Range 1 comes whole, 2 and 3 stall part way, and 4
        // (taken by the reader that finished 1) stalls after its headers; 5 is never asked for.
        var storage = new StallingStorage(Bytes(5 * Range + 10)) { StallAfter = { [2 * Range] = 500, [3 * Range] = 700, [4 * Range] = 0 } };

        // What had arrived was written at its offsets: the furthest write ends 700 bytes into range 3.
        Assert.Equal(3 * Range + 700, await CancelWhenStalledAsync(storage, 3));
        // Each range asked for once: a cancelled read is not tried again.
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }.Select(i => $"bytes={i * Range}-{i * Range + Range - 1}"),
            storage.Ranges.OrderBy(r => long.Parse(r.Split('=', '-')[1])));
    }

    [Fact]
    public async Task Cancelling_the_first_range_stalled_after_its_headers_ends_the_download_at_once()
    {
        var storage = new StallingStorage(Bytes(5 * Range)) { StallAfter = { [0] = 0 } };

        Assert.Equal(0, await CancelWhenStalledAsync(storage, 1));
        Assert.Equal(new[] { $"bytes=0-{Range - 1}" }, storage.Ranges);
    }

    [Fact]
    public async Task Cancelling_the_whole_blob_of_a_storage_without_ranges_stalled_part_way_ends_the_download_at_once()
    {
        var storage = new StallingStorage(Bytes(5 * Range)) { AnswersRanges = false, StallAfter = { [0] = 3000 } };

        Assert.Equal(3000, await CancelWhenStalledAsync(storage, 1));
        Assert.Equal(new[] { $"bytes=0-{Range - 1}" }, storage.Ranges);
    }

    private static byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// A blob storage that answers Get Blob with a range (206) or, when it does not answer ranges, the whole blob (200), at
    /// once; the answer for an offset in <see cref="StallAfter"/> brings that many bytes of its body and then stalls, deaf.
    /// </summary>
    private sealed class StallingStorage(byte[] blob) : HttpMessageHandler
    {
        private readonly object _gate = new();
        private readonly List<string> _ranges = new();
        private readonly List<DeafStream> _bodies = new();
        private readonly SemaphoreSlim _made = new(0);

        public bool AnswersRanges { get; init; } = true;
        public Dictionary<long, int> StallAfter { get; } = new();

        public IReadOnlyList<string> Ranges { get { lock (_gate) return _ranges.ToList(); } }
        public IReadOnlyList<DeafStream> Bodies { get { lock (_gate) return _bodies.ToList(); } }

        /// <summary>Ends when <paramref name="count"/> stalling bodies have been sent and each has stalled.</summary>
        public async Task StalledAsync(int count)
        {
            for (var i = 0; i < count; i++) await _made.WaitAsync();
            await Task.WhenAll(Bodies.Select(body => body.Stalled));
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var range = request.Headers.Range!.Ranges.Single();
            lock (_gate) _ranges.Add(request.Headers.Range.ToString());
            var (from, to) = AnswersRanges ? (range.From!.Value, Math.Min(range.To!.Value, blob.Length - 1)) : (0, blob.Length - 1);
            var bytes = blob.AsSpan((int)from, (int)(to - from + 1)).ToArray();
            Stream body = new MemoryStream(bytes);
            if (StallAfter.TryGetValue(from, out var brought))
            {
                var stalling = new DeafStream(bytes.Take(brought).ToArray());
                lock (_gate) _bodies.Add(stalling);
                _made.Release();
                body = stalling;
            }
            var response = new HttpResponseMessage(AnswersRanges ? HttpStatusCode.PartialContent : HttpStatusCode.OK) { Content = new StreamContent(body) };
            response.Content.Headers.ContentLength = bytes.Length;
            if (AnswersRanges) response.Content.Headers.ContentRange = new ContentRangeHeaderValue(from, to, blob.Length);
            return Task.FromResult(response);
        }
    }
}
