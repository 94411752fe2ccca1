using System.Net;
using System.Net.Http;

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
}
