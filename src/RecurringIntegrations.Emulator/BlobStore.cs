using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// Azure blob storage as the package API uses it, answering requests whose Host is <see cref="EmulatorOptions.BlobHost"/>.
/// Blobs live in files (a 256 MB package costs no memory). Access is by SAS URL only: the signature and the expiry are
/// checked, and an Authorization header is refused and recorded as a leak (the environment's token must never come here).
/// Limits of storage version 2015-02-21: Put Blob up to 64 MiB, Put Block up to 4 MiB.
/// As in Azure, Put Block List commits without copying bytes: a blob is its list of pieces (blobs/NAME, one file name of
/// pieces/ a line), the files of its blocks in the list's order, or the one file of a Put Blob. Uncommitted blocks wait in
/// blocks/NAME/ until a commit takes those it names and drops the others. Pieces are never changed, only replaced by a
/// later commit, which then deletes the old ones.
/// </summary>
public sealed class BlobStore : IDisposable
{
    public const string Container = "dmf";
    public const long MaxPutBlobBytes = 64L * 1024 * 1024;
    public const long MaxBlockBytes = 4L * 1024 * 1024;
    private const int CopyBufferSize = 1024 * 1024;
    private readonly EmulatorOptions _options;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly string _root;
    private readonly bool _ownsRoot;
    private readonly List<string> _leaks = new();
    private readonly object _commits = new();
    private int _putBlobs;
    private int _putBlocks;

    internal BlobStore(EmulatorOptions options)
    {
        _options = options;
        _ownsRoot = options.BlobFolder is null;
        _root = options.BlobFolder ?? Path.Combine(Path.GetTempPath(), "d365-emulator-blobs-" + Guid.NewGuid().ToString("N"));
        foreach (var folder in new[] { "blocks", "blobs", "pieces" }) Directory.CreateDirectory(Path.Combine(_root, folder));
    }

    /// <summary>Requests that reached the storage host with an Authorization header ("METHOD path", no query): each one a leaked credential.</summary>
    public IReadOnlyList<string> AuthorizationLeaks
    {
        get { lock (_leaks) return _leaks.ToArray(); }
    }

    public int PutBlobCount => Volatile.Read(ref _putBlobs);
    public int PutBlockCount => Volatile.Read(ref _putBlocks);

    public bool IsStorageRequest(HttpContext context) =>
        string.Equals(context.Request.Host.Host, _options.BlobHost, StringComparison.OrdinalIgnoreCase);

    /// <summary>A SAS URL for a blob of the store: permissions <paramref name="permissions"/> (r, w or rw), valid for <see cref="EmulatorOptions.SasLifetime"/>.</summary>
    internal string SasUrl(HttpContext context, string blobName, string permissions)
    {
        var path = $"/{Container}/{blobName}";
        var expiry = _options.Time.GetUtcNow().Add(_options.SasLifetime).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var signature = Sign(path, permissions, expiry);
        return $"{context.Request.Scheme}://{_options.BlobHost}{Wire.PortSuffix(context)}{path}" +
               $"?sv=2014-02-14&sr=b&sig={Uri.EscapeDataString(signature)}&se={Uri.EscapeDataString(expiry)}&sp={permissions}";
    }

    internal static bool TryParseBlobName(string url, out string blobName)
    {
        blobName = string.Empty;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return false;
        var prefix = "/" + Container + "/";
        if (!uri.AbsolutePath.StartsWith(prefix, StringComparison.Ordinal)) return false;
        blobName = Uri.UnescapeDataString(uri.AbsolutePath[prefix.Length..]);
        return IsSafeName(blobName);
    }

    internal bool Exists(string blobName) => IsSafeName(blobName) && File.Exists(ListPath(blobName));

    /// <summary>The committed blob as a read-only seekable stream, or null when there is none.</summary>
    internal BlobReadStream? OpenRead(string blobName)
    {
        if (!IsSafeName(blobName)) return null;
        // Under the commit lock: a commit that replaces the blob deletes its pieces only after this has opened them.
        lock (_commits)
        {
            var list = ListPath(blobName);
            if (!File.Exists(list)) return null;
            return new BlobReadStream(File.ReadAllLines(list).Select(PiecePath).ToList());
        }
    }

