using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Packages;

namespace RecurringIntegrations.Core.Folders
{
    /// <summary>
    /// How a file of an inbox reaches the service and how its outcome is read: enqueued to a recurring job
    /// (<see cref="EnqueueStep"/>) or imported as a data package (<see cref="PackageStep"/>). <see cref="FolderImport"/> keeps
    /// the states, the journal and the crash safety; the step only talks to the service.
    /// </summary>
    internal abstract class ImportStep
    {
        /// <summary>The status of an execution the service has no record of (yet).</summary>
        public const string NotKnown = "Unknown";

        /// <summary>What -WhatIf and -Confirm say for each file.</summary>
        public abstract string ActionText { get; }
        /// <summary>What the id of a sent file is called in texts: "Message" or "Execution".</summary>
        public abstract string IdNoun { get; }
        /// <summary>
        /// The step chooses the id itself and has it journalled (Importing) before the call that starts work: a run that
        /// stopped before that line started nothing, and one that stopped after it can ask the service about the id.
        /// </summary>
        public abstract bool AnnouncesId { get; }
        /// <summary>The service takes one at a time: the next file is sent only once the one before is final.</summary>
        public abstract bool OneAtATime { get; }

        /// <summary>Why this step cannot send the file at all (it stays in the inbox), or null.</summary>
        public virtual D365Exception? Refuse(string path) => null;

        /// <summary>Sends the file (<paramref name="name"/>, its external identifier; <paramref name="company"/>, null for the step's own); <paramref name="announce"/> gets the id before the call that starts work when <see cref="AnnouncesId"/>.</summary>
        public abstract Task<Guid> SendAsync(string path, string name, string? company, Action<Guid> announce, CancellationToken cancellationToken);
        public abstract Task<string> StatusAsync(Guid id, CancellationToken cancellationToken);
        public abstract bool IsFinal(string status);
        public abstract bool Succeeded(string status);
        public abstract Task<IReadOnlyList<ExecutionError>> ErrorsAsync(Guid id, CancellationToken cancellationToken);
        /// <summary>The error of a file moved to 'unconfirmed': it may or may not have reached the service.</summary>
        public abstract D365Exception Unconfirmed(string name, string target, string reason, Guid? id);
    }

    /// <summary>A file enqueued to a recurring job; its outcome is the message status.</summary>
    internal sealed class EnqueueStep(D365Client client, Guid activityId, string? entityName) : ImportStep
    {
        public override string ActionText => "Enqueue to activity " + activityId.ToString("D");
        public override string IdNoun => "Message";
        public override bool AnnouncesId => false;
        public override bool OneAtATime => false;

        public override Task<Guid> SendAsync(string path, string name, string? company, Action<Guid> announce, CancellationToken cancellationToken) =>
            client.EnqueueAsync(activityId, path, entityName, company, name, cancellationToken);

        public override Task<string> StatusAsync(Guid id, CancellationToken cancellationToken) => client.GetMessageStatusAsync(id, cancellationToken);
        public override bool IsFinal(string status) => MessageStatus.IsTerminalStatus(status);
        public override bool Succeeded(string status) => string.Equals(status, "Processed", StringComparison.OrdinalIgnoreCase);

        public override Task<IReadOnlyList<ExecutionError>> ErrorsAsync(Guid id, CancellationToken cancellationToken) =>
            MessageQueries.ExecutionErrorsOfMessageAsync(client, id, cancellationToken);

        public override D365Exception Unconfirmed(string name, string target, string reason, Guid? id) =>
            ErrorCatalog.EnqueueOutcomeUnknown.Create(
                $"'{name}' may or may not have reached the service ({reason}). It was moved to '{target}' and will not be sent again automatically.",
                $" Look for the external identifier '{name}' there; if it is not there, move the file back into the inbox to send it again.");
    }

    /// <summary>
    /// A data package uploaded to the blob GetAzureWriteUrl hands out and imported with ImportFromPackageAsync under an
    /// execution id chosen here (a GUID), so a run that lost the answer can ask about it; its outcome is the execution's
    /// summary status. The service refuses a second import of a data project while one runs, so packages go one at a time.
    /// A data file that is not a package is wrapped into one for <see cref="EntityName"/>, or refused without it.
    /// </summary>
    internal sealed class PackageStep(D365Client client, DataPackageClient packages, string definitionGroupId, string legalEntityId) : ImportStep
    {
        public string? EntityName { get; set; }
        public string? SourceFormat { get; set; }

