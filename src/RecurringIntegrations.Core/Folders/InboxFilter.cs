using System.Text.RegularExpressions;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>
    /// Which files of an inbox are data. Windows puts files of its own and of Office into folders (desktop.ini, Thumbs.db,
    /// ~$book.xlsx while a workbook is open), hidden or system files are not meant to be seen, and a dot-file is hidden on
    /// Unix: none of them is sent. -Filter is matched against the long name here, not by the file system: .NET Framework
    /// also matches 8.3 short names, so '*.csv' would pick 'x.csv_old' (short name X~1.CSV).
    /// </summary>
    internal static class InboxFilter
    {
        private static readonly HashSet<string> ShellFiles = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "desktop.ini", "Thumbs.db", "ehthumbs.db", ".DS_Store" };

        /// <summary>Why the file is not data (for a verbose line), or null when it is.</summary>
        public static string? SkipReason(string name, FileAttributes attributes)
        {
            if (ShellFiles.Contains(name)) return "a file Windows or Explorer keeps in folders";
            if (name.StartsWith("~$", StringComparison.Ordinal)) return "an Office owner file, there while the document is open";
            if (name.StartsWith(".", StringComparison.Ordinal)) return "a hidden file (its name starts with a dot)";
            if ((attributes & FileAttributes.System) != 0) return "a system file";
            if ((attributes & FileAttributes.Hidden) != 0) return "a hidden file";
            return null;
        }

        /// <summary>
        /// Whether <paramref name="name"/> matches <paramref name="filter"/> ('*' any run of characters, '?' one; '*.*' and an
        /// empty filter everything), case-insensitively on Windows as its file system is.
        /// </summary>
        public static bool Matches(string name, string? filter)
        {
            if (string.IsNullOrWhiteSpace(filter) || filter == "*" || filter == "*.*") return true;
            var pattern = "^" + Regex.Escape(filter!.Trim()).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
            var options = Path.DirectorySeparatorChar == '\\' ? RegexOptions.IgnoreCase | RegexOptions.CultureInvariant : RegexOptions.CultureInvariant;
            return Regex.IsMatch(name, pattern, options | RegexOptions.Singleline);
        }
    }
}
