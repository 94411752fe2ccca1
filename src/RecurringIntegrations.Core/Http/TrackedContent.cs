using System.Net;
using System.Net.Http;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// A request body streamed from a file, opened afresh on every try. It remembers whether any of it was sent,
    /// which decides whether an upload may be retried without risking a duplicate on the service.
    /// </summary>
    internal sealed class FileUploadContent : HttpContent
    {
        private const int BufferSize = 81920;
        private readonly string _path;
        private readonly long _length;

        public FileUploadContent(string path, long length)
        {
            _path = path;
            _length = length;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        }

        public bool BodyStarted { get; private set; }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            BodyStarted = true;
            using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            await file.CopyToAsync(stream, BufferSize).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }

    /// <summary>
    /// When an upload may go again without risking a duplicate message (d365-api.md section 11): only when the service cannot
    /// have created one. It can not when it said so (429, 503, 408, or a 500 carrying its own OData error), when the
    /// connection was refused, or when no byte of the file left. After the file was sent, a lost connection, no answer in time,
    /// a 502/504 from a gateway or a 500 that is not the service's own error may hide a message that was created.
    /// </summary>
    internal sealed class UploadResendRule : ResendRule
    {
        public static readonly UploadResendRule Instance = new UploadResendRule();

        public override D365Exception? Refuse(HttpMessage message, Failure failure)
        {
            if (failure.Status == 408 || failure.Status == 429 || failure.Status == 503) return null;
            if (failure.Status == 500 && failure.ServiceAnswered) return null;
            if (failure.ConnectionRefused) return null;
            if (failure.Status is null && message.Response is null && message.Request.Content is FileUploadContent { BodyStarted: false }) return null;

            var why = failure.Status switch
            {
                500 => "the 500 answer is not the service's own error, so something in between may have cut the call off after the service took the file",
                int status => $"a gateway answered {failure.Description}, and the service behind it may have taken the file",
                null when failure.TimedOut => $"{failure.Description} after the file was sent, and the service may have taken it",
                null => $"the connection failed after the file was sent ({failure.Description}), and the service may have taken it",
            };
            return ErrorCatalog.EnqueueOutcomeUnknown.FromService(failure.Status is int code ? (HttpStatusCode)code : (HttpStatusCode?)null, null, failure.Exception,
                $"{message.Operation}: {why}. Sent {message.TriesSoFar()} and not again, to avoid a duplicate message.", " The file was left in place.");
        }
    }
}
