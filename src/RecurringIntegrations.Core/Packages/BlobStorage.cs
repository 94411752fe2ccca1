using System.Globalization;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Packages
{
    /// <summary>
    /// Calls to the Azure blob storage behind the package API, through the session's storage pipeline: a SAS URL is their
    /// only credential, the pipeline has no token to add, and its verbose lines hide the URL's signature; a failed call is
    /// tried again there, never here.
    /// A package is streamed: one Put Blob up to <see cref="SinglePutLimit"/>, else Put Block of <see cref="BlockSize"/>
    /// several at once, each from a buffer of its own that the next block reuses, then Put Block List in the file's order;
    /// memory does not grow with the package. A download asks for ranges of <see cref="RangeSize"/>, several at once, where
    /// the storage answers ranges, and takes the whole body as one stream where it does not.
    /// </summary>
    internal sealed class BlobStorage
    {
        // The version the service's SAS (sv=2014-02-14) and Microsoft's Logic App sample use: Put Blob up to 64 MiB, blocks up to 4 MiB.
        private const string StorageVersion = "2015-02-21";
        private const int CopyBufferSize = 81920;
        private readonly HttpPipeline _pipeline;
        private readonly TimeProvider _time;
        private readonly TimeSpan _timeout;
        private readonly Action<string>? _verbose;

        public BlobStorage(D365Session session, Action<string>? verbose)
        {
            _pipeline = session.Pipelines.BuildStorage(StorageErrors.Instance, SasUrl.ForLog);
            _time = session.Time;
            _timeout = session.Retry.RequestTimeout;
            _verbose = verbose;
        }

        internal long SinglePutLimit { get; set; } = 64L * 1024 * 1024;
        internal int BlockSize { get; set; } = 4 * 1024 * 1024;
        /// <summary>The size of each ranged read of a download.</summary>
        internal int RangeSize { get; set; } = 4 * 1024 * 1024;
        /// <summary>Ranged reads of one download at once.</summary>
        internal int DownloadConcurrency { get; set; } = 4;

        /// <summary>
        /// Uploads a file to a SAS URL as a block blob, up to <paramref name="blockConcurrency"/> blocks at once. Every call
        /// may be repeated: a blob or block written twice is the same blob. A block that fails for good stops the others and
        /// nothing is committed; so does cancellation.
        /// </summary>
        public async Task UploadAsync(Uri blobUrl, string path, long length, int blockConcurrency, Action<long>? progress, CancellationToken cancellationToken)
        {
            if (blockConcurrency < PackageImportRequest.MinBlockConcurrency || blockConcurrency > PackageImportRequest.MaxBlockConcurrency)
                throw new ArgumentOutOfRangeException(nameof(blockConcurrency), blockConcurrency, $"From {PackageImportRequest.MinBlockConcurrency} to {PackageImportRequest.MaxBlockConcurrency}.");
            if (length <= SinglePutLimit)
            {
                await PutAsync("Put Blob", () =>
                {
                    var request = Request(HttpMethod.Put, blobUrl, new FileUploadContent(path, length));
                    request.Headers.TryAddWithoutValidation("x-ms-blob-type", "BlockBlob");
                    return request;
                }, TimeoutFor(length), cancellationToken).ConfigureAwait(false);
                progress?.Invoke(length);
                return;
            }

            var blockIds = new List<string>();
            var freeBuffers = new Stack<byte[]>();
            var inFlight = new List<Task>();
            var progressGate = new object();
            long sent = 0;
            using (var crew = new Crew(cancellationToken))
            {
                async Task PutBlockAsync(string blockId, byte[] buffer, int count)
                {
                    var blockUrl = With(blobUrl, "comp=block&blockid=" + Uri.EscapeDataString(blockId));
                    try
                    {
                        await PutAsync("Put Block", () => Request(HttpMethod.Put, blockUrl, new ByteArrayContent(buffer, 0, count)),
                            TimeoutFor(count), crew.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        lock (freeBuffers) freeBuffers.Push(buffer);
                    }
                    lock (progressGate)
                    {
                        sent += count;
                        progress?.Invoke(sent);
                    }
                }

                try
                {
                    using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, FileOptions.SequentialScan);
                    long read = 0;
                    for (var index = 0; read < length; index++)
                    {
                        // A slot and its buffer free up when a block is done: at most blockConcurrency buffers are ever made.
                        while (inFlight.Count >= blockConcurrency && !crew.Stopped)
                            inFlight.Remove(await Task.WhenAny(inFlight).ConfigureAwait(false));
                        if (crew.Stopped) break;
                        byte[] buffer;
                        lock (freeBuffers) buffer = freeBuffers.Count > 0 ? freeBuffers.Pop() : new byte[BlockSize];
                        var count = ReadBlock(file, buffer);
                        if (count == 0)
                            throw ErrorCatalog.PackageFileChanged.Create(path);
                        // Block ids of one blob must all have the same length; the list names them in the file's order.
                        var blockId = Convert.ToBase64String(Encoding.ASCII.GetBytes("block-" + index.ToString("D6", CultureInfo.InvariantCulture)));
                        blockIds.Add(blockId);
                        read += count;
                        inFlight.Add(crew.Run(() => PutBlockAsync(blockId, buffer, count)));
                    }
                }
                catch (Exception ex)
                {
                    crew.Fail(ex);
                }
                await Task.WhenAll(inFlight).ConfigureAwait(false);
                crew.ThrowIfFailed();
            }
            // Stopped between blocks, with none in flight to say so: the list is not whole and must not be committed.
            cancellationToken.ThrowIfCancellationRequested();

            var list = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
            foreach (var blockId in blockIds) list.Append("<Latest>").Append(blockId).Append("</Latest>");
            var body = list.Append("</BlockList>").ToString();
            await PutAsync("Put Block List", () => Request(HttpMethod.Put, With(blobUrl, "comp=blocklist"), new StringContent(body, new UTF8Encoding(false), "application/xml")),
                _timeout, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Downloads a SAS URL into <paramref name="target"/>: into a hidden partial file beside it first, flushed and renamed
        /// into place only when complete, so a file under its final name is always whole. The first read asks for the first
        /// range; an answer of 206 gives the blob's length and the other ranges follow, several at once, each written at its
        /// offset and checked against what was asked; an answer of 200 (a storage without ranges) is the whole blob, as one
        /// stream. Each answer's length, and its Content-MD5 where the storage sends one, is checked.
        /// </summary>
        public async Task<long> DownloadAsync(Uri url, string target, bool overwrite, CancellationToken cancellationToken)
        {
            var directory = Path.GetDirectoryName(target)!;
            using var landing = LandingFile.Create(directory, Path.GetFileName(target), string.Empty,
                ex => ErrorCatalog.PackageWriteFailed.Wrap(ex, $"Saving into '{directory}'", ex.Message));
            long length;
            try
            {
                var first = await GetAsync(url, landing, new Part(0, RangeSize, null), cancellationToken).ConfigureAwait(false);
                length = first.Total;
                if (first.Ranged && length > RangeSize)
                    await GetRangesAsync(url, landing, length, cancellationToken).ConfigureAwait(false);
            }
            catch (D365Exception ex) when (ex.StatusCode == System.Net.HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // Azure storage answers a range of an empty blob with 416: the whole blob, then, in one read.
                length = (await GetAsync(url, landing, new Part(0, null, null), cancellationToken).ConfigureAwait(false)).Total;
            }
            if (landing.Length != length)
                throw ErrorCatalog.PackageDownloadMismatch.Create($"Get Blob: {landing.Length} bytes arrived of a blob of {length}.");
            if (!overwrite && File.Exists(target))
                throw ErrorCatalog.PackageOutputExists.Create(target, "-OutputPath or -PackageName");
            landing.MoveTo(target, replace: true);
            return length;
        }

        /// <summary>The ranges after the first, <see cref="DownloadConcurrency"/> at once; one that fails for good stops the others.</summary>
        private async Task GetRangesAsync(Uri url, LandingFile landing, long total, CancellationToken cancellationToken)
        {
            var next = (long)RangeSize;
            var gate = new object();
            using var crew = new Crew(cancellationToken);
            async Task ReadRangesAsync()
            {
                while (!crew.Stopped)
                {
                    long offset;
                    lock (gate)
                    {
                        if (next >= total) return;
                        offset = next;
                        next += RangeSize;
                    }
                    await GetAsync(url, landing, new Part(offset, (int)Math.Min(RangeSize, total - offset), total), crew.Token).ConfigureAwait(false);
                }
            }
            var readers = (int)Math.Min(DownloadConcurrency, (total - RangeSize + RangeSize - 1) / RangeSize);
            await Task.WhenAll(Enumerable.Range(0, readers).Select(_ => crew.Run(ReadRangesAsync))).ConfigureAwait(false);
            crew.ThrowIfFailed();
            cancellationToken.ThrowIfCancellationRequested();
        }

        /// <summary>One Get Blob of <paramref name="part"/> (a range, or the whole blob when its count is null), written into the landing file where it belongs.</summary>
        private Task<Received> GetAsync(Uri url, LandingFile landing, Part part, CancellationToken cancellationToken)
        {
            var message = _pipeline.CreateMessage("Get Blob", () =>
            {
                var request = Request(HttpMethod.Get, url, null);
                if (part.Count is { } count) request.Headers.Range = new RangeHeaderValue(part.Offset, part.Offset + count - 1);
                return request;
            }, (response, token) => ReceiveAsync(response, landing, part, token), _verbose);
            message.StreamResponse = true;
            return _pipeline.SendAsync(message, cancellationToken);
        }

        /// <summary>
        /// Checks one try's answer against what was asked and copies its body to its offset. An answer that contradicts the
        /// request is PackageDownloadMismatch (trying again would not help); a body shorter than announced, or one whose
        /// Content-MD5 does not match, is an IOException, as a dropped connection is, so the pipeline tries again.
        /// </summary>
        private async Task<Received> ReceiveAsync(HttpResponseMessage response, LandingFile landing, Part part, CancellationToken cancellationToken)
        {
            long expected;
            bool ranged;
            var declared = response.Content.Headers.ContentLength;
            if (response.StatusCode == System.Net.HttpStatusCode.PartialContent)
            {
                var range = response.Content.Headers.ContentRange;
                if (part.Count is null || range is null || !range.HasRange || !range.HasLength || range.From != part.Offset)
                    throw Mismatch(part, $"answered 206 with Content-Range '{range}'");
                var total = range.Length!.Value;
                if (part.Total is { } known && total != known)
                    throw Mismatch(part, $"now gives the blob's length as {total}, earlier as {known}");
                expected = Math.Min(part.Count.Value, total - part.Offset);
                if (expected <= 0 || range.To != part.Offset + expected - 1)
                    throw Mismatch(part, $"answered the range '{range}'");
                ranged = true;
            }
            else
            {
                if (part.Offset != 0)
                    throw Mismatch(part, $"answered {(int)response.StatusCode} with the whole blob where it had answered ranges before");
                expected = declared ?? -1;
                ranged = false;
            }
            if (declared is { } length && expected >= 0 && length != expected)
                throw Mismatch(part, $"announced {length} bytes for {expected}");

            var md5 = response.Content.Headers.ContentMD5;
            using var hash = md5 is null ? null : CreateMd5();
            var buffer = new byte[CopyBufferSize];
            long written = 0;
            using (var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false))
            {
                while (true)
                {
                    var want = expected < 0 ? buffer.Length : (int)Math.Min(buffer.Length, expected - written + 1);
                    var read = await BodyReads.ReadAsync(source, buffer, 0, want, _timeout, _time, cancellationToken).ConfigureAwait(false);
                    if (read == 0) break;
                    if (expected >= 0 && written + read > expected)
                        throw Mismatch(part, $"sent more than the {expected} bytes it announced");
                    hash?.TransformBlock(buffer, 0, read, null, 0);
                    await landing.WriteAtAsync(part.Offset + written, buffer, read, cancellationToken).ConfigureAwait(false);
                    written += read;
                }
            }
            if (expected >= 0 && written != expected)
                throw new IOException($"the download ended after {written} of {expected} bytes");
            if (hash is not null)
            {
                hash.TransformFinalBlock(buffer, 0, 0);
                if (!hash.Hash!.SequenceEqual(md5!))
                    throw new IOException("the bytes that arrived do not match the Content-MD5 the storage sent");
            }
            // An earlier try of the whole blob may have written further than this one.
            if (!ranged) landing.Truncate(written);
            return new Received(ranged, ranged ? response.Content.Headers.ContentRange!.Length!.Value : written);
        }

        /// <summary>MD5 for the Content-MD5 check, or null where the machine's FIPS policy forbids it (.NET Framework then throws): the length check remains.</summary>
        private static MD5? CreateMd5()
        {
            try
            {
                return MD5.Create();
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is System.Reflection.TargetInvocationException || ex is PlatformNotSupportedException)
            {
                return null;
            }
        }

        private static D365Exception Mismatch(Part part, string what) => ErrorCatalog.PackageDownloadMismatch.Create(
            $"Get Blob of {(part.Count is { } count ? $"bytes {part.Offset}-{part.Offset + count - 1}" : "the whole blob")}: the storage host {what}.");

        private static Uri With(Uri blobUrl, string query) => new Uri(blobUrl + (string.IsNullOrEmpty(blobUrl.Query) ? "?" : "&") + query);

        /// <summary>A storage call with no answer to read. Every one may be repeated: a blob or block written twice is the same blob.</summary>
        private Task PutAsync(string operation, Func<HttpRequestMessage> createRequest, TimeSpan tryTimeout, CancellationToken cancellationToken)
        {
            var message = _pipeline.CreateMessage(operation, createRequest, (_, _) => Task.FromResult(true), _verbose);
            message.TryTimeout = tryTimeout;
            return _pipeline.SendAsync(message, cancellationToken);
        }

        /// <summary>A fresh request for each try, dated when it is made.</summary>
        private HttpRequestMessage Request(HttpMethod method, Uri url, HttpContent? content)
        {
            var request = new HttpRequestMessage(method, url) { Content = content };
            request.Headers.TryAddWithoutValidation("x-ms-version", StorageVersion);
            request.Headers.TryAddWithoutValidation("x-ms-date", _time.GetUtcNow().ToString("r", CultureInfo.InvariantCulture));
            return request;
        }

        private static int ReadBlock(Stream file, byte[] buffer)
        {
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = file.Read(buffer, filled, buffer.Length - filled)) > 0) filled += read;
            return filled;
        }

        private TimeSpan TimeoutFor(long bytes) => _timeout + TimeSpan.FromSeconds(bytes / 262144.0);

        /// <summary>What to read: <see cref="Count"/> bytes from <see cref="Offset"/> (null: the whole blob), of a blob of <see cref="Total"/> bytes when known.</summary>
        private readonly struct Part(long offset, int? count, long? total)
        {
            public long Offset { get; } = offset;
            public int? Count { get; } = count;
            public long? Total { get; } = total;
        }

        /// <summary>What a read learnt: whether the storage answers ranges, and the blob's length.</summary>
        private readonly struct Received(bool ranged, long total)
        {
            public bool Ranged { get; } = ranged;
            public long Total { get; } = total;
        }

        /// <summary>
        /// Transfers of one package that stop together: the first failure (or the caller's cancellation) cancels the others
        /// at once, and is the one that is thrown once they have all ended.
        /// </summary>
        private sealed class Crew(CancellationToken cancellationToken) : IDisposable
        {
            private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            private Exception? _failure;

            public CancellationToken Token => _stop.Token;
            public bool Stopped => _stop.IsCancellationRequested;

            /// <summary>Runs <paramref name="work"/>; a failure is kept, not thrown, so that waiting for the crew never throws.</summary>
            public async Task Run(Func<Task> work)
            {
                try
                {
                    await work().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    Fail(ex);
                }
            }

            public void Fail(Exception ex)
            {
                // The cancellations that follow the first failure are its echo, not news.
                Interlocked.CompareExchange(ref _failure, ex, null);
                _stop.Cancel();
            }

            public void ThrowIfFailed()
            {
                if (Volatile.Read(ref _failure) is { } failure) ExceptionDispatchInfo.Capture(failure).Throw();
            }

            public void Dispose() => _stop.Dispose();
        }

        /// <summary>The storage host's failures as the package errors name them, with its short error code (never its body, which may echo the URL).</summary>
        private sealed class StorageErrors : ResponseClassifier
        {
            public static readonly StorageErrors Instance = new StorageErrors();

            public override D365Exception Error(TryContext attempt, Failure failure, string? done)
            {
                var operation = attempt.Message.Operation;
                var then = done is null ? string.Empty : " " + done;
                // No answer, or one whose body broke off or did not hold what it announced: the transfer failed, not the call.
                if (attempt.Response is not { } response || failure.Status is null)
                    return ErrorCatalog.PackageStorageUnreachable.FromService(null, null, failure.Exception, operation, attempt.Request.RequestUri!.Host, failure.Description, then);
                var status = (int)response.StatusCode;
                var code = ErrorCode(response, attempt.ErrorBody);
                var detail = $"{operation}: the storage host answered {status} {response.ReasonPhrase}{(code is null ? "" : " (" + code + ")")}.{then}";
                return status switch
                {
                    403 => ErrorCatalog.PackageStorageRefused.FromService(response.StatusCode, code, null, detail),
                    404 => ErrorCatalog.PackageBlobNotFound.FromService(response.StatusCode, code, null, detail),
                    413 => ErrorCatalog.PackageTooLarge.FromService(response.StatusCode, code, null, detail),
                    _ => (status >= 500 ? ErrorCatalog.PackageStorageFailed : ErrorCatalog.PackageStorageRejected).FromService(response.StatusCode, code, null, detail),
                };
            }

            /// <summary>Azure storage puts a short error code in the x-ms-error-code header and in the XML body.</summary>
            private static string? ErrorCode(HttpResponseMessage response, string body)
            {
                if (response.Headers.TryGetValues("x-ms-error-code", out var values))
                    foreach (var value in values) return value;
                var match = Regex.Match(body, "<Code>([^<]{1,100})</Code>");
                return match.Success ? match.Groups[1].Value : null;
            }
        }
    }
}
