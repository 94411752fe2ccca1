using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Files
{
    /// <summary>Checks on local files and folders, made before any call, so bad input fails with advice and nothing is sent.</summary>
    public static class FileChecks
    {
        /// <summary>The length of a file that exists, is not empty, and can be read now.</summary>
        public static long ReadableFileLength(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw ErrorCatalog.EnqueuePathEmpty.Create();
            if (Directory.Exists(path))
                throw ErrorCatalog.EnqueuePathIsDirectory.Create(path);
            if (!File.Exists(path))
                throw ErrorCatalog.EnqueueFileNotFound.Create(path);
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
                if (stream.Length == 0)
                    throw ErrorCatalog.EnqueueFileEmpty.Create(path, string.Empty);
                return stream.Length;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw ErrorCatalog.EnqueueFileAccessDenied.Wrap(ex, path, string.Empty);
            }
            catch (IOException ex)
            {
                throw ErrorCatalog.EnqueueFileLocked.Wrap(ex, path, ex.Message);
            }
        }

        /// <summary>
        /// The full path of <paramref name="path"/>, or a clear error: on .NET Framework a path past 260 characters throws
        /// PathTooLongException and a malformed one ArgumentException or NotSupportedException, which would otherwise surface
        /// as UnexpectedError. <paramref name="getFullPath"/> stands in for Path.GetFullPath in a test.
        /// </summary>
        public static string FullPath(string path, Func<string, string>? getFullPath = null)
        {
            try
            {
                return (getFullPath ?? Path.GetFullPath)(path);
            }
            catch (PathTooLongException ex)
            {
                throw ErrorCatalog.PathTooLong.Wrap(ex, path);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException)
            {
                throw ErrorCatalog.PathInvalid.Wrap(ex, path, ex.Message);
            }
        }

        /// <summary>The full path of a folder to save into, made if it does not exist yet.</summary>
        public static string PrepareOutputDirectory(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw ErrorCatalog.OutputPathEmpty.Create();
            var full = FullPath(path);
            if (File.Exists(full))
                throw ErrorCatalog.OutputPathIsFile.Create(full);
            try
            {
                Directory.CreateDirectory(full);
                return full;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw ErrorCatalog.OutputPathAccessDenied.Wrap(ex, $"create the folder '{full}'", string.Empty);
            }
            catch (IOException ex)
            {
                throw ErrorCatalog.OutputPathUnusable.Wrap(ex, full, ex.Message);
            }
        }
    }
}
