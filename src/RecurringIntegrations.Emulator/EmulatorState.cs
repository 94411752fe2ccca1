using System.Security.Cryptography;

namespace RecurringIntegrations.Emulator;

/// <summary>An import message as the emulator stored it. Content is null when the body was larger than
/// <see cref="EmulatorState.RetainedContentLimit"/>: then only its length and SHA-256 are kept.</summary>
public sealed record EnqueuedRecord(
    Guid MessageId,
    Guid ActivityId,
    string? Entity,
    string? Company,
    string? ExternalIdentifier,
    byte[]? Content,
    long Length,
    string Sha256,
    DateTimeOffset EnqueuedAt,
    string Status);

/// <summary>An export message as the emulator holds it.</summary>
public sealed record ExportRecord(Guid CorrelationId, Guid ActivityId, string FileName, int DequeueCount, bool Acknowledged, bool FileMissing);

/// <summary>
/// One HTTP request as the emulator saw it. StatusCode is 0 when a fault aborted the connection. ExternalIdentifier is
/// an upload's x-ms-dyn-externalidentifier header (the module sends the file name when none is given), which tells the
/// tries of one upload apart from the others.
/// </summary>
public sealed record RequestRecord(
    DateTimeOffset At,
    string Method,
    string Host,
    string PathAndQuery,
    bool HadAuthorization,
    int StatusCode,
    FaultKind? Fault,
    string? ExternalIdentifier = null);

/// <summary>Queues and ledgers of one emulator. Every member is thread-safe and returns snapshots.</summary>
public sealed class EmulatorState
{
    /// <summary>Enqueued bodies up to this size are kept in memory (and scanned for markers); larger ones
    /// keep only length and SHA-256 so a 1 GB upload costs no memory.</summary>
    public const long RetainedContentLimit = 16 * 1024 * 1024;

    private readonly object _gate = new();
    private readonly EmulatorOptions _options;
    private readonly List<ImportMessage> _imports = new();
    private readonly Dictionary<Guid, ImportMessage> _importsById = new();
    private readonly Dictionary<Guid, ExportMessage> _exportsById = new();
    private readonly List<ExportMessage> _pendingExports = new();
    private readonly List<Guid> _acknowledged = new();
    private readonly List<RequestRecord> _requests = new();
    private int _tokenRequests;

    internal EmulatorState(EmulatorOptions options) => _options = options;

    /// <summary>Called after every change of the queues (outside the lock): the data folder saves the state then.</summary>
    internal Action? Changed { get; set; }

    /// <summary>Tokens granted by the token endpoint and the managed identity endpoint.</summary>
    public int TokenRequests => Volatile.Read(ref _tokenRequests);

    public IReadOnlyList<EnqueuedRecord> Enqueued
    {
        get
        {
            var now = _options.Time.GetUtcNow();
            lock (_gate) return _imports.Select(m => m.ToRecord(StatusOf(m, now))).ToArray();
        }
    }

    /// <summary>Every export message, acknowledged or not, in the order queued.</summary>
    public IReadOnlyList<ExportRecord> Exports
    {
        get
        {
            lock (_gate)
                return _exportsById.Values.Select(m => new ExportRecord(m.CorrelationId, m.ActivityId, m.FileName, m.DequeueCount, m.Acked, m.FileMissing)).ToArray();
        }
    }

    /// <summary>Correlation ids acknowledged, in order.</summary>
    public IReadOnlyList<Guid> Acknowledged
    {
        get { lock (_gate) return _acknowledged.ToArray(); }
    }

    public IReadOnlyList<RequestRecord> Requests
    {
        get { lock (_requests) return _requests.ToArray(); }
    }

    /// <summary>How many times each export message has been dequeued.</summary>
    public IReadOnlyDictionary<Guid, int> DequeueCounts
    {
        get { lock (_gate) return _exportsById.Values.ToDictionary(m => m.CorrelationId, m => m.DequeueCount); }
    }

    /// <summary>Export messages of the activity not yet acknowledged (dequeued or not).</summary>
    public int PendingExports(Guid activityId)
    {
        lock (_gate) return _pendingExports.Count(m => m.ActivityId == activityId);
    }

