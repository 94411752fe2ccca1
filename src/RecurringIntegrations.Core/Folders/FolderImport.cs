using System.Text;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;
using static RecurringIntegrations.Core.Folders.JournalEvent;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>
    /// Imports an inbox folder, crash-safe. Every transition is journalled (flushed to disk) before it is taken, and a file
    /// is renamed into 'sending' before its upload starts, so whatever moment the process dies the next run knows: a file in
    /// 'sending' whose journal has its message id goes on as sent; one without goes to 'unconfirmed' and is never sent again
    /// automatically. Sent files wait for their outcome and go to 'processed' or 'failed' (with their errors beside them), or
    /// to 'pending' when not finished in time, where a later run settles them. Only one file of a name is in flight at once,
    /// so the journal's lines for a name since its last 'Sending' all belong to the file in flight.
    /// </summary>
    public sealed class FolderImport : ActivityOperation
    {
        public const string SendingFolder = "sending", PendingFolder = "pending", ProcessedFolder = "processed", FailedFolder = "failed", UnconfirmedFolder = "unconfirmed";
        public const string ErrorFileSuffix = ".error.txt";
        private const int MaxStatusCalls = 8;

        private readonly string _inboxPath;

        public FolderImport(D365Session session, D365Client client, Guid activityId, string inboxPath)
            : base(session, client, activityId)
        {
            _inboxPath = inboxPath;
        }

        public string? EntityName { get; set; }
        public string? Company { get; set; }
        /// <summary>Which files of the inbox to send: a file-name wildcard (* and ?).</summary>
        public string Filter { get; set; } = "*";
        /// <summary>How long this run waits for the files it sent (and the pending ones) to finish.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>A file written to within this time, or whose size or time changes over it, is left for a later run.</summary>
        public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>Where the verbose lines of a run go (a file skipped as not data).</summary>
        public Action<string>? Verbose { get; set; }
        /// <summary>Default: journal.csv in the inbox.</summary>
        public string? JournalPath { get; set; }

        public string InboxPath => _inboxPath;

        public string SendActionText => "Enqueue to activity " + ActivityId.ToString("D");

        /// <summary>
        /// The inbox's files that the filter selects, in sending order, without touching anything (what -WhatIf shows). A run
        /// may still leave some of them for later: those being written, or whose name is still in flight.
        /// </summary>
        /// <param name="verbose">Told of each file skipped as not data (<see cref="InboxFilter"/>).</param>
        public IReadOnlyList<string> Candidates(Action<string>? verbose = null)
        {
            var inbox = FolderFiles.ExistingFolder(_inboxPath, "-Path");
            var journalPath = FolderJournal.PathFor(inbox, JournalPath);
            var files = new List<string>();
            foreach (var file in new DirectoryInfo(inbox).EnumerateFiles("*", SearchOption.TopDirectoryOnly))
            {
                if (FolderJournal.IsJournalFile(file.FullName, journalPath) || !InboxFilter.Matches(file.Name, Filter)) continue;
                if (InboxFilter.SkipReason(file.Name, file.Attributes) is { } why)
                {
                    verbose?.Invoke($"'{file.Name}' in the inbox is skipped: {why}, not data.");
                    continue;
                }
                files.Add(file.FullName);
            }
            return files.OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal).ToList();
        }

        private static StringComparer FileNameComparer =>
            Path.DirectorySeparatorChar == '\\' ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

        public async Task RunAsync(OperationCallbacks<FolderImportResult> callbacks, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            CheckThrottleLimit();
            var inbox = FolderFiles.ExistingFolder(_inboxPath, "-Path");
            using var journal = FolderJournal.Open(FolderJournal.PathFor(inbox, JournalPath), Session.Time, cancellationToken, entries => Unsettled(inbox, entries));
            var run = new ImportRun(this, inbox, journal, callbacks);
            run.Recover();
            journal.Checkpoint();
            await run.SendNewFilesAsync(cancellationToken).ConfigureAwait(false);
            await run.WaitForOutcomesAsync(cancellationToken).ConfigureAwait(false);
            journal.Checkpoint();
        }

        /// <summary>
        /// What a later run needs of the journal: for each file still in 'sending' or 'pending', its lines since its last
        /// 'Sending' (<see cref="ImportRun.Recover"/> reads nothing else). A file settled elsewhere needs none.
        /// </summary>
        private static IEnumerable<JournalEntry> Unsettled(string inbox, IEnumerable<JournalEntry> entries)
        {
            var inFlight = new HashSet<string>(FileNameComparer);
            foreach (var folder in new[] { SendingFolder, PendingFolder })
            {
                var path = Path.Combine(inbox, folder);
                if (!Directory.Exists(path)) continue;
                foreach (var file in Directory.EnumerateFiles(path).Where(f => !f.EndsWith(ErrorFileSuffix, StringComparison.Ordinal)))
                    inFlight.Add(Path.GetFileName(file));
            }
            return ImportRun.Attempts(entries.Where(entry => inFlight.Contains(entry.File))).Values.SelectMany(lines => lines).ToList();
        }

        /// <summary>A file that has a message id and waits for its outcome.</summary>
        private sealed class InFlight(string name, string path, Guid messageId)
        {
            public string Name { get; } = name;
            public string Path { get; set; } = path;
            public Guid MessageId { get; } = messageId;
        }

        private sealed class ImportRun(FolderImport import, string inbox, FolderJournal journal, OperationCallbacks<FolderImportResult> callbacks)
        {
            private readonly FolderImport _import = import;
            private readonly string _inbox = inbox;
            private readonly FolderJournal _journal = journal;
            private readonly OperationCallbacks<FolderImportResult> _callbacks = callbacks;
            private readonly Dictionary<string, string> _folders = new[] { SendingFolder, PendingFolder, ProcessedFolder, FailedFolder, UnconfirmedFolder }
                .ToDictionary(name => name, name => FolderFiles.StateFolder(inbox, name), StringComparer.Ordinal);
            private readonly List<InFlight> _inFlight = new List<InFlight>();
            private readonly HashSet<string> _busyNames = new HashSet<string>(FileNameComparer);
            private int _completed;
            private int _total;

            /// <summary>Settles what an earlier run left in 'sending' and 'pending', before anything new is sent.</summary>
            public void Recover()
            {
                var attempts = Attempts(_journal.Entries);
                foreach (var file in Directory.GetFiles(_folders[SendingFolder]).OrderBy(f => f, StringComparer.Ordinal))
                {
                    var name = Path.GetFileName(file);
                    attempts.TryGetValue(name, out var events);
                    var last = events?.LastOrDefault();
                    var messageId = events?.LastOrDefault(e => e.MessageId.HasValue)?.MessageId;
                    switch (last?.Event)
                    {
                        case Sent when messageId.HasValue:
                            _inFlight.Add(new InFlight(name, file, messageId.Value));
                            break;
                        case Pending when messageId.HasValue:
                        case Processed:
                        case Failed:
                        case Unconfirmed:
                        case Returned:
                            Replay(last!, file, messageId);
                            break;
                        default:
                            // Its upload may have started and its answer never came: sending it again could make a duplicate.
                            Guard(file, () => ToUnconfirmed(name, file, "the run sending it stopped before the service's answer was recorded"));
                            break;
                    }
                }
                foreach (var file in Directory.GetFiles(_folders[PendingFolder]).Where(f => !f.EndsWith(ErrorFileSuffix, StringComparison.Ordinal))
                             .OrderBy(f => f, StringComparer.Ordinal))
                {
                    var name = Path.GetFileName(file);
                    attempts.TryGetValue(name, out var events);
                    var last = events?.LastOrDefault();
                    var messageId = events?.LastOrDefault(e => e.MessageId.HasValue)?.MessageId;
                    if (last != null && (last.Event == Processed || last.Event == Failed || last.Event == Unconfirmed))
                        Replay(last, file, messageId);
                    else if (messageId.HasValue)
                        _inFlight.Add(new InFlight(name, file, messageId.Value));
                    else
                        _callbacks.OnError(file, ErrorCatalog.FolderPendingWithoutMessageId.Create(file, _journal.Path));
                }
                // What is still in flight now, after the replays: a new file of the same name waits until it is settled.
                foreach (var folder in new[] { SendingFolder, PendingFolder })
                    foreach (var file in Directory.GetFiles(_folders[folder]).Where(f => !f.EndsWith(ErrorFileSuffix, StringComparison.Ordinal)))
                        _busyNames.Add(Path.GetFileName(file));
            }

            /// <summary>Completes a move whose journal line was written before the process died.</summary>
            private void Replay(JournalEntry entry, string source, Guid? messageId)
            {
                var name = Path.GetFileName(source);
                Guard(source, () =>
                {
                    var target = entry.Path;
                    if (FileNames.Exists(target))
                    {
                        target = FileNames.Free(Path.GetDirectoryName(target)!, Path.GetFileName(target));
                        _journal.Append(new JournalEntry
                        {
                            Event = entry.Event, File = name, MessageId = messageId, Status = entry.Status, Path = target, ErrorCount = entry.ErrorCount,
                            Detail = "completes the move the journal announced; the first name was taken",
                        });
                    }
                    if (entry.Event == Failed && !File.Exists(target + ErrorFileSuffix))
                        WriteErrorFile(target + ErrorFileSuffix, $"Message {messageId} ended {entry.Status}. {entry.Detail}");
                    FolderFiles.Move(source, target, "The file stays where it is; the next run tries again.");
                    if (entry.Event == Pending)
                    {
                        _inFlight.Add(new InFlight(name, target, messageId!.Value));
                        return;
                    }
                    if (entry.Event == Returned) return;
                    Report(name, messageId, entry.Status, entry.Outcome!.Value, target, entry.ErrorCount ?? 0);
                });
            }

            public async Task SendNewFilesAsync(CancellationToken cancellationToken)
            {
                var candidates = ListInbox();
                _total = _inFlight.Count + candidates.Count;
                _callbacks.OnProgress(0, _total, null);
                candidates = await new SettleCheck(_import.Settle, _import.Session.Time, _callbacks.OnWarning, _callbacks.OnError)
                    .SettledAsync(candidates, cancellationToken).ConfigureAwait(false);
                _total = _inFlight.Count + candidates.Count;

                using var slots = new SemaphoreSlim(_import.ThrottleLimit);
                var uploads = new List<Task>(candidates.Count);
                foreach (var file in candidates)
                {
                    // Waiting here keeps at most ThrottleLimit files in 'sending' at once.
                    await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                    uploads.Add(Task.Run(async () =>
                    {
                        try
                        {
                            await SendAsync(file, cancellationToken).ConfigureAwait(false);
                        }
                        finally
                        {
                            slots.Release();
                        }
                    }, cancellationToken));
                }
                await Task.WhenAll(uploads).ConfigureAwait(false);
            }

            private List<FileInfo> ListInbox()
            {
                var files = new List<FileInfo>();
                foreach (var full in _import.Candidates(_import.Verbose))
                {
                    var name = Path.GetFileName(full);
                    if (name.IndexOfAny(new[] { '\r', '\n' }) >= 0)
                    {
                        _callbacks.OnError(full, ErrorCatalog.FolderFileNameInvalid.Create(full));
                        continue;
                    }
                    if (_busyNames.Contains(name))
                    {
                        _callbacks.OnWarning($"'{name}' waits in the inbox: a file of the same name is still in 'pending' or 'sending'. It is sent once that one is settled.");
                        continue;
                    }
                    files.Add(new FileInfo(full));
                }
                return files;
            }

            private async Task SendAsync(FileInfo file, CancellationToken cancellationToken)
            {
                var name = file.Name;
                if (!await _callbacks.ConfirmAsync(file.FullName, _import.SendActionText, cancellationToken).ConfigureAwait(false)) return;
                var sending = Path.Combine(_folders[SendingFolder], name);
                _journal.Append(new JournalEntry { Event = Sending, File = name, Path = sending });
                try
                {
                    File.Move(file.FullName, sending);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    var vanished = !File.Exists(file.FullName);
                    _journal.Append(new JournalEntry { Event = Skipped, File = name, Detail = vanished ? "vanished before it was sent" : ex.Message });
                    if (vanished)
                        _callbacks.OnWarning($"'{name}' vanished from the inbox before it was sent: skipped.");
                    else
                        _callbacks.OnError(file.FullName, ErrorCatalog.FolderMoveFailed.Wrap(ex, file.FullName, _folders[SendingFolder], ex.Message, "It was not sent and stays in the inbox."));
                    return;
                }

                Guid messageId;
                try
                {
                    messageId = await _import.Client.EnqueueAsync(_import.ActivityId, sending, _import.EntityName, _import.Company, name, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // The upload may have gone out: the file stays in 'sending' and the next run moves it to 'unconfirmed'.
                    throw;
                }
                catch (D365Exception ex) when (ex.Entry != ErrorCatalog.EnqueueOutcomeUnknown)
                {
                    // The service answered with a refusal, or the call never went out: it has no message, so the file may go again.
                    Guard(sending, () =>
                    {
                        var back = FileNames.Free(_inbox, name);
                        _journal.Append(new JournalEntry { Event = Returned, File = name, Path = back, Detail = ex.ErrorId + ": " + ex.Message });
                        FolderFiles.Move(sending, back, "It stays in 'sending'; the next run moves it to 'unconfirmed'.");
                    });
                    _callbacks.OnError(file.FullName, ex);
                    Progress(name);
                    return;
                }
                catch (Exception ex)
                {
                    Guard(sending, () => ToUnconfirmed(name, sending, ex.Message));
                    return;
                }
                _journal.Append(new JournalEntry { Event = Sent, File = name, MessageId = messageId, Path = sending });
                lock (_inFlight) _inFlight.Add(new InFlight(name, sending, messageId));
            }

            private void ToUnconfirmed(string name, string source, string reason)
            {
                var target = FileNames.Free(_folders[UnconfirmedFolder], name);
                _journal.Append(new JournalEntry { Event = Unconfirmed, File = name, Path = target, Detail = reason });
                FolderFiles.Move(source, target, "It stays in 'sending'; the next run tries again.");
                Report(name, null, string.Empty, FolderImportOutcome.Unconfirmed, target, 0);
                _callbacks.OnError(target, ErrorCatalog.EnqueueOutcomeUnknown.Create(
                    $"'{name}' may or may not have reached the service ({reason}). It was moved to '{target}' and will not be sent again automatically.",
                    $" Look for the external identifier '{name}' there; if it is not there, move the file back into the inbox to send it again."));
            }

            public async Task WaitForOutcomesAsync(CancellationToken cancellationToken)
            {
                var waiter = new StatusWaiter(_import.Session, _import.Client) { Timeout = _import.Timeout, PollInterval = _import.PollInterval, MaxConcurrency = MaxStatusCalls };
                var unfinished = await waiter.Loop<InFlight, string>(
                    (item, token) => _import.Client.GetMessageStatusAsync(item.MessageId, token),
                    MessageStatus.IsTerminalStatus,
                    (item, status) => SettleAsync(item, status, cancellationToken),
                    (item, last, ex) =>
                    {
                        _callbacks.OnError(item.Path, Failures.AsD365(ex, $"Reading the status of message {item.MessageId} ({item.Name}) failed; the file waits in 'pending'"));
                        Guard(item.Path, () => ToPending(item, last ?? string.Empty));
                    }).RunAsync(_inFlight.ToList(), cancellationToken).ConfigureAwait(false);
                if (unfinished.Count == 0) return;
                foreach (var (item, last) in unfinished) Guard(item.Path, () => ToPending(item, last));
                _callbacks.OnWarning($"{unfinished.Count} file(s) did not finish processing within {_import.Timeout.TotalSeconds:0} s; they wait in '{_folders[PendingFolder]}' and a later run settles them. They are never sent again.");
            }

            private async Task SettleAsync(InFlight item, string status, CancellationToken cancellationToken)
            {
                if (string.Equals(status, "Processed", StringComparison.OrdinalIgnoreCase))
                {
                    Guard(item.Path, () => MoveTo(item, Processed, ProcessedFolder, status, null, null));
                    return;
                }
                IReadOnlyList<ExecutionError> errors = Array.Empty<ExecutionError>();
                string? unavailable = null;
                try
                {
                    errors = await MessageQueries.ExecutionErrorsOfMessageAsync(_import.Client, item.MessageId, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    unavailable = ex.Message;
                }
                Guard(item.Path, () => MoveTo(item, Failed, FailedFolder, status, errors.Count, target =>
                    WriteErrorFile(target + ErrorFileSuffix, ErrorReport(item, status, errors, unavailable))));
            }

            private void ToPending(InFlight item, string status)
            {
                var folder = _folders[PendingFolder];
                if (!string.Equals(Path.GetDirectoryName(item.Path), folder, StringComparison.Ordinal))
                {
                    var target = Path.Combine(folder, item.Name);
                    _journal.Append(new JournalEntry { Event = Pending, File = item.Name, MessageId = item.MessageId, Status = status, Path = target });
                    FolderFiles.Move(item.Path, target, "It stays in 'sending' with its message id in the journal; the next run settles it.");
                    item.Path = target;
                }
                Report(item.Name, item.MessageId, status, FolderImportOutcome.Pending, item.Path, 0);
            }

            private void MoveTo(InFlight item, JournalEvent outcome, string folder, string status, int? errorCount, Action<string>? beforeJournal)
            {
                var target = FileNames.Free(_folders[folder], item.Name);
                if (!string.Equals(Path.GetFileName(target), item.Name, StringComparison.Ordinal))
                    _callbacks.OnWarning($"'{folder}' already holds a file named '{item.Name}'; this one (message {item.MessageId}) is kept as '{Path.GetFileName(target)}'.");
                beforeJournal?.Invoke(target);
                var entry = _journal.Append(new JournalEntry { Event = outcome, File = item.Name, MessageId = item.MessageId, Status = status, Path = target, ErrorCount = errorCount });
                FolderFiles.Move(item.Path, target, "Its outcome is in the journal; the next run completes the move.");
                item.Path = target;
                Report(item.Name, item.MessageId, status, entry.Outcome!.Value, target, errorCount ?? 0);
            }

            private void Report(string name, Guid? messageId, string status, FolderImportOutcome outcome, string path, int errorCount)
            {
                _callbacks.OnResult(new FolderImportResult
                {
                    FileName = name,
                    MessageId = messageId,
                    Status = status,
                    Outcome = outcome,
                    Path = path,
                    ErrorCount = errorCount,
                    ActivityId = _import.ActivityId,
                    HandledAt = DateTimeOffset.Now,
                    Environment = _import.Session.Environment,
                });
                Progress(name);
            }

            private void Progress(string name) =>
                _callbacks.OnProgress(Interlocked.Increment(ref _completed), Math.Max(_total, _completed), name);

            /// <summary>A local step that fails is that file's error; the others go on. A journal that cannot be written ends the run.</summary>
            private void Guard(object target, Action step)
            {
                try
                {
                    step();
                }
                catch (D365Exception ex) when (ex.Entry != ErrorCatalog.JournalWriteFailed)
                {
                    _callbacks.OnError(target, ex);
                }
            }

            private static string ErrorReport(InFlight item, string status, IReadOnlyList<ExecutionError> errors, string? unavailable)
            {
                var text = new StringBuilder();
                text.AppendLine($"File: {item.Name}");
                text.AppendLine($"Message {item.MessageId} ended {status}.");
                if (unavailable != null) text.AppendLine("The execution errors could not be read: " + unavailable);
                foreach (var error in errors)
                {
                    text.AppendLine();
                    text.AppendLine($"Error {error.Index}: {error.ErrorMessage}");
                    foreach (var field in error.Fields) text.AppendLine($"  {field.Key}: {field.Value}");
                }
                return text.ToString();
            }

            private static void WriteErrorFile(string path, string text)
            {
                const string stays = " The file stays where it is and the next run tries again.";
                var bytes = new UTF8Encoding(false).GetBytes(text);
                using var landing = LandingFile.Create(Path.GetDirectoryName(path)!, Path.GetFileName(path), stays,
                    ex => ErrorCatalog.FolderWriteFailed.Wrap(ex, "write", path, ex.Message, stays));
                landing.Write(bytes, bytes.Length);
                landing.MoveTo(path, replace: true);
            }

            /// <summary>For each file name, its journal lines since its last 'Sending': the attempt now in flight.</summary>
            internal static Dictionary<string, List<JournalEntry>> Attempts(IEnumerable<JournalEntry> entries)
            {
                var attempts = new Dictionary<string, List<JournalEntry>>(FileNameComparer);
                foreach (var entry in entries)
                {
                    if (entry.Event == Sending) attempts[entry.File] = new List<JournalEntry>();
                    if (attempts.TryGetValue(entry.File, out var list)) list.Add(entry);
                }
                return attempts;
            }
        }
    }
}