    /// <summary>Puts a file the emulator made (an export, an error keys file) into the store.</summary>
    internal void Store(string blobName, Action<Stream> write)
    {
        var piece = NewPieceName();
        using (var file = new FileStream(PiecePath(piece), FileMode.CreateNew, FileAccess.Write, FileShare.None))
            write(file);
        Commit(blobName, new[] { piece });
    }

    internal void StoreCopy(string blobName, string sourcePath)
    {
        var piece = NewPieceName();
        File.Copy(sourcePath, PiecePath(piece));
        Commit(blobName, new[] { piece });
    }

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        // The round trip to a storage account far away: every answer waits it out once before it starts (after the body of
        // a Put has arrived, before a Get's first byte), and the bytes then flow at full speed.
        if (_options.StorageLatency > TimeSpan.Zero)
            context.Response.OnStarting(() => Task.Delay(_options.StorageLatency, context.RequestAborted));
        if (request.Headers.Authorization.Count > 0)
        {
            lock (_leaks) _leaks.Add($"{request.Method} {request.Path}");
            // The standalone emulator's log is where scripts (the Pester suite) look for leaks.
            Console.WriteLine($"LEAK: the storage host received an Authorization header: {request.Method} {request.Path}");
            await ErrorAsync(context, 403, "AuthenticationFailed", "An Authorization header was sent with a SAS request; storage does not take the environment's token.");
            return;
        }
        var prefix = "/" + Container + "/";
        var path = request.Path.Value ?? "/";
        var blobName = path.StartsWith(prefix, StringComparison.Ordinal) ? Uri.UnescapeDataString(path[prefix.Length..]) : string.Empty;
        if (!IsSafeName(blobName))
        {
            await ErrorAsync(context, 400, "InvalidUri", "The requested URI does not represent any resource on the server.");
            return;
        }
        var write = request.Method is "PUT";
        if (CheckSas(context, path, write ? 'w' : 'r') is { } refusal)
        {
            await ErrorAsync(context, 403, "AuthenticationFailed", refusal);
            return;
        }
        var comp = request.Query["comp"].ToString();
        switch (request.Method, comp)
        {
            case ("PUT", ""):
                await PutBlobAsync(context, blobName);
                return;
            case ("PUT", "block"):
                await PutBlockAsync(context, blobName, request.Query["blockid"].ToString());
                return;
            case ("PUT", "blocklist"):
                await PutBlockListAsync(context, blobName);
                return;
            case ("GET" or "HEAD", ""):
                await GetBlobAsync(context, blobName);
                return;
        }
        await ErrorAsync(context, 400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
    }