    public int DequeueCount(Guid correlationId)
    {
        lock (_gate) return _exportsById.TryGetValue(correlationId, out var m) ? m.DequeueCount : 0;
    }

    internal void CountTokenGrant() => Interlocked.Increment(ref _tokenRequests);

    internal void Record(RequestRecord record)
    {
        lock (_requests) _requests.Add(record);
    }

    internal void AddImport(ImportMessage message)
    {
        lock (_gate)
        {
            _imports.Add(message);
            _importsById.Add(message.MessageId, message);
        }
        Changed?.Invoke();
    }

    internal void AddExport(ExportMessage message)
    {
        lock (_gate)
        {
            _exportsById.Add(message.CorrelationId, message);
            _pendingExports.Add(message);
        }
        Changed?.Invoke();
    }

    /// <summary>Marks an export message's file as gone from storage; false when there is no such message.</summary>
    internal bool MarkFileMissing(Guid correlationId)
    {
        lock (_gate)
        {
            if (!_exportsById.TryGetValue(correlationId, out var message))
                return false;
            message.FileMissing = true;
        }
        Changed?.Invoke();
        return true;
    }

    /// <summary>Forgets every message, acknowledgement and recorded request: an environment just made.</summary>
    internal void Reset()
    {
        lock (_gate)
        {
            _imports.Clear();
            _importsById.Clear();
            _exportsById.Clear();
            _pendingExports.Clear();
            _acknowledged.Clear();
        }
        lock (_requests) _requests.Clear();
        Changed?.Invoke();
    }

    /// <summary>Everything the queues hold, for the data folder.</summary>
    internal (ImportMessage[] Imports, ExportMessage[] Exports, Guid[] Acknowledged) Snapshot()
    {
        lock (_gate) return (_imports.ToArray(), _exportsById.Values.Select(m => m.Copy()).ToArray(), _acknowledged.ToArray());
    }

    /// <summary>Puts back what <see cref="Snapshot"/> saved, at start.</summary>
    internal void Restore(IEnumerable<ImportMessage> imports, IEnumerable<ExportMessage> exports, IEnumerable<Guid> acknowledged)
    {
        lock (_gate)
        {
            foreach (var import in imports)
            {
                _imports.Add(import);
                _importsById.Add(import.MessageId, import);
            }
            foreach (var export in exports)
            {
                _exportsById.Add(export.CorrelationId, export);
                if (!export.Acked) _pendingExports.Add(export);
            }
            _acknowledged.AddRange(acknowledged);
        }
    }

    internal ImportMessage? FindImport(Guid messageId)
    {
        lock (_gate) return _importsById.GetValueOrDefault(messageId);
    }

    internal ImportMessage? FindImportByExecutionId(string executionId)
    {
        lock (_gate) return _imports.FirstOrDefault(m => string.Equals(m.ExecutionId, executionId, StringComparison.OrdinalIgnoreCase));
    }

    internal ExportMessage? FindExport(Guid correlationId)
    {
        lock (_gate) return _exportsById.GetValueOrDefault(correlationId);
    }

    /// <summary>Status of an import or export message, or null when the id is unknown.</summary>
    internal string? MessageStatus(Guid messageId)
    {
        var now = _options.Time.GetUtcNow();
        lock (_gate)
        {
            if (_importsById.TryGetValue(messageId, out var import))
                return StatusOf(import, now);
            if (_exportsById.TryGetValue(messageId, out var export))
                return export.Acked ? "Acked" : export.DequeueCount > 0 ? "Dequeued" : "Enqueued";
            return null;
        }
    }

    /// <summary>Takes the first message of the activity that was never dequeued or whose redelivery timeout
    /// has passed, giving it a new pop receipt.</summary>
    internal Dequeued? TryDequeue(Guid activityId)
    {
        var dequeued = TakeNext(activityId);
        if (dequeued is not null) Changed?.Invoke();
        return dequeued;
    }

