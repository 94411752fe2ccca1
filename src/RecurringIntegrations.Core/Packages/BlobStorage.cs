using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Packages
{
    /// <summary>
    /// Calls to the Azure blob storage behind the package API, with a SAS URL as the only credential. They have their own
    /// connection pool and no Authorization handler, so the environment's token can never reach the storage host.
    /// A package is streamed: one Put Blob up to <see cref="SinglePutLimit"/>, else Put Block of <see cref="BlockSize"/> each
    /// from one reused buffer, then Put Block List; memory does not grow with the package.
    /// </summary>
    internal sealed class BlobStorage : IDisposable
    {
        // The version the service's SAS (sv=2014-02-14) and Microsoft's Logic App sample use: Put Blob up to 64 MiB, blocks up to 4 MiB.
        private const string StorageVersion = "2015-02-21";
        private const int CopyBufferSize = 81920;
        private const int MaxAttempts = 4;
        private readonly HttpClient _http;
        private readonly TimeSpan _timeout;
        private readonly Action<string>? _verbose;

        public BlobStorage(D365Session session, Action<string>? verbose)
        {
            var handler = new HttpClientHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                MaxConnectionsPerServer = 4,
            };
            if (session.SkipCertificateCheck)
                handler.ServerCertificateCustomValidationCallback = (_, _, _, _) => true;
            else if (session.TrustedServerCertificate is { } trusted)
                handler.ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
                    errors == System.Net.Security.SslPolicyErrors.None ||
                    (certificate != null && string.Equals(certificate.GetCertHashString(), trusted.GetCertHashString(), StringComparison.OrdinalIgnoreCase));
            _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("RecurringIntegrations/" + typeof(BlobStorage).Assembly.GetName().Version);
            _timeout = session.Retry.RequestTimeout;
            _verbose = verbose;
        }

        internal long SinglePutLimit { get; set; } = 64L * 1024 * 1024;
        internal int BlockSize { get; set; } = 4 * 1024 * 1024;
        internal TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Uploads a file to a SAS URL as a block blob. Every call may be repeated: a blob or block written twice is the same blob.</summary>
        public async Task UploadAsync(Uri blobUrl, string path, long length, Action<long>? progress, CancellationToken cancellationToken)
        {
            if (length <= SinglePutLimit)
            {
                await SendAsync("Put Blob", () =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Put, blobUrl) { Content = new FileUploadContent(path, length) };
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
                    await SendAsync("Put Block", () => new HttpRequestMessage(HttpMethod.Put, blockUrl)
                    {
                        Content = new ByteArrayContent(buffer, 0, count),
                    }, TimeoutFor(count), cancellationToken).ConfigureAwait(false);
                    blockIds.Append("<Latest>").Append(blockId).Append("</Latest>");
                    sent += count;
                    progress?.Invoke(sent);
                }
            }
            blockIds.Append("</BlockList>");
            var listUrl = new Uri(blobUrl + (string.IsNullOrEmpty(blobUrl.Query) ? "?" : "&") + "comp=blocklist");
            var list = blockIds.ToString();
            await SendAsync("Put Block List", () => new HttpRequestMessage(HttpMethod.Put, listUrl)
            {
                Content = new StringContent(list, new UTF8Encoding(false), "application/xml"),
            }, _timeout, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Downloads a SAS URL into <paramref name="target"/>: into a hidden partial file beside it first, flushed and renamed
        /// into place only when complete, so a file under its final name is always whole.
        /// </summary>
        public async Task<long> DownloadAsync(Uri url, string target, bool overwrite, CancellationToken cancellationToken)
        {
            var directory = Path.GetDirectoryName(target)!;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var landing = LandingFile.Create(directory, Path.GetFileName(target), string.Empty,
                        ex => ErrorCatalog.PackageWriteFailed.Wrap(ex, $"Saving into '{directory}'", ex.Message));
                    var length = await TrySendAsync("Get Blob", () => new HttpRequestMessage(HttpMethod.Get, url), _timeout, true,
                        (response, token) => CopyToFileAsync(response, landing, token), cancellationToken).ConfigureAwait(false);
                    if (!overwrite && File.Exists(target))
                        throw ErrorCatalog.PackageOutputExists.Create(target, "-OutputPath or -PackageName");
                    landing.MoveTo(target, replace: true);
                    return length;
                }
                catch (TransientStorageFailure failure)
                {
                    if (attempt >= MaxAttempts) throw failure.Error;
                    await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        private async Task SendAsync(string operation, Func<HttpRequestMessage> createRequest, TimeSpan timeout, CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await TrySendAsync(operation, createRequest, timeout, false, (_, _) => Task.FromResult(0L), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (TransientStorageFailure failure)
                {
                    if (attempt >= MaxAttempts) throw failure.Error;
                    _verbose?.Invoke($"{operation}: retrying in {RetryDelay.TotalSeconds:0.##} s (attempt {attempt + 1} of {MaxAttempts}).");
                    await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        private async Task<long> TrySendAsync(string operation, Func<HttpRequestMessage> createRequest, TimeSpan timeout, bool streamResponse,
            Func<HttpResponseMessage, CancellationToken, Task<long>> readResponse, CancellationToken cancellationToken)
        {
            using var request = createRequest();
            request.Headers.TryAddWithoutValidation("x-ms-version", StorageVersion);
            request.Headers.TryAddWithoutValidation("x-ms-date", DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture));
            var shown = SasUrl.ForLog(request.RequestUri!);
            var watch = Stopwatch.StartNew();
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(timeout);
            try
            {
                using var response = await _http.SendAsync(request,
                    streamResponse ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, attempt.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                _verbose?.Invoke($"{request.Method} {shown} -> {status} {response.ReasonPhrase} ({watch.ElapsedMilliseconds} ms)");
                if (status >= 200 && status < 300)
                {
                    if (streamResponse) attempt.CancelAfter(Timeout.InfiniteTimeSpan);
                    return await readResponse(response, attempt.Token).ConfigureAwait(false);
                }
                var error = StorageError(operation, response, await ReadErrorCodeAsync(response).ConfigureAwait(false));
                if (status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504)
                    throw new TransientStorageFailure(error);
                throw error;
            }
            catch (Exception ex) when (ex is HttpRequestException || ex is IOException ||
                                       (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                var what = ex is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0} s" : Innermost(ex);
                _verbose?.Invoke($"{request.Method} {shown} -> failed: {what} ({watch.ElapsedMilliseconds} ms)");
                throw new TransientStorageFailure(ErrorCatalog.PackageStorageUnreachable.Create(operation, request.RequestUri!.Host, what));
            }
        }

        private static D365Exception StorageError(string operation, HttpResponseMessage response, string? code)
        {
            var status = (int)response.StatusCode;
            var detail = $"{operation}: the storage host answered {status} {response.ReasonPhrase}{(code is null ? "" : " (" + code + ")")}.";
            return status switch
            {
                403 => ErrorCatalog.PackageStorageRefused.FromService(response.StatusCode, code, null, detail),
                404 => ErrorCatalog.PackageBlobNotFound.FromService(response.StatusCode, code, null, detail),
                413 => ErrorCatalog.PackageTooLarge.FromService(response.StatusCode, code, null, detail),
                _ => (status >= 500 ? ErrorCatalog.PackageStorageFailed : ErrorCatalog.PackageStorageRejected).FromService(response.StatusCode, code, null, detail),
            };
        }

        /// <summary>Azure storage puts a short error code in the x-ms-error-code header and in the XML body; the body may echo the URL, so only the code is kept.</summary>
        private static async Task<string?> ReadErrorCodeAsync(HttpResponseMessage response)
        {
            if (response.Headers.TryGetValues("x-ms-error-code", out var values))
                foreach (var value in values) return value;
            var body = response.Content is null ? string.Empty : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            var match = System.Text.RegularExpressions.Regex.Match(body, "<Code>([^<]{1,100})</Code>");
            return match.Success ? match.Groups[1].Value : null;
        }

        private async Task<long> CopyToFileAsync(HttpResponseMessage response, LandingFile landing, CancellationToken cancellationToken)
        {
            using (var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false))
                await landing.CopyFromAsync(source, _timeout, cancellationToken).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength is { } declared && declared != landing.Length)
                throw new IOException($"the download ended after {landing.Length} of {declared} bytes");
            return landing.Length;
        }

        private static int ReadBlock(Stream file, byte[] buffer)
        {
            var filled = 0;
            int read;
            while (filled < buffer.Length && (read = file.Read(buffer, filled, buffer.Length - filled)) > 0) filled += read;
            return filled;
        }

        private TimeSpan TimeoutFor(long bytes) => _timeout + TimeSpan.FromSeconds(bytes / 262144.0);

        private static string Innermost(Exception ex)
        {
            while (ex.InnerException != null) ex = ex.InnerException;
            return ex.Message;
        }

        public void Dispose() => _http.Dispose();

        /// <summary>A failure after which the same storage call may simply be made again.</summary>
        private sealed class TransientStorageFailure : Exception
        {
            public TransientStorageFailure(D365Exception error) : base(error.Message) => Error = error;
            public D365Exception Error { get; }
        }
    }
}
