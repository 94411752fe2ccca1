using System.Buffers;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>A data project the environment knows. An export of it serves <see cref="ExportPackagePath"/> when set, else a small package made from its entities.</summary>
public sealed record DefinitionGroup(string Name, IReadOnlyList<string> Entities, string? ExportPackagePath = null);

/// <summary>One package import or export as the emulator runs it.</summary>
public sealed record PackageExecutionRecord(
    string ExecutionId, string Kind, string DefinitionGroupId, string LegalEntityId, string? PackageBlob,
    DateTimeOffset StartedAt, string FinalStatus, IReadOnlyList<PackageEntityError> Errors, bool NotFoundFirst = false);

/// <summary>An execution error of a package, from an EMULATOR-ERROR: line of one of its data files (or a missing file).</summary>
public sealed record PackageEntityError(string EntityName, int LineNumber, string Message);

/// <summary>
/// The Data management package API (docs/protocol.md, "Package API") with its quirks: GetAzureWriteUrl's value is a string holding
/// JSON; an execution is NotRun for the first <see cref="EmulatorOptions.ProcessingDelay"/>, Executing until twice it, then
/// final, and some executions (<see cref="EmulatorOptions.ExecutionNotFoundEvery"/>) first answer "Execution details were
/// not found" (as <see cref="EmulatorOptions.ExecutionNotFoundStatusCode"/>) for half the delay, as the service sometimes
/// does. An import ends Failed when the blob is not a package ("Could not find file ...PackageHeader.xml"),
/// PartiallySucceeded when a data file has EMULATOR-ERROR: lines, else Succeeded. ImportFromPackage refuses a second
/// import of a data project while one is executing. Values are flat strings, as the service sends them.
/// </summary>
public sealed class PackageEndpoints
{
    private const int BodyLimit = 64 * 1024;
    private const long ScannedEntryLimit = 16 * 1024 * 1024;
    private const long FirstStagingRecId = 5637144576;
    private static readonly XNamespace Ns = "http://schemas.microsoft.com/dynamics/2015/01/DataManagement";
    private readonly EmulatorOptions _options;
    private readonly BlobStore _blobs;
    private readonly object _gate = new();
    private readonly Dictionary<string, DefinitionGroup> _groups = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, PackageExecutionRecord> _executions = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<(string, string), DateTimeOffset> _keysRequested = new();
    private int _started;

    internal PackageEndpoints(EmulatorOptions options, BlobStore blobs)
    {
        _options = options;
        _blobs = blobs;
        foreach (var group in options.DefinitionGroups) _groups[group.Name] = group;
    }

    public IReadOnlyList<PackageExecutionRecord> Executions
    {
        get { lock (_gate) return _executions.Values.OrderBy(e => e.StartedAt).ToArray(); }
    }