    private Dequeued? TakeNext(Guid activityId)
    {
        var now = _options.Time.GetUtcNow();
        lock (_gate)
        {
            foreach (var message in _pendingExports)
            {
                if (message.ActivityId != activityId)
                    continue;
                if (message.LastDequeued is { } last && now - last < _options.RedeliveryTimeout)
                    continue;
                var previous = message.LastDequeued;
                message.LastDequeued = now;
                message.DequeueCount++;
                message.PopReceipt = Convert.ToBase64String(RandomNumberGenerator.GetBytes(20));
                return new Dequeued(message, message.PopReceipt, previous);
            }
            return null;
        }
    }

    internal AckResult Ack(Guid activityId, Guid correlationId, string? popReceipt)
    {
        var result = TryAck(activityId, correlationId, popReceipt);
        if (result == AckResult.Acked) Changed?.Invoke();
        return result;
    }

    private AckResult TryAck(Guid activityId, Guid correlationId, string? popReceipt)
    {
        lock (_gate)
        {
            if (!_exportsById.TryGetValue(correlationId, out var message) || message.ActivityId != activityId)
                return AckResult.Unknown;
            if (message.PopReceipt is null || !string.Equals(message.PopReceipt, popReceipt, StringComparison.Ordinal))
                return AckResult.StalePopReceipt;
            // A repeated ack with the same receipt succeeds: clients retry an ack whose answer was lost.
            if (!message.Acked)
            {
                message.Acked = true;
                _pendingExports.Remove(message);
                _acknowledged.Add(correlationId);
            }
            return AckResult.Acked;
        }
    }

    internal string StatusOf(ImportMessage message, DateTimeOffset now)
    {
        var elapsed = now - message.EnqueuedAt;
        if (elapsed < _options.ProcessingDelay)
            return "Enqueued";
        if (elapsed < 2 * _options.ProcessingDelay)
            return message.PreprocessingFails ? "Preprocessing" : "Processing";
        if (message.PreprocessingFails)
            return "PreProcessingError";
        return message.Errors.Count > 0 ? "ProcessedWithErrors" : "Processed";
    }
}

internal enum AckResult
{
    Acked,
    Unknown,
    StalePopReceipt,
}

internal sealed record Dequeued(ExportMessage Message, string PopReceipt, DateTimeOffset? PreviousDequeue);

/// <summary>An execution error read from an <c>EMULATOR-ERROR:</c> line of an import.</summary>
internal sealed record ImportError(int LineNumber, string Message);

internal sealed class ImportMessage
{
    public required Guid MessageId { get; init; }
    public required Guid ActivityId { get; init; }
    public string? Entity { get; init; }
    public string? Company { get; init; }
    public string? ExternalIdentifier { get; init; }
    public byte[]? Content { get; init; }
    public required long Length { get; init; }
    public required string Sha256 { get; init; }
    public required DateTimeOffset EnqueuedAt { get; init; }
    public required string ExecutionId { get; init; }
    public required IReadOnlyList<ImportError> Errors { get; init; }
    public required bool PreprocessingFails { get; init; }

    public EnqueuedRecord ToRecord(string status) =>
        new(MessageId, ActivityId, Entity, Company, ExternalIdentifier, Content, Length, Sha256, EnqueuedAt, status);
}

/// <summary>An export message; its content is either in memory or in a file, served without copying.</summary>
internal sealed class ExportMessage
{
    public required Guid CorrelationId { get; init; }
    public required Guid ActivityId { get; init; }
    public required Guid BlobId { get; init; }
    public required string FileName { get; init; }
    public byte[]? Content { get; init; }
    public string? FilePath { get; init; }

    // Mutable fields are guarded by EmulatorState's lock.
    public string? PopReceipt { get; set; }
    public DateTimeOffset? LastDequeued { get; set; }
    public int DequeueCount { get; set; }
    public bool Acked { get; set; }

    /// <summary>Its file is gone from storage (an admin marked it bad): dequeue says so, download answers BlobNotFound.</summary>
    public bool FileMissing { get; set; }

    /// <summary>A copy taken under the state's lock, to read its mutable fields outside it.</summary>
    public ExportMessage Copy() => (ExportMessage)MemberwiseClone();
}
