using System.Globalization;
using System.Text;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>One line of a folder journal. MessageId is the import's message id, or the export's correlation id.</summary>
    public sealed class JournalEntry
    {
        public string Date { get; set; } = string.Empty;
        public string Event { get; set; } = string.Empty;
        public string File { get; set; } = string.Empty;
        public string MessageId { get; set; } = string.Empty;
        public string Status { get; set; } = string.Empty;
        public string Path { get; set; } = string.Empty;
        public string Length { get; set; } = string.Empty;
        public string Detail { get; set; } = string.Empty;

        public Guid? MessageGuid => Guid.TryParse(MessageId, out var id) ? id : (Guid?)null;
    }

    /// <summary>
    /// The journal of a folder workflow: a CSV file (Import-Csv reads it) with one line per transition, each appended and
    /// flushed to disk before the step it announces is taken, so that a process killed at any moment leaves a journal that
    /// says what may have happened. A line cut short by a crash was never complete, so its step was never taken: it is
    /// cut off when the journal is opened again. While open, a lock file beside the journal keeps a second run out.
    /// </summary>
    public sealed class FolderJournal : IDisposable
    {
        internal static readonly string[] Columns = { "Date", "Event", "File", "MessageId", "Status", "Path", "Length", "Detail" };
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
            System.IO.Path.GetFullPath(journalPath ?? System.IO.Path.Combine(folder, DefaultFileName));

        private const string DefaultFileName = "journal.csv";

        /// <summary>Takes the folder's lock, reads the journal (cutting off a torn last line) and opens it for appending.</summary>
        public static FolderJournal Open(string path)
        {
            var lockStream = TakeLock(path + ".lock");
            try
            {
                var stream = OpenForAppend(path);
                try
                {
                    var entries = ReadAndRepair(stream, path);
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

        /// <summary>Appends one line and flushes it to disk; only then may the step it announces be taken.</summary>
        public JournalEntry Append(string eventName, string file, Guid? messageId = null, string? status = null, string? path = null,
            long? length = null, string? detail = null)
        {
            var entry = new JournalEntry
            {
                Date = DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture),
                Event = eventName,
                File = file,
                MessageId = messageId?.ToString("D") ?? string.Empty,
                Status = status ?? string.Empty,
                Path = path ?? string.Empty,
                Length = length?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
                Detail = OneLine(detail),
            };
            lock (_gate)
            {
                WriteLine(_stream, Path, new[] { entry.Date, entry.Event, entry.File, entry.MessageId, entry.Status, entry.Path, entry.Length, entry.Detail });
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
            return Parse(stream);
        }

        private static FileStream TakeLock(string lockPath)
        {
            try
            {
                // FileShare.None is an exclusive lock on every OS (flock on Unix); the OS drops it when the process dies.
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
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
                throw ErrorCatalog.FolderBusy.Wrap(ex, lockPath);
            }
            catch (IOException ex)
            {
                // A read-only or full file system: not another run's lock, and the fix is a different one.
                throw ErrorCatalog.FolderWriteFailed.Wrap(ex, "write", lockPath, ex.Message, string.Empty);
            }
        }

        private static FileStream OpenForAppend(string path)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 4096, FileOptions.None);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw AccessDenied(path, ex);
            }
            catch (IOException ex)
            {
                throw WriteFailed(path, ex);
            }
        }

        private static List<JournalEntry> ReadAndRepair(FileStream stream, string path)
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
            var entries = Parse(stream);
            stream.Position = stream.Length;
            return entries;
        }

        private static List<JournalEntry> Parse(Stream stream)
        {
            var entries = new List<JournalEntry>();
            using var reader = new StreamReader(stream, Encoding.UTF8, true, 4096, leaveOpen: true);
            string[]? header = null;
            string? line;
            while ((line = reader.ReadLine()) != null)
            {
                if (line.Length == 0) continue;
                var fields = SplitCsv(line);
                if (header is null)
                {
                    header = fields;
                    continue;
                }
                var entry = new JournalEntry();
                for (var i = 0; i < header.Length && i < fields.Length; i++)
                {
                    switch (header[i])
                    {
                        case "Date": entry.Date = fields[i]; break;
                        case "Event": entry.Event = fields[i]; break;
                        case "File": entry.File = fields[i]; break;
                        case "MessageId": entry.MessageId = fields[i]; break;
                        case "Status": entry.Status = fields[i]; break;
                        case "Path": entry.Path = fields[i]; break;
                        case "Length": entry.Length = fields[i]; break;
                        case "Detail": entry.Detail = fields[i]; break;
                    }
                }
                entries.Add(entry);
            }
            return entries;
        }

        private static void WriteLine(FileStream stream, string path, IReadOnlyList<string> fields)
        {
            var line = new StringBuilder();
            for (var i = 0; i < fields.Count; i++)
            {
                if (i > 0) line.Append(',');
                line.Append('"').Append(fields[i].Replace("\"", "\"\"")).Append('"');
            }
            line.Append("\r\n");
            var bytes = Encoding.UTF8.GetBytes(line.ToString());
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

        private static string OneLine(string? text) =>
            string.IsNullOrEmpty(text) ? string.Empty : text!.Replace("\r\n", " ").Replace('\r', ' ').Replace('\n', ' ');

        private static D365Exception AccessDenied(string path, Exception ex) =>
            ErrorCatalog.FolderAccessDenied.Wrap(ex, "write", path);

        internal static D365Exception WriteFailed(string path, Exception ex) =>
            ErrorCatalog.JournalWriteFailed.Wrap(ex, path, ex.Message);
    }
}
