using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Files;

namespace RecurringIntegrations.Core.Packages
{
    /// <summary>What Import-D365DataPackage needs.</summary>
    public sealed class PackageImportRequest(string path, string definitionGroupId, string legalEntityId)
    {
        /// <summary>Blocks of one package in flight at once unless told otherwise: a single stream of 4 MiB blocks waits a round trip per block.</summary>
        public const int DefaultBlockConcurrency = 4;
        public const int MinBlockConcurrency = 1;
        /// <summary>Each block in flight holds a 4 MiB buffer: 16 is 64 MiB of memory at most.</summary>
        public const int MaxBlockConcurrency = 16;

        public string Path { get; } = path;
        public string DefinitionGroupId { get; } = definitionGroupId;
        public string LegalEntityId { get; } = legalEntityId;
        /// <summary>Empty: the service makes one.</summary>
        public string? ExecutionId { get; set; }
        public bool Overwrite { get; set; }
        /// <summary>Blocks of a large package uploaded at once (1 to 16, default 4); each in flight holds a 4 MiB buffer.</summary>
        public int BlockConcurrency { get; set; } = DefaultBlockConcurrency;
    }

    /// <summary>What Export-D365DataPackage needs.</summary>
    public sealed class PackageExportRequest(string definitionGroupId, string legalEntityId, string outputPath)
    {
        public string DefinitionGroupId { get; } = definitionGroupId;
        public string LegalEntityId { get; } = legalEntityId;
        public string OutputPath { get; } = outputPath;
        /// <summary>Default: the data project's name.</summary>
        public string? PackageName { get; set; }
        public bool Overwrite { get; set; }
        /// <summary>Also unpack the saved zip into a folder of the same name beside it.</summary>
        public bool Expand { get; set; }
    }

    /// <summary>
    /// The package workflows over a <see cref="DataPackageClient"/>: import (check, upload, start), export (start, wait, fetch,
    /// save), waiting for an execution, and the error keys file.
    /// </summary>
    public sealed class PackageJobs
    {
        private readonly DataPackageClient _client;
        private readonly TimeProvider _time;

        public PackageJobs(DataPackageClient client)
        {
            _client = client ?? throw new ArgumentNullException(nameof(client));
            _time = client.Session.Time;
        }

        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1800);
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>
        /// Right after an import or export starts, the service may answer "Execution details were not found" (as 400 or 500):
        /// within this time that means "not started yet", after it, a real error.
        /// </summary>
        public TimeSpan NotFoundGrace { get; set; } = TimeSpan.FromSeconds(120);

        private string Environment => _client.Session.Environment;

        /// <summary>Checks the package, uploads it to a fresh blob and starts its import. Nothing is sent for a file that is not a package.</summary>
        public async Task<PackageExecution> ImportAsync(PackageImportRequest request, Action<long, long>? progress, CancellationToken cancellationToken)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            RequireName(request.DefinitionGroupId, ErrorCatalog.DefinitionGroupIdMissing);
            RequireName(request.LegalEntityId, ErrorCatalog.LegalEntityIdMissing);
            if (request.BlockConcurrency < PackageImportRequest.MinBlockConcurrency || request.BlockConcurrency > PackageImportRequest.MaxBlockConcurrency)
                throw ErrorCatalog.BlockConcurrencyOutOfRange.Create(request.BlockConcurrency, PackageImportRequest.MinBlockConcurrency, PackageImportRequest.MaxBlockConcurrency);
            var path = System.IO.Path.GetFullPath(request.Path);
            DataPackages.EnsureIsPackage(path);
            var length = FileChecks.ReadableFileLength(path);

