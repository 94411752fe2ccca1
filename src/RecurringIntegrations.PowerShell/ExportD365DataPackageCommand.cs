using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Export-D365DataPackage: runs ExportToPackage for a data project, waits for it, downloads the package (without the
    /// token) and saves it atomically in -OutputPath. Emits the PackageExecution with Path of the saved zip.
    /// </summary>
    [Cmdlet(VerbsData.Export, "D365DataPackage", SupportsShouldProcess = true)]
    [OutputType(typeof(PackageExecution))]
    public sealed class ExportD365DataPackageCommand : PackageCmdlet
    {

        /// <summary>The data project to export (its name).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string DefinitionGroupId { get; set; } = string.Empty;

        /// <summary>The company to export from, for example usmf.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string LegalEntityId { get; set; } = string.Empty;

        /// <summary>The folder to save the package in; created if missing.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string OutputPath { get; set; } = string.Empty;

        /// <summary>The package's name (and file name, .zip added). Default: the data project's name.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PackageName { get; set; }

        /// <summary>Also unpack the package into a folder of its name beside the zip.</summary>
        [Parameter]
        public SwitchParameter Expand { get; set; }

        /// <summary>Replace a package of the same name in -OutputPath.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Begin()
        {
            base.Begin();
            WarnIfStorageCertificateUnchecked();
        }

        protected override void Process()
        {
            var folder = GetUnresolvedProviderPathFromPSPath(OutputPath);
            if (!ShouldProcess(folder, string.Format(PackageMessages.ExportAction, DefinitionGroupId, LegalEntityId))) return;
            var jobs = Jobs();
            var request = new PackageExportRequest(DefinitionGroupId, LegalEntityId, folder) { PackageName = PackageName, Overwrite = Force, Expand = Expand };
            var activity = string.Format(PackageMessages.ExportActivity, DefinitionGroupId);
            WriteProgress(new ProgressRecord((int)ProgressBar.PackageExport, activity, PackageMessages.ExportStatus));
            PackageExecution? execution = null;
            try
            {
                if (RunForItem(DefinitionGroupId, async token => execution = await jobs.ExportAsync(request, token).ConfigureAwait(false)))
                    WriteObject(execution);
            }
            finally
            {
                CompleteProgress(ProgressBar.PackageExport, activity);
            }
        }
    }
}