    internal void Map(IEndpointRouteBuilder routes)
    {
        DataEndpoints.MapAction(routes, "GetAzureWriteUrl", async context =>
        {
            if (await ReadAsync(context, "uniqueFileName") is not { } write) return;
            var blobName = Guid.NewGuid().ToString("N") + "-" + SafeName(write.Text("uniqueFileName"));
            var blobJson = JsonSerializer.Serialize(new { BlobId = "{" + Guid.NewGuid().ToString().ToUpperInvariant() + "}", BlobUrl = _blobs.SasUrl(context, blobName, "rw") });
            await WriteValueAsync(context, "Edm.String", w => w.WriteString("value", blobJson));
        });

        DataEndpoints.MapAction(routes, "ImportFromPackage", async context =>
        {
            if (await ReadAsync(context, "packageUrl", "definitionGroupId", "executionId", "execute", "overwrite", "legalEntityId") is not { } import) return;
            await ImportAsync(context, import);
        });

        DataEndpoints.MapAction(routes, "ExportToPackage", async context =>
        {
            if (await ReadAsync(context, "definitionGroupId", "packageName", "executionId", "reExecute", "legalEntityId") is not { } export) return;
            await ExportAsync(context, export);
        });

        // The asynchronous forms take the same bodies and answer the execution id at once. An environment without them
        // answers 404 (the catch-all route), which is how clients learn to fall back.
        if (_options.AsyncPackageActions)
        {
            DataEndpoints.MapAction(routes, "ImportFromPackageAsync", async context =>
            {
                if (await ReadAsync(context, "packageUrl", "definitionGroupId", "executionId", "execute", "overwrite", "legalEntityId") is not { } import) return;
                await ImportAsync(context, import);
            });
            DataEndpoints.MapAction(routes, "ExportToPackageAsync", async context =>
            {
                if (await ReadAsync(context, "definitionGroupId", "packageName", "executionId", "reExecute", "legalEntityId") is not { } export) return;
                await ExportAsync(context, export);
            });
        }

        DataEndpoints.MapAction(routes, "GetImportStagingErrorFileUrl", async context =>
        {
            if (await ReadAsync(context, "executionId", "entityName") is not { } staging) return;
            if (await FindAsync(context, staging.Text("executionId")) is not { } of) return;
            await WriteValueAsync(context, "Edm.String", w => w.WriteString("value", StagingErrorFileUrl(context, of, staging.Text("entityName"))));
        });

        DataEndpoints.MapAction(routes, "GetExecutionSummaryStatus", async context =>
        {
            if (await ReadExecutionAsync(context) is not { } execution) return;
            await WriteValueAsync(context, "Edm.String", w => w.WriteString("value", StatusOf(execution)));
        });

        DataEndpoints.MapAction(routes, "GetExecutionSummaryPageUrl", async context =>
        {
            if (await ReadExecutionAsync(context) is not { } paged) return;
            var page = $"{IdentityEndpoints.Origin(context)}{context.Request.PathBase}/?mi=DMFExecutionSummary&cmp={Uri.EscapeDataString(paged.LegalEntityId)}&executionId={Uri.EscapeDataString(paged.ExecutionId)}";
            await WriteValueAsync(context, "Edm.String", w => w.WriteString("value", page));
        });

        DataEndpoints.MapAction(routes, "GetExportedPackageUrl", async context =>
        {
            if (await ReadExecutionAsync(context) is not { } exported) return;
            var url = exported.Kind == "Export" && exported.PackageBlob is { } blob && StatusOf(exported) is "Succeeded" or "PartiallySucceeded"
                ? _blobs.SasUrl(context, blob, "r") : "";
            await WriteMaybeNestedAsync(context, url);
        });

        DataEndpoints.MapAction(routes, "GenerateImportTargetErrorKeysFile", async context =>
        {
            if (await ReadAsync(context, "executionId", "entityName") is not { } generate) return;
            if (await FindAsync(context, generate.Text("executionId")) is not { } keysOf) return;
            var entity = generate.Text("entityName");
            var hasErrors = StatusOf(keysOf) is "PartiallySucceeded" or "Failed" &&
                            keysOf.Errors.Any(e => string.Equals(e.EntityName, entity, StringComparison.OrdinalIgnoreCase));
            if (hasErrors)
                lock (_gate) _keysRequested[(keysOf.ExecutionId.ToUpperInvariant(), entity.ToUpperInvariant())] = _options.Time.GetUtcNow();
            await WriteValueAsync(context, "Edm.Boolean", w => w.WriteBoolean("value", hasErrors));
        });

        DataEndpoints.MapAction(routes, "GetImportTargetErrorKeysFileUrl", async context =>
        {
            if (await ReadAsync(context, "executionId", "entityName") is not { } keys) return;
            await WriteValueAsync(context, "Edm.String", w => w.WriteString("value", ErrorKeysUrl(context, keys.Text("executionId"), keys.Text("entityName"))));
        });
    }

    /// <summary>Called after an execution starts or a data project is created (outside the lock): the data folder saves then.</summary>
    internal Action? Changed { get; set; }

    /// <summary>The executions, the data projects and how many executions started, for the data folder.</summary>
    internal (PackageExecutionRecord[] Executions, DefinitionGroup[] Groups, int Started) Snapshot()
    {
        lock (_gate) return (_executions.Values.ToArray(), _groups.Values.ToArray(), _started);
    }