    private string? CheckSas(HttpContext context, string path, char needed)
    {
        var query = context.Request.Query;
        var signature = query["sig"].ToString();
        var expiry = query["se"].ToString();
        var permissions = query["sp"].ToString();
        if (signature.Length == 0 || expiry.Length == 0)
            return "Server failed to authenticate the request: no shared access signature.";
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(path, permissions, expiry)), Encoding.ASCII.GetBytes(signature)))
            return "Signature did not match.";
        if (!DateTimeOffset.TryParse(expiry, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var until) || until <= _options.Time.GetUtcNow())
            return "Signed expiry time must be after the current time: the SAS has expired.";
        if (!permissions.Contains(needed))
            return "This request is not authorized to perform this operation using this permission.";
        return null;
    }

    private async Task PutBlobAsync(HttpContext context, string blobName)
    {
        if (!string.Equals(context.Request.Headers["x-ms-blob-type"].ToString(), "BlockBlob", StringComparison.Ordinal))
        {
            await ErrorAsync(context, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type.");
            return;
        }
        if (context.Request.ContentLength is not { } length || length > MaxPutBlobBytes)
        {
            await ErrorAsync(context, 413, "RequestBodyTooLarge", $"The request body is too large and exceeds the maximum permissible limit of {MaxPutBlobBytes} bytes; upload it in blocks.");
            return;
        }
        var piece = NewPieceName();
        await ReceiveBodyAsync(context, PiecePath(piece));
        Commit(blobName, new[] { piece });
        Interlocked.Increment(ref _putBlobs);
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    private async Task PutBlockAsync(HttpContext context, string blobName, string blockId)
    {
        if (blockId.Length == 0 || context.Request.ContentLength is not { } length || length > MaxBlockBytes)
        {
            await ErrorAsync(context, blockId.Length == 0 ? 400 : 413, blockId.Length == 0 ? "InvalidQueryParameterValue" : "RequestBodyTooLarge",
                $"A block needs a blockid and at most {MaxBlockBytes} bytes.");
            return;
        }
        // Into a file of its own first: a block whose body broke off is not there, and one put again replaces the earlier whole.
        var partial = PiecePath(NewPieceName());
        await ReceiveBodyAsync(context, partial);
        Directory.CreateDirectory(BlocksFolder(blobName));
        File.Move(partial, BlockPath(blobName, blockId), overwrite: true);
        Interlocked.Increment(ref _putBlocks);
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    private async Task PutBlockListAsync(HttpContext context, string blobName)
    {
        XDocument list;
        try
        {
            list = await XDocument.LoadAsync(context.Request.Body, LoadOptions.None, context.RequestAborted);
        }
        catch (System.Xml.XmlException)
        {
            await ErrorAsync(context, 400, "InvalidXmlDocument", "XML specified is not syntactically valid.");
            return;
        }
        var ids = list.Root?.Elements().Select(e => e.Value).ToList() ?? new List<string>();
        if (ids.Any(id => !File.Exists(BlockPath(blobName, id))))
        {
            await ErrorAsync(context, 400, "InvalidBlockList", "The specified block list is invalid.");
            return;
        }
        // Each block becomes a piece of the blob by a rename, no byte copied; a block named twice is one piece read twice.
        var pieces = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in ids.Distinct())
        {
            pieces[id] = NewPieceName();
            File.Move(BlockPath(blobName, id), PiecePath(pieces[id]));
        }
        Commit(blobName, ids.Select(id => pieces[id]).ToList());
        // As Azure: the blob's blocks that the list did not name are gone with the commit.
        if (Directory.Exists(BlocksFolder(blobName))) Directory.Delete(BlocksFolder(blobName), recursive: true);
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    /// <summary>
    /// Get Blob: the whole blob (200), or with a Range or x-ms-range header 'bytes=first-last' (or 'bytes=first-') that part
    /// (206), as Azure storage answers. HEAD (Get Blob Properties) answers the same headers without the body.
    /// </summary>
    private async Task GetBlobAsync(HttpContext context, string blobName)
    {
        await using var blob = OpenRead(blobName);
        if (blob is null)
        {
            await ErrorAsync(context, 404, "BlobNotFound", "The specified blob does not exist.");
            return;
        }
        var length = blob.Length;
        var response = context.Response;
        response.ContentType = "application/octet-stream";
        response.Headers["x-ms-blob-type"] = "BlockBlob";
        response.Headers["Accept-Ranges"] = "bytes";
        var range = context.Request.Headers["x-ms-range"].ToString() is { Length: > 0 } msRange ? msRange : context.Request.Headers.Range.ToString();
        var head = HttpMethods.IsHead(context.Request.Method);
        if (range.Length == 0 || head)
        {
            response.StatusCode = 200;
            response.ContentLength = length;
            if (!head) await StreamCopyOperation.CopyToAsync(blob, response.Body, length, CopyBufferSize, context.RequestAborted);
            return;
        }
        if (!TryParseRange(range, length, out var first, out var last))
        {
            response.Headers["Content-Range"] = $"bytes */{length}";
            await ErrorAsync(context, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
            return;
        }
        response.StatusCode = 206;
        response.ContentLength = last - first + 1;
        response.Headers["Content-Range"] = $"bytes {first}-{last}/{length}";
        blob.Position = first;
        await StreamCopyOperation.CopyToAsync(blob, response.Body, last - first + 1, CopyBufferSize, context.RequestAborted);
    }

    /// <summary>One range 'bytes=first-last' or 'bytes=first-' that starts inside the blob; its end is cut to the blob's.</summary>
    private static bool TryParseRange(string header, long length, out long first, out long last)
    {
        first = last = 0;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase)) return false;
        var bounds = header["bytes=".Length..].Split('-');
        if (bounds.Length != 2 || !long.TryParse(bounds[0], NumberStyles.None, CultureInfo.InvariantCulture, out first) || first >= length)
            return false;
        if (bounds[1].Length == 0)
        {
            last = length - 1;
            return true;
        }
        if (!long.TryParse(bounds[1], NumberStyles.None, CultureInfo.InvariantCulture, out last) || last < first) return false;
        last = Math.Min(last, length - 1);
        return true;
    }

    /// <summary>
    /// Makes <paramref name="pieces"/> the blob's content in one step (the list file is renamed into place), then deletes the
    /// pieces it had before. Readers open their pieces under the same lock, so none finds a piece gone.
    /// </summary>
    private void Commit(string blobName, IReadOnlyList<string> pieces)
    {
        var list = ListPath(blobName);
        var partial = PiecePath(NewPieceName());
        File.WriteAllLines(partial, pieces);
        string[] replaced;
        lock (_commits)
        {
            replaced = File.Exists(list) ? File.ReadAllLines(list) : Array.Empty<string>();
            File.Move(partial, list, overwrite: true);
        }
        foreach (var piece in replaced) File.Delete(PiecePath(piece));
    }

    /// <summary>
    /// The request's body into a new file, straight from the request's buffers; not flushed to the disk, as the emulator
    /// keeps no promise across a crash of the machine. A body that breaks off leaves no file.
    /// </summary>
    private static async Task ReceiveBodyAsync(HttpContext context, string path)
    {
        try
        {
            using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
            var reader = context.Request.BodyReader;
            var segments = new List<ReadOnlyMemory<byte>>();
            long written = 0;
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                // One write of all the buffers that have arrived (the pipe's are 4 KB each).
                segments.Clear();
                foreach (var segment in read.Buffer) segments.Add(segment);
                RandomAccess.Write(file, segments, written);
                written += read.Buffer.Length;
                reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted) return;
            }
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private string ListPath(string blobName) => Path.Combine(_root, "blobs", blobName);

    private string PiecePath(string piece) => Path.Combine(_root, "pieces", piece);

    private static string NewPieceName() => Guid.NewGuid().ToString("N");

    /// <summary>The uncommitted blocks of one blob.</summary>
    private string BlocksFolder(string blobName) => Path.Combine(_root, "blocks", blobName);

    private string BlockPath(string blobName, string blockId) =>
        Path.Combine(BlocksFolder(blobName), Convert.ToHexString(Encoding.UTF8.GetBytes(blockId)));

    private string Sign(string path, string permissions, string expiry)
    {
        using var hmac = new HMACSHA256(_key);
        return Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes($"{permissions}\n{expiry}\n{path}")));
    }

    /// <summary>Names the emulator itself makes: letters, digits, '-', '_' and '.', never a path.</summary>
    private static bool IsSafeName(string name) =>
        name.Length is > 0 and < 200 && !name.StartsWith('.') && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Azure storage's error answer: the code in a header and in an XML body.</summary>
    private static Task ErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.Headers["x-ms-error-code"] = code;
        var body = $"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{System.Security.SecurityElement.Escape(message)}</Message></Error>";
        return Wire.WriteBytesAsync(context, status, "application/xml", Encoding.UTF8.GetBytes(body));
    }

    /// <summary>Removes the temporary folder it made; a folder it was given (a data folder) stays.</summary>
    public void Dispose()
    {
        if (!_ownsRoot) return;
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