            var uniqueName = System.IO.Path.GetFileNameWithoutExtension(path) + "-" + Guid.NewGuid().ToString("N") + ".zip";
            var (_, blobUrl) = await _client.GetAzureWriteUrlAsync(uniqueName, cancellationToken).ConfigureAwait(false);
            await _client.Storage.UploadAsync(blobUrl, path, length, request.BlockConcurrency, sent => progress?.Invoke(sent, length), cancellationToken).ConfigureAwait(false);
            var executionId = await _client.ImportFromPackageAsync(blobUrl, request.DefinitionGroupId.Trim(), request.ExecutionId?.Trim(), true,
                request.Overwrite, request.LegalEntityId.Trim(), cancellationToken).ConfigureAwait(false);
            return new PackageExecution
            {
                ExecutionId = executionId,
                Operation = "Import",
                DefinitionGroupId = request.DefinitionGroupId.Trim(),
                LegalEntityId = request.LegalEntityId.Trim(),
                Status = "Unknown",
                Path = path,
                Length = length,
                CheckedAt = _time.GetLocalNow(),
                Environment = Environment,
            };
        }

        /// <summary>
        /// Starts an export, waits for it, polls for the package URL, and saves the package atomically into the output folder.
        /// Throws PackageExportFailed when the export ends Failed or Canceled, ExecutionWaitTimeout when it does not end in time.
        /// </summary>
        public async Task<PackageExecution> ExportAsync(PackageExportRequest request, CancellationToken cancellationToken)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            RequireName(request.DefinitionGroupId, ErrorCatalog.DefinitionGroupIdMissing);
            RequireName(request.LegalEntityId, ErrorCatalog.LegalEntityIdMissing);
            var folder = FileChecks.PrepareOutputDirectory(request.OutputPath);
            var packageName = string.IsNullOrWhiteSpace(request.PackageName) ? request.DefinitionGroupId.Trim() : request.PackageName!.Trim();
            var fileName = DownloadFilesName(packageName);
            var target = System.IO.Path.Combine(folder, fileName);
            if (File.Exists(target) && !request.Overwrite)
                throw ErrorCatalog.PackageOutputExists.Create(target, "-OutputPath or -PackageName");

            var deadline = _time.GetUtcNow() + Timeout;
            var executionId = await _client.ExportToPackageAsync(request.DefinitionGroupId.Trim(), packageName, null, false,
                request.LegalEntityId.Trim(), cancellationToken).ConfigureAwait(false);
            var execution = new PackageExecution
            {
                ExecutionId = executionId,
                Operation = "Export",
                DefinitionGroupId = request.DefinitionGroupId.Trim(),
                LegalEntityId = request.LegalEntityId.Trim(),
                Status = "Unknown",
                Environment = Environment,
            };
            execution = await WaitAsync(execution, cancellationToken).ConfigureAwait(false);
            if (!execution.IsTerminal) throw WaitTimedOut(execution);
            if (!string.Equals(execution.Status, "Succeeded", StringComparison.OrdinalIgnoreCase) &&
                !string.Equals(execution.Status, "PartiallySucceeded", StringComparison.OrdinalIgnoreCase))
                throw ErrorCatalog.PackageExportFailed.Create(execution.DefinitionGroupId, executionId, execution.Status, execution.SummaryPageUrl ?? "the execution in Data management");

            Uri? url;
            while ((url = await _client.GetExportedPackageUrlAsync(executionId, cancellationToken).ConfigureAwait(false)) is null)
            {
                if (_time.GetUtcNow() >= deadline) throw WaitTimedOut(execution);
                await _time.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
            execution.Length = await _client.Storage.DownloadAsync(url, target, request.Overwrite, cancellationToken).ConfigureAwait(false);
            execution.Path = target;
            if (request.Expand) ZipExtractor.ExpandBeside(target, " The package was saved but not expanded; inspect it before you open it.");
            return execution;
        }

        /// <summary>The execution's summary status now (Unknown while the service has no details of it yet) and its page URL.</summary>
        public async Task<PackageExecution> GetStatusAsync(PackageExecution execution, CancellationToken cancellationToken)
        {
            if (execution is null) throw new ArgumentNullException(nameof(execution));
            var updated = Copy(execution);
            try
            {
                updated.Status = await _client.GetExecutionSummaryStatusAsync(execution.ExecutionId, cancellationToken).ConfigureAwait(false);
            }
            catch (D365Exception ex) when (IsNotFoundYet(ex))
            {
                throw ErrorCatalog.ExecutionDetailsNotFound.FromService(ex.StatusCode, ex.ServiceMessage, ex, execution.ExecutionId);
            }
            updated.IsTerminal = PackageExecution.IsTerminalStatus(updated.Status);
            updated.Succeeded = string.Equals(updated.Status, "Succeeded", StringComparison.OrdinalIgnoreCase);
            updated.CheckedAt = _time.GetLocalNow();
            if (updated.SummaryPageUrl is null)
                updated.SummaryPageUrl = await _client.GetExecutionSummaryPageUrlAsync(execution.ExecutionId, cancellationToken).ConfigureAwait(false);
            return updated;
        }

        /// <summary>
        /// Polls until the execution is terminal or <see cref="Timeout"/> passes; then returns its last state (IsTerminal false).
        /// "Execution details were not found" counts as not started yet during <see cref="NotFoundGrace"/>.
        /// </summary>
        public async Task<PackageExecution> WaitAsync(PackageExecution execution, CancellationToken cancellationToken)
        {
            if (execution is null) throw new ArgumentNullException(nameof(execution));
            var started = _time.GetUtcNow();
            var deadline = started + Timeout;
            var current = execution;
            while (true)
            {
                try
                {
                    current = await GetStatusAsync(current, cancellationToken).ConfigureAwait(false);
                    if (current.IsTerminal) return current;
                }
                catch (D365Exception ex) when (ex.Entry == ErrorCatalog.ExecutionDetailsNotFound && _time.GetUtcNow() - started < NotFoundGrace)
                {
                    current = Copy(current);
                    current.Status = "Unknown";
                    current.CheckedAt = _time.GetLocalNow();
                }
                var left = deadline - _time.GetUtcNow();
                if (left <= TimeSpan.Zero) return current;
                await _time.Delay(left < PollInterval ? left : PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>
        /// Saves an entity's error file of an import into the folder: the staging error file (the rows that failed before they
        /// reached the target; GetImportStagingErrorFileUrl) or the target error keys file (GenerateImportTargetErrorKeysFile,
        /// then GetImportTargetErrorKeysFileUrl until it is written). Both through the same download to storage. Null when the
        /// service has no such file.
        /// </summary>
        public async Task<ErrorKeysFile?> GetErrorFileAsync(ErrorFileKind kind, string executionId, string entityName, string outputFolder,
            CancellationToken cancellationToken)
        {
            RequireName(entityName, ErrorCatalog.EntityNameMissing);
            var entity = entityName.Trim();
            var folder = FileChecks.PrepareOutputDirectory(outputFolder);
            var url = kind == ErrorFileKind.Staging
                ? await _client.GetImportStagingErrorFileUrlAsync(executionId, entity, cancellationToken).ConfigureAwait(false)
                : await TargetErrorKeysUrlAsync(executionId, entity, cancellationToken).ConfigureAwait(false);
            if (url is null) return null;
            var suffix = kind == ErrorFileKind.Staging ? "-stagingerrors" : "-errorkeys";
            var name = FileNames.Sanitize(executionId + "-" + entity + suffix + KeysExtension(url));
            var target = System.IO.Path.Combine(folder, name);
            var length = await _client.Storage.DownloadAsync(url, target, true, cancellationToken).ConfigureAwait(false);
            return new ErrorKeysFile { ExecutionId = executionId, EntityName = entity, ErrorFile = kind, Path = target, Length = length, Environment = Environment };
        }

        /// <summary>The target error keys file's URL once the service has written it, or null when the entity has no such errors.</summary>
        private async Task<Uri?> TargetErrorKeysUrlAsync(string executionId, string entityName, CancellationToken cancellationToken)
        {
            if (!await _client.GenerateImportTargetErrorKeysFileAsync(executionId, entityName, cancellationToken).ConfigureAwait(false))
                return null;
            var deadline = _time.GetUtcNow() + Timeout;
            Uri? url;
            while ((url = await _client.GetImportTargetErrorKeysFileUrlAsync(executionId, entityName, cancellationToken).ConfigureAwait(false)) is null)
            {
                if (_time.GetUtcNow() >= deadline)
                    throw ErrorCatalog.ErrorKeysFileTimeout.Create(entityName, executionId, Timeout.TotalSeconds);
                await _time.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
            return url;
        }

        public D365Exception WaitTimedOut(PackageExecution execution) =>
            ErrorCatalog.ExecutionWaitTimeout.Create(execution.ExecutionId, Timeout.TotalSeconds, execution.Status);

        /// <summary>"Execution details were not found" (400 or 500), or "Bad request": the service has no record of the execution (yet).</summary>
        internal static bool IsNotFoundYet(D365Exception ex)
        {
            var text = ex.ServiceMessage ?? string.Empty;
            return (ex.StatusCode == System.Net.HttpStatusCode.BadRequest || ex.StatusCode == System.Net.HttpStatusCode.InternalServerError) &&
                   (text.IndexOf("Execution details were not found", StringComparison.OrdinalIgnoreCase) >= 0 ||
                    string.Equals(text.Trim(), "Bad request", StringComparison.OrdinalIgnoreCase));
        }

        private static string KeysExtension(Uri url)
        {
            var extension = System.IO.Path.GetExtension(url.AbsolutePath);
            return string.IsNullOrEmpty(extension) ? ".csv" : extension;
        }

        private static string DownloadFilesName(string packageName)
        {
            var name = FileNames.Sanitize(packageName);
            if (name.Length == 0)
                throw ErrorCatalog.PackageNameInvalid.Create(packageName);
            return name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) ? name : name + ".zip";
        }

        private static void RequireName(string? value, ErrorEntry entry)
        {
            if (string.IsNullOrWhiteSpace(value))
                throw entry.Create();
        }

        private static PackageExecution Copy(PackageExecution e) => new PackageExecution
        {
            ExecutionId = e.ExecutionId, Operation = e.Operation, DefinitionGroupId = e.DefinitionGroupId, LegalEntityId = e.LegalEntityId,
            Status = e.Status, IsTerminal = e.IsTerminal, Succeeded = e.Succeeded, SummaryPageUrl = e.SummaryPageUrl, Path = e.Path,
            Length = e.Length, CheckedAt = e.CheckedAt, Environment = e.Environment,
        };
    }
}
