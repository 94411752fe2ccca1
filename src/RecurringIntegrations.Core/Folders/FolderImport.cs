using System.Text;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;
using static RecurringIntegrations.Core.Folders.JournalEvent;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Packages;

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
        private readonly DataPackageClient? _packages;
        private readonly string _definitionGroupId = string.Empty, _legalEntityId = string.Empty;

        /// <summary>An inbox whose files are enqueued to a recurring job.</summary>
        public FolderImport(D365Session session, D365Client client, Guid activityId, string inboxPath)
            : base(session, client, activityId)
        {
            _inboxPath = inboxPath;
        }

        /// <summary>
        /// An inbox of data packages, each imported into the data project with the package API, one at a time (the service
        /// refuses a second import of a data project while one runs).
        /// </summary>
        public FolderImport(D365Session session, D365Client client, DataPackageClient packages, string definitionGroupId, string legalEntityId, string inboxPath)
            : base(session, client, Guid.Empty)
        {
            _packages = packages ?? throw new ArgumentNullException(nameof(packages));
            if (string.IsNullOrWhiteSpace(definitionGroupId)) throw ErrorCatalog.DefinitionGroupIdMissing.Create();
            if (string.IsNullOrWhiteSpace(legalEntityId)) throw ErrorCatalog.LegalEntityIdMissing.Create();
            _definitionGroupId = definitionGroupId.Trim();
            _legalEntityId = legalEntityId.Trim();
            _inboxPath = inboxPath;
        }

        /// <summary>The entity of every file; in a package inbox, a data file (not a .zip) is built into a package for it.</summary>
        public string? EntityName { get; set; }
        public string? Company { get; set; }
        /// <summary>A package inbox: the source format of the data files built into packages for <see cref="EntityName"/>.</summary>
        public string? SourceFormat { get; set; }
        /// <summary>Where each file's company comes from; null: every file goes with <see cref="Company"/>.</summary>
        public CompanySource? CompanyFrom { get; set; }
        /// <summary>With <see cref="CompanySource.FileName"/>: a regular expression whose group 'company' is the company. Default <see cref="InboxListing.DefaultCompanyPattern"/>.</summary>
        public string? CompanyPattern { get; set; }
        /// <summary>The order the inbox is sent in (with a throttle limit above 1, the order uploads start in).</summary>
        public InboxOrder OrderBy { get; set; } = InboxOrder.Name;
        public bool Descending { get; set; }
        /// <summary>Which files of the inbox to send: a file-name wildcard (* and ?).</summary>
        public string Filter { get; set; } = "*";
        /// <summary>How long this run waits for the files it sent (and the pending ones) to finish.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(10);
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>A file written to within this time, or whose size or time changes over it, is left for a later run.</summary>
        public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>
        /// A package inbox: how long a run asks about the execution id of an import a stopped run may have started, while the
        /// service has no record of it (right after a start it may not have one yet), before the file goes to 'unconfirmed'.
        /// </summary>
        public TimeSpan StartGrace { get; set; } = TimeSpan.FromSeconds(120);
        /// <summary>Where the verbose lines of a run go (a file skipped as not data).</summary>
        public Action<string>? Verbose { get; set; }
        /// <summary>Default: journal.csv in the inbox.</summary>
        public string? JournalPath { get; set; }

        public string InboxPath => _inboxPath;

        public string SendActionText => Step().ActionText;

        private ImportStep Step() => _packages is null
            ? new EnqueueStep(Client, ActivityId, EntityName)
            : new PackageStep(Client, _packages, _definitionGroupId, _legalEntityId) { EntityName = EntityName, SourceFormat = SourceFormat };

        /// <summary>
        /// The inbox's files that the filter selects, in sending order, without touching anything (what -WhatIf shows). A run
        /// may still leave some of them for later: those being written, or whose name is still in flight.
        /// </summary>
        /// <param name="verbose">Told of each file skipped as not data (<see cref="InboxFilter"/>).</param>
        /// <param name="error">Told of each file left in the inbox because its company is unknown.</param>
        public IReadOnlyList<InboxFile> Candidates(Action<string>? verbose = null, Action<object, D365Exception>? error = null) =>
            Candidates(new InboxListing(CompanyFrom, Company, CompanyPattern), verbose, error);

        private IReadOnlyList<InboxFile> Candidates(InboxListing listing, Action<string>? verbose, Action<object, D365Exception>? error)
        {
            var inbox = FolderFiles.ExistingFolder(_inboxPath, "-Path");
            var journalPath = FolderJournal.PathFor(inbox, JournalPath);
            bool IsData(FileInfo file)
            {
                if (FolderJournal.IsJournalFile(file.FullName, journalPath) || !InboxFilter.Matches(file.Name, Filter)) return false;
                if (InboxFilter.SkipReason(file.Name, file.Attributes) is not { } why) return true;
                verbose?.Invoke($"'{file.Name}' in the inbox is skipped: {why}, not data.");
                return false;
            }
            return listing.List(new DirectoryInfo(inbox), IsData, StateFolders, OrderBy, Descending, verbose, error);
        }

        /// <summary>The folders of the inbox that hold files by their state, never a company's files to send.</summary>
        private static readonly HashSet<string> StateFolders = new HashSet<string>(
            new[] { SendingFolder, PendingFolder, ProcessedFolder, FailedFolder, UnconfirmedFolder }, StringComparer.OrdinalIgnoreCase);

        private static StringComparer FileNameComparer =>
            Path.DirectorySeparatorChar == '\\' ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

        public async Task RunAsync(OperationCallbacks<FolderImportResult> callbacks, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            CheckThrottleLimit();
            // The company parameters are checked before the journal is opened: a bad pattern takes no step.
            var listing = new InboxListing(CompanyFrom, Company, CompanyPattern);
            var inbox = FolderFiles.ExistingFolder(_inboxPath, "-Path");
            using var journal = FolderJournal.Open(FolderJournal.PathFor(inbox, JournalPath), Session.Time, cancellationToken, entries => Unsettled(inbox, entries));
            var run = new ImportRun(this, inbox, journal, callbacks, listing);
            run.Recover();
            await run.ConfirmStartsAsync(cancellationToken).ConfigureAwait(false);
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
                // A company's files wait in its subfolder, under the journal name 'USMF/name'.
                var files = Directory.EnumerateFiles(path).Select(Path.GetFileName)
                    .Concat(Directory.EnumerateDirectories(path).SelectMany(company =>
                        Directory.EnumerateFiles(company).Select(f => Path.GetFileName(company) + "/" + Path.GetFileName(f))));
                foreach (var name in files.Where(f => !f.EndsWith(ErrorFileSuffix, StringComparison.Ordinal)))
                    inFlight.Add(name);
            }
            return ImportRun.Attempts(entries.Where(entry => inFlight.Contains(entry.File))).Values.SelectMany(lines => lines).ToList();
        }

        /// <summary>A file that has a message id and waits for its outcome.</summary>
        private sealed class InFlight(string name, string path, Guid messageId, string? company)
        {
            public string Name { get; } = name;
            public string Path { get; set; } = path;
            public Guid MessageId { get; } = messageId;
            public string? Company { get; } = company;
        }

        private sealed class ImportRun(FolderImport import, string inbox, FolderJournal journal, OperationCallbacks<FolderImportResult> callbacks, InboxListing listing)
        {
            private readonly InboxListing _listing = listing;
            private readonly FolderImport _import = import;
            private readonly ImportStep _step = import.Step();
            private readonly string _inbox = inbox;
            private readonly FolderJournal _journal = journal;
            private readonly OperationCallbacks<FolderImportResult> _callbacks = callbacks;
            private readonly Dictionary<string, string> _folders = new[] { SendingFolder, PendingFolder, ProcessedFolder, FailedFolder, UnconfirmedFolder }
                .ToDictionary(name => name, name => FolderFiles.StateFolder(inbox, name), StringComparer.Ordinal);
            private readonly List<InFlight> _inFlight = new List<InFlight>();
            private readonly HashSet<string> _busyNames = new HashSet<string>(FileNameComparer);
            /// <summary>Packages whose import a stopped run may have started: their execution ids are asked about.</summary>
            private readonly List<InFlight> _startsToConfirm = new List<InFlight>();
            private DateTimeOffset? _deadline;
            private int _completed;
            private int _total;

            /// <summary>Settles what an earlier run left in 'sending' and 'pending', before anything new is sent.</summary>
            public void Recover()
            {
                var attempts = Attempts(_journal.Entries);
                foreach (var (name, file) in StateFiles(SendingFolder))
                {
                    attempts.TryGetValue(name, out var events);
                    var last = events?.LastOrDefault();
                    var messageId = events?.LastOrDefault(e => e.MessageId.HasValue)?.MessageId;
                    var company = CompanyOf(events);
                    switch (last?.Event)
                    {
                        case Sent when messageId.HasValue:
                            _inFlight.Add(new InFlight(name, file, messageId.Value, company));
                            break;
                        case Importing when messageId.HasValue:
                            _startsToConfirm.Add(new InFlight(name, file, messageId.Value, company));
                            break;
                        case Pending when messageId.HasValue:
                        case Processed:
                        case Failed:
                        case Unconfirmed:
                        case Returned:
                            Replay(name, last!, file, messageId);
                            break;
                        case Sending when _step.AnnouncesId:
                            // The call that starts work comes only after its id is journalled: nothing was started.
                            Guard(file, () => Return(name, file, company, "the run sending it stopped before its import was started"));
                            break;
                        default:
                            // Its upload may have started and its answer never came: sending it again could make a duplicate.
                            Guard(file, () => ToUnconfirmed(name, file, company, "the run sending it stopped before the service's answer was recorded", null));
                            break;
                    }
                }
                foreach (var (name, file) in StateFiles(PendingFolder).Where(f => !f.Path.EndsWith(ErrorFileSuffix, StringComparison.Ordinal)))
                {
                    attempts.TryGetValue(name, out var events);
                    var last = events?.LastOrDefault();
                    var messageId = events?.LastOrDefault(e => e.MessageId.HasValue)?.MessageId;
                    if (last != null && (last.Event == Processed || last.Event == Failed || last.Event == Unconfirmed))
                        Replay(name, last, file, messageId);
                    else if (messageId.HasValue)
                        _inFlight.Add(new InFlight(name, file, messageId.Value, CompanyOf(events)));
                    else
                        _callbacks.OnError(file, ErrorCatalog.FolderPendingWithoutMessageId.Create(file, _journal.Path));
                }
                // What is still in flight now, after the replays: a new file of the same name waits until it is settled.
                foreach (var folder in new[] { SendingFolder, PendingFolder })
                    foreach (var (name, _) in StateFiles(folder).Where(f => !f.Path.EndsWith(ErrorFileSuffix, StringComparison.Ordinal)))
                        _busyNames.Add(name);
            }

            /// <summary>
            /// Asks the service about each execution id a stopped run journalled before starting its import: one the service has
            /// goes on as sent; one it still has no record of after <see cref="StartGrace"/> may yet have been on its way, so its
            /// file goes to 'unconfirmed'. A question that fails leaves the file in 'sending' for the next run. Never imported
            /// again blindly.
            /// </summary>
            public async Task ConfirmStartsAsync(CancellationToken cancellationToken)
            {
                var time = _import.Session.Time;
                foreach (var item in _startsToConfirm)
                {
                    string status;
                    try
                    {
                        var until = time.GetUtcNow() + _import.StartGrace;
                        while ((status = await _step.StatusAsync(item.MessageId, cancellationToken).ConfigureAwait(false)) == ImportStep.NotKnown &&
                               time.GetUtcNow() < until)
                            await time.Delay(_import.PollInterval, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                    {
                        _callbacks.OnError(item.Path, Failures.AsD365(ex,
                            $"Asking about execution {item.MessageId} ({item.Name}), whose import a stopped run may have started, failed; the file stays in 'sending' and the next run asks again"));
                        continue;
                    }
                    if (status == ImportStep.NotKnown)
                    {
                        Guard(item.Path, () => ToUnconfirmed(item.Name, item.Path, item.Company,
                            $"the run importing it stopped before the service's answer was recorded, and the service has no record of execution {item.MessageId:D}", item.MessageId));
                        continue;
                    }
                    _journal.Append(new JournalEntry
                    {
                        Event = Sent, File = item.Name, Company = item.Company ?? string.Empty, MessageId = item.MessageId, Status = status, Path = item.Path,
                        Detail = "the service has the execution; the run that started it stopped before recording its answer",
                    });
                    _inFlight.Add(item);
                }
            }

            /// <summary>The files of a state folder by their journal names: its own, and those of its company subfolders ('USMF/name').</summary>
            private IEnumerable<(string Name, string Path)> StateFiles(string state)
            {
                var folder = _folders[state];
                var files = Directory.GetFiles(folder).Select(f => (Name: Path.GetFileName(f), Path: f));
                foreach (var company in Directory.GetDirectories(folder))
                    files = files.Concat(Directory.GetFiles(company).Select(f => (Name: Path.GetFileName(company) + "/" + Path.GetFileName(f), Path: f)));
                return files.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            }

            /// <summary>The company a file was sent with, as its journal lines since its last 'Sending' record it; null for none.</summary>
            private static string? CompanyOf(List<JournalEntry>? events) => Company(events?.LastOrDefault(e => e.Company.Length > 0)?.Company);

            private static string? Company(string? journalled) => string.IsNullOrEmpty(journalled) ? null : journalled;

            /// <summary>Where a file of a state goes: the state folder, or its company subfolder (made when missing) for 'USMF/name'.</summary>
            private string StateFolderOf(string state, string name)
            {
                var slash = name.IndexOf('/');
                return slash < 0 ? _folders[state] : FolderFiles.StateFolder(_folders[state], name.Substring(0, slash));
            }

            private static string FileNameOf(string name) => name.Substring(name.IndexOf('/') + 1);

            /// <summary>Where a file of the inbox came from: the inbox, or its company subfolder for 'USMF/name'.</summary>
            private string InboxFolderOf(string name)
            {
                var slash = name.IndexOf('/');
                return slash < 0 ? _inbox : FolderFiles.StateFolder(_inbox, name.Substring(0, slash));
            }

            /// <summary>Completes a move whose journal line was written before the process died.</summary>
            private void Replay(string name, JournalEntry entry, string source, Guid? messageId)
            {
                Guard(source, () =>
                {
                    var target = entry.Path;
                    if (FileNames.Exists(target))
                    {
                        target = FileNames.Free(Path.GetDirectoryName(target)!, Path.GetFileName(target));
                        _journal.Append(new JournalEntry
                        {
                            Event = entry.Event, File = name, Company = entry.Company, MessageId = messageId, Status = entry.Status, Path = target, ErrorCount = entry.ErrorCount,
                            Detail = "completes the move the journal announced; the first name was taken",
                        });
                    }
                    if (entry.Event == Failed && !File.Exists(target + ErrorFileSuffix))
                        WriteErrorFile(target + ErrorFileSuffix, $"{_step.IdNoun} {messageId} ended {entry.Status}. {entry.Detail}");
                    FolderFiles.Move(source, target, "The file stays where it is; the next run tries again.");
                    if (entry.Event == Pending)
                    {
                        _inFlight.Add(new InFlight(name, target, messageId!.Value, Company(entry.Company)));
                        return;
                    }
                    if (entry.Event == Returned) return;
                    Report(name, Company(entry.Company), messageId, entry.Status, entry.Outcome!.Value, target, entry.ErrorCount ?? 0);
                });
            }

            public async Task SendNewFilesAsync(CancellationToken cancellationToken)
            {
                var candidates = ListInbox();
                _total = _inFlight.Count + candidates.Count;
                _callbacks.OnProgress(0, _total, null);
                var settled = new HashSet<FileInfo>(await new SettleCheck(_import.Settle, _import.Session.Time, _callbacks.OnWarning, _callbacks.OnError)
                    .SettledAsync(candidates.Select(c => c.Info).ToList(), cancellationToken).ConfigureAwait(false));
                candidates = candidates.Where(c => settled.Contains(c.Info)).ToList();
                _total = _inFlight.Count + candidates.Count;
                if (_step.OneAtATime)
                {
                    await SendOneAtATimeAsync(candidates, cancellationToken).ConfigureAwait(false);
                    return;
                }

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

            /// <summary>
            /// Each file is sent only once the one before (and what earlier runs left) is final. When one does not finish in
            /// time, the rest stay in the inbox for a later run: the service would refuse to start them.
            /// </summary>
            private async Task SendOneAtATimeAsync(List<InboxFile> candidates, CancellationToken cancellationToken)
            {
                for (var next = 0; ; next++)
                {
                    if (!await WaitForOutcomesAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var left = candidates.Count - next;
                        if (left > 0)
                            _callbacks.OnWarning($"{left} file(s) wait in the inbox: the service imports one package of a data project at a time and an earlier one has not finished. A later run sends them.");
                        return;
                    }
                    if (next == candidates.Count) return;
                    await SendAsync(candidates[next], cancellationToken).ConfigureAwait(false);
                }
            }

            private List<InboxFile> ListInbox()
            {
                var files = new List<InboxFile>();
                foreach (var file in _import.Candidates(_listing, _import.Verbose, _callbacks.OnError))
                {
                    var name = file.Name;
                    if (name.IndexOfAny(new[] { '\r', '\n' }) >= 0)
                    {
                        _callbacks.OnError(file.FullPath, ErrorCatalog.FolderFileNameInvalid.Create(file.FullPath));
                        continue;
                    }
                    if (_busyNames.Contains(name))
                    {
                        _callbacks.OnWarning($"'{name}' waits in the inbox: a file of the same name is still in 'pending' or 'sending'. It is sent once that one is settled.");
                        continue;
                    }
                    files.Add(file);
                }
                return files;
            }

            private async Task SendAsync(InboxFile file, CancellationToken cancellationToken)
            {
                var name = file.Name;
                if (_step.Refuse(file.FullPath) is { } refused)
                {
                    _callbacks.OnError(file.FullPath, refused);
                    Progress(name);
                    return;
                }
                var company = file.Company ?? string.Empty;
                if (!await _callbacks.ConfirmAsync(file.FullPath, _import.SendActionText, cancellationToken).ConfigureAwait(false)) return;
                string sending;
                try
                {
                    sending = Path.Combine(StateFolderOf(SendingFolder, name), FileNameOf(name));
                }
                catch (D365Exception ex)
                {
                    _callbacks.OnError(file.FullPath, ex);
                    return;
                }
                _journal.Append(new JournalEntry { Event = Sending, File = name, Company = company, Path = sending });
                try
                {
                    File.Move(file.FullPath, sending);
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    var vanished = !File.Exists(file.FullPath);
                    _journal.Append(new JournalEntry { Event = Skipped, File = name, Company = company, Detail = vanished ? "vanished before it was sent" : ex.Message });
                    if (vanished)
                        _callbacks.OnWarning($"'{name}' vanished from the inbox before it was sent: skipped.");
                    else
                        _callbacks.OnError(file.FullPath, ErrorCatalog.FolderMoveFailed.Wrap(ex, file.FullPath, Path.GetDirectoryName(sending)!, ex.Message, "It was not sent and stays in the inbox."));
                    return;
                }

                Guid messageId;
                Guid? announced = null;
                try
                {
                    messageId = await _step.SendAsync(sending, FileNameOf(name), file.Company, id =>
                    {
                        _journal.Append(new JournalEntry { Event = Importing, File = name, Company = company, MessageId = id, Path = sending });
                        announced = id;
                    }, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // The upload may have gone out: the file stays in 'sending' and the next run settles it.
                    throw;
                }
                catch (Exception ex) when (!MayHaveStarted(ex, announced))
                {
                    // The service answered with a refusal, or the call never went out: it has nothing of it, so the file may go again.
                    var error = Failures.AsD365(ex, $"Sending '{name}' failed");
                    Guard(sending, () => Return(name, sending, company, error.ErrorId + ": " + error.Message));
                    _callbacks.OnError(file.FullPath, error);
                    Progress(name);
                    return;
                }
                catch (Exception ex)
                {
                    Guard(sending, () => ToUnconfirmed(name, sending, file.Company, ex.Message, announced));
                    return;
                }
                _journal.Append(new JournalEntry { Event = Sent, File = name, Company = company, MessageId = messageId, Path = sending });
                lock (_inFlight) _inFlight.Add(new InFlight(name, sending, messageId, file.Company));
            }

            /// <summary>
            /// Whether the service may have started work for a send that failed: not for an answered refusal, nor when the step
            /// failed before the call that starts work (the package step announces its id first); otherwise it may.
            /// </summary>
            private bool MayHaveStarted(Exception ex, Guid? announced)
            {
                if (_step.AnnouncesId && announced is null) return false;
                return !(ex is D365Exception answered) || answered.Entry == ErrorCatalog.EnqueueOutcomeUnknown || answered.Entry == ErrorCatalog.PackageOutcomeUnknown;
            }

            /// <summary>Moves a file from 'sending' back into the inbox: the service has nothing of it.</summary>
            /// <summary>Moves a file from 'sending' back where it came from in the inbox: the service has nothing of it.</summary>
            private void Return(string name, string sending, string? company, string reason)
            {
                var back = FileNames.Free(InboxFolderOf(name), FileNameOf(name));
                _journal.Append(new JournalEntry { Event = Returned, File = name, Company = company ?? string.Empty, Path = back, Detail = reason });
                FolderFiles.Move(sending, back, "It stays in 'sending'; the next run settles it.");
            }

            private void ToUnconfirmed(string name, string source, string? company, string reason, Guid? id)
            {
                var target = FileNames.Free(StateFolderOf(UnconfirmedFolder, name), FileNameOf(name));
                _journal.Append(new JournalEntry { Event = Unconfirmed, File = name, Company = company ?? string.Empty, MessageId = id, Path = target, Detail = reason });
                FolderFiles.Move(source, target, "It stays in 'sending'; the next run tries again.");
                Report(name, company, id, string.Empty, FolderImportOutcome.Unconfirmed, target, 0);
                _callbacks.OnError(target, _step.Unconfirmed(FileNameOf(name), target, reason, id));
            }

            /// <summary>
            /// Waits for the files in flight (taking them off the list) until this run's waiting time, which starts at its first
            /// wait, is up; what is not final then goes to 'pending'. False when some did not finish.
            /// </summary>
            public async Task<bool> WaitForOutcomesAsync(CancellationToken cancellationToken)
            {
                List<InFlight> items;
                lock (_inFlight)
                {
                    items = _inFlight.ToList();
                    _inFlight.Clear();
                }
                if (items.Count == 0) return true;
                var now = _import.Session.Time.GetUtcNow();
                _deadline ??= now + _import.Timeout;
                var left = _deadline.Value - now;
                var waiter = new StatusWaiter(_import.Session, _import.Client)
                {
                    Timeout = left > TimeSpan.Zero ? left : TimeSpan.Zero, PollInterval = _import.PollInterval, MaxConcurrency = MaxStatusCalls,
                };
                var unfinished = await waiter.Loop<InFlight, string>(
                    (item, token) => _step.StatusAsync(item.MessageId, token),
                    _step.IsFinal,
                    (item, status) => SettleAsync(item, status, cancellationToken),
                    (item, last, ex) =>
                    {
                        _callbacks.OnError(item.Path, Failures.AsD365(ex, $"Reading the status of {_step.IdNoun.ToLowerInvariant()} {item.MessageId} ({item.Name}) failed; the file waits in 'pending'"));
                        Guard(item.Path, () => ToPending(item, last ?? string.Empty));
                    }).RunAsync(items, cancellationToken).ConfigureAwait(false);
                if (unfinished.Count == 0) return true;
                foreach (var (item, last) in unfinished) Guard(item.Path, () => ToPending(item, last));
                _callbacks.OnWarning($"{unfinished.Count} file(s) did not finish processing within {_import.Timeout.TotalSeconds:0} s; they wait in '{_folders[PendingFolder]}' and a later run settles them. They are never sent again.");
                return false;
            }

            private async Task SettleAsync(InFlight item, string status, CancellationToken cancellationToken)
            {
                if (_step.Succeeded(status))
                {
                    Guard(item.Path, () => MoveTo(item, Processed, ProcessedFolder, status, null, null));
                    return;
                }
                IReadOnlyList<ExecutionError> errors = Array.Empty<ExecutionError>();
                string? unavailable = null;
                try
                {
                    errors = await _step.ErrorsAsync(item.MessageId, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
                {
                    unavailable = ex.Message;
                }
                Guard(item.Path, () => MoveTo(item, Failed, FailedFolder, status, errors.Count, target =>
                    WriteErrorFile(target + ErrorFileSuffix, ErrorReport(_step.IdNoun, item, status, errors, unavailable))));
            }

            private void ToPending(InFlight item, string status)
            {
                var folder = StateFolderOf(PendingFolder, item.Name);
                if (!string.Equals(Path.GetDirectoryName(item.Path), folder, StringComparison.Ordinal))
                {
                    var target = Path.Combine(folder, FileNameOf(item.Name));
                    _journal.Append(new JournalEntry { Event = Pending, File = item.Name, Company = item.Company ?? string.Empty, MessageId = item.MessageId, Status = status, Path = target });
                    FolderFiles.Move(item.Path, target, "It stays in 'sending' with its message id in the journal; the next run settles it.");
                    item.Path = target;
                }
                Report(item.Name, item.Company, item.MessageId, status, FolderImportOutcome.Pending, item.Path, 0);
            }

            private void MoveTo(InFlight item, JournalEvent outcome, string folder, string status, int? errorCount, Action<string>? beforeJournal)
            {
                var target = FileNames.Free(StateFolderOf(folder, item.Name), FileNameOf(item.Name));
                if (!string.Equals(Path.GetFileName(target), FileNameOf(item.Name), StringComparison.Ordinal))
                    _callbacks.OnWarning($"'{folder}' already holds a file named '{item.Name}'; this one (message {item.MessageId}) is kept as '{Path.GetFileName(target)}'.");
                beforeJournal?.Invoke(target);
                var entry = _journal.Append(new JournalEntry
                {
                    Event = outcome, File = item.Name, Company = item.Company ?? string.Empty, MessageId = item.MessageId, Status = status, Path = target, ErrorCount = errorCount,
                });
                FolderFiles.Move(item.Path, target, "Its outcome is in the journal; the next run completes the move.");
                item.Path = target;
                Report(item.Name, item.Company, item.MessageId, status, entry.Outcome!.Value, target, errorCount ?? 0);
            }

            private void Report(string name, string? company, Guid? messageId, string status, FolderImportOutcome outcome, string path, int errorCount)
            {
                _callbacks.OnResult(new FolderImportResult
                {
                    FileName = FileNameOf(name),
                    Company = company,
                    MessageId = _step.AnnouncesId ? null : messageId,
                    ExecutionId = _step.AnnouncesId ? messageId?.ToString("D") ?? string.Empty : string.Empty,
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

            private static string ErrorReport(string idNoun, InFlight item, string status, IReadOnlyList<ExecutionError> errors, string? unavailable)
            {
                var text = new StringBuilder();
                text.AppendLine($"File: {item.Name}");
                if (item.Company != null) text.AppendLine($"Company: {item.Company}");
                text.AppendLine($"{idNoun} {item.MessageId} ended {status}.");
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