    /// <summary>Puts back what <see cref="Snapshot"/> saved, at start.</summary>
    internal void Restore(IEnumerable<PackageExecutionRecord> executions, IEnumerable<DefinitionGroup> groups, int started)
    {
        lock (_gate)
        {
            foreach (var execution in executions) _executions[execution.ExecutionId] = execution;
            foreach (var group in groups) _groups.TryAdd(group.Name, group);
            _started = started;
        }
    }

    /// <summary>Forgets every execution and the data projects imports created; the declared ones stay.</summary>
    internal void Reset()
    {
        lock (_gate)
        {
            _executions.Clear();
            _keysRequested.Clear();
            _groups.Clear();
            foreach (var group in _options.DefinitionGroups) _groups[group.Name] = group;
            _started = 0;
        }
        Changed?.Invoke();
    }

    /// <summary>The errors of a package execution as GetExecutionErrors answers them, or null when the id is not a package execution's.</summary>
    internal string? ErrorsJson(string executionId) => Find(executionId) is { } execution ? ErrorsJson(execution) : null;

    private async Task ImportAsync(HttpContext context, Parameters p)
    {
        var group = p.Text("definitionGroupId");
        var legalEntity = p.Text("legalEntityId");
        if (group.Length == 0 || legalEntity.Length == 0)
        {
            await Wire.WriteODataErrorAsync(context, 400, "definitionGroupId and legalEntityId must not be empty.");
            return;
        }
        bool running;
        lock (_gate)
            running = _executions.Values.Any(e => e.Kind == "Import" && string.Equals(e.DefinitionGroupId, group, StringComparison.OrdinalIgnoreCase) &&
                                                  !IsFinal(e, _options.Time.GetUtcNow()));
        if (running)
        {
            await Wire.WriteODataErrorAsync(context, 400, $"Data project '{group}' is already being imported; ImportFromPackage must not run in parallel for one data project.");
            return;
        }
        var errors = new List<PackageEntityError>();
        string final;
        var entities = new List<string>();
        if (!BlobStore.TryParseBlobName(p.Text("packageUrl"), out var blobName) || !_blobs.Exists(blobName))
        {
            final = "Failed";
            errors.Add(new PackageEntityError("", 0, $"The package could not be downloaded from '{RedactedUrl(p.Text("packageUrl"))}'."));
        }
        else
        {
            using var package = _blobs.OpenRead(blobName)!;
            final = Inspect(package, entities, errors);
        }
        var id = await StartAsync(context, p.Text("executionId"), "Import", group, legalEntity, blobName, final, errors);
        if (id is null) return;
        if (final != "Failed")
            lock (_gate)
                if (!_groups.ContainsKey(group)) _groups[group] = new DefinitionGroup(group, entities);
        Changed?.Invoke();
        await WriteValueAsync(context, "Edm.String", w => w.WriteString("value", id));
    }

    private async Task ExportAsync(HttpContext context, Parameters p)
    {
        var name = p.Text("definitionGroupId");
        DefinitionGroup? group;
        lock (_gate) _groups.TryGetValue(name, out group);
        if (group is null)
        {
            await Wire.WriteODataErrorAsync(context, 400, $"Data project '{name}' was not found.");
            return;
        }
        var blobName = Guid.NewGuid().ToString("N") + "-" + SafeName(p.Text("packageName")) + ".zip";
        if (group.ExportPackagePath is { } file)
            _blobs.StoreCopy(blobName, file);
        else
            _blobs.Store(blobName, stream => WritePackage(stream, group));
        var id = await StartAsync(context, p.Text("executionId"), "Export", group.Name, p.Text("legalEntityId"), blobName, "Succeeded", Array.Empty<PackageEntityError>());
        if (id is null) return;
        Changed?.Invoke();
        await WriteMaybeNestedAsync(context, id);
    }

