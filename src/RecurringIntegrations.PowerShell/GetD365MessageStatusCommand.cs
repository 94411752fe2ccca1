using System;
using System.Collections.Generic;
using System.Management.Automation;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Get-D365MessageStatus: one MessageStatus per message. Without -Wait each id is read as it arrives; with -Wait all ids
    /// are collected and waited for together, each emitted the moment it is terminal. On timeout the last status of each
    /// unfinished message is emitted, followed by one StatusWaitTimeout error naming them.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "D365MessageStatus")]
    [OutputType(typeof(MessageStatus))]
    public sealed class GetD365MessageStatusCommand : D365Cmdlet
    {
        private const int ProgressId = 3;
        private readonly List<Guid> _collected = new List<Guid>();

        /// <summary>Message ids from Send-D365Enqueue (binds its MessageId property).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public Guid[] MessageId { get; set; } = Array.Empty<Guid>();

        /// <summary>Poll until every message reaches a terminal status (Processed, ProcessedWithErrors, PreProcessingError, PostProcessingFailed, PostProcessingError) or -TimeoutSeconds pass.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: how long to wait at most, in seconds. Default 600.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSeconds { get; set; } = 600;

        /// <summary>With -Wait: seconds between polls. Default 5.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int PollIntervalSeconds { get; set; } = 5;

        protected override void ProcessRecord()
        {
            if (Wait)
            {
                _collected.AddRange(MessageId);
                return;
            }
            var waiter = new StatusWaiter(ActiveSession, Client);
            foreach (var id in MessageId)
            {
                MessageStatus? status = null;
                if (RunForItem(id, async token => status = await waiter.GetAsync(id, token).ConfigureAwait(false))) WriteObject(status);
            }
        }

        protected override void EndProcessing()
        {
            if (!Wait || _collected.Count == 0) return;
            var waiter = new StatusWaiter(ActiveSession, Client)
            {
                Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
                PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds),
            };
            var activity = string.Format(Messages.StatusActivity, _collected.Count);
            var callbacks = PostingCallbacks<MessageStatus>(WriteObject,
                progress => WriteProgressRecord(ProgressId, activity, progress, string.Format(Messages.StatusStatus, progress.Completed, progress.Total)),
                confirm: false);
            try
            {
                Run(token => waiter.RunAsync(_collected, callbacks, token));
            }
            finally
            {
                CompleteProgress(ProgressId, activity);
            }
        }
    }
}
