using System.Text;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Files
{
    /// <summary>File names: a free one in a folder, a safe one from a name offered by someone else, and the names no file may take.</summary>
    internal static class FileNames
    {
        private static readonly HashSet<string> DeviceNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
            "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
            "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
        };

        /// <summary>A path in <paramref name="folder"/> that is free now: the name itself, else 'stem (2).ext', 'stem (3).ext', ...</summary>
        public static string Free(string folder, string name)
        {
            var target = Path.Combine(folder, name);
            var stem = Path.GetFileNameWithoutExtension(name);
            var extension = Path.GetExtension(name);
            for (var n = 2; Exists(target); n++)
                target = Path.Combine(folder, $"{stem} ({n}){extension}");
            return target;
        }

        public static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

        /// <summary>
        /// True for a name Windows cannot hold as a file: a device name (CON.xml opens the console) or one ending in a dot
        /// or space (silently dropped, so the file lands under another name). Refused on every OS, so a folder can move.
        /// </summary>
        public static bool IsReserved(string name) =>
            name.Length == 0 || name.EndsWith(".", StringComparison.Ordinal) || name.EndsWith(" ", StringComparison.Ordinal) ||
            DeviceNames.Contains(name.Split('.')[0].TrimEnd(' '));

        /// <summary>Refuses a target whose name no file may take; <paramref name="stays"/> says what became of the item.</summary>
        public static void CheckUsable(string path, string stays)
        {
            var name = Path.GetFileName(path);
            if (IsReserved(name)) throw ErrorCatalog.FileNameReserved.Create(name, stays);
        }

        /// <summary>
        /// A name offered by someone else (the service's Content-Disposition, a package name) made safe to save under: its
        /// last segment only, invalid characters replaced, no leading or trailing dots or spaces, device names prefixed with '_'.
        /// Empty when nothing usable is left.
        /// </summary>
        public static string Sanitize(string name)
        {
            var leaf = name.Replace('\\', '/');
            leaf = leaf.Substring(leaf.LastIndexOf('/') + 1);
            var invalid = Path.GetInvalidFileNameChars();
            var builder = new StringBuilder(leaf.Length);
            foreach (var c in leaf) builder.Append(Array.IndexOf(invalid, c) >= 0 || c < 0x20 ? '_' : c);
            var result = builder.ToString().Trim().Trim('.').Trim();
            return result.Length > 0 && IsReserved(result) ? "_" + result : result;
        }
    }
}
