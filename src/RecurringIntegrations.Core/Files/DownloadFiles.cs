using System.Net.Http;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.Core.Files
{
    /// <summary>Saves a dequeued message's download through a <see cref="LandingFile"/>, under the name the service gives or one read from the content.</summary>
    internal static class DownloadFiles
    {
        private const string Stays = " The message was not acknowledged and stays on the queue.";

        public static async Task<SavedFile> SaveAsync(HttpResponseMessage response, DequeueResult message, string directory,
            bool overwrite, TimeSpan idleTimeout, TimeProvider time, CancellationToken cancellationToken)
        {
            using var landing = LandingFile.Create(directory, message.CorrelationId.ToString("N"), Stays,
                ex => ErrorCatalog.DownloadWriteFailed.Wrap(ex, $"Saving into '{directory}'", ex.Message));
            using (var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false))
                await landing.CopyFromAsync(source, idleTimeout, time, cancellationToken).ConfigureAwait(false);
            if (response.Content.Headers.ContentLength is { } declared && declared != landing.Length)
                throw new IOException($"the download ended after {landing.Length} of {declared} bytes");
            var name = ChooseName(response, message, landing.Head);
            var final = overwrite ? landing.MoveTo(Path.Combine(directory, name), replace: true) : landing.MoveToFreeName(directory, name);
            return new SavedFile(final, landing.Length);
        }

        /// <summary>The service's file name when it sends one; otherwise the correlation id with an extension read from the content.</summary>
        internal static string ChooseName(HttpResponseMessage response, DequeueResult message, byte[] head)
        {
            var disposition = response.Content.Headers.ContentDisposition;
            var offered = disposition?.FileNameStar ?? disposition?.FileName;
            if (!string.IsNullOrWhiteSpace(offered))
            {
                var safe = FileNames.Sanitize(offered!.Trim().Trim('"'));
                if (safe.Length > 0) return safe;
            }
            return message.CorrelationId.ToString("D") + SniffExtension(head);
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
    }
}
