using System.IO.Compression;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Files
{
    /// <summary>
    /// The one way a zip is unpacked. Every entry is checked before anything is written: an entry that would land outside
    /// the folder (.., an absolute path, a drive letter), uses '\' as a separator, names a file twice (also by case: the
    /// names collide on Windows and macOS), takes a reserved name, or a package that would unpack to more than the limit
    /// (a zip bomb) refuses the whole package. The limit is also held while copying, since sizes in a zip can lie.
    /// </summary>
    internal static class ZipExtractor
    {
        /// <summary>Far above any data package (the service takes 256 MB zipped), far below a zip bomb's petabytes.</summary>
        public const long DefaultMaxExpandedBytes = 16L * 1024 * 1024 * 1024;
        private const int CopyBufferSize = 81920;

        /// <summary>Unpacks <paramref name="zipPath"/> into a folder beside it named after it ('x.zip' into 'x'); returns that folder.</summary>
        /// <param name="stays">What became of the package, for the advice of every error.</param>
        public static string ExpandBeside(string zipPath, string stays, long maxExpandedBytes = DefaultMaxExpandedBytes)
        {
            var folder = Path.Combine(Path.GetDirectoryName(zipPath)!, Path.GetFileNameWithoutExtension(zipPath));
            if (string.Equals(folder, zipPath, StringComparison.Ordinal)) folder += ".files";
            Extract(zipPath, folder, stays, maxExpandedBytes);
            return folder;
        }

        public static void Extract(string zipPath, string folder, string stays, long maxExpandedBytes = DefaultMaxExpandedBytes)
        {
            var package = Path.GetFileName(zipPath);
            var root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
            try
            {
                using var archive = ZipFile.OpenRead(zipPath);
                var plan = Plan(archive, package, root, stays, maxExpandedBytes);
                Directory.CreateDirectory(root);
                long written = 0;
                foreach (var (entry, destination) in plan)
                {
                    if (entry.FullName.EndsWith("/", StringComparison.Ordinal))
                    {
                        Directory.CreateDirectory(destination);
                        continue;
                    }
                    var parent = Path.GetDirectoryName(destination)!;
                    Directory.CreateDirectory(parent);
                    using var landing = LandingFile.Create(parent, Path.GetFileName(destination), stays,
                        ex => ErrorCatalog.PackageWriteFailed.Wrap(ex, $"Unpacking '{package}'", ex.Message), CopyBufferSize);
                    using (var source = entry.Open())
                        written = Copy(source, landing, entry, written, package, stays, maxExpandedBytes);
                    landing.MoveTo(destination, replace: true);
                }
            }
            catch (InvalidDataException ex)
            {
                throw ErrorCatalog.PackageUnreadable.Wrap(ex, package, ex.Message, stays.TrimStart());
            }
            catch (IOException ex)
            {
                throw ErrorCatalog.PackageWriteFailed.Wrap(ex, $"Unpacking '{package}'", ex.Message);
            }
        }

        private static List<(ZipArchiveEntry Entry, string Destination)> Plan(ZipArchive archive, string package, string root, string stays, long maxExpandedBytes)
        {
            var plan = new List<(ZipArchiveEntry, string)>();
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            long declared = 0;
            foreach (var entry in archive.Entries)
            {
                var name = entry.FullName;
                if (name.IndexOf('\\') >= 0)
                    throw Unsafe(package, $"the entry '{name}' uses '\\' as a separator (a zip uses '/')", stays);
                var outside = name.StartsWith("/", StringComparison.Ordinal) || (name.Length >= 2 && name[1] == ':') ||
                              name.Split('/').Any(segment => segment == "..");
                var destination = Path.GetFullPath(Path.Combine(root, name));
                if (outside || !destination.StartsWith(root, StringComparison.Ordinal))
                    throw ErrorCatalog.PackageEntryOutsideFolder.Create($"The package '{package}' holds an entry '{name}' that", stays.TrimStart());
                var segments = name.TrimEnd('/').Split('/');
                if (segments.Any(FileNames.IsReserved))
                    throw Unsafe(package, $"the entry '{name}' takes a name Windows reserves (a device name such as CON, or a trailing dot or space)", stays);
                if (!names.Add(name.TrimEnd('/')))
                    throw Unsafe(package, $"the name '{name}' is in it twice (names that differ only by case count as the same)", stays);
                declared += entry.Length;
                if (declared > maxExpandedBytes)
                    throw ErrorCatalog.PackageTooLargeToExpand.Create(package, maxExpandedBytes, stays.TrimStart());
                plan.Add((entry, destination));
            }
            return plan;
        }

        /// <summary>Copies one entry, holding it to its declared size and the package to its limit; returns the bytes unpacked so far.</summary>
        private static long Copy(Stream source, LandingFile landing, ZipArchiveEntry entry, long written, string package, string stays, long maxExpandedBytes)
        {
            var buffer = new byte[CopyBufferSize];
            int read;
            while ((read = source.Read(buffer, 0, buffer.Length)) > 0)
            {
                written += read;
                if (landing.Length + read > entry.Length || written > maxExpandedBytes)
                    throw ErrorCatalog.PackageTooLargeToExpand.Create(package, maxExpandedBytes, stays.TrimStart());
                landing.Write(buffer, read);
            }
            return written;
        }

        private static D365Exception Unsafe(string package, string what, string stays) =>
            ErrorCatalog.PackageEntryUnsafe.Create(package, what, stays.TrimStart());
    }
}
