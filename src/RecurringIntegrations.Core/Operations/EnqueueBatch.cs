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
    /// above 1, that many at once. Each file stands alone: one that is missing, empty or refused is reported and the rest go on.
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

            using var slots = new SemaphoreSlim(ThrottleLimit);
            var uploads = new List<Task>(files.Count);
            foreach (var file in files)
            {
                // Waiting here, not inside the task, keeps at most ThrottleLimit uploads (and their open files) alive at once.
                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                uploads.Add(Task.Run(async () =>
                {
                    try
                    {
                        await UploadAsync(file, callbacks, cancellationToken).ConfigureAwait(false);
                        callbacks.OnProgress(Interlocked.Increment(ref completed), files.Count, file.Path);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }, cancellationToken));
            }
            await Task.WhenAll(uploads).ConfigureAwait(false);
        }

        private async Task UploadAsync(EnqueueRequest file, OperationCallbacks<EnqueuedMessage> callbacks, CancellationToken cancellationToken)
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
}
