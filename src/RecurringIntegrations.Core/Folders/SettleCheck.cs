using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>
    /// Which files of an inbox are done being written (-SettleSeconds): a file written to within the settle time is left for
    /// a later run; the others are looked at again once the settle time has passed on <paramref name="time"/>, and one whose
    /// size or write time changed meanwhile, or that another program holds open, is left too. An empty file is an error.
    /// </summary>
    internal sealed class SettleCheck(TimeSpan settle, TimeProvider time, Action<string> warn, Action<object, D365Exception> error)
    {
        public async Task<List<FileInfo>> SettledAsync(List<FileInfo> files, CancellationToken cancellationToken)
        {
            var now = time.GetUtcNow().UtcDateTime;
            var seen = new List<(FileInfo File, long Length, DateTime Written)>();
            foreach (var file in files)
            {
                if (!file.Exists) continue;
                if (settle > TimeSpan.Zero && now - file.LastWriteTimeUtc < settle)
                {
                    warn($"'{file.Name}' was written to in the last {settle.TotalSeconds:0.#} s: left for a later run.");
                    continue;
                }
                seen.Add((file, file.Length, file.LastWriteTimeUtc));
            }
            if (settle > TimeSpan.Zero && seen.Count > 0)
                await time.Delay(settle, cancellationToken).ConfigureAwait(false);
            var settled = new List<FileInfo>();
            foreach (var (file, length, written) in seen)
            {
                file.Refresh();
                if (!file.Exists)
                {
                    warn($"'{file.Name}' vanished from the inbox before it was sent: skipped.");
                    continue;
                }
                if (file.Length != length || file.LastWriteTimeUtc != written)
                {
                    warn($"'{file.Name}' is still being written (its size or time changed): left for a later run.");
                    continue;
                }
                if (CheckReadable(file)) settled.Add(file);
            }
            return settled;
        }

        private bool CheckReadable(FileInfo file)
        {
            try
            {
                // No sharing: a writer that still holds the file open makes this fail (on Windows always, elsewhere for .NET writers).
                using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.None);
                if (stream.Length > 0) return true;
                error(file.FullName, ErrorCatalog.EnqueueFileEmpty.Create(file.FullName, " It stays in the inbox."));
            }
            catch (FileNotFoundException)
            {
                warn($"'{file.Name}' vanished from the inbox before it was sent: skipped.");
            }
            catch (UnauthorizedAccessException ex)
            {
                error(file.FullName, ErrorCatalog.EnqueueFileAccessDenied.Wrap(ex, file.FullName, " It stays in the inbox."));
            }
            catch (IOException)
            {
                warn($"'{file.Name}' is open in another program: left for a later run.");
            }
            return false;
        }
    }
}
