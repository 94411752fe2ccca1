using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Receive-D365Dequeue: empties an export queue into a folder and emits each DequeuedMessage as soon as its file is
    /// saved. With -Acknowledge each message is acknowledged right after its file is saved (ShouldProcess asks first), never before.
    /// </summary>
    [Cmdlet(VerbsCommunications.Receive, "D365Dequeue", SupportsShouldProcess = true)]
    [OutputType(typeof(DequeuedMessage))]
    public sealed class ReceiveD365DequeueCommand : TransferCmdlet
    {
        /// <summary>The recurring export job's activity id (a GUID, with or without braces).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        public Guid ActivityId { get; set; }

        /// <summary>The folder to save files in; made if missing.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string OutputPath { get; set; } = string.Empty;

        /// <summary>Messages to take at most. Default: until the queue is empty.</summary>
        [Parameter]
        [ValidateRange(1, int.MaxValue)]
        public int MaxCount { get; set; }

        /// <summary>Overwrite a file of the same name. Otherwise a free name such as 'name (2).xml' is chosen.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Acknowledge each message right after its file is saved, so the service does not deliver it again.</summary>
        [Parameter]
        public SwitchParameter Acknowledge { get; set; }

        /// <summary>Acknowledge each message whose file is gone from the service's storage (ExportFileMissing), with a warning, so it stops coming back.</summary>
        [Parameter]
        public SwitchParameter AcknowledgeMissing { get; set; }

        protected override void End()
        {
            // Relative to the PowerShell location, not the process's working folder, which PowerShell does not move.
            var folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(OutputPath);
            var drain = new QueueDrain(ActiveSession, Client, ActivityId)
            {
                OutputPath = folder,
                MaxCount = MyInvocation.BoundParameters.ContainsKey(nameof(MaxCount)) ? MaxCount : (int?)null,
                Overwrite = Force,
                Acknowledge = Acknowledge,
                AcknowledgeMissing = AcknowledgeMissing,
                ThrottleLimit = ThrottleLimit,
            };
            var activity = string.Format(Messages.DequeueActivity, ActivityId);
            var callbacks = PostingCallbacks<DequeuedMessage>(WriteObject,
                progress => WriteProgressRecord(ProgressBar.Dequeue, activity, progress, progress.Total > 0
                    ? string.Format(Messages.DequeueStatusOf, progress.Completed, progress.Total)
                    : string.Format(Messages.DequeueStatus, progress.Completed)),
                confirm: Acknowledge || AcknowledgeMissing);
            // Only a failing dequeue or an unusable folder ends it: nothing more can be taken off the queue.
            RunWithProgress(token => drain.RunAsync(callbacks, token), ActivityId, ProgressBar.Dequeue, activity);
        }
    }
}
