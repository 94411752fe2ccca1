using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

/// <summary>The emulator's blob storage: a block list committed without copying, read through one seekable stream.</summary>
public sealed class BlobStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-blobstore-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Piece(string name, byte[] bytes)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Bytes(int from, int count) => Enumerable.Range(from, count).Select(i => (byte)i).ToArray();

    [Fact]
    public void The_stream_reads_its_pieces_in_order_as_one_and_seeks_across_their_bounds()
    {
        var a = Piece("a", Bytes(0, 3));
        var empty = Piece("empty", Array.Empty<byte>());
        var b = Piece("b", Bytes(3, 5));
        // A block named twice in the list is one piece read twice.
        var expected = Bytes(0, 3).Concat(Bytes(3, 5)).Concat(Bytes(0, 3)).ToArray();
        using var blob = new BlobReadStream(new[] { a, empty, b, a });

        Assert.Equal(11, blob.Length);
        var whole = new MemoryStream();
        blob.CopyTo(whole, 2);
        Assert.Equal(expected, whole.ToArray());
        Assert.Equal(0, blob.Read(new byte[4], 0, 4));

        // A read stops at a piece's end; reading on continues in the next.
        blob.Position = 2;
        var buffer = new byte[6];
        Assert.Equal(1, blob.Read(buffer, 0, 6));
        Assert.Equal(5, blob.Read(buffer, 1, 5));
        Assert.Equal(expected[2..8], buffer);
        Assert.Equal(8, blob.Position);

        Assert.Equal(9, blob.Seek(-2, SeekOrigin.End));
        Assert.Equal(expected[9], (byte)blob.ReadByte());
        Assert.Equal(4, blob.Seek(-6, SeekOrigin.Current));
        Assert.Equal(expected[4], (byte)blob.ReadByte());
        blob.Position = 3;
        Assert.Equal(expected[3], (byte)blob.ReadByte());
        blob.Position = 20;
        Assert.Equal(-1, blob.ReadByte());
        Assert.Throws<IOException>(() => blob.Seek(-12, SeekOrigin.End));
        Assert.Throws<ArgumentOutOfRangeException>(() => blob.Position = -1);
        Assert.Throws<NotSupportedException>(() => blob.Write(new byte[1], 0, 1));
    }

    [Fact]
    public async Task The_stream_reads_asynchronously_across_pieces()
    {
        using var blob = new BlobReadStream(new[] { Piece("a", Bytes(0, 4)), Piece("b", Bytes(4, 4)) });
        blob.Position = 2;
        var buffer = new byte[4];

        var first = await blob.ReadAsync(buffer.AsMemory());
        var second = await blob.ReadAsync(buffer.AsMemory(first));

        Assert.Equal((2, 2), (first, second));
        Assert.Equal(Bytes(2, 4), buffer);
    }

    [Fact]
    public async Task A_block_list_commits_the_blocks_in_its_order_with_a_block_put_again_as_last_put_and_drops_the_others()
    {
        await using var storage = await Storage.StartAsync();
        await storage.PutBlockAsync("b1", Bytes(0, 10));
        await storage.PutBlockAsync("b2", Bytes(10, 10));
        await storage.PutBlockAsync("b3", Bytes(100, 10));
        await storage.PutBlockAsync("b3", Bytes(20, 5));
        await storage.PutBlockAsync("unlisted", Bytes(200, 10));
        using (var before = await storage.GetAsync(null))
            Assert.Equal((HttpStatusCode.NotFound, "BlobNotFound"), (before.StatusCode, before.Headers.GetValues("x-ms-error-code").Single()));

        using var committed = await storage.PutBlockListAsync("b3", "b1", "b2");

        Assert.Equal(HttpStatusCode.Created, committed.StatusCode);
        var expected = Bytes(20, 5).Concat(Bytes(0, 10)).Concat(Bytes(10, 10)).ToArray();
        using var whole = await storage.GetAsync(null);
        Assert.Equal((HttpStatusCode.OK, 25L), (whole.StatusCode, whole.Content.Headers.ContentLength));
        Assert.Equal(expected, await whole.Content.ReadAsByteArrayAsync());
        using var blob = storage.Blobs.OpenRead(Storage.BlobName)!;
        Assert.Equal(expected, ReadAll(blob));
        // As in Azure, the blocks the list left out went with the commit.
        using var late = await storage.PutBlockListAsync("unlisted");
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidBlockList"), (late.StatusCode, late.Headers.GetValues("x-ms-error-code").Single()));
    }

    [Fact]
    public async Task Ranges_across_blocks_answer_206_with_their_bytes_HEAD_the_length_and_a_range_past_the_end_416()
    {
        await using var storage = await Storage.StartAsync();
        for (var i = 0; i < 4; i++) await storage.PutBlockAsync("block-" + i, Bytes(i * 10, 10));
        (await storage.PutBlockListAsync("block-0", "block-1", "block-2", "block-3")).Dispose();

        using var spanning = await storage.GetAsync("bytes=5-34");
        using var open = await storage.GetAsync("bytes=28-");
        using var beyond = await storage.GetAsync("bytes=35-99");
        using var past = await storage.GetAsync("bytes=40-45");
        using var head = await storage.SendAsync(HttpMethod.Head, "", null);

        Assert.Equal(HttpStatusCode.PartialContent, spanning.StatusCode);
        Assert.Equal("bytes 5-34/40", spanning.Content.Headers.ContentRange!.ToString());
        Assert.Equal(Bytes(5, 30), await spanning.Content.ReadAsByteArrayAsync());
        Assert.Equal("bytes 28-39/40", open.Content.Headers.ContentRange!.ToString());
        Assert.Equal(Bytes(28, 12), await open.Content.ReadAsByteArrayAsync());
        Assert.Equal("bytes 35-39/40", beyond.Content.Headers.ContentRange!.ToString());
        Assert.Equal(Bytes(35, 5), await beyond.Content.ReadAsByteArrayAsync());
        Assert.Equal((HttpStatusCode.RequestedRangeNotSatisfiable, "bytes */40"), (past.StatusCode, past.Content.Headers.ContentRange!.ToString()));
        Assert.Equal((HttpStatusCode.OK, 40L), (head.StatusCode, head.Content.Headers.ContentLength));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_list_naming_a_block_never_put_is_refused_and_the_committed_blob_stays()
    {
        await using var storage = await Storage.StartAsync();
        await storage.PutBlockAsync("a", Bytes(0, 8));
        (await storage.PutBlockListAsync("a")).Dispose();
        await storage.PutBlockAsync("b", Bytes(50, 8));

        using var refused = await storage.PutBlockListAsync("b", "missing");

        Assert.Equal((HttpStatusCode.BadRequest, "InvalidBlockList"), (refused.StatusCode, refused.Headers.GetValues("x-ms-error-code").Single()));
        using var blob = storage.Blobs.OpenRead(Storage.BlobName)!;
        Assert.Equal(Bytes(0, 8), ReadAll(blob));
        // The blocks of a commit are the blob's now, not blocks waiting: a list naming one again without a new put is refused.
        using var again = await storage.PutBlockListAsync("a");
        Assert.Equal(HttpStatusCode.BadRequest, again.StatusCode);
    }

    [Fact]
    public async Task A_new_commit_replaces_the_blob_and_a_reader_already_open_still_reads_the_old_one_whole()
    {
        await using var storage = await Storage.StartAsync();
        await storage.PutBlockAsync("a", Bytes(0, 6));
        await storage.PutBlockAsync("b", Bytes(6, 6));
        (await storage.PutBlockListAsync("a", "b")).Dispose();
        using var old = storage.Blobs.OpenRead(Storage.BlobName)!;

        await storage.PutBlockAsync("a", Bytes(100, 3));
        (await storage.PutBlockListAsync("a")).Dispose();
        using var replaced = storage.Blobs.OpenRead(Storage.BlobName)!;
        using var putBlob = await storage.SendAsync(HttpMethod.Put, "", Bytes(200, 2), ("x-ms-blob-type", "BlockBlob"));
        using var latest = storage.Blobs.OpenRead(Storage.BlobName)!;

        Assert.Equal(Bytes(0, 12), ReadAll(old));
        Assert.Equal(Bytes(100, 3), ReadAll(replaced));
        Assert.Equal(HttpStatusCode.Created, putBlob.StatusCode);
        Assert.Equal(Bytes(200, 2), ReadAll(latest));
        old.Dispose();
        replaced.Dispose();
        // Only the latest blob's piece is left: the replaced ones went with their commits.
        Assert.Single(Directory.GetFiles(Path.Combine(storage.Folder, "pieces")));
    }

    [Fact]
    public async Task A_zip_committed_in_small_blocks_opens_as_a_zip_from_the_blob()
    {
        await using var storage = await Storage.StartAsync();
        var zipped = new MemoryStream();
        using (var zip = new ZipArchive(zipped, ZipArchiveMode.Create, leaveOpen: true))
            for (var i = 0; i < 3; i++)
            {
                using var writer = new StreamWriter(zip.CreateEntry($"entry-{i}.csv", CompressionLevel.NoCompression).Open());
                writer.Write(string.Concat(Enumerable.Repeat($"line of entry {i}\r\n", 200)));
            }
        var bytes = zipped.ToArray();
        var ids = new List<string>();
        for (var offset = 0; offset < bytes.Length; offset += 1000)
        {
            ids.Add("block-" + ids.Count.ToString("D4"));
            await storage.PutBlockAsync(ids[^1], bytes[offset..Math.Min(bytes.Length, offset + 1000)]);
        }
        (await storage.PutBlockListAsync(ids.ToArray())).Dispose();

        using var read = new ZipArchive(storage.Blobs.OpenRead(Storage.BlobName)!, ZipArchiveMode.Read);

        Assert.True(ids.Count > 5, $"{ids.Count} blocks");
        Assert.Equal(new[] { "entry-0.csv", "entry-1.csv", "entry-2.csv" }, read.Entries.Select(e => e.FullName));
        using var reader = new StreamReader(read.GetEntry("entry-2.csv")!.Open());
        Assert.Equal(string.Concat(Enumerable.Repeat("line of entry 2\r\n", 200)), reader.ReadToEnd());
    }

    private static byte[] ReadAll(Stream stream)
    {
        var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>One blob of a fresh emulator, reached by its SAS URL with a client of its own (no token goes to storage).</summary>
    private sealed class Storage : IAsyncDisposable
    {
        public const string BlobName = "blocks.bin";
        private readonly EmulatorHarness _harness;
        private readonly HttpClient _http = new(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        private readonly string _url;

        private Storage(EmulatorHarness harness, string folder)
        {
            _harness = harness;
            Folder = folder;
            var context = new DefaultHttpContext();
            context.Request.Scheme = "https";
            context.Request.Host = new HostString("127.0.0.1", harness.Emulator.BaseUri.Port);
            _url = harness.Emulator.Blobs.SasUrl(context, BlobName, "rw");
        }

        public string Folder { get; }
        public BlobStore Blobs => _harness.Emulator.Blobs;

        public static async Task<Storage> StartAsync()
        {
            var folder = Directory.CreateTempSubdirectory("ri-blobs-").FullName;
            return new Storage(await EmulatorHarness.StartAsync(o => o.BlobFolder = folder), folder);
        }

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string query, byte[]? body, params (string Name, string Value)[] headers)
        {
            var request = new HttpRequestMessage(method, _url + query);
            if (body is not null) request.Content = new ByteArrayContent(body);
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
            return await _http.SendAsync(request);
        }

        public async Task PutBlockAsync(string id, byte[] bytes)
        {
            using var response = await SendAsync(HttpMethod.Put, "&comp=block&blockid=" + Uri.EscapeDataString(BlockId(id)), bytes);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        public Task<HttpResponseMessage> PutBlockListAsync(params string[] ids) =>
            SendAsync(HttpMethod.Put, "&comp=blocklist", Encoding.UTF8.GetBytes(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>" + string.Concat(ids.Select(id => $"<Latest>{BlockId(id)}</Latest>")) + "</BlockList>"));

        public Task<HttpResponseMessage> GetAsync(string? range) =>
            range is null ? SendAsync(HttpMethod.Get, "", null) : SendAsync(HttpMethod.Get, "", null, ("x-ms-range", range));

        private static string BlockId(string id) => Convert.ToBase64String(Encoding.ASCII.GetBytes(id));

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await _harness.DisposeAsync();
            Directory.Delete(Folder, recursive: true);
        }
    }
}
