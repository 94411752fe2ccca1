using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// <c>--data-folder</c>: what the emulator keeps so that a restart finds it again. <c>state.json</c> holds the import
/// messages (status, errors, hash; not their content), the export messages and their acknowledgements, the package
/// executions and the data projects; <c>exports/</c> the files of export messages queued from memory; <c>blobs/</c> the
/// package API's storage; <c>certificate.pfx</c> the server certificate, so a certificate a client trusts stays valid.
/// The state is written after every change, to a temporary file first and then moved, so a kill leaves the last whole one.
/// </summary>
internal sealed class DataFolder
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
    private readonly object _gate = new();
    private readonly string _path;

    public DataFolder(string path)
    {
        _path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.Combine(_path, "exports"));
    }

    public string BlobFolder => Path.Combine(_path, "blobs");

    private string StateFile => Path.Combine(_path, "state.json");

    /// <summary>The certificate kept in the folder, made by <paramref name="create"/> the first time.</summary>
    public X509Certificate2 Certificate(Func<X509Certificate2> create)
    {
        var file = Path.Combine(_path, "certificate.pfx");
        if (File.Exists(file))
            return X509CertificateLoader.LoadPkcs12FromFile(file, null);
        var certificate = create();
        File.WriteAllBytes(file, certificate.Export(X509ContentType.Pfx));
        return certificate;
    }

    public void Load(EmulatorState state, PackageEndpoints packages)
    {
        if (!File.Exists(StateFile))
            return;
        var saved = JsonSerializer.Deserialize<Saved>(File.ReadAllText(StateFile), Json)
                    ?? throw new InvalidDataException($"{StateFile} is empty.");
        state.Restore(
            saved.Imports.Select(i => new ImportMessage
            {
                MessageId = i.MessageId, ActivityId = i.ActivityId, Entity = i.Entity, Company = i.Company, ExternalIdentifier = i.ExternalIdentifier,
                Length = i.Length, Sha256 = i.Sha256, EnqueuedAt = i.EnqueuedAt, ExecutionId = i.ExecutionId, Errors = i.Errors,
                PreprocessingFails = i.PreprocessingFails,
            }),
            saved.Exports.Select(e => new ExportMessage
            {
                CorrelationId = e.CorrelationId, ActivityId = e.ActivityId, BlobId = e.BlobId, FileName = e.FileName, FilePath = e.FilePath,
                PopReceipt = e.PopReceipt, LastDequeued = e.LastDequeued, DequeueCount = e.DequeueCount, Acked = e.Acked, FileMissing = e.FileMissing,
            }),
            saved.Acknowledged);
        packages.Restore(saved.Executions, saved.Groups, saved.Started);
    }

    public void Save(EmulatorState state, PackageEndpoints packages)
    {
        lock (_gate)
        {
            var (imports, exports, acknowledged) = state.Snapshot();
            var (executions, groups, started) = packages.Snapshot();
            var saved = new Saved(
                imports.Select(i => new SavedImport(i.MessageId, i.ActivityId, i.Entity, i.Company, i.ExternalIdentifier, i.Length, i.Sha256,
                    i.EnqueuedAt, i.ExecutionId, i.Errors.ToList(), i.PreprocessingFails)).ToList(),
                exports.Select(e => new SavedExport(e.CorrelationId, e.ActivityId, e.BlobId, e.FileName, FileOf(e), e.PopReceipt, e.LastDequeued,
                    e.DequeueCount, e.Acked, e.FileMissing)).ToList(),
                acknowledged.ToList(), executions.ToList(), groups.ToList(), started);
            var temporary = StateFile + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(saved, Json));
            File.Move(temporary, StateFile, overwrite: true);
        }
    }

    /// <summary>Where an export message's file is served from: its own file, or a copy of its bytes in exports/.</summary>
    private string FileOf(ExportMessage message)
    {
        if (message.FilePath is { } path)
            return path;
        var file = Path.Combine(_path, "exports", message.CorrelationId.ToString("N"));
        if (!File.Exists(file))
            File.WriteAllBytes(file, message.Content!);
        return file;
    }

    private sealed record Saved(List<SavedImport> Imports, List<SavedExport> Exports, List<Guid> Acknowledged,
        List<PackageExecutionRecord> Executions, List<DefinitionGroup> Groups, int Started);

    private sealed record SavedImport(Guid MessageId, Guid ActivityId, string? Entity, string? Company, string? ExternalIdentifier, long Length,
        string Sha256, DateTimeOffset EnqueuedAt, string ExecutionId, List<ImportError> Errors, bool PreprocessingFails);

    private sealed record SavedExport(Guid CorrelationId, Guid ActivityId, Guid BlobId, string FileName, string FilePath, string? PopReceipt,
        DateTimeOffset? LastDequeued, int DequeueCount, bool Acked, bool FileMissing);
}
