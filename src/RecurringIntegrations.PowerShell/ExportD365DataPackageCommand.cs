using System;
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
    public sealed class ExportD365DataPackageCommand : D365Cmdlet
    {
        private const int ProgressId = 16;
        private DataPackageClient? _packages;

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

        /// <summary>How long to wait for the export and its package, in seconds. Default 1800.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int TimeoutSeconds { get; set; } = 1800;

        /// <summary>Seconds between polls. Default 5.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int PollIntervalSeconds { get; set; } = 5;

        /// <summary>Also unpack the package into a folder of its name beside the zip.</summary>
        [Parameter]
        public SwitchParameter Expand { get; set; }

        /// <summary>Replace a package of the same name in -OutputPath.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void Begin()
        {
            base.Begin();
            _packages = new DataPackageClient(ActiveSession, PostVerbose);
            // The storage host is another server: the session's choice to skip certificate checks reaches it too, and is said again.
            if (ActiveSession.SkipCertificateCheck) WriteWarning(PackageMessages.StorageSkipCertificateCheckWarning);
        }

        protected override void Process()
        {
            var folder = GetUnresolvedProviderPathFromPSPath(OutputPath);
            if (!ShouldProcess(folder, string.Format(PackageMessages.ExportAction, DefinitionGroupId, LegalEntityId))) return;
            var jobs = new PackageJobs(_packages!) { Timeout = TimeSpan.FromSeconds(TimeoutSeconds), PollInterval = TimeSpan.FromSeconds(PollIntervalSeconds) };
            var request = new PackageExportRequest(DefinitionGroupId, LegalEntityId, folder) { PackageName = PackageName, Overwrite = Force, Expand = Expand };
            var activity = string.Format(PackageMessages.ExportActivity, DefinitionGroupId);
            WriteProgress(new ProgressRecord(ProgressId, activity, PackageMessages.ExportStatus));
            PackageExecution? execution = null;
            try
            {
                if (RunForItem(DefinitionGroupId, async token => execution = await jobs.ExportAsync(request, token).ConfigureAwait(false)))
                    WriteObject(execution);
            }
            finally
            {
                CompleteProgress(ProgressId, activity);
            }
        }

        protected override void End() => _packages?.Dispose();
    }
}
