using System;
using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Get-D365ExecutionStatus: the summary status and page URL of package executions; -Wait polls each to a final status,
    /// treating "Execution details were not found" right after the start as not started yet.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "D365ExecutionStatus")]
    [OutputType(typeof(PackageExecution))]
    public sealed class GetD365ExecutionStatusCommand : D365Cmdlet
    {
        private DataPackageClient? _packages;

        /// <summary>Execution ids from Import-D365DataPackage or Export-D365DataPackage (binds their ExecutionId property).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ExecutionId { get; set; } = Array.Empty<string>();

        /// <summary>Poll until each execution is Succeeded, PartiallySucceeded, Failed or Canceled, or -TimeoutSeconds pass.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        /// <summary>With -Wait: how long to wait for each execution at most, in seconds. Default 1800.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSeconds { get; set; } = 1800;

        /// <summary>With -Wait: seconds between polls. Default 5.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int PollIntervalSeconds { get; set; } = 5;

        protected override void Begin()
        {
            base.Begin();
            _packages = new DataPackageClient(ActiveSession, PostVerbose);
        }

        protected override void Process()
        {
            var jobs = new PackageJobs(_packages!) { Timeout = TimeSpan.FromSeconds(TimeoutSeconds), PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds) };
            foreach (var id in ExecutionId)
            {
                var execution = new PackageExecution { ExecutionId = id.Trim(), Environment = ActiveSession.Environment };
                if (Wait)
                {
                    ImportD365DataPackageCommand.WaitAndWrite(this, jobs, execution);
                    continue;
                }
                PackageExecution? current = null;
                if (RunForItem(id, async token => current = await jobs.GetStatusAsync(execution, token).ConfigureAwait(false))) WriteObject(current);
            }
        }

        protected override void End() => _packages?.Dispose();
    }
}