    private async Task<string?> StartAsync(HttpContext context, string requested, string kind, string group, string legalEntity, string? blob,
        string final, IReadOnlyList<PackageEntityError> errors)
    {
        var id = requested.Length > 0 ? requested : $"{SafeName(group)}-{_options.Time.GetUtcNow():yyyyMMddHHmmssfff}-{Guid.NewGuid().ToString("N")[..8]}";
        lock (_gate)
        {
            if (!_executions.ContainsKey(id))
            {
                _started++;
                var every = _options.ExecutionNotFoundEvery;
                _executions[id] = new PackageExecutionRecord(id, kind, group, legalEntity, blob, _options.Time.GetUtcNow(), final, errors,
                    NotFoundFirst: every > 0 && _started % every == 0);
                return id;
            }
        }
        await Wire.WriteODataErrorAsync(context, 400, $"Execution id '{id}' already exists.");
        return null;
    }

    /// <summary>Reads the package as the service would: PackageHeader.xml and Manifest.xml, then every data file the manifest names.</summary>
    private static string Inspect(Stream package, List<string> entities, List<PackageEntityError> errors)
    {
        const string temp = @"C:\Users\Service\AppData\Local\Temp\";
        try
        {
            using var zip = new ZipArchive(package, ZipArchiveMode.Read);
            ZipArchiveEntry? Entry(string name) => zip.Entries.FirstOrDefault(e => string.Equals(e.FullName, name, StringComparison.OrdinalIgnoreCase));
            foreach (var required in new[] { "PackageHeader.xml", "Manifest.xml" })
                if (Entry(required) is null)
                {
                    errors.Add(new PackageEntityError("", 0, $"Could not find file '{temp}{Guid.NewGuid()}\\{required}'."));
                    return "Failed";
                }
            XDocument manifest;
            using (var stream = Entry("Manifest.xml")!.Open()) manifest = XDocument.Load(stream);
            foreach (var data in manifest.Descendants(Ns + "DataManagementPackageEntityData"))
            {
                var entity = data.Element(Ns + "EntityName")?.Value ?? "";
                var input = data.Element(Ns + "InputFilePath")?.Value ?? "";
                entities.Add(entity);
                var file = Entry(input);
                if (file is null)
                {
                    errors.Add(new PackageEntityError(entity, 0, $"Could not find file '{temp}{Guid.NewGuid()}\\{input}'."));
                    return "Failed";
                }
                if (file.Length > ScannedEntryLimit) continue;
                using var reader = new StreamReader(file.Open(), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
                var line = 0;
                while (reader.ReadLine() is { } text)
                {
                    line++;
                    var at = text.IndexOf(ConnectorEndpoints.ErrorMarker, StringComparison.Ordinal);
                    if (at >= 0) errors.Add(new PackageEntityError(entity, line, text[(at + ConnectorEndpoints.ErrorMarker.Length)..].Trim()));
                }
            }
            return errors.Count > 0 ? "PartiallySucceeded" : "Succeeded";
        }
        catch (Exception e) when (e is InvalidDataException or System.Xml.XmlException)
        {
            errors.Add(new PackageEntityError("", 0, $"Could not find file '{temp}{Guid.NewGuid()}\\PackageHeader.xml'."));
            return "Failed";
        }
    }

    /// <summary>A small package of the data project: its manifest and header (UTF-16LE with BOM) and one CSV per entity.</summary>
    private static void WritePackage(Stream stream, DefinitionGroup group)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Create);
        var list = new XElement(Ns + "PackageEntityList");
        var sequence = 0;
        foreach (var entity in group.Entities)
        {
            var file = SafeName(entity) + ".csv";
            list.Add(new XElement(Ns + "DataManagementPackageEntityData",
                new XElement(Ns + "EntityMapList"), new XElement(Ns + "EntityName", entity), new XElement(Ns + "ExecutionUnit", 1),
                new XElement(Ns + "InputFilePath", file), new XElement(Ns + "LevelInExecutionUnit", 1),
                new XElement(Ns + "SequenceInLevel", ++sequence), new XElement(Ns + "SourceFormat", "CSV-Unicode")));
            using var data = new StreamWriter(zip.CreateEntry(file).Open(), new UnicodeEncoding(false, true));
            data.Write("KEY,NAME\r\n1,First\r\n2,Second\r\n");
        }
        WriteXml(zip, "Manifest.xml", new XElement(Ns + "DataManagementPackageManifest",
            new XElement(Ns + "DefinitionGroupName", group.Name), new XElement(Ns + "Description", group.Name), list));
        WriteXml(zip, "PackageHeader.xml", new XElement(Ns + "DataManagementPackageHeader",
            new XElement(Ns + "Description", group.Name),
            new XElement(Ns + "ManifestType", "Microsoft.Dynamics.AX.Framework.Tools.DataManagement.Serialization.DataManagementPackageManifest"),
            new XElement(Ns + "PackageType", "DefinitionGroup"), new XElement(Ns + "PackageVersion", 1)));
    }

    private static void WriteXml(ZipArchive zip, string name, XElement root)
    {
        using var writer = new StreamWriter(zip.CreateEntry(name).Open(), new UnicodeEncoding(false, true));
        new XDocument(root).Save(writer);
    }

    private string ErrorKeysUrl(HttpContext context, string executionId, string entity)
    {
        PackageExecutionRecord? execution;
        DateTimeOffset requested;
        lock (_gate)
        {
            execution = Find(executionId);
            if (execution is null || !_keysRequested.TryGetValue((execution.ExecutionId.ToUpperInvariant(), entity.ToUpperInvariant()), out requested))
                return "";
        }
        // The service writes the file in the background: "" until it is done.
        if (_options.Time.GetUtcNow() - requested < _options.ProcessingDelay / 2) return "";
        var blobName = SafeName(execution.ExecutionId + "-" + entity) + "-errorkeys.csv";
        if (!_blobs.Exists(blobName))
            _blobs.Store(blobName, stream =>
            {
                using var writer = new StreamWriter(stream, new UTF8Encoding(false));
                writer.Write("LINENUMBER,ERROR\r\n");
                foreach (var error in execution.Errors.Where(e => string.Equals(e.EntityName, entity, StringComparison.OrdinalIgnoreCase)))
                    writer.Write($"{error.LineNumber},\"{error.Message.Replace("\"", "\"\"")}\"\r\n");
            });
        return _blobs.SasUrl(context, blobName, "r");
    }

    /// <summary>The staging rows of the entity that failed, once the execution is final; "" when it has none (as the service answers).</summary>
    private string StagingErrorFileUrl(HttpContext context, PackageExecutionRecord execution, string entity)
    {
        var failed = execution.Errors.Where(e => string.Equals(e.EntityName, entity, StringComparison.OrdinalIgnoreCase)).ToArray();
        if (!IsFinal(execution, _options.Time.GetUtcNow()) || failed.Length == 0) return "";
        var blobName = SafeName(execution.ExecutionId + "-" + entity) + "-stagingerrors.csv";
        if (!_blobs.Exists(blobName))
            _blobs.Store(blobName, stream =>
            {
                using var writer = new StreamWriter(stream, new UTF8Encoding(false));
                writer.Write("LINENUMBER,STAGINGRECID,ERROR\r\n");
                for (var i = 0; i < execution.Errors.Count; i++)
                {
                    var error = execution.Errors[i];
                    if (!string.Equals(error.EntityName, entity, StringComparison.OrdinalIgnoreCase)) continue;
                    writer.Write($"{error.LineNumber},{FirstStagingRecId + i},\"{error.Message.Replace("\"", "\"\"")}\"\r\n");
                }
            });
        return _blobs.SasUrl(context, blobName, "r");
    }

    private string ErrorsJson(PackageExecutionRecord execution)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, Wire.WriterOptions))
        {
            w.WriteStartArray();
            if (IsFinal(execution, _options.Time.GetUtcNow()))
                for (var i = 0; i < execution.Errors.Count; i++)
                {
                    var error = execution.Errors[i];
                    w.WriteStartObject();
                    w.WriteString("ErrorMessage", error.Message);
                    w.WriteString("EntityName", error.EntityName);
                    w.WriteNumber("LineNumber", error.LineNumber);
                    w.WriteNumber("StagingRecId", FirstStagingRecId + i);
                    w.WriteString("ExecutionId", execution.ExecutionId);
                    w.WriteEndObject();
                }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private string StatusOf(PackageExecutionRecord execution)
    {
        var elapsed = _options.Time.GetUtcNow() - execution.StartedAt;
        return elapsed >= 2 * _options.ProcessingDelay ? execution.FinalStatus : elapsed >= _options.ProcessingDelay ? "Executing" : "NotRun";
    }

    private bool IsFinal(PackageExecutionRecord execution, DateTimeOffset now) => now - execution.StartedAt >= 2 * _options.ProcessingDelay;

    private PackageExecutionRecord? Find(string executionId)
    {
        lock (_gate) return _executions.GetValueOrDefault(executionId);
    }

    /// <summary>The execution of the body's executionId; answers "Execution details were not found" itself for an unknown one or,
    /// in its first half delay, one picked to be not found first.</summary>
    private async Task<PackageExecutionRecord?> ReadExecutionAsync(HttpContext context)
    {
        if (await ReadAsync(context, "executionId") is not { } p) return null;
        return await FindAsync(context, p.Text("executionId"));
    }

    private async Task<PackageExecutionRecord?> FindAsync(HttpContext context, string executionId)
    {
        var execution = Find(executionId);
        if (execution is null || (execution.NotFoundFirst && _options.Time.GetUtcNow() - execution.StartedAt < _options.ProcessingDelay / 2))
        {
            await Wire.WriteODataErrorAsync(context, _options.ExecutionNotFoundStatusCode, $"Execution details were not found for execution id '{executionId}'.");
            return null;
        }
        return execution;
    }

    private Task WriteMaybeNestedAsync(HttpContext context, string value) =>
        WriteValueAsync(context, "Edm.String", w =>
        {
            if (_options.NestedPackageValues)
            {
                w.WriteStartObject("value");
                w.WriteString("value", value);
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("value", value);
            }
        });

    private static Task WriteValueAsync(HttpContext context, string type, Action<Utf8JsonWriter> writeValue)
    {
        var odataContext = $"{IdentityEndpoints.Origin(context)}{context.Request.PathBase}/data/$metadata#{type}";
        return Wire.WriteJsonAsync(context, 200, Wire.ODataContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("@odata.context", odataContext);
            writeValue(w);
            w.WriteEndObject();
        });
    }

    /// <summary>The action's parameters; every name listed must be present (OData names are case-sensitive). Answers 400 itself and returns null otherwise.</summary>
    private static async Task<Parameters?> ReadAsync(HttpContext context, params string[] names)
    {
        JsonDocument? document = null;
        try
        {
            document = await JsonDocument.ParseAsync(new LimitedStream(context.Request.Body, BodyLimit), cancellationToken: context.RequestAborted);
        }
        catch (JsonException)
        {
            // Not JSON: answered below like a body without the parameters.
        }
        using (document)
        {
            var values = new Dictionary<string, JsonElement>();
            if (document?.RootElement.ValueKind == JsonValueKind.Object)
                foreach (var name in names)
                    if (document.RootElement.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.String or JsonValueKind.True or JsonValueKind.False)
                        values[name] = value.Clone();
            var missing = names.FirstOrDefault(n => !values.ContainsKey(n));
            if (missing is null) return new Parameters(values);
            await Wire.WriteODataErrorAsync(context, 400, $"The request body must be a JSON object with the parameters {string.Join(", ", names)}; '{missing}' is missing.");
            return null;
        }
    }

    private static string RedactedUrl(string url) => System.Text.RegularExpressions.Regex.Replace(url, "sig=[^&]*", "sig=REDACTED");

    private static string SafeName(string text)
    {
        var safe = new string(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray()).TrimStart('.');
        return safe.Length == 0 ? "package" : safe.Length > 80 ? safe[..80] : safe;
    }

    private sealed class Parameters(Dictionary<string, JsonElement> values)
    {
        public string Text(string name) => values[name].ValueKind == JsonValueKind.String ? values[name].GetString()!.Trim() : values[name].GetRawText();
    }

    /// <summary>Reads at most a limit from the request body: an action's parameters are small.</summary>
    private sealed class LimitedStream(Stream inner, long limit) : Stream
    {
        private long _read;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read asynchronously.");
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, System.Threading.CancellationToken cancellationToken = default)
        {
            if (_read >= limit) throw new JsonException("The request body is too large.");
            var read = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, limit - _read)], cancellationToken);
            _read += read;
            return read;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
