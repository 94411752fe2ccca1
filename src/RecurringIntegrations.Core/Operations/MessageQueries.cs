using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>The one-call-per-item pieces behind Confirm-D365Ack and Get-D365ExecutionError.</summary>
    public static class MessageQueries
    {
        /// <summary>
        /// The ack body: the original dequeue answer unchanged when the caller still has it (the documented way), else the
        /// minimal body Microsoft's scheduler sends (a message read back from a CSV file has only its properties).
        /// </summary>
        public static string AckBody(Guid correlationId, string? popReceipt, string? downloadLocation, string? dequeueResponse)
        {
            if (!string.IsNullOrWhiteSpace(dequeueResponse)) return dequeueResponse!;
            if (string.IsNullOrWhiteSpace(popReceipt))
                throw ErrorCatalog.AckPopReceiptMissing.Create(correlationId);
            return D365Client.BuildAckBody(correlationId, popReceipt!, string.IsNullOrWhiteSpace(downloadLocation) ? null : downloadLocation);
        }

        /// <summary>
        /// The execution errors of an enqueued message, each tagged with the message id. Throws ExecutionNotStarted while the
        /// batch has not picked the message up: one clear error for that message instead of an empty answer that reads as "no errors".
        /// </summary>
        public static async Task<IReadOnlyList<ExecutionError>> ExecutionErrorsOfMessageAsync(D365Client client, Guid messageId, CancellationToken cancellationToken)
        {
            if (client is null) throw new ArgumentNullException(nameof(client));
            var executionId = await client.GetExecutionIdAsync(messageId, cancellationToken).ConfigureAwait(false);
            if (executionId is null)
                throw ErrorCatalog.ExecutionNotStarted.Create(messageId);
            var errors = await client.GetExecutionErrorsAsync(executionId, cancellationToken).ConfigureAwait(false);
            foreach (var error in errors) error.MessageId = messageId;
            return errors;
        }
    }
}
