using System;
using System.IO;

namespace RecurringIntegrations.Core
{
    /// <summary>Checks on local files and folders, made before any call, so bad input fails with advice and nothing is sent.</summary>
    public static class FileChecks
    {
        /// <summary>The length of a file that exists, is not empty, and can be read now.</summary>
        public static long ReadableFileLength(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new D365Exception("EnqueuePathEmpty", D365ErrorCategory.InvalidArgument,
                    "The file path is empty.", "Give the path of a file to upload with -Path or -LiteralPath.");
            if (Directory.Exists(path))
                throw new D365Exception("EnqueuePathIsDirectory", D365ErrorCategory.InvalidArgument,
                    $"'{path}' is a folder, not a file.", "Give the files inside it, for example -Path '<folder>\\*.xml', or pipe Get-ChildItem -File.");
            if (!File.Exists(path))
                throw new D365Exception("EnqueueFileNotFound", D365ErrorCategory.ObjectNotFound,
                    $"The file '{path}' does not exist.", "Check the path; -Path takes wildcards, -LiteralPath takes the name as is.");
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
                if (stream.Length == 0)
                    throw new D365Exception("EnqueueFileEmpty", D365ErrorCategory.InvalidData,
                        $"The file '{path}' is empty.", "The service would create an empty message: check that the file was written completely.");
                return stream.Length;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new D365Exception("EnqueueFileAccessDenied", D365ErrorCategory.PermissionDenied,
                    $"The file '{path}' cannot be read: access is denied.", "Run as a user who may read the file, or change its permissions.", innerException: ex);
            }
            catch (IOException ex)
            {
                throw new D365Exception("EnqueueFileLocked", D365ErrorCategory.ResourceUnavailable,
                    $"The file '{path}' cannot be read now: {ex.Message}", "Another program may still be writing it: try again when it is done.", innerException: ex);
            }
        }

        /// <summary>The full path of a folder to save into, made if it does not exist yet.</summary>
        public static string PrepareOutputDirectory(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new D365Exception("OutputPathEmpty", D365ErrorCategory.InvalidArgument,
                    "The output folder is empty.", "Give the folder to save files in with -OutputPath.");
            var full = Path.GetFullPath(path);
            if (File.Exists(full))
                throw new D365Exception("OutputPathIsFile", D365ErrorCategory.InvalidArgument,
                    $"'{full}' is a file; -OutputPath needs a folder.", "Give a folder (it is created if missing).");
            try
            {
                Directory.CreateDirectory(full);
                return full;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new D365Exception("OutputPathAccessDenied", D365ErrorCategory.PermissionDenied,
                    $"The folder '{full}' cannot be created: access is denied.", "Choose a folder you may write to.", innerException: ex);
            }
            catch (IOException ex)
            {
                throw new D365Exception("OutputPathUnusable", D365ErrorCategory.WriteError,
                    $"The folder '{full}' cannot be created: {ex.Message}", "Choose another folder.", innerException: ex);
            }
        }
    }
}
