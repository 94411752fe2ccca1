using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>The file-system steps of the folder workflows, each turning a local failure into an error that says what to fix.</summary>
    internal static class FolderFiles
    {
        /// <summary>The full path of an existing folder; a missing one, or a file, is an error (an inbox is never made up).</summary>
        public static string ExistingFolder(string path, string parameter)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw ErrorCatalog.FolderPathEmpty.Create(parameter);
            var full = FileChecks.FullPath(path);
            if (File.Exists(full))
                throw ErrorCatalog.FolderPathIsFile.Create(full, parameter);
            if (!Directory.Exists(full))
                throw ErrorCatalog.FolderNotFound.Create(full);
            return full;
        }

        /// <summary>Makes a state folder (processed, failed, ...) inside the workflow's folder.</summary>
        public static string StateFolder(string parent, string name)
        {
            var path = Path.Combine(parent, name);
            if (File.Exists(path))
                throw ErrorCatalog.FolderStateFolderIsFile.Create(path, name);
            try
            {
                Directory.CreateDirectory(path);
                return path;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw ErrorCatalog.FolderAccessDenied.Wrap(ex, "create", path);
            }
            catch (IOException ex)
            {
                throw ErrorCatalog.FolderWriteFailed.Wrap(ex, "create", path, ex.Message, string.Empty);
            }
        }

        /// <summary>An atomic rename (same volume). Failure says what to fix; the source stays where it was.</summary>
        public static void Move(string source, string target, string stays)
        {
            try
            {
                if (Directory.Exists(source)) Directory.Move(source, target);
                else File.Move(source, target);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw ErrorCatalog.FolderMoveFailed.Wrap(ex, source, target, ex.Message, stays);
            }
            catch (IOException ex)
            {
                throw ErrorCatalog.FolderMoveFailed.Wrap(ex, source, target, ex.Message, stays);
            }
        }
    }
}
