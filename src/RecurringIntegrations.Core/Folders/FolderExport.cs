using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>
    /// Drains an export queue into a folder, idempotent by correlation id. Each message is downloaded into
    /// 'receiving/&lt;correlation id&gt;' (complete, flushed), then journalled as Saved with its final name, then moved into
    /// the folder, and only then acknowledged. A redelivered message whose Saved line is in the journal is acknowledged
    /// without a second copy. On start, a 'receiving' folder with a Saved line is moved into place; one without is
    /// removed (its message was not acknowledged and comes back).
    /// </summary>
    public sealed class FolderExport : ActivityOperation
    {
        public const string Receiving = "receiving";

        private readonly string _path;

        public FolderExport(D365Session session, D365Client client, Guid activityId, string path)
            : base(session, client, activityId)
        {
            _path = path;
        }

        /// <summary>Unpack a package zip into a folder per message instead of keeping the zip.</summary>
        public bool Expand { get; set; }
        /// <summary>Acknowledge a message whose file is gone (ExportFileMissing) instead of leaving it on the queue, with a warning.</summary>
        public bool AcknowledgeMissing { get; set; }
        /// <summary>Default: journal.csv in the folder.</summary>
        public string? JournalPath { get; set; }

        public string AckActionText => "Acknowledge on activity " + ActivityId.ToString("D");

        public async Task RunAsync(OperationCallbacks<FolderExportResult> callbacks, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            CheckThrottleLimit();
            var folder = FileChecks.PrepareOutputDirectory(_path);
            using var journal = FolderJournal.Open(FolderJournal.PathFor(folder, JournalPath), Session.Time, cancellationToken, Unsettled);
            var run = new ExportRun(this, folder, journal, callbacks);
            run.Recover();
            journal.Checkpoint();
            await run.Loop.RunAsync(ThrottleLimit, run.HandleAsync, cancellationToken).ConfigureAwait(false);
            journal.Checkpoint();
        }

        /// <summary>
        /// What a later run needs of the journal: the Saved and Missing lines of each message not acknowledged since (it comes
        /// back and must not be saved twice, or reported missing twice). An acknowledged message is gone from the queue.
        /// </summary>
        private static IEnumerable<JournalEntry> Unsettled(IEnumerable<JournalEntry> entries)
        {
            var open = new Dictionary<Guid, List<JournalEntry>>();
            foreach (var entry in entries)
            {
                if (entry.MessageId is not { } id) continue;
                if (entry.Event == JournalEvent.Acknowledged) open.Remove(id);
                else if (entry.Event == JournalEvent.Saved || entry.Event == JournalEvent.Missing)
                {
                    if (!open.TryGetValue(id, out var lines)) open[id] = lines = new List<JournalEntry>();
                    lines.Add(entry);
                }
            }
            return open.Values.SelectMany(lines => lines).OrderBy(entry => entry.Date).ToList();
        }

        private sealed class ExportRun(FolderExport export, string folder, FolderJournal journal, OperationCallbacks<FolderExportResult> callbacks)
        {
            private readonly FolderExport _export = export;
            private readonly string _folder = folder;
            private readonly string _receiving = FolderFiles.StateFolder(folder, Receiving);
            private readonly FolderJournal _journal = journal;
            private readonly OperationCallbacks<FolderExportResult> _callbacks = callbacks;
            private readonly Dictionary<Guid, JournalEntry> _saved = journal.Entries
                .Where(entry => entry.Event == JournalEvent.Saved && entry.MessageId is not null)
                .GroupBy(entry => entry.MessageId!.Value)
                .ToDictionary(saved => saved.Key, saved => saved.Last());
            private readonly HashSet<Guid> _missing = new HashSet<Guid>(journal.Entries
                .Where(entry => entry.Event == JournalEvent.Missing && entry.MessageId is not null)
                .Select(entry => entry.MessageId!.Value));
            private readonly Dictionary<Guid, Task> _working = new Dictionary<Guid, Task>();

            /// <summary>The drain's workers and its stop rule, shared with Receive-D365Dequeue.</summary>
            public DrainLoop Loop { get; } = new DrainLoop(export.Client, export.ActivityId, null, callbacks.OnWarning);

            public void Recover()
            {
                foreach (var stage in Directory.GetDirectories(_receiving))
                {
                    try
                    {
                        if (Guid.TryParse(Path.GetFileName(stage), out var id) && _saved.TryGetValue(id, out var entry))
                        {
                            var item = StagedItem(stage, entry.File);
                            if (item != null)
                            {
                                var target = entry.Path;
                                if (FileNames.Exists(target))
                                {
                                    target = FileNames.Free(_folder, Path.GetFileName(target));
                                    _saved[id] = _journal.Append(new JournalEntry
                                    {
                                        Event = JournalEvent.Saved, File = entry.File, MessageId = id, Path = target, Length = entry.Length,
                                        Expanded = entry.Expanded, Detail = "completes the move the journal announced; the first name was taken",
                                    });
                                }
                                FolderFiles.Move(item, target, "It stays in 'receiving'; the next run tries again.");
                            }
                        }
                        // Not journalled as saved: the message was not acknowledged and comes back, so the partial copy goes.
                        Directory.Delete(stage, recursive: true);
                    }
                    catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                    {
                        _callbacks.OnWarning($"Could not clear '{stage}': {ex.Message}");
                    }
                    catch (D365Exception ex) when (ex.Entry != ErrorCatalog.JournalWriteFailed)
                    {
                        _callbacks.OnError(stage, ex);
                    }
                }
            }

            /// <summary>The saved file (or unpacked folder) inside a staging folder, by the name the journal gave it.</summary>
            private static string? StagedItem(string stage, string name)
            {
                var path = Path.Combine(stage, name);
                return FileNames.Exists(path) ? path : null;
            }

            public async Task<DrainStep> HandleAsync(DequeueResult message, bool firstSighting, CancellationToken cancellationToken)
            {
                var id = message.CorrelationId;
                Task? earlier;
                var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_working)
                {
                    _working.TryGetValue(id, out earlier);
                    _working[id] = done.Task;
                }
                try
                {
                    // A redelivery while another worker still holds the message: let that one finish, then decide.
                    if (earlier != null) await earlier.ConfigureAwait(false);
                    JournalEntry? saved;
                    lock (_saved) _saved.TryGetValue(id, out saved);
                    if (saved != null)
                    {
                        await AcknowledgeAsync(message, saved, alreadySaved: true, cancellationToken).ConfigureAwait(false);
                        return DrainStep.Done;
                    }
                    if (!firstSighting)
                    {
                        Loop.StopBecause($"Message {id} came back a second time in this run after failing; stopping so it is not retried forever. It stays on the queue.");
                        return DrainStep.Stop;
                    }
                    try
                    {
                        if (!await SaveAsync(message, cancellationToken).ConfigureAwait(false)) return DrainStep.Failed;
                    }
                    catch (D365Exception ex) when (ex.Entry == ErrorCatalog.ExportFileMissing)
                    {
                        return await MissingAsync(message, ex, cancellationToken).ConfigureAwait(false);
                    }
                    lock (_saved) saved = _saved[id];
                    await AcknowledgeAsync(message, saved, alreadySaved: false, cancellationToken).ConfigureAwait(false);
                    return DrainStep.Done;
                }
                finally
                {
                    done.TrySetResult(true);
                }
            }

            /// <summary>
            /// A message whose file is gone: journalled Missing once (the first run reports the error, later runs only warn), and
            /// acknowledged only when the user asked for it.
            /// </summary>
            private async Task<DrainStep> MissingAsync(DequeueResult message, D365Exception missing, CancellationToken cancellationToken)
            {
                var id = message.CorrelationId;
                var target = message.ToDequeuedMessage(_export.Session.Environment, null);
                bool known;
                lock (_missing) known = !_missing.Add(id);
                if (!known)
                    _journal.Append(new JournalEntry { Event = JournalEvent.Missing, MessageId = id, Detail = missing.ServiceMessage ?? string.Empty });
                if (_export.AcknowledgeMissing)
                {
                    if (!await _callbacks.ConfirmAsync(id.ToString("D"), _export.AckActionText, cancellationToken).ConfigureAwait(false)) return DrainStep.Skipped;
                    try
                    {
                        await _export.Client.AcknowledgeAsync(_export.ActivityId, message.RawJson, cancellationToken).ConfigureAwait(false);
                        _journal.Append(new JournalEntry { Event = JournalEvent.Acknowledged, MessageId = id, Detail = "its file was gone; acknowledged on purpose (-AcknowledgeMissing)" });
                        _callbacks.OnWarning(QueueDrain.MissingAcknowledged(id, _export.ActivityId, missing));
                    }
                    catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested) &&
                                               !(ex is D365Exception d && d.Entry == ErrorCatalog.JournalWriteFailed))
                    {
                        _callbacks.OnError(target, Failures.AsD365(ex,
                            $"The file of message {id} is gone and acknowledging it failed; it comes back and the next run tries again"));
                    }
                }
                else if (known)
                    _callbacks.OnWarning($"The file of export message {id} (job {_export.ActivityId}) is still gone; the journal has it as Missing since an earlier run. It stays on the queue: give -AcknowledgeMissing to take it off.");
                else
                    _callbacks.OnError(target, missing);
                return DrainStep.Skipped;
            }

            private async Task<bool> SaveAsync(DequeueResult message, CancellationToken cancellationToken)
            {
                var id = message.CorrelationId;
                var stage = Path.Combine(_receiving, id.ToString("D"));
                try
                {
                    if (Directory.Exists(stage)) Directory.Delete(stage, recursive: true);
                    var file = await _export.Client.DownloadAsync(message, stage, overwrite: true, cancellationToken).ConfigureAwait(false);
                    var item = file.Path;
                    var expanded = false;
                    if (_export.Expand && IsZip(file.Path))
                    {
                        item = ZipExtractor.ExpandBeside(file.Path, " The message was not acknowledged; leave out -Expand to save the zip as it is.");
                        File.Delete(file.Path);
                        expanded = true;
                    }
                    var name = Path.GetFileName(item);
                    var target = FileNames.Free(_folder, name);
                    var entry = _journal.Append(new JournalEntry
                    {
                        Event = JournalEvent.Saved, File = name, MessageId = id, Path = target, Length = file.Length, Expanded = expanded,
                    });
                    lock (_saved) _saved[id] = entry;
                    FolderFiles.Move(item, target, "It is journalled as saved; the next run moves it into place.");
                    TryDeleteFolder(stage);
                    return true;
                }
                catch (D365Exception ex) when (ex.Entry == ErrorCatalog.ExportFileMissing)
                {
                    TryDeleteFolder(stage);
                    throw;
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested) &&
                                           !(ex is D365Exception d && d.Entry == ErrorCatalog.JournalWriteFailed))
                {
                    lock (_saved)
                        if (!_saved.ContainsKey(id)) TryDeleteFolder(stage);
                    _callbacks.OnError(message.ToDequeuedMessage(_export.Session.Environment, null), Failures.AsD365(ex,
                        $"Saving message {id} failed; it was not acknowledged and will be redelivered"));
                    lock (_saved) return _saved.ContainsKey(id);
                }
            }

            private async Task AcknowledgeAsync(DequeueResult message, JournalEntry saved, bool alreadySaved, CancellationToken cancellationToken)
            {
                var result = new FolderExportResult
                {
                    CorrelationId = message.CorrelationId,
                    FileName = Path.GetFileName(saved.Path),
                    Path = saved.Path,
                    Length = saved.Length ?? 0,
                    Expanded = saved.Expanded,
                    AlreadySaved = alreadySaved,
                    ActivityId = _export.ActivityId,
                    SavedAt = DateTimeOffset.Now,
                    Environment = _export.Session.Environment,
                };
                if (await _callbacks.ConfirmAsync(saved.Path, _export.AckActionText, cancellationToken).ConfigureAwait(false))
                {
                    try
                    {
                        await _export.Client.AcknowledgeAsync(_export.ActivityId, message.RawJson, cancellationToken).ConfigureAwait(false);
                        result.Acknowledged = true;
                        _journal.Append(new JournalEntry { Event = JournalEvent.Acknowledged, File = saved.File, MessageId = message.CorrelationId, Path = saved.Path });
                    }
                    catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested) &&
                                               !(ex is D365Exception d && d.Entry == ErrorCatalog.JournalWriteFailed))
                    {
                        _callbacks.OnError(message.ToDequeuedMessage(_export.Session.Environment, new SavedFile(saved.Path, saved.Length ?? 0)), ErrorCatalog.DequeueAckFailed.Wrap(ex, message.CorrelationId, saved.Path, ex.Message));
                    }
                }
                _callbacks.OnResult(result);
                _callbacks.OnProgress(Loop.FinishOne(), Loop.Total, message.CorrelationId.ToString("D"));
            }

            private static bool IsZip(string path)
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
                var head = new byte[4];
                return stream.Read(head, 0, 4) == 4 && head[0] == 0x50 && head[1] == 0x4B && head[2] == 0x03 && head[3] == 0x04;
            }

            private static void TryDeleteFolder(string path)
            {
                try
                {
                    if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }
}
