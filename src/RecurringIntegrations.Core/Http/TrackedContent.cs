using System.Net;
using System.Net.Http;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>
    /// A request body streamed from a file, opened afresh on every try. It remembers whether any of it was sent, which
    /// decides whether an upload may be retried without risking a duplicate on the service: only a write to the network
    /// counts. With .NET Framework's "Expect: 100-continue" an answer (a 5xx) or a reset can come before the body is asked
    /// for, and a file another program holds fails to open: neither sent a byte.
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

        /// <summary>True from the first write of the body to the network on (set before it, since a write cut off may have sent part).</summary>
        public bool BodyStarted { get; private set; }

        /// <summary>The local error when the file could not be opened for the body: the upload failed here, not on the network.</summary>
        public D365Exception? OpenFailure { get; private set; }

        /// <summary>How the file is opened; a test puts a file system's refusal here (a sharing violation on Windows).</summary>
        internal Func<string, Stream> Open { get; set; } = path =>
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            Stream file;
            try
            {
                file = Open(_path);
            }
            catch (UnauthorizedAccessException ex)
            {
                OpenFailure = ErrorCatalog.EnqueueFileAccessDenied.Wrap(ex, _path, " Nothing of it was sent.");
                throw;
            }
            catch (IOException ex)
            {
                OpenFailure = ErrorCatalog.EnqueueFileLocked.Wrap(ex, _path, ex.Message + " Nothing of it was sent.");
                throw;
            }
            using (file)
            {
                var buffer = new byte[BufferSize];
                int read;
                while ((read = await file.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                {
                    BodyStarted = true;
                    await stream.WriteAsync(buffer, 0, read).ConfigureAwait(false);
                }
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _length;
            return true;
        }
    }
}
