using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Confirm-D365Ack: acknowledges dequeued messages so the service stops redelivering them. Takes the DequeuedMessage
    /// objects of Receive-D365Dequeue, or any object with the same property names (Import-Csv of a saved list).
    /// </summary>
    [Cmdlet(VerbsLifecycle.Confirm, "D365Ack", DefaultParameterSetName = InputObjectSet, SupportsShouldProcess = true)]
    [OutputType(typeof(DequeuedMessage))]
    public sealed class ConfirmD365AckCommand : D365Cmdlet
    {
        public const string InputObjectSet = "InputObject";
        public const string PropertiesSet = "Properties";

        /// <summary>A message from Receive-D365Dequeue; -PassThru emits this same object with Acknowledged set.</summary>
        [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
        [ValidateNotNull]
        public DequeuedMessage? InputObject { get; set; }

        /// <summary>The export job's activity id.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PropertiesSet, ValueFromPipelineByPropertyName = true)]
        public Guid ActivityId { get; set; }

        /// <summary>The message's correlation id from the dequeue.</summary>
        [Parameter(Mandatory = true, ParameterSetName = PropertiesSet, ValueFromPipelineByPropertyName = true)]
        public Guid CorrelationId { get; set; }

        /// <summary>The pop receipt from the dequeue.</summary>
        [Parameter(ParameterSetName = PropertiesSet, ValueFromPipelineByPropertyName = true)]
        public string? PopReceipt { get; set; }

        /// <summary>The download location from the dequeue.</summary>
        [Parameter(ParameterSetName = PropertiesSet, ValueFromPipelineByPropertyName = true)]
        public string? DownloadLocation { get; set; }

        /// <summary>The original dequeue answer; sent unchanged when present (the documented ack), else a body is built from the other properties.</summary>
        [Parameter(ParameterSetName = PropertiesSet, ValueFromPipelineByPropertyName = true)]
        public string? DequeueResponse { get; set; }

        /// <summary>Emit each acknowledged message (Acknowledged = true).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void Process()
        {
            var message = InputObject ?? new DequeuedMessage
            {
                ActivityId = ActivityId,
                CorrelationId = CorrelationId,
                PopReceipt = PopReceipt ?? string.Empty,
                DownloadLocation = DownloadLocation ?? string.Empty,
                DequeueResponse = DequeueResponse ?? string.Empty,
                Environment = ActiveSession.Environment,
            };
            string body;
            try
            {
                body = MessageQueries.AckBody(message.CorrelationId, message.PopReceipt, message.DownloadLocation, message.DequeueResponse);
            }
            catch (D365Exception ex)
            {
                WriteError(ToErrorRecord(ex, message));
                return;
            }
            var target = string.IsNullOrEmpty(message.Path) ? message.CorrelationId.ToString("D") : message.Path;
            if (!ShouldProcess(target, string.Format(Messages.AckAction, message.ActivityId))) return;

            if (!RunForItem(message, token => Client.AcknowledgeAsync(message.ActivityId, body, token))) return;
            message.Acknowledged = true;
            if (PassThru) WriteObject(message);
        }
    }
}
