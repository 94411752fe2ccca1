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
            if (await ConfirmAsync(file, callbacks, cancellationToken).ConfigureAwait(false) is { } length)
                await SendAsync(file, length, callbacks, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Checks the file and asks -WhatIf / -Confirm; its length when it is to be sent, null when it was declined or cannot be
        /// (the error then reported). Checked before asking, so -Confirm is never offered a file that cannot be sent.
        /// </summary>
        internal async Task<long?> ConfirmAsync(EnqueueRequest file, OperationCallbacks<EnqueuedMessage> callbacks, CancellationToken cancellationToken)
        {
            try
            {
                var length = FileChecks.ReadableFileLength(file.Path);
                return await callbacks.ConfirmAsync(file.Path, ActionText, cancellationToken).ConfigureAwait(false) ? length : (long?)null;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(file.Path, Failures.AsD365(ex, $"Uploading '{file.Path}' failed"));
                return null;
            }
        }

        internal async Task SendAsync(EnqueueRequest file, long length, OperationCallbacks<EnqueuedMessage> callbacks, CancellationToken cancellationToken)
        {
            try
            {
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
    /// Uploads files as they are added, at most the throttle limit at once: <see cref="AddAsync"/> checks and confirms the
    /// file, then waits only while as many files again as the limit wait their turn (read ahead: when an upload ends, the
    /// next file starts at once, not when the producer, a pipeline, hands over another), so the first upload starts while
    /// the producer still makes the rest. Uploads start in the order files were added. Each file's outcome (its
    /// EnqueuedMessage or its error) is reported when its upload ends, or, when ordered, once every file added before it
    /// has been reported.
    /// </summary>
    public sealed class EnqueueStream
    {
        private readonly EnqueueBatch _batch;
        private readonly OperationCallbacks<EnqueuedMessage> _callbacks;
        private readonly int _total;
        private readonly CancellationToken _cancellationToken;
        /// <summary>Files added and not done: the uploads going and as many again waiting their turn.</summary>
        private readonly SemaphoreSlim _accepted;
        /// <summary>Uploads going (each with its file open).</summary>
        private readonly SemaphoreSlim _running;
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
            _accepted = new SemaphoreSlim(2 * batch.ThrottleLimit);
            _running = new SemaphoreSlim(batch.ThrottleLimit);
            _held = ordered ? new Dictionary<int, List<Action>>() : null;
        }

        /// <summary>Checks and confirms <paramref name="file"/> and queues its upload; returns when it is queued, not when it is done.</summary>
        public async Task AddAsync(EnqueueRequest file, CancellationToken cancellationToken)
        {
            if (file is null) throw new ArgumentNullException(nameof(file));
            int place;
            lock (_gate) place = _added++;
            var callbacks = Recorder(place, out var outcome);
            // Confirmed here, on the producer's turn: an upload that starts later does not wait for the pipeline thread.
            if (!(await _batch.ConfirmAsync(file, callbacks, cancellationToken).ConfigureAwait(false) is { } length))
            {
                Done(file, place, outcome);
                return;
            }
            await _accepted.WaitAsync(cancellationToken).ConfigureAwait(false);
            // The turn is asked for here, in the order files are added (a semaphore's waiters are served first come, first
            // served): uploads start in input order, whichever pool thread runs each one first.
            var turn = _running.WaitAsync(_cancellationToken);
            var upload = Task.Run(() => UploadAsync(file, length, place, callbacks, outcome, turn));
            lock (_gate) _uploads.Add(upload);
        }

        /// <summary>No more files: waits until every upload started has ended and its outcome is reported.</summary>
        public Task CompleteAsync()
        {
            lock (_gate) return Task.WhenAll(_uploads.ToArray());
        }

        private async Task UploadAsync(EnqueueRequest file, long length, int place, OperationCallbacks<EnqueuedMessage> callbacks, List<Action>? outcome,
            Task turn)
        {
            try
            {
                await turn.ConfigureAwait(false);
                try
                {
                    await _batch.SendAsync(file, length, callbacks, _cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _running.Release();
                }
                Done(file, place, outcome);
            }
            finally
            {
                _accepted.Release();
            }
        }

        /// <summary>The callbacks for the file at <paramref name="place"/>: the stream's own, or, ordered, ones that keep its outcome.</summary>
        private OperationCallbacks<EnqueuedMessage> Recorder(int place, out List<Action>? outcome)
        {
            if (_held is null)
            {
                outcome = null;
                return _callbacks;
            }
            var kept = outcome = new List<Action>();
            return new OperationCallbacks<EnqueuedMessage>
            {
                Confirm = _callbacks.Confirm,
                Warning = _callbacks.Warning,
                Result = message => kept.Add(() => _callbacks.OnResult(message)),
                Error = (target, error) => kept.Add(() => _callbacks.OnError(target, error)),
            };
        }

        /// <summary>The file is done (sent, failed or declined): counted in the progress; ordered, once every earlier file's outcome is out.</summary>
        private void Done(EnqueueRequest file, int place, List<Action>? outcome)
        {
            if (outcome is null)
            {
                Completed(file);
                return;
            }
            outcome.Add(() => Completed(file));
            Release(place, outcome);
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