        public override string ActionText => $"Import as a data package into data project '{definitionGroupId}', company '{legalEntityId}'";
        public override string IdNoun => "Execution";
        public override bool AnnouncesId => true;
        public override bool OneAtATime => true;

        private bool BuildsPackage(string path) =>
            !string.Equals(Path.GetExtension(path), ".zip", StringComparison.OrdinalIgnoreCase) && !string.IsNullOrWhiteSpace(EntityName);

        /// <summary>A .zip that is not a package, or a data file without <see cref="EntityName"/> and <see cref="SourceFormat"/>; also a file that cannot be read.</summary>
        public override D365Exception? Refuse(string path)
        {
            if (BuildsPackage(path))
                return string.IsNullOrWhiteSpace(SourceFormat) ? ErrorCatalog.PackageSourceFormatMissing.Create(path) : null;
            try
            {
                DataPackages.EnsureIsPackage(path);
                return null;
            }
            catch (D365Exception ex) when (ex.Entry == ErrorCatalog.NotADataPackage && !string.Equals(Path.GetExtension(path), ".zip", StringComparison.OrdinalIgnoreCase))
            {
                return ErrorCatalog.PackageInboxRawFile.Create(path, definitionGroupId);
            }
            catch (D365Exception ex)
            {
                return ex;
            }
        }

        public override async Task<Guid> SendAsync(string path, string name, string? company, Action<Guid> announce, CancellationToken cancellationToken)
        {
            string? built = null;
            try
            {
                var package = path;
                if (BuildsPackage(path))
                {
                    // Built outside the inbox: a run that stops here leaves nothing in 'sending' but the data file itself.
                    built = Path.Combine(Path.GetTempPath(), "ri-" + Guid.NewGuid().ToString("N") + ".zip");
                    DataPackages.Create(new DataPackageRequest(new[] { new PackageEntity(path) { EntityName = EntityName, SourceFormat = SourceFormat } }, built)
                    {
                        DefinitionGroupName = definitionGroupId,
                    });
                    package = built;
                }
                var length = Files.FileChecks.ReadableFileLength(package);
                var (_, blobUrl) = await packages.GetAzureWriteUrlAsync(Path.GetFileNameWithoutExtension(name) + "-" + Guid.NewGuid().ToString("N") + ".zip",
                    cancellationToken).ConfigureAwait(false);
                await packages.Storage.UploadAsync(blobUrl, package, length, PackageImportRequest.DefaultBlockConcurrency, null, cancellationToken).ConfigureAwait(false);
                var executionId = Guid.NewGuid();
                announce(executionId);
                await packages.ImportFromPackageAsync(blobUrl, definitionGroupId, executionId.ToString("D"), true, false, legalEntityId, cancellationToken)
                    .ConfigureAwait(false);
                return executionId;
            }
            finally
            {
                if (built != null) DeleteBuilt(built);
            }
        }

        /// <summary>The package built for a data file is a copy in the temp folder: one left behind (held by a scanner) costs nothing but space.</summary>
        private static void DeleteBuilt(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // Left for the temp folder's cleanup.
            }
        }

        /// <summary>"Execution details were not found" (or "Bad request") is how the service answers an id it has no record of, one it never got as one
        /// not registered yet: both read as <see cref="ImportStep.NotKnown"/>, as does its own Unknown.</summary>
        public override async Task<string> StatusAsync(Guid id, CancellationToken cancellationToken)
        {
            try
            {
                var status = await packages.GetExecutionSummaryStatusAsync(id.ToString("D"), cancellationToken).ConfigureAwait(false);
                return status.Length == 0 ? NotKnown : status;
            }
            catch (D365Exception ex) when (PackageJobs.IsNotFoundYet(ex))
            {
                return NotKnown;
            }
        }

        public override bool IsFinal(string status) => PackageExecution.IsTerminalStatus(status);
        public override bool Succeeded(string status) => string.Equals(status, "Succeeded", StringComparison.OrdinalIgnoreCase);

        public override Task<IReadOnlyList<ExecutionError>> ErrorsAsync(Guid id, CancellationToken cancellationToken) =>
            client.GetExecutionErrorsAsync(id.ToString("D"), cancellationToken);

        public override D365Exception Unconfirmed(string name, string target, string reason, Guid? id) =>
            ErrorCatalog.PackageOutcomeUnknown.Create(
                id.HasValue ? $"ImportFromPackage of '{name}' as execution {id.Value:D}" : $"ImportFromPackage of '{name}'", reason,
                $"once; the file was moved to '{target}' and is not imported again automatically (Get-D365ExecutionStatus -ExecutionId tells whether the service has it)");
    }
}
