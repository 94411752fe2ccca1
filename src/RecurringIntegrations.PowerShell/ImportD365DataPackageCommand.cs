using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Import-D365DataPackage: checks that each file is a data package, uploads it to the blob the service hands out (no
    /// token goes there), and starts ImportFromPackage. Emits one PackageExecution per package; with -Wait, once it is final.
    /// </summary>
    [Cmdlet(VerbsData.Import, "D365DataPackage", SupportsShouldProcess = true)]
    [OutputType(typeof(PackageExecution))]
    public sealed class ImportD365DataPackageCommand : PackageCmdlet
    {

        /// <summary>The package zip (New-D365DataPackage output and Get-ChildItem output bind).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = string.Empty;

        /// <summary>The data project's name (the service calls it definitionGroupId). A package for a project that does not exist yet creates it.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string DefinitionGroupId { get; set; } = string.Empty;

        /// <summary>The company to import into, for example usmf.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string LegalEntityId { get; set; } = string.Empty;

        /// <summary>Your own execution id for this run; default: the service makes one.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ExecutionId { get; set; }

        /// <summary>Replace the data project's entities and mappings with the package's. Must be off when the package holds a composite entity.</summary>
        [Parameter]
        public SwitchParameter Overwrite { get; set; }

        /// <summary>
        /// Blocks of a package above 64 MiB uploaded at once, 1 to 16 (default 4). Each block in flight holds 4 MiB of memory;
        /// more help over a link with latency, 1 sends them one after the other.
        /// </summary>
        [Parameter]
        [ValidateRange(PackageImportRequest.MinBlockConcurrency, PackageImportRequest.MaxBlockConcurrency)]
        public int BlockConcurrency { get; set; } = PackageImportRequest.DefaultBlockConcurrency;

        /// <summary>Poll until the execution is Succeeded, PartiallySucceeded, Failed or Canceled, or -TimeoutSeconds pass.</summary>
        [Parameter]
        public SwitchParameter Wait { get; set; }

        protected override void Begin()
        {
            base.Begin();
            WarnIfStorageCertificateUnchecked();
        }

        protected override void Process()
        {
            var path = GetUnresolvedProviderPathFromPSPath(Path);
            var jobs = Jobs();
            try
            {
                // Checked before ShouldProcess too, so -WhatIf already says when the file is not a package.
                DataPackages.EnsureIsPackage(path);
            }
            catch (D365Exception ex)
            {
                WriteError(ToErrorRecord(ex, path));
                return;
            }
            if (!ShouldProcess(path, string.Format(PackageMessages.ImportAction, DefinitionGroupId, LegalEntityId))) return;

            var activity = string.Format(PackageMessages.UploadActivity, System.IO.Path.GetFileName(path));
            PackageExecution? execution = null;
            var request = new PackageImportRequest(path, DefinitionGroupId, LegalEntityId) { ExecutionId = ExecutionId, Overwrite = Overwrite, BlockConcurrency = BlockConcurrency };
            try
            {
                if (!RunForItem(path, async token => execution = await jobs.ImportAsync(request,
                        (sent, total) => Bridge.Post(() => WriteProgress(new ProgressRecord((int)ProgressBar.PackageUpload, activity,
                            string.Format(PackageMessages.UploadStatus, sent / 1048576.0, total / 1048576.0)) { PercentComplete = (int)(sent * 100 / Math.Max(1, total)) })),
                        token).ConfigureAwait(false)))
                    return;
            }
            finally
            {
                CompleteProgress(ProgressBar.PackageUpload, activity);
            }
            if (!Wait)
            {
                WriteObject(execution);
                return;
            }
            WaitAndWrite(jobs, execution!);
        }
    }
}
