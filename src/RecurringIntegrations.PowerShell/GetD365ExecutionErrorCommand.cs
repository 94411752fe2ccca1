using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Get-D365ExecutionError: the errors of a message's execution, one flat object per error (every field the service
    /// gave is a property, so Export-Csv writes them all), nothing when there are none. Each error names its file when the
    /// input knows it (FileName, by property name).
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "D365ExecutionError", DefaultParameterSetName = ByMessageIdSet)]
    [OutputType(PSTypeNames.ExecutionError)]
    [OutputType(typeof(ErrorKeysFile), ParameterSetName = new[] { ByExecutionIdSet })]
    public sealed class GetD365ExecutionErrorCommand : D365Cmdlet
    {
        public const string ByMessageIdSet = "ByMessageId";
        public const string ByExecutionIdSet = "ByExecutionId";
        private static readonly HashSet<string> FixedProperties = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            nameof(ExecutionError.FileName), nameof(ExecutionError.MessageId), nameof(ExecutionError.ExecutionId), nameof(ExecutionError.Index),
            nameof(ExecutionError.EntityName), nameof(ExecutionError.ErrorMessage), nameof(ExecutionError.ErrorFile),
        };

        /// <summary>Message ids from Send-D365Enqueue or Get-D365MessageStatus (binds their MessageId property).</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByMessageIdSet, ValueFromPipelineByPropertyName = true)]
        public Guid[] MessageId { get; set; } = Array.Empty<Guid>();

        /// <summary>Execution ids of the data management framework, when already known; binds the ExecutionId of Import-D365DataPackage and Get-D365ExecutionStatus output.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByExecutionIdSet, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ExecutionId { get; set; } = Array.Empty<string>();

        /// <summary>The message's file name, copied into each error (binds the FileName of Send-D365Enqueue's or Get-D365MessageStatus's output).</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string? FileName { get; set; }

        /// <summary>With -ExecutionId of a package import: also save this entity's error file (-ErrorFile) in -OutputPath.</summary>
        [Parameter(ParameterSetName = ByExecutionIdSet)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(EntityNameCompleter))]
        public string? EntityName { get; set; }

        /// <summary>With -EntityName: Staging saves the rows that failed before they reached the target (the file to open first); Target (the default) the keys of the records that failed in the target.</summary>
        /// <remarks>A string, not Core's enum: a value-type field of a Core type would load Core when PowerShell first reflects over
        /// the cmdlets, before the module has set up where Core comes from.</remarks>
        [Parameter(ParameterSetName = ByExecutionIdSet)]
        [ValidateSet(nameof(ErrorFileKind.Staging), nameof(ErrorFileKind.Target), IgnoreCase = true)]
        public string ErrorFile { get; set; } = nameof(ErrorFileKind.Target);

        /// <summary>With -EntityName: the folder for the error file. Default: the current folder.</summary>
        [Parameter(ParameterSetName = ByExecutionIdSet)]
        [ValidateNotNullOrEmpty]
        public string? OutputPath { get; set; }

        protected override void Process()
        {
            if (ParameterSetName == ByExecutionIdSet)
            {
                foreach (var id in ExecutionId)
                {
                    IReadOnlyList<ExecutionError> errors = Array.Empty<ExecutionError>();
                    if (RunForItem(id, async token => errors = await Client.GetExecutionErrorsAsync(id, token).ConfigureAwait(false))) Emit(errors);
                    if (EntityName != null) EmitErrorKeysFile(id, EntityName);
                }
                return;
            }
            foreach (var id in MessageId)
            {
                IReadOnlyList<ExecutionError> errors = Array.Empty<ExecutionError>();
                if (RunForItem(id, async token => errors = await MessageQueries.ExecutionErrorsOfMessageAsync(Client, id, token).ConfigureAwait(false))) Emit(errors);
            }
        }

        private void EmitErrorKeysFile(string executionId, string entityName)
        {
            var folder = GetUnresolvedProviderPathFromPSPath(OutputPath ?? ".");
            var packages = new DataPackageClient(ActiveSession, VerboseLines);
            if (ActiveSession.SkipCertificateCheck) WriteWarning(PackageMessages.StorageSkipCertificateCheckWarning);
            ErrorKeysFile? file = null;
            // The keys file is small: the service usually has it within seconds.
            var jobs = new PackageJobs(packages) { PollInterval = TimeSpan.FromSeconds(1) };
            if (!RunForItem(executionId, async token => file = await jobs.GetErrorFileAsync(Kind, executionId, entityName, folder, token).ConfigureAwait(false)))
                return;
            if (file is null)
                WriteVerbose(string.Format(PackageMessages.NoErrorFile, Kind, entityName, executionId));
            else
                WriteObject(file);
        }

        private ErrorFileKind Kind => string.Equals(ErrorFile, nameof(ErrorFileKind.Staging), StringComparison.OrdinalIgnoreCase) ? ErrorFileKind.Staging : ErrorFileKind.Target;

        private void Emit(IReadOnlyList<ExecutionError> errors)
        {
            var fileName = string.IsNullOrWhiteSpace(FileName) ? null : FileName;
            foreach (var error in errors)
            {
                error.FileName = fileName;
                WriteObject(ToFlatObject(error));
            }
        }

        /// <summary>The service's error fields are undocumented and vary: each becomes a note property after the fixed ones.</summary>
        private static PSObject ToFlatObject(ExecutionError error)
        {
            var result = new PSObject();
            result.TypeNames.Insert(0, PSTypeNames.ExecutionError);
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.FileName), error.FileName));
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.MessageId), error.MessageId));
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.ExecutionId), error.ExecutionId));
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.Index), error.Index));
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.EntityName), error.EntityName));
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.ErrorMessage), error.ErrorMessage));
            result.Properties.Add(new PSNoteProperty(nameof(ExecutionError.ErrorFile), error.ErrorFile));
            foreach (var field in error.Fields)
                if (!FixedProperties.Contains(field.Key) && result.Properties[field.Key] is null)
                    result.Properties.Add(new PSNoteProperty(field.Key, field.Value));
            return result;
        }
    }
}
