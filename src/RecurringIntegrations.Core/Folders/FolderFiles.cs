using System;
using System.IO;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>The file-system steps of the folder workflows, each turning a local failure into an error that says what to fix.</summary>
    internal static class FolderFiles
    {
        /// <summary>The full path of an existing folder; a missing one, or a file, is an error (an inbox is never made up).</summary>
        public static string ExistingFolder(string path, string parameter)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new D365Exception("FolderPathEmpty", D365ErrorCategory.InvalidArgument, "The folder path is empty.", $"Give the folder with {parameter}.");
            var full = Path.GetFullPath(path);
            if (File.Exists(full))
                throw new D365Exception("FolderPathIsFile", D365ErrorCategory.InvalidArgument,
                    $"'{full}' is a file; {parameter} needs a folder.", $"Give the folder that holds the files, not a file in it.");
            if (!Directory.Exists(full))
                throw new D365Exception("FolderNotFound", D365ErrorCategory.ObjectNotFound,
                    $"The folder '{full}' does not exist.", "Check the path, and that the drive or share is mounted for the account the task runs as.");
            return full;
        }

        /// <summary>Makes a state folder (processed, failed, ...) inside the workflow's folder.</summary>
        public static string StateFolder(string parent, string name)
        {
            var path = Path.Combine(parent, name);
            if (File.Exists(path))
                throw new D365Exception("FolderStateFolderIsFile", D365ErrorCategory.InvalidArgument,
                    $"'{path}' is a file, but the workflow keeps its '{name}' files in a folder of that name.", "Rename or move that file away.");
            try
            {
                Directory.CreateDirectory(path);
                return path;
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new D365Exception("FolderAccessDenied", D365ErrorCategory.PermissionDenied,
                    $"Cannot create '{path}': access is denied.", "Run as an account that may create folders and move files in the folder.", innerException: ex);
            }
            catch (IOException ex)
            {
                throw new D365Exception("FolderAccessDenied", D365ErrorCategory.WriteError,
                    $"Cannot create '{path}': {ex.Message}", "Check that the folder is writable and the disk is not full.", innerException: ex);
            }
        }

        /// <summary>A name in <paramref name="folder"/> that is free now: the name itself, else 'stem (2).ext', 'stem (3).ext', ...</summary>
        public static string FreeName(string folder, string name)
        {
            var target = Path.Combine(folder, name);
            var stem = Path.GetFileNameWithoutExtension(name);
            var extension = Path.GetExtension(name);
            for (var n = 2; File.Exists(target) || Directory.Exists(target); n++)
                target = Path.Combine(folder, $"{stem} ({n}){extension}");
            return target;
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
                throw new D365Exception("FolderMoveFailed", D365ErrorCategory.PermissionDenied,
                    $"Cannot move '{source}' to '{target}': access is denied.",
                    $"Give the account permission to rename files in both folders. {stays}", innerException: ex);
            }
            catch (IOException ex)
            {
                throw new D365Exception("FolderMoveFailed", D365ErrorCategory.WriteError,
                    $"Cannot move '{source}' to '{target}': {ex.Message}", stays, innerException: ex);
            }
        }

        public static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);
    }
}
