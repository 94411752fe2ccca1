using System.Globalization;
using System.Net.Http;
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
    /// only credential, the pipeline has no token to add, and its verbose lines hide the URL's signature.
    /// A package is streamed: one Put Blob up to <see cref="SinglePutLimit"/>, else Put Block of <see cref="BlockSize"/> each
    /// from one reused buffer, then Put Block List; memory does not grow with the package.
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

        /// <summary>Uploads a file to a SAS URL as a block blob. Every call may be repeated: a blob or block written twice is the same blob.</summary>
        public async Task UploadAsync(Uri blobUrl, string path, long length, Action<long>? progress, CancellationToken cancellationToken)
        {
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

            var blockIds = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
            var buffer = new byte[BlockSize];
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, FileOptions.SequentialScan))
            {
                long sent = 0;
                for (var index = 0; sent < length; index++)
                {
                    var count = ReadBlock(file, buffer);
                    if (count == 0)
                        throw ErrorCatalog.PackageFileChanged.Create(path);
                    // Block ids of one blob must all have the same length.
                    var blockId = Convert.ToBase64String(Encoding.ASCII.GetBytes("block-" + index.ToString("D6", CultureInfo.InvariantCulture)));
                    var blockUrl = new Uri(blobUrl + (string.IsNullOrEmpty(blobUrl.Query) ? "?" : "&") + "comp=block&blockid=" + Uri.EscapeDataString(blockId));
                    await PutAsync("Put Block", () => Request(HttpMethod.Put, blockUrl, new ByteArrayContent(buffer, 0, count)),
                        TimeoutFor(count), cancellationToken).ConfigureAwait(false);
                    blockIds.Append("<Latest>").Append(blockId).Append("</Latest>");
                    sent += count;
                    progress?.Invoke(sent);
                }
            }
            blockIds.Append("</BlockList>");
            var listUrl = new Uri(blobUrl + (string.IsNullOrEmpty(blobUrl.Query) ? "?" : "&") + "comp=blocklist");
            var list = blockIds.ToString();
            await PutAsync("Put Block List", () => Request(HttpMethod.Put, listUrl, new StringContent(list, new UTF8Encoding(false), "application/xml")),
                _timeout, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Downloads a SAS URL into <paramref name="target"/>: into a hidden partial file beside it first, flushed and renamed
        /// into place only when complete, so a file under its final name is always whole.
        /// </summary>
        public async Task<long> DownloadAsync(Uri url, string target, bool overwrite, CancellationToken cancellationToken)
        {
            var message = _pipeline.CreateMessage("Get Blob", () => Request(HttpMethod.Get, url, null),
                (response, token) => LandAsync(response, target, token), _verbose);
            message.StreamResponse = true;
            using var landing = await _pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
            if (!overwrite && File.Exists(target))
                throw ErrorCatalog.PackageOutputExists.Create(target, "-OutputPath or -PackageName");
            landing.MoveTo(target, replace: true);
            return landing.Length;
        }

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

        /// <summary>One try's download, into a landing file of its own: a try that fails part way leaves nothing behind for the next.</summary>
        private async Task<LandingFile> LandAsync(HttpResponseMessage response, string target, CancellationToken cancellationToken)
        {
            var directory = Path.GetDirectoryName(target)!;
            var landing = LandingFile.Create(directory, Path.GetFileName(target), string.Empty,
                ex => ErrorCatalog.PackageWriteFailed.Wrap(ex, $"Saving into '{directory}'", ex.Message));
            try
            {
                using (var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false))
                    await landing.CopyFromAsync(source, _timeout, _time, cancellationToken).ConfigureAwait(false);
                if (response.Content.Headers.ContentLength is { } declared && declared != landing.Length)
                    throw new IOException($"the download ended after {landing.Length} of {declared} bytes");
                return landing;
            }
            catch
            {
                landing.Dispose();
                throw;
            }
        }

        private static int ReadBlock(Stream file, byte[] buffer)
        {
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = file.Read(buffer, filled, buffer.Length - filled)) > 0) filled += read;
            return filled;
        }

        private TimeSpan TimeoutFor(long bytes) => _timeout + TimeSpan.FromSeconds(bytes / 262144.0);

        /// <summary>The storage host's failures as the package errors name them, with its short error code (never its body, which may echo the URL).</summary>
        private sealed class StorageErrors : ResponseClassifier
        {
            public static readonly StorageErrors Instance = new StorageErrors();

            public override D365Exception Error(TryContext attempt, Failure failure, string? done)
            {
                var operation = attempt.Message.Operation;
                var then = done is null ? string.Empty : " " + done;
                if (attempt.Response is not { } response)
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
