using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// Empties an export queue into a folder: dequeue, download (to a partial file moved into place when complete),
    /// optionally acknowledge, report. A message is acknowledged only after its file is saved, so a failed download is
    /// never lost: the service redelivers it after its visibility timeout (30 minutes).
    /// </summary>
    public sealed class QueueDrain : ActivityOperation
    {
        /// <summary>The drain's stop rule: see <see cref="DrainLoop.MaxFailuresInARow"/>.</summary>
        public const int MaxConsecutiveFailures = DrainLoop.MaxFailuresInARow;

        public QueueDrain(D365Session session, D365Client client, Guid activityId)
            : base(session, client, activityId)
        {
        }

        public string OutputPath { get; set; } = ".";
        /// <summary>Messages to take at most; null drains until the queue answers empty.</summary>
        public int? MaxCount { get; set; }
        /// <summary>Replace a file of the same name; otherwise a free name "name (2).ext" is chosen.</summary>
        public bool Overwrite { get; set; }
        public bool Acknowledge { get; set; }
        /// <summary>Acknowledge a message whose file is gone (ExportFileMissing) instead of leaving it on the queue, with a warning.</summary>
        public bool AcknowledgeMissing { get; set; }

        public string AckActionText => "Acknowledge on activity " + ActivityId.ToString("D");

        /// <summary>
        /// Drains the queue through the <see cref="DrainLoop"/> (its stop rule ends it). Each saved message is reported once,
        /// after its ack when <see cref="Acknowledge"/> is set, so its Acknowledged flag is true to the service. A failed
        /// download or ack is reported as an error on the message and the drain goes on. A correlation id that comes back a
        /// second time in this run (a redelivery: only failed messages are redelivered) ends it. A failing dequeue ends it
        /// with that exception. With a <see cref="ThrottleLimit"/> above 1, that many workers each take one message at a time.
        /// </summary>
        public async Task RunAsync(OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (callbacks is null) throw new ArgumentNullException(nameof(callbacks));
            if (MaxCount is { } max && max < 1) throw new ArgumentOutOfRangeException(nameof(MaxCount), max, "MaxCount is at least 1.");
            CheckThrottleLimit();
            var directory = FileChecks.PrepareOutputDirectory(OutputPath);
            var loop = new DrainLoop(Client, ActivityId, MaxCount, callbacks.OnWarning);
            await loop.RunAsync(ThrottleLimit, (message, first, token) => HandleAsync(loop, directory, message, first, callbacks, token), cancellationToken)
                .ConfigureAwait(false);
        }

        private async Task<DrainStep> HandleAsync(DrainLoop loop, string directory, DequeueResult message, bool firstSighting,
            OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (!firstSighting)
            {
                loop.StopBecause($"Message {message.CorrelationId} came back a second time in this run (it failed earlier and was redelivered); stopping here so a failing message is not retried forever. It stays on the queue.");
                return DrainStep.Stop;
            }
            callbacks.OnProgress(loop.Finished, loop.Total, message.CorrelationId.ToString("D"));

            SavedFile saved;
            try
            {
                saved = await Client.DownloadAsync(message, directory, Overwrite, cancellationToken).ConfigureAwait(false);
            }
            catch (D365Exception ex) when (ex.Entry == ErrorCatalog.ExportFileMissing)
            {
                var missing = message.ToDequeuedMessage(Session.Environment, null);
                if (AcknowledgeMissing)
                    await AcknowledgeMissingAsync(missing, ex, callbacks, cancellationToken).ConfigureAwait(false);
                else
                    callbacks.OnError(missing, ex);
                return DrainStep.Skipped;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(message.ToDequeuedMessage(Session.Environment, null), Failures.AsD365(ex,
                    $"Downloading message {message.CorrelationId} failed; it was not acknowledged and will be redelivered"));
                return DrainStep.Failed;
            }

            var result = message.ToDequeuedMessage(Session.Environment, saved);
            if (Acknowledge) await AcknowledgeAsync(result, callbacks, cancellationToken).ConfigureAwait(false);
            callbacks.OnResult(result);
            callbacks.OnProgress(loop.FinishOne(), loop.Total, message.CorrelationId.ToString("D"));
            return DrainStep.Done;
        }

        /// <summary>A message whose file is gone, taken off the queue because the user asked for it: said once per message.</summary>
        private async Task AcknowledgeMissingAsync(DequeuedMessage message, D365Exception missing, OperationCallbacks<DequeuedMessage> callbacks,
            CancellationToken cancellationToken)
        {
            if (!await callbacks.ConfirmAsync(message.CorrelationId.ToString("D"), AckActionText, cancellationToken).ConfigureAwait(false)) return;
            try
            {
                await Client.AcknowledgeAsync(ActivityId, message.DequeueResponse, cancellationToken).ConfigureAwait(false);
                callbacks.OnWarning(MissingAcknowledged(message.CorrelationId, ActivityId, missing));
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(message, Failures.AsD365(ex,
                    $"The file of message {message.CorrelationId} is gone and acknowledging it failed; it comes back and the next run tries again"));
            }
        }

        /// <summary>The warning for a message whose file was gone and that was acknowledged on purpose.</summary>
        internal static string MissingAcknowledged(Guid correlationId, Guid activityId, D365Exception missing) =>
            $"The file of export message {correlationId} (job {activityId}) is gone" +
            (string.IsNullOrWhiteSpace(missing.ServiceMessage) ? "" : $" (the service said: {missing.ServiceMessage!.Trim()})") +
            "; it was acknowledged on purpose (-AcknowledgeMissing), so the service will not deliver it again.";

        private async Task AcknowledgeAsync(DequeuedMessage message, OperationCallbacks<DequeuedMessage> callbacks, CancellationToken cancellationToken)
        {
            if (!await callbacks.ConfirmAsync(message.Path, AckActionText, cancellationToken).ConfigureAwait(false)) return;
            try
            {
                await Client.AcknowledgeAsync(ActivityId, message.DequeueResponse, cancellationToken).ConfigureAwait(false);
                message.Acknowledged = true;
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                callbacks.OnError(message, Failures.AsD365(ex,
                    $"Message {message.CorrelationId} was saved to '{message.Path}' but acknowledging it failed; pipe it to Confirm-D365Ack to try again"));
            }
        }

    }
}
