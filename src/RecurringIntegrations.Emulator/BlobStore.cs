using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// Azure blob storage as the package API uses it, answering requests whose Host is <see cref="EmulatorOptions.BlobHost"/>.
/// Blobs live in files (a 256 MB package costs no memory). Access is by SAS URL only: the signature and the expiry are
/// checked, and an Authorization header is refused and recorded as a leak (the environment's token must never come here).
/// Limits of storage version 2015-02-21: Put Blob up to 64 MiB, Put Block up to 4 MiB.
/// </summary>
public sealed class BlobStore : IDisposable
{
    public const string Container = "dmf";
    public const long MaxPutBlobBytes = 64L * 1024 * 1024;
    public const long MaxBlockBytes = 4L * 1024 * 1024;
    private readonly EmulatorOptions _options;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly string _root;
    private readonly bool _ownsRoot;
    private readonly List<string> _leaks = new();
    private int _putBlobs;
    private int _putBlocks;

    internal BlobStore(EmulatorOptions options)
    {
        _options = options;
        _ownsRoot = options.BlobFolder is null;
        _root = options.BlobFolder ?? Path.Combine(Path.GetTempPath(), "d365-emulator-blobs-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(_root, "blocks"));
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

    internal bool Exists(string blobName) => IsSafeName(blobName) && File.Exists(BlobPath(blobName));

    internal string BlobPath(string blobName) => Path.Combine(_root, blobName);

    /// <summary>Puts a file the emulator made (an export, an error keys file) into the store.</summary>
    internal void Store(string blobName, Action<Stream> write)
    {
        using var file = new FileStream(BlobPath(blobName), FileMode.Create, FileAccess.Write, FileShare.None);
        write(file);
    }

    internal void StoreCopy(string blobName, string sourcePath) => File.Copy(sourcePath, BlobPath(blobName), overwrite: true);

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        // The round trip to a storage account far away: every call waits it out before it is handled.
        if (_options.StorageLatency > TimeSpan.Zero)
            await Task.Delay(_options.StorageLatency, context.RequestAborted);
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
            case ("GET", ""):
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
        var partial = BlobPath(blobName) + ".partial";
        await CopyBodyAsync(context, partial);
        File.Move(partial, BlobPath(blobName), overwrite: true);
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
        await CopyBodyAsync(context, BlockPath(blobName, blockId));
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
        var partial = BlobPath(blobName) + ".partial";
        // Azure commits a list without copying; here the blocks are joined, in large synchronous copies (a 256 MB package
        // in 4 MiB blocks), so that the join costs as little of the client's time as it can.
        using (var target = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            foreach (var id in ids)
                using (var block = new FileStream(BlockPath(blobName, id), FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
                    block.CopyTo(target, 1024 * 1024);
        File.Move(partial, BlobPath(blobName), overwrite: true);
        foreach (var id in ids.Distinct()) File.Delete(BlockPath(blobName, id));
        context.Response.StatusCode = StatusCodes.Status201Created;
    }

    /// <summary>Get Blob: the whole blob (200), or with a Range or x-ms-range header 'bytes=first-last' (or 'bytes=first-') that part (206), as Azure storage answers.</summary>
    private async Task GetBlobAsync(HttpContext context, string blobName)
    {
        var file = BlobPath(blobName);
        if (!File.Exists(file))
        {
            await ErrorAsync(context, 404, "BlobNotFound", "The specified blob does not exist.");
            return;
        }
        var length = new FileInfo(file).Length;
        var response = context.Response;
        response.ContentType = "application/octet-stream";
        response.Headers["x-ms-blob-type"] = "BlockBlob";
        response.Headers["Accept-Ranges"] = "bytes";
        var range = context.Request.Headers["x-ms-range"].ToString() is { Length: > 0 } msRange ? msRange : context.Request.Headers.Range.ToString();
        if (range.Length == 0)
        {
            response.StatusCode = 200;
            response.ContentLength = length;
            await response.SendFileAsync(file, context.RequestAborted);
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
        await response.SendFileAsync(file, first, last - first + 1, context.RequestAborted);
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

    private static async Task CopyBodyAsync(HttpContext context, string path)
    {
        await using var target = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        await context.Request.Body.CopyToAsync(target, 81920, context.RequestAborted);
    }

    private string BlockPath(string blobName, string blockId) =>
        Path.Combine(_root, "blocks", blobName + "." + Convert.ToHexString(Encoding.UTF8.GetBytes(blockId)));

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
