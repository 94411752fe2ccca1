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
    /// <para>
    /// A run reads only what is not settled, so its cost does not grow with the history. The state file beside the journal
    /// (journal.csv.state) holds the lines a later run may still need (which lines those are, the workflow decides:
    /// <see cref="Unsettled"/>) and how far into the journal it reaches. Opening reads the state and the journal's lines
    /// after that point (those of a run that ended before its checkpoint), nothing older. The state is written whole beside
    /// itself and renamed over the old one, and the journal is written before it, so a crash between the two only means a
    /// longer tail to read next time. A journal whose first line is of an earlier month is renamed journal.YYYY-MM.csv (its
    /// first month) and a new journal begins; the renamed ones are never read again. A journal without a state (one of an
    /// older version) is read whole once.
    /// </para>
    /// </summary>
    public sealed class FolderJournal : IDisposable
    {
        internal static readonly string[] Columns = { "Date", "Event", "File", "MessageId", "Status", "Path", "Length", "ErrorCount", "Expanded", "Detail", "Company" };
        private static readonly string[] StateColumns = { "Offset", "Lines", "First" };
        private const string DateFormat = "yyyy-MM-dd'T'HH:mm:ss.fffzzz";
        private static readonly Encoding Utf8WithBom = new UTF8Encoding(true);
        private readonly object _gate = new object();
        private readonly List<JournalEntry> _entries;
        private readonly Func<IEnumerable<JournalEntry>, IEnumerable<JournalEntry>> _unsettled;
        private readonly FileStream _lock;
        private FileStream _stream;
        /// <summary>Lines in the journal file (its header too), so an error names the right line after a partial read.</summary>
        private long _lines;
        /// <summary>Tells this journal file from a later one of the same name: its first entry line ("" before it has one).</summary>
        private string _first;
        /// <summary>Where the state on disk reaches in this journal (-1: another journal, or no state) and how many lines it holds.</summary>
        private long _stateOffset = -1;
        private int _stateCount;

        private FolderJournal(string path, FileStream lockStream, FileStream stream, List<JournalEntry> entries,
            Func<IEnumerable<JournalEntry>, IEnumerable<JournalEntry>> unsettled, long lines, string first)
        {
            Path = path;
            _lock = lockStream;
            _stream = stream;
            _entries = entries;
            _unsettled = unsettled;
            _lines = lines;
            _first = first;
        }

        public string Path { get; }

        /// <summary>The journal's full path: the one given, or journal.csv in the folder.</summary>
        public static string PathFor(string folder, string? journalPath) =>
            FileChecks.FullPath(journalPath ?? System.IO.Path.Combine(folder, DefaultFileName));

        private const string DefaultFileName = "journal.csv";

        /// <summary>The state file of the journal at <paramref name="path"/>.</summary>
        public static string StatePathFor(string path) => path + ".state";

        /// <summary>
        /// Whether <paramref name="file"/> is one of the journal's own files: the journal, its lock, its state, or a journal of
        /// an earlier month (journal.2026-11.csv, or journal.2026-11 (2).csv where that name was taken).
        /// </summary>
        public static bool IsJournalFile(string file, string path)
        {
            var comparison = System.IO.Path.DirectorySeparatorChar == '\\' ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
            if (string.Equals(file, path, comparison) || string.Equals(file, path + ".lock", comparison) || string.Equals(file, StatePathFor(path), comparison))
                return true;
            if (!string.Equals(System.IO.Path.GetDirectoryName(file), System.IO.Path.GetDirectoryName(path), comparison)) return false;
            // stem + ".yyyy-MM" + an optional " (n)" + the journal's extension
            var name = System.IO.Path.GetFileName(file);
            var stem = System.IO.Path.GetFileNameWithoutExtension(path) + ".";
            var extension = System.IO.Path.GetExtension(path);
            if (!name.StartsWith(stem, comparison) || !name.EndsWith(extension, comparison)) return false;
            var middle = name.Substring(stem.Length, name.Length - stem.Length - extension.Length);
            if (middle.Length < 7 || middle[4] != '-' || !middle.Take(7).Where((c, i) => i != 4).All(c => c >= '0' && c <= '9')) return false;
            var copy = middle.Substring(7);
            return copy.Length == 0 || (copy.Length > 3 && copy.StartsWith(" (", StringComparison.Ordinal) && copy.EndsWith(")", StringComparison.Ordinal) &&
                                        copy.Substring(2, copy.Length - 3).All(c => c >= '0' && c <= '9'));
        }

        /// <summary>
        /// How long a file another program holds is waited for, on the session's clock: an antivirus or backup tool holds
        /// journal.csv.lock or journal.csv for moments, a run of this module for its whole run, Excel as long as it shows the file.
        /// </summary>
        internal static readonly TimeSpan[] InUseWaits = { TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) };

        /// <summary>Takes the folder's lock, reads what is not settled (cutting off a torn last line) and opens the journal for appending.</summary>
        /// <param name="unsettled">Of the lines given in order, those a later run may still need; default: every line.</param>
        public static FolderJournal Open(string path, TimeProvider? time = null, CancellationToken cancellationToken = default,
            Func<IEnumerable<JournalEntry>, IEnumerable<JournalEntry>>? unsettled = null) =>
            Open(path, time ?? TimeProvider.System, (file, share) => new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, share, 4096, FileOptions.None),
                File.Move, cancellationToken, unsettled);

        /// <param name="open">Opens a file for reading and writing with the given sharing; a test puts Windows' sharing violations here.</param>
        /// <param name="move">Renames a file (the month's rotation); a test puts Windows' sharing violations here too.</param>
        internal static FolderJournal Open(string path, TimeProvider time, Func<string, FileShare, FileStream> open, Action<string, string> move,
            CancellationToken cancellationToken, Func<IEnumerable<JournalEntry>, IEnumerable<JournalEntry>>? unsettled = null)
        {
            unsettled ??= entries => entries;
            var lockStream = TakeLock(path + ".lock", time, open, cancellationToken);
            try
            {
                RemoveStalePartials(path);
                var stream = OpenForAppend(path, time, open, cancellationToken);
                try
                {
                    CutTornLine(stream, path);
                    var state = ReadState(path);
                    var head = ReadHead(stream, path);
                    if (head.Legacy)
                    {
                        stream.Dispose();
                        Rewrite(path);
                        stream = OpenForAppend(path, time, open, cancellationToken);
                        head = ReadHead(stream, path);
                    }
                    // The state goes on from where it reached when this is the journal it was written for; otherwise every line
                    // of this journal is newer than the state (a journal begun after it), or there is no state (an older version).
                    // (A journal still without entries has nothing to lose either way.)
                    var resume = state != null && state.First == head.First && stream.Length >= state.Offset;
                    var from = resume ? state!.Offset : 0;
                    var lines = resume ? state!.Lines : 0;
                    var known = state?.Entries ?? new List<JournalEntry>();
                    var entries = unsettled(known.Concat(ReadLines(stream, path, from, lines, head.Header, n => lines = n))).ToList();
                    stream.Position = stream.Length;
                    var journal = new FolderJournal(path, lockStream, stream, entries, unsettled, lines, head.First);
                    if (resume) (journal._stateOffset, journal._stateCount) = (state!.Offset, state.Entries.Count);
                    if (stream.Length == 0) journal.WriteHeader();
                    else if (head.FirstDate is { } first && !SameMonth(first, DateTimeOffset.Now)) journal.Rotate(first, time, open, move, cancellationToken);
                    return journal;
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

        /// <summary>The lines not settled when the journal was opened or last checkpointed, and every line appended since, in order (a snapshot).</summary>
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
                var line = CsvLine(Fields(entry));
                WriteLine(_stream, Path, line);
                _lines++;
                if (_first.Length == 0) _first = Identity(line.Substring(0, line.Length - 2));
                _entries.Add(entry);
            }
            return entry;
        }

        /// <summary>
        /// Keeps only what is not settled, in memory and in the state file, which then reaches to the journal's end: the next
        /// run reads the state and only the lines appended after this. Safe at any moment; a crash while it writes leaves the
        /// state before it, and the next run reads a longer tail.
        /// </summary>
        public void Checkpoint()
        {
            lock (_gate)
            {
                var keep = _unsettled(_entries).ToList();
                // Nothing appended and as many unsettled lines as the state holds: the same state (a line can only join it by
                // being appended), so a run with nothing to do writes nothing.
                if (_stream.Length != _stateOffset || keep.Count != _stateCount)
                {
                    WriteState(Path, keep, _stream.Length, _lines, _first);
                    (_stateOffset, _stateCount) = (_stream.Length, keep.Count);
                }
                _entries.Clear();
                _entries.AddRange(keep);
            }
        }

        public void Dispose()
        {
            _stream.Dispose();
            _lock.Dispose();
        }

        /// <summary>Reads one journal file whole without taking its lock (tests and reports).</summary>
        public static IReadOnlyList<JournalEntry> Read(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var head = ReadHead(stream, path);
            var entries = ReadLines(stream, path, 0, 0, head.Header, _ => { }).ToList();
            if (head.FirstFormat) foreach (var entry in entries) FromFirstFormat(entry);
            return entries;
        }

        private void WriteHeader()
        {
            var preamble = Utf8WithBom.GetPreamble();
            try
            {
                _stream.Write(preamble, 0, preamble.Length);
            }
            catch (IOException ex)
            {
                throw WriteFailed(Path, ex);
            }
            WriteLine(_stream, Path, CsvLine(Columns));
            _lines = 1;
            _first = string.Empty;
        }

        /// <summary>
        /// Renames this journal to journal.YYYY-MM.csv (the month of its first line) and begins a new one. The state is written
        /// first, reaching to the old journal's end: a crash before the rename leaves the journal as it was, one after it leaves
        /// a state whose journal is gone, and the new journal's lines are all read on top of it.
        /// </summary>
        private void Rotate(DateTimeOffset first, TimeProvider time, Func<string, FileShare, FileStream> open, Action<string, string> move,
            CancellationToken cancellationToken)
        {
            WriteState(Path, _entries, _stream.Length, _lines, _first);
            (_stateOffset, _stateCount) = (_stream.Length, _entries.Count);
            _stream.Dispose();
            var folder = System.IO.Path.GetDirectoryName(Path)!;
            var name = System.IO.Path.GetFileNameWithoutExtension(Path) + "." + first.ToLocalTime().ToString("yyyy-MM", CultureInfo.InvariantCulture) + System.IO.Path.GetExtension(Path);
            try
            {
                move(Path, FileNames.Free(folder, name));
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // On Windows a reader that does not share deleting (Get-Content -Wait, a backup) keeps the file from being
                // renamed: this run goes on with the same journal, and a later one sets it aside.
                _stream = OpenForAppend(Path, time, open, cancellationToken);
                _stream.Position = _stream.Length;
                return;
            }
            _stream = OpenForAppend(Path, time, open, cancellationToken);
            WriteHeader();
            _stateOffset = -1;
        }

        private static bool SameMonth(DateTimeOffset a, DateTimeOffset b)
        {
            var (x, y) = (a.ToLocalTime(), b.ToLocalTime());
            return x.Year == y.Year && x.Month == y.Month;
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

        /// <summary>A state file a crash left half written (the lock is held, so no other run is writing one).</summary>
        private static void RemoveStalePartials(string path)
        {
            var folder = System.IO.Path.GetDirectoryName(path)!;
            try
            {
                foreach (var partial in Directory.GetFiles(folder, "." + System.IO.Path.GetFileName(StatePathFor(path)) + ".*.partial"))
                    File.Delete(partial);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // A leftover only takes room; the state itself is whole either way.
            }
        }

        /// <summary>A torn last line: find the end of the last complete one and cut there.</summary>
        private static void CutTornLine(FileStream stream, string path)
        {
            var length = stream.Length;
            if (length == 0) return;
            stream.Position = length - 1;
            if (stream.ReadByte() == '\n') return;
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

        private sealed class Head
        {
            public string[]? Header { get; set; }
            public string First { get; set; } = string.Empty;
            public DateTimeOffset? FirstDate { get; set; }
            /// <summary>Without the ErrorCount and Expanded columns: states and error counts are read back from Status and Detail.</summary>
            public bool FirstFormat => Header != null && !Header.Contains("ErrorCount");
            /// <summary>Missing a column (ErrorCount and Expanded came second, Company third): rewritten with every column, once.</summary>
            public bool Legacy => Header != null && Columns.Any(column => !Header.Contains(column));
        }

        /// <summary>The journal's header and first entry line, read from its start.</summary>
        private static Head ReadHead(Stream stream, string path)
        {
            stream.Position = 0;
            var head = new Head();
            using var reader = new StreamReader(stream, Encoding.UTF8, true, 4096, leaveOpen: true);
            string? line;
            var number = 0;
            while ((line = reader.ReadLine()) != null)
            {
                number++;
                if (line.Length == 0) continue;
                if (head.Header is null)
                {
                    head.Header = SplitCsv(line);
                    continue;
                }
                head.First = Identity(line);
                head.FirstDate = ToEntry(Values(head.Header, line), path, number).Date;
                break;
            }
            return head;
        }

        /// <summary>The lines after byte <paramref name="offset"/> (line <paramref name="lines"/>), one at a time; <paramref name="counted"/> gets the line count at the end.</summary>
        private static IEnumerable<JournalEntry> ReadLines(Stream stream, string path, long offset, long lines, string[]? header, Action<long> counted)
        {
            stream.Position = offset;
            using (var reader = new StreamReader(stream, Encoding.UTF8, offset == 0, 65536, leaveOpen: true))
            {
                string? line;
                var number = lines;
                while ((line = reader.ReadLine()) != null)
                {
                    number++;
                    if (line.Length == 0) continue;
                    if (number == 1 || header is null)
                    {
                        header ??= SplitCsv(line);
                        continue;
                    }
                    yield return ToEntry(Values(header, line), path, number);
                }
                counted(number);
            }
        }

        private static Dictionary<string, string> Values(string[] header, string line)
        {
            var fields = SplitCsv(line);
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < header.Length && i < fields.Length; i++) values[header[i]] = fields[i];
            return values;
        }

        /// <summary>The first entry line itself: its date to the millisecond, event and file tell one journal from a later one.</summary>
        private static string Identity(string line) => line;

        private sealed class State
        {
            public long Offset { get; set; }
            public long Lines { get; set; }
            public string First { get; set; } = string.Empty;
            public List<JournalEntry> Entries { get; } = new List<JournalEntry>();
        }

        /// <summary>
        /// The state file: a line of Offset, Lines and First (how far into which journal it reaches), then the unsettled lines
        /// in the journal's own columns. Null when there is none.
        /// </summary>
        private static State? ReadState(string path)
        {
            var statePath = StatePathFor(path);
            if (!File.Exists(statePath)) return null;
            try
            {
                using var reader = new StreamReader(statePath, Encoding.UTF8, true);
                var invalid = ErrorCatalog.JournalLineInvalid;
                if (reader.ReadLine() is not { } columns || !SplitCsv(columns).SequenceEqual(StateColumns) || reader.ReadLine() is not { } values)
                    throw invalid.Create(statePath, 1, "it is not a journal state this module writes");
                var fields = SplitCsv(values);
                if (fields.Length != 3 || !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ||
                    !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var lines))
                    throw invalid.Create(statePath, 2, "it is not a journal state this module writes");
                var state = new State { Offset = offset, Lines = lines, First = fields[2] };
                string[]? header = null;
                string? line;
                var number = 2;
                while ((line = reader.ReadLine()) != null)
                {
                    number++;
                    if (line.Length == 0) continue;
                    if (header is null) header = SplitCsv(line);
                    else state.Entries.Add(ToEntry(Values(header, line), statePath, number));
                }
                return state;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw ErrorCatalog.JournalWriteFailed.Wrap(ex, statePath, ex.Message);
            }
        }

        /// <summary>Written beside and renamed over the old state in one step: a crash leaves the old state or the new one, whole.</summary>
        private static void WriteState(string path, IEnumerable<JournalEntry> entries, long offset, long lines, string first)
        {
            var statePath = StatePathFor(path);
            using var landing = LandingFile.Create(System.IO.Path.GetDirectoryName(statePath)!, System.IO.Path.GetFileName(statePath),
                " The state was left as it was.", ex => WriteFailed(statePath, ex), 65536);
            var text = new StringBuilder();
            text.Append(CsvLine(StateColumns));
            text.Append(CsvLine(new[] { offset.ToString(CultureInfo.InvariantCulture), lines.ToString(CultureInfo.InvariantCulture), first }));
            text.Append(CsvLine(Columns));
            foreach (var entry in entries) text.Append(CsvLine(Fields(entry)));
            var bytes = Encoding.UTF8.GetBytes(text.ToString());
            landing.Write(bytes, bytes.Length);
            landing.MoveTo(statePath, replace: true);
        }

        /// <summary>
        /// Brings a journal of an earlier format (without the ErrorCount, Expanded or Company columns) to this one, so every line of a file has
        /// the same columns for Import-Csv. The new file is written beside it, a line at a time, and renamed over it: a crash
        /// leaves either.
        /// </summary>
        private static void Rewrite(string path)
        {
            using var landing = LandingFile.Create(System.IO.Path.GetDirectoryName(path)!, System.IO.Path.GetFileName(path),
                " The journal was left as it was.", ex => WriteFailed(path, ex), 65536);
            var preamble = Utf8WithBom.GetPreamble();
            landing.Write(preamble, preamble.Length);
            var header = Encoding.UTF8.GetBytes(CsvLine(Columns));
            landing.Write(header, header.Length);
            using (var old = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                var head = ReadHead(old, path);
                foreach (var entry in ReadLines(old, path, 0, 0, head.Header, _ => { }))
                {
                    if (head.FirstFormat) FromFirstFormat(entry);
                    var bytes = Encoding.UTF8.GetBytes(CsvLine(Fields(entry)));
                    landing.Write(bytes, bytes.Length);
                }
            }
            landing.MoveTo(path, replace: true);
        }

        private static JournalEntry ToEntry(Dictionary<string, string> values, string path, long line)
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

        private static void WriteLine(FileStream stream, string path, string line)
        {
            var bytes = Encoding.UTF8.GetBytes(line);
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
