using System.Text.RegularExpressions;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>Where each file of an inbox takes its company from (-CompanyFrom); without it every file goes with -Company.</summary>
    public enum CompanySource
    {
        /// <summary>Files in inbox/USMF/ go to USMF; files directly in the inbox go with -Company.</summary>
        Subfolder,
        /// <summary>The pattern's group named 'company' in the file name (-CompanyPattern); a file it does not match stays in the inbox.</summary>
        FileName,
    }

    /// <summary>The order in which an inbox is sent (-OrderBy); ties go by name.</summary>
    public enum InboxOrder
    {
        Name,
        LastWriteTime,
        Length,
    }

    /// <summary>One file of an inbox to send, with its company.</summary>
    public sealed class InboxFile
    {
        internal InboxFile(FileInfo info, string name, string? company)
        {
            Info = info;
            Name = name;
            Company = company;
        }

        public FileInfo Info { get; }
        public string FullPath => Info.FullName;
        /// <summary>
        /// Its name in the journal and the state folders: the file name, or 'USMF/name' for a file of a company subfolder,
        /// which keeps that subfolder in 'sending', 'processed' and the others, so the same name in two companies never collides.
        /// </summary>
        public string Name { get; }
        /// <summary>Null when the file goes without a company (the job's own).</summary>
        public string? Company { get; }
    }

    /// <summary>
    /// Lists an inbox's files to send, each with its company, in the order asked for. The state folders of the import are
    /// never company subfolders; a file whose company cannot be told is reported and left where it is.
    /// </summary>
    internal sealed class InboxListing
    {
        public const string DefaultCompanyPattern = "^(?<company>[^_]+)_";
        private const string CompanyGroup = "company";

        private readonly CompanySource? _from;
        private readonly string? _company;
        private readonly Regex? _pattern;

        /// <summary>Checks the company parameters together, before anything is touched.</summary>
        public InboxListing(CompanySource? from, string? company, string? pattern)
        {
            if (pattern != null && from != CompanySource.FileName)
                throw ErrorCatalog.CompanyParametersConflict.Create("-CompanyPattern is read only with -CompanyFrom FileName, and -CompanyFrom is " +
                    (from == null ? "not given" : from.ToString()));
            if (from == CompanySource.FileName && !string.IsNullOrWhiteSpace(company))
                throw ErrorCatalog.CompanyParametersConflict.Create("-Company is not used with -CompanyFrom FileName: each file's company comes " +
                    "from its name, and a file whose name does not match stays in the inbox rather than go to a company it may not belong to");
            _from = from;
            _company = string.IsNullOrWhiteSpace(company) ? null : company!.Trim();
            if (from != CompanySource.FileName) return;
            pattern ??= DefaultCompanyPattern;
            try
            {
                _pattern = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                throw ErrorCatalog.CompanyPatternInvalid.Wrap(ex, pattern, ex.Message);
            }
            if (Array.IndexOf(_pattern.GetGroupNames(), CompanyGroup) < 0)
                throw ErrorCatalog.CompanyPatternWithoutGroup.Create(pattern);
        }

        /// <param name="isData">Whether a file directly in a folder of the inbox is one to send (the filter, not the journal, not a system file).</param>
        /// <param name="stateFolders">The inbox's folders that are never a company.</param>
        /// <param name="error">Told of each file left in the inbox because its company is unknown.</param>
        public List<InboxFile> List(DirectoryInfo inbox, Func<FileInfo, bool> isData, ICollection<string> stateFolders, InboxOrder order, bool descending,
            Action<string>? verbose, Action<object, D365Exception>? error)
        {
            var files = new List<InboxFile>();
            foreach (var file in inbox.EnumerateFiles("*", SearchOption.TopDirectoryOnly))
            {
                if (!isData(file)) continue;
                if (_pattern is null)
                {
                    files.Add(new InboxFile(file, file.Name, _company));
                    continue;
                }
                if (CompanyInName(file.Name) is { } company)
                    files.Add(new InboxFile(file, file.Name, company));
                else
                    error?.Invoke(file.FullName, ErrorCatalog.CompanyNotInFileName.Create(file.FullName, _pattern.ToString()));
            }
            if (_from == CompanySource.Subfolder)
            {
                foreach (var folder in inbox.EnumerateDirectories())
                {
                    if (stateFolders.Contains(folder.Name)) continue;
                    if (folder.Name.StartsWith(".", StringComparison.Ordinal) || (folder.Attributes & (FileAttributes.Hidden | FileAttributes.System)) != 0)
                    {
                        verbose?.Invoke($"The folder '{folder.Name}' in the inbox is skipped: a hidden or system folder, not a company.");
                        continue;
                    }
                    // Only the files directly in a company folder: a deeper folder is the user's own.
                    foreach (var file in folder.EnumerateFiles("*", SearchOption.TopDirectoryOnly))
                        if (isData(file)) files.Add(new InboxFile(file, folder.Name + "/" + file.Name, folder.Name));
                }
            }
            return Ordered(files, order, descending);
        }

        private string? CompanyInName(string name)
        {
            try
            {
                var company = _pattern!.Match(name).Groups[CompanyGroup];
                return company.Success && company.Value.Trim().Length > 0 ? company.Value.Trim() : null;
            }
            catch (RegexMatchTimeoutException)
            {
                // A pattern that backtracks for a second on a file name finds no company in it.
                return null;
            }
        }

        private static List<InboxFile> Ordered(List<InboxFile> files, InboxOrder order, bool descending)
        {
            // Ordinal by name, so the order is the same on every OS and culture; ties of time or size go by name too.
            IOrderedEnumerable<InboxFile> sorted = order switch
            {
                InboxOrder.LastWriteTime => descending ? files.OrderByDescending(f => f.Info.LastWriteTimeUtc) : files.OrderBy(f => f.Info.LastWriteTimeUtc),
                InboxOrder.Length => descending ? files.OrderByDescending(f => f.Info.Length) : files.OrderBy(f => f.Info.Length),
                _ => descending ? files.OrderByDescending(f => f.Info.Name, StringComparer.Ordinal) : files.OrderBy(f => f.Info.Name, StringComparer.Ordinal),
            };
            return sorted.ThenBy(f => f.Info.Name, StringComparer.Ordinal).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();
        }
    }
}
