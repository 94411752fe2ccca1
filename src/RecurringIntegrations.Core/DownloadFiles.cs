using System.Net.Http;
using System.Text;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.Core
{
    /// <summary>Saves a download so that a file under its final name is always complete.</summary>
    internal static class DownloadFiles
    {
        private const int BufferSize = 81920;
        private const int SniffLength = 512;

        public static async Task<SavedFile> SaveAsync(HttpResponseMessage response, DequeueResult message, string directory,
            bool overwrite, TimeSpan idleTimeout, CancellationToken cancellationToken)
        {
            var partial = Path.Combine(directory, "." + message.CorrelationId.ToString("N") + "-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
            var moved = false;
            try
            {
                var (length, head) = await CopyToPartialAsync(response, partial, idleTimeout, cancellationToken).ConfigureAwait(false);
                var expected = response.Content.Headers.ContentLength;
                if (expected is { } declared && declared != length)
                    throw new IOException($"the download ended after {length} of {declared} bytes");
                var final = MoveIntoPlace(partial, directory, ChooseName(response, message, head), overwrite);
                moved = true;
                return new SavedFile(final, length);
            }
            finally
            {
                if (!moved) TryDelete(partial);
            }
        }

        private static async Task<(long Length, byte[] Head)> CopyToPartialAsync(HttpResponseMessage response, string partial,
            TimeSpan idleTimeout, CancellationToken cancellationToken)
        {
            var head = new byte[SniffLength];
            var headLength = 0;
            long total = 0;
            var buffer = new byte[BufferSize];
            using var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            using var target = OpenPartial(partial);
            while (true)
            {
                int read;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    idle.CancelAfter(idleTimeout);
                    try
                    {
                        read = await source.ReadAsync(buffer, 0, buffer.Length, idle.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new IOException($"no data arrived for {idleTimeout.TotalSeconds:0} s");
                    }
                }
                if (read == 0) break;
                if (headLength < SniffLength)
                {
                    var take = Math.Min(read, SniffLength - headLength);
                    Buffer.BlockCopy(buffer, 0, head, headLength, take);
                    headLength += take;
                }
                await WriteAsync(target, buffer, read, partial, cancellationToken).ConfigureAwait(false);
                total += read;
            }
            try
            {
                target.Flush(true);
            }
            catch (IOException ex)
            {
                throw WriteFailed(partial, ex);
            }
            Array.Resize(ref head, headLength);
            return (total, head);
        }

        private static FileStream OpenPartial(string partial)
        {
            try
            {
                // Unbuffered (the copy loop already writes whole buffers): a full disk then fails in WriteAsync, where it is
                // reported as a local write error, and never later in Dispose, where it would mask that error.
                return new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw ErrorCatalog.OutputPathAccessDenied.Wrap(ex, $"write in '{Path.GetDirectoryName(partial)}'", " The message was not acknowledged and stays on the queue.");
            }
            catch (IOException ex)
            {
                throw WriteFailed(partial, ex);
            }
        }

        private static async Task WriteAsync(FileStream target, byte[] buffer, int count, string partial, CancellationToken cancellationToken)
        {
            try
            {
                await target.WriteAsync(buffer, 0, count, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw WriteFailed(partial, ex);
            }
        }

        // A local write failure is not a network failure: it must not be retried as one, and it says what to fix.
        private static D365Exception WriteFailed(string partial, Exception ex) =>
            ErrorCatalog.DownloadWriteFailed.Wrap(ex, $"Saving into '{Path.GetDirectoryName(partial)}'", ex.Message);

        private static string MoveIntoPlace(string partial, string directory, string fileName, bool overwrite)
        {
            var target = Path.Combine(directory, fileName);
            if (overwrite)
            {
                if (File.Exists(target)) File.Delete(target);
                File.Move(partial, target);
                return target;
            }
            var stem = Path.GetFileNameWithoutExtension(fileName);
            var extension = Path.GetExtension(fileName);
            for (var n = 2; ; n++)
            {
                if (!File.Exists(target))
                {
                    try
                    {
                        File.Move(partial, target);
                        return target;
                    }
                    catch (IOException) when (File.Exists(target))
                    {
                        // Another download took the name between the check and the move: try the next one.
                    }
                }
                target = Path.Combine(directory, $"{stem} ({n}){extension}");
            }
        }

        /// <summary>The service's file name when it sends one; otherwise the correlation id with an extension read from the content.</summary>
        internal static string ChooseName(HttpResponseMessage response, DequeueResult message, byte[] head)
        {
            var disposition = response.Content.Headers.ContentDisposition;
            var offered = disposition?.FileNameStar ?? disposition?.FileName;
            if (!string.IsNullOrWhiteSpace(offered))
            {
                var safe = Sanitize(offered!.Trim().Trim('"'));
                if (safe.Length > 0) return safe;
            }
            return message.CorrelationId.ToString("D") + SniffExtension(head);
        }

        internal static string Sanitize(string name)
        {
            var leaf = name.Replace('\\', '/');
            leaf = leaf.Substring(leaf.LastIndexOf('/') + 1);
            var invalid = Path.GetInvalidFileNameChars();
            var builder = new StringBuilder(leaf.Length);
            foreach (var c in leaf) builder.Append(Array.IndexOf(invalid, c) >= 0 || c < 0x20 ? '_' : c);
            var result = builder.ToString().Trim().TrimStart('.');
            return result == ".." ? string.Empty : result;
        }

        internal static string SniffExtension(byte[] head)
        {
            if (head.Length >= 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04) return ".zip";
            var offset = 0;
            if (head.Length >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF) offset = 3;
            var utf16 = head.Length >= 2 && ((head[0] == 0xFF && head[1] == 0xFE) || (head[0] == 0xFE && head[1] == 0xFF));
            if (utf16)
            {
                var first = head.Length >= 4 ? (head[0] == 0xFF ? head[2] : head[3]) : (byte)0;
                return first == (byte)'<' ? ".xml" : first == (byte)'{' || first == (byte)'[' ? ".json" : ".txt";
            }
            while (offset < head.Length && (head[offset] == ' ' || head[offset] == '\r' || head[offset] == '\n' || head[offset] == '\t')) offset++;
            if (offset < head.Length && head[offset] == '<') return ".xml";
            if (offset < head.Length && (head[offset] == '{' || head[offset] == '[')) return ".json";
            foreach (var b in head)
                if (b == 0) return ".bin";
            return ".txt";
        }

        private static void TryDelete(string path)
        {
            try
            {
                if (File.Exists(path)) File.Delete(path);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}
