using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>One file to upload and what to tell the service about it.</summary>
    public sealed class EnqueueRequest
    {
        public EnqueueRequest(string path)
        {
            Path = path ?? throw new ArgumentNullException(nameof(path));
        }

        public string Path { get; }
        public string? EntityName { get; set; }
        public string? Company { get; set; }
        /// <summary>Sent as x-ms-dyn-externalidentifier; null sends the file name, as Microsoft's clients do.</summary>
        public string? ExternalIdentifier { get; set; }
    }

    /// <summary>
    /// Uploads files to an import activity. With a throttle limit of 1 the files go strictly one after the other, in order;
    /// above 1, that many at once (through an <see cref="EnqueueStream"/>). Each file stands alone: one that is missing, empty or refused is reported and the rest go on.
    /// </summary>
    public sealed class EnqueueBatch : ActivityOperation
    {
        public EnqueueBatch(D365Session session, D365Client client, Guid activityId)
            : base(session, client, activityId)
        {
        }

        /// <summary>The confirmation text for one file, shown by -WhatIf and -Confirm.</summary>
        public string ActionText => "Enqueue to activity " + ActivityId.ToString("D");

        /// <summary>
        /// Uploads every file; reports each EnqueuedMessage as soon as its upload is done (in file order when the throttle
        /// limit is 1) and each failure as an error on the file's path. Only cancellation ends it early.
        /// </summary>
        public async Task RunAsync(IReadOnlyList<EnqueueRequest> files, OperationCallbacks<EnqueuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (files is null) throw new ArgumentNullException(nameof(files));
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            CheckThrottleLimit();

            var completed = 0;
            callbacks.OnProgress(0, files.Count, null);
            if (ThrottleLimit == 1)
            {
                foreach (var file in files)
                {
                    await UploadAsync(file, callbacks, cancellationToken).ConfigureAwait(false);
                    callbacks.OnProgress(++completed, files.Count, file.Path);
                }
                return;
            }

            var stream = Stream(callbacks, ordered: false, total: files.Count, cancellationToken);
            foreach (var file in files) await stream.AddAsync(file, cancellationToken).ConfigureAwait(false);
            await stream.CompleteAsync().ConfigureAwait(false);
        }

        /// <summary>
        /// Starts uploading files as they come, at most <see cref="ActivityOperation.ThrottleLimit"/> at once: for a producer
        /// that is still making them (a pipeline). <paramref name="total"/> is -1 when the count is not known.
        /// </summary>
        public EnqueueStream Stream(OperationCallbacks<EnqueuedMessage> callbacks, bool ordered, int total, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            CheckThrottleLimit();
            return new EnqueueStream(this, callbacks, ordered, total, cancellationToken);
        }

        internal async Task UploadAsync(EnqueueRequest file, OperationCallbacks<EnqueuedMessage> callbacks, CancellationToken cancellationToken)
        {
            try
            {
                // Checked before asking, so -Confirm is never offered a file that cannot be sent.
                var length = FileChecks.ReadableFileLength(file.Path);
                if (!await callbacks.ConfirmAsync(file.Path, ActionText, cancellationToken).ConfigureAwait(false)) return;
                var fileName = Path.GetFileName(file.Path);
                var externalIdentifier = string.IsNullOrWhiteSpace(file.ExternalIdentifier) ? fileName : file.ExternalIdentifier;
                var messageId = await Client.EnqueueAsync(ActivityId, file.Path, file.EntityName, file.Company, externalIdentifier, cancellationToken)
                    .ConfigureAwait(false);
                callbacks.OnResult(new EnqueuedMessage
                {
                    MessageId = messageId,
                    ActivityId = ActivityId,
                    FileName = fileName,
                    Path = file.Path,
                    Length = length,
                    EntityName = file.EntityName,
                    Company = file.Company,
                    ExternalIdentifier = externalIdentifier,
                    EnqueuedAt = DateTimeOffset.Now,
                    Environment = Session.Environment,
                });
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(file.Path, Failures.AsD365(ex, $"Uploading '{file.Path}' failed"));
            }
        }
    }

    /// <summary>
    /// Uploads files as they are added, at most the throttle limit at once: <see cref="AddAsync"/> waits only for a free
    /// slot, so the first upload starts while the producer still makes the rest. Each file's outcome (its EnqueuedMessage or
    /// its error) is reported when its upload ends, or, when ordered, once every file added before it has been reported.
    /// </summary>
    public sealed class EnqueueStream
    {
        private readonly EnqueueBatch _batch;
        private readonly OperationCallbacks<EnqueuedMessage> _callbacks;
        private readonly int _total;
        private readonly CancellationToken _cancellationToken;
        private readonly SemaphoreSlim _slots;
        private readonly List<Task> _uploads = new List<Task>();
        private readonly object _gate = new object();
        /// <summary>Ordered only: outcomes of files whose earlier files are still going, by their place in the input.</summary>
        private readonly Dictionary<int, List<Action>>? _held;
        private int _added;
        private int _nextToReport;
        private int _completed;

        internal EnqueueStream(EnqueueBatch batch, OperationCallbacks<EnqueuedMessage> callbacks, bool ordered, int total, CancellationToken cancellationToken)
        {
            _batch = batch;
            _callbacks = callbacks;
            _total = total;
            _cancellationToken = cancellationToken;
            _slots = new SemaphoreSlim(batch.ThrottleLimit);
            _held = ordered ? new Dictionary<int, List<Action>>() : null;
        }

        /// <summary>Starts uploading <paramref name="file"/> once a slot is free; returns when it has started, not when it is done.</summary>
        public async Task AddAsync(EnqueueRequest file, CancellationToken cancellationToken)
        {
            if (file is null) throw new ArgumentNullException(nameof(file));
            // Waiting here, not inside the task, keeps at most ThrottleLimit uploads (and their open files) alive at once.
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            int place;
            lock (_gate) place = _added++;
            var upload = Task.Run(() => UploadAsync(file, place));
            lock (_gate) _uploads.Add(upload);
        }

        /// <summary>No more files: waits until every upload started has ended and its outcome is reported.</summary>
        public Task CompleteAsync()
        {
            lock (_gate) return Task.WhenAll(_uploads.ToArray());
        }

        private async Task UploadAsync(EnqueueRequest file, int place)
        {
            try
            {
                if (_held is null)
                {
                    await _batch.UploadAsync(file, _callbacks, _cancellationToken).ConfigureAwait(false);
                    Completed(file);
                    return;
                }
                // Ordered: the outcome is kept until every earlier file's is out.
                var outcome = new List<Action>();
                var recorder = new OperationCallbacks<EnqueuedMessage>
                {
                    Confirm = _callbacks.Confirm,
                    Warning = _callbacks.Warning,
                    Result = message => outcome.Add(() => _callbacks.OnResult(message)),
                    Error = (target, error) => outcome.Add(() => _callbacks.OnError(target, error)),
                };
                await _batch.UploadAsync(file, recorder, _cancellationToken).ConfigureAwait(false);
                outcome.Add(() => Completed(file));
                Release(place, outcome);
            }
            finally
            {
                _slots.Release();
            }
        }

        private void Completed(EnqueueRequest file) => _callbacks.OnProgress(Interlocked.Increment(ref _completed), _total, file.Path);

        /// <summary>Reports this file's outcome if every earlier one is out, and then any later ones that were waiting for it.</summary>
        private void Release(int place, List<Action> outcome)
        {
            lock (_gate)
            {
                _held![place] = outcome;
                while (_held.TryGetValue(_nextToReport, out var next))
                {
                    _held.Remove(_nextToReport++);
                    foreach (var report in next) report();
                }
            }
        }
    }
}
