using System.Management.Automation;
using RecurringIntegrations.Core.Model;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Get-D365ExecutionStatus: the summary status and page URL of package executions; -Wait polls each to a final status,
    /// treating "Execution details were not found" right after the start as not started yet.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "D365ExecutionStatus")]
    [OutputType(typeof(PackageExecution))]
    public sealed class GetD365ExecutionStatusCommand : PackageCmdlet
    {
        /// <summary>Execution ids from Import-D365DataPackage or Export-D365DataPackage (binds their ExecutionId property).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ExecutionId { get; set; } = Array.Empty<string>();

        /// <summary>Poll until each execution is Succeeded, PartiallySucceeded, Failed or Canceled, or -TimeoutSeconds pass.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        protected override void Process()
        {
            var jobs = Jobs();
            foreach (var id in ExecutionId)
            {
                var execution = new PackageExecution { ExecutionId = id.Trim(), Environment = ActiveSession.Environment };
                if (Wait)
                {
                    WaitAndWrite(jobs, execution);
                    continue;
                }
                PackageExecution? current = null;
                if (RunForItem(id, async token => current = await jobs.GetStatusAsync(execution, token).ConfigureAwait(false))) WriteObject(current);
            }
        }
    }
}
