using System.Globalization;
using System.Text;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>What a journal line records. An import's file goes Sending, Sent, then one of the outcomes (or Returned,
    /// Skipped); an export's message goes Saved, then Acknowledged, or, when its file is gone from the service's storage,
    /// Missing (once), then Acknowledged only with -AcknowledgeMissing. Pending, Processed, Failed and Unconfirmed are also the
    /// state folders and <see cref="FolderImportOutcome"/>.</summary>
    public enum JournalEvent
    {
        Sending,
        Sent,
        Returned,
        Skipped,
        Pending,
        Processed,
        Failed,
        Unconfirmed,
        Saved,
        Acknowledged,
        Missing,
        /// <summary>A package is uploaded and its import is about to start under the execution id in MessageId (chosen by the
        /// module): a run that stops before this line started nothing; one that stops after it asks the service about the id.</summary>
        Importing,
    }

    /// <summary>One line of a folder journal. MessageId is the import's message id (a package import's execution id), or the export's correlation id.</summary>
    public sealed class JournalEntry
    {
        /// <summary>When the line was written (set by <see cref="FolderJournal.Append"/>).</summary>
        public DateTimeOffset Date { get; set; }
        public JournalEvent Event { get; set; }
        public string File { get; set; } = string.Empty;
        /// <summary>The company an import's file was sent with (-Company, -CompanyFrom); empty for none, and in journals older than the column.</summary>
        public string Company { get; set; } = string.Empty;
        public Guid? MessageId { get; set; }
        /// <summary>The service's status word, when the line records one.</summary>
        public string Status { get; set; } = string.Empty;
        public string Path { get; set; } = string.Empty;
        public long? Length { get; set; }
        /// <summary>The execution errors of a failed import.</summary>
        public int? ErrorCount { get; set; }
        /// <summary>A saved export that was unpacked into a folder (-Expand).</summary>
        public bool Expanded { get; set; }
        public string Detail { get; set; } = string.Empty;

        /// <summary>The outcome an outcome event stands for; null for the other events.</summary>
        public FolderImportOutcome? Outcome => Event switch
        {
            JournalEvent.Processed => FolderImportOutcome.Processed,
            JournalEvent.Failed => FolderImportOutcome.Failed,
            JournalEvent.Pending => FolderImportOutcome.Pending,
            JournalEvent.Unconfirmed => FolderImportOutcome.Unconfirmed,
            _ => null,
        };
    }

    /// <summary>
    /// The journal of a folder workflow: a CSV file (Import-Csv reads it) with one line per transition, each appended and
    /// flushed to disk before the step it announces is taken, so that a process killed at any moment leaves a journal that
    /// says what may have happened. A line cut short by a crash was never complete, so its step was never taken: it is
    /// cut off when the journal is opened again. While open, a lock file beside the journal keeps a second run out.
    /// </summary>
    public sealed class FolderJournal : IDisposable
    {
        internal static readonly string[] Columns = { "Date", "Event", "File", "MessageId", "Status", "Path", "Length", "ErrorCount", "Expanded", "Detail", "Company" };
        private const string DateFormat = "yyyy-MM-dd'T'HH:mm:ss.fffzzz";
        private static readonly Encoding Utf8WithBom = new UTF8Encoding(true);
        private readonly object _gate = new object();
        private readonly List<JournalEntry> _entries;
        private readonly FileStream _lock;
        private readonly FileStream _stream;

        private FolderJournal(string path, FileStream lockStream, FileStream stream, List<JournalEntry> entries)
        {
            Path = path;
            _lock = lockStream;
            _stream = stream;
            _entries = entries;
        }

        public string Path { get; }

        /// <summary>The journal's full path: the one given, or journal.csv in the folder.</summary>
        public static string PathFor(string folder, string? journalPath) =>
            FileChecks.FullPath(journalPath ?? System.IO.Path.Combine(folder, DefaultFileName));

        private const string DefaultFileName = "journal.csv";

        /// <summary>
        /// How long a file another program holds is waited for, on the session's clock: an antivirus or backup tool holds
        /// journal.csv.lock or journal.csv for moments, a run of this module for its whole run, Excel as long as it shows the file.
        /// </summary>
        internal static readonly TimeSpan[] InUseWaits = { TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) };

        /// <summary>Takes the folder's lock, reads the journal (cutting off a torn last line) and opens it for appending.</summary>
        public static FolderJournal Open(string path, TimeProvider? time = null, CancellationToken cancellationToken = default) =>
            Open(path, time ?? TimeProvider.System, (file, share) => new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, share, 4096, FileOptions.None),
                cancellationToken);

        /// <param name="open">Opens a file for reading and writing with the given sharing; a test puts Windows' sharing violations here.</param>
        internal static FolderJournal Open(string path, TimeProvider time, Func<string, FileShare, FileStream> open, CancellationToken cancellationToken)
        {
            var lockStream = TakeLock(path + ".lock", time, open, cancellationToken);
            try
            {
                var stream = OpenForAppend(path, time, open, cancellationToken);
                try
                {
                    var (entries, legacy) = ReadAndRepair(stream, path);
                    if (legacy)
                    {
                        stream.Dispose();
                        Rewrite(path, entries);
                        stream = OpenForAppend(path, time, open, cancellationToken);
                        stream.Position = stream.Length;
                    }
                    if (stream.Length == 0)
                    {
                        var preamble = Utf8WithBom.GetPreamble();
                        stream.Write(preamble, 0, preamble.Length);
                        WriteLine(stream, path, Columns);
                    }
                    return new FolderJournal(path, lockStream, stream, entries);
                }
                catch
                {
                    stream.Dispose();
                    throw;
                }
            }
            catch
            {
                lockStream.Dispose();
                throw;
            }
        }

        /// <summary>Every entry so far, in order (a snapshot).</summary>
        public IReadOnlyList<JournalEntry> Entries
        {
            get { lock (_gate) return _entries.ToArray(); }
        }

        /// <summary>Appends one line, dated now, and flushes it to disk; only then may the step it announces be taken.</summary>
        public JournalEntry Append(JournalEntry entry)
        {
            if (entry is null) throw new ArgumentNullException(nameof(entry));
            entry.Date = DateTimeOffset.Now;
            entry.Detail = OneLine(entry.Detail);
            lock (_gate)
            {
                WriteLine(_stream, Path, Fields(entry));
                _entries.Add(entry);
            }
            return entry;
        }

        public void Dispose()
        {
            _stream.Dispose();
            _lock.Dispose();
        }

        /// <summary>Reads a journal without taking its lock (tests and reports).</summary>
        public static IReadOnlyList<JournalEntry> Read(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return Parse(stream, path).Entries;
        }

        private static FileStream TakeLock(string lockPath, TimeProvider time, Func<string, FileShare, FileStream> open, CancellationToken cancellationToken)
        {
            try
            {
                // FileShare.None is an exclusive lock on every OS (flock on Unix); the OS drops it when the process dies.
                return WhileInUse(() => open(lockPath, FileShare.None), time, cancellationToken);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw AccessDenied(lockPath, ex);
            }
            catch (DirectoryNotFoundException ex)
            {
                throw ErrorCatalog.JournalFolderNotFound.Wrap(ex, System.IO.Path.GetDirectoryName(lockPath));
            }
            catch (IOException ex) when (LandingFile.IsInUse(ex))
            {
                // Still held after the waits: another run, not a scan that opened the file for a moment.
                throw ErrorCatalog.FolderBusy.Wrap(ex, lockPath);
            }
            catch (IOException ex)
            {
                // A read-only or full file system: not another run's lock, and the fix is a different one.
                throw ErrorCatalog.FolderWriteFailed.Wrap(ex, "write", lockPath, ex.Message, string.Empty);
            }
        }

        /// <summary>
        /// Opens the journal to append. Readers that share writing (Import-Csv, Get-Content) do not block it; one that does not
        /// (Excel keeps a CSV it shows locked) is waited for briefly, then named.
        /// </summary>
        private static FileStream OpenForAppend(string path, TimeProvider time, Func<string, FileShare, FileStream> open, CancellationToken cancellationToken)
        {
            try
            {
                return WhileInUse(() => open(path, FileShare.Read), time, cancellationToken);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw AccessDenied(path, ex);
            }
            catch (IOException ex) when (LandingFile.IsInUse(ex))
            {
                throw ErrorCatalog.JournalInUse.Wrap(ex, path);
            }
            catch (IOException ex)
            {
                throw WriteFailed(path, ex);
            }
        }

        /// <summary>Opens with <paramref name="open"/>, trying again after each of <see cref="InUseWaits"/> while another program holds the file.</summary>
        private static FileStream WhileInUse(Func<FileStream> open, TimeProvider time, CancellationToken cancellationToken)
        {
            for (var tries = 0; ; tries++)
            {
                try
                {
                    return open();
                }
                catch (IOException ex) when (LandingFile.IsInUse(ex) && tries < InUseWaits.Length)
                {
                    time.Delay(InUseWaits[tries], cancellationToken).GetAwaiter().GetResult();
                }
            }
        }

        private static (List<JournalEntry> Entries, bool Legacy) ReadAndRepair(FileStream stream, string path)
        {
            var length = stream.Length;
            if (length > 0)
            {
                stream.Position = length - 1;
                if (stream.ReadByte() != '\n')
                {
                    // A torn line: find the end of the last complete one and cut there.
                    var keep = length - 1;
                    while (keep > 0)
                    {
                        stream.Position = keep - 1;
                        if (stream.ReadByte() == '\n') break;
                        keep--;
                    }
                    try
                    {
                        stream.SetLength(keep);
                        stream.Flush(true);
                    }
                    catch (IOException ex)
                    {
                        throw WriteFailed(path, ex);
                    }
                }
            }
            stream.Position = 0;
            var parsed = Parse(stream, path);
            stream.Position = stream.Length;
            return parsed;
        }

        /// <summary>
        /// Brings a journal of an earlier format (without the ErrorCount, Expanded or Company columns) to this one, so every line of a file has
        /// the same columns for Import-Csv. The new file is written beside it and renamed over it: a crash leaves either.
        /// </summary>
        private static void Rewrite(string path, List<JournalEntry> entries)
        {
            using var landing = LandingFile.Create(System.IO.Path.GetDirectoryName(path)!, System.IO.Path.GetFileName(path),
                " The journal was left as it was.", ex => WriteFailed(path, ex), 4096);
            var preamble = Utf8WithBom.GetPreamble();
            landing.Write(preamble, preamble.Length);
            foreach (var fields in new[] { Columns }.Concat(entries.Select(Fields)))
            {
                var bytes = Encoding.UTF8.GetBytes(CsvLine(fields));
                landing.Write(bytes, bytes.Length);
            }
            landing.MoveTo(path, replace: true);
        }

        private static (List<JournalEntry> Entries, bool Legacy) Parse(Stream stream, string path)
        {
            var entries = new List<JournalEntry>();
            using var reader = new StreamReader(stream, Encoding.UTF8, true, 4096, leaveOpen: true);
            string[]? header = null;
            string? line;
            var number = 0;
            while ((line = reader.ReadLine()) != null)
            {
                number++;
                if (line.Length == 0) continue;
                var fields = SplitCsv(line);
                if (header is null)
                {
                    header = fields;
                    continue;
                }
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                for (var i = 0; i < header.Length && i < fields.Length; i++) values[header[i]] = fields[i];
                entries.Add(ToEntry(values, path, number));
            }
            if (header != null && !header.Contains("ErrorCount")) foreach (var entry in entries) FromFirstFormat(entry);
            // A journal missing a column (ErrorCount and Expanded came second, Company third) is rewritten with every column.
            var legacy = header != null && Columns.Any(column => !header.Contains(column));
            return (entries, legacy);
        }

        private static JournalEntry ToEntry(Dictionary<string, string> values, string path, int line)
        {
            string Text(string column) => values.TryGetValue(column, out var value) ? value : string.Empty;
            D365Exception Invalid(string column) =>
                ErrorCatalog.JournalLineInvalid.Create(path, line, $"the {column} '{Text(column)}' is not one the journal writes");

            var entry = new JournalEntry
            {
                File = Text("File"),
                Company = Text("Company"),
                Status = Text("Status"),
                Path = Text("Path"),
                Detail = Text("Detail"),
                Expanded = string.Equals(Text("Expanded"), "True", StringComparison.OrdinalIgnoreCase),
            };
            if (!DateTimeOffset.TryParseExact(Text("Date"), DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)) throw Invalid("Date");
            entry.Date = date;
            if (!Enum.TryParse<JournalEvent>(Text("Event"), false, out var @event) || !Enum.IsDefined(typeof(JournalEvent), @event)) throw Invalid("Event");
            entry.Event = @event;
            if (Text("MessageId").Length > 0)
                entry.MessageId = Guid.TryParse(Text("MessageId"), out var id) ? id : throw Invalid("MessageId");
            if (Text("Length").Length > 0)
                entry.Length = long.TryParse(Text("Length"), NumberStyles.None, CultureInfo.InvariantCulture, out var length) ? length : throw Invalid("Length");
            if (Text("ErrorCount").Length > 0)
                entry.ErrorCount = int.TryParse(Text("ErrorCount"), NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count : throw Invalid("ErrorCount");
            return entry;
        }

        /// <summary>The first format kept an unpacked export as Status 'Expanded' and a failure's error count in its Detail text.</summary>
        private static void FromFirstFormat(JournalEntry entry)
        {
            if (entry.Event == JournalEvent.Saved && entry.Status == "Expanded")
            {
                entry.Expanded = true;
                entry.Status = string.Empty;
            }
            const string errors = " execution error(s)";
            if (entry.Outcome != null && entry.Detail.EndsWith(errors, StringComparison.Ordinal) &&
                int.TryParse(entry.Detail.Substring(0, entry.Detail.Length - errors.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                entry.ErrorCount = count;
                entry.Detail = string.Empty;
            }
        }

        private static string[] Fields(JournalEntry entry) => new[]
        {
            entry.Date.ToString(DateFormat, CultureInfo.InvariantCulture),
            entry.Event.ToString(),
            entry.File,
            entry.MessageId?.ToString("D") ?? string.Empty,
            entry.Status,
            entry.Path,
            entry.Length?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
            entry.ErrorCount?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
            entry.Expanded ? "True" : string.Empty,
            entry.Detail,
            entry.Company,
        };

        private static void WriteLine(FileStream stream, string path, IReadOnlyList<string> fields)
        {
            var bytes = Encoding.UTF8.GetBytes(CsvLine(fields));
            try
            {
                stream.Write(bytes, 0, bytes.Length);
                stream.Flush(true);
            }
            catch (IOException ex)
            {
                throw WriteFailed(path, ex);
            }
        }

        private static string CsvLine(IReadOnlyList<string> fields)
        {
            var line = new StringBuilder();
            for (var i = 0; i < fields.Count; i++)
            {
                if (i > 0) line.Append(',');
                line.Append('"').Append(fields[i].Replace("\"", "\"\"")).Append('"');
            }
            return line.Append("\r\n").ToString();
        }

        internal static string[] SplitCsv(string line)
        {
            var fields = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            for (var i = 0; i < line.Length; i++)
            {
                var c = line[i];
                if (quoted)
                {
                    if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                    else if (c == '"') quoted = false;
                    else field.Append(c);
                }
                else if (c == '"') quoted = true;
                else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
                else field.Append(c);
            }
            fields.Add(field.ToString());
            return fields.ToArray();
        }

        private static string OneLine(string text) =>
            string.IsNullOrEmpty(text) ? string.Empty : text.Replace("\r\n", " ").Replace('\r', ' ').Replace('\n', ' ');

        private static D365Exception AccessDenied(string path, Exception ex) =>
            ErrorCatalog.FolderAccessDenied.Wrap(ex, "write", path);

        internal static D365Exception WriteFailed(string path, Exception ex) =>
            ErrorCatalog.JournalWriteFailed.Wrap(ex, path, ex.Message);
    }
}
