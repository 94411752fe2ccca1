using Microsoft.Win32.SafeHandles;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// A committed blob read as one stream: its pieces (the files of its blocks, in the block list's order, or the one file
/// of a Put Blob), read-only and seekable. The pieces are opened when the stream is made, so a commit that replaces the
/// blob and deletes them meanwhile does not change what this stream reads.
/// </summary>
internal sealed class BlobReadStream : Stream
{
    private readonly SafeFileHandle[] _pieces;
    // _starts[i] is where piece i begins in the blob; _starts[^1] is the blob's length.
    private readonly long[] _starts;
    private long _position;

    /// <summary>Opens <paramref name="paths"/> in order; a path may appear more than once (a block id named twice in the list).</summary>
    public BlobReadStream(IReadOnlyList<string> paths)
    {
        _pieces = new SafeFileHandle[paths.Count];
        _starts = new long[paths.Count + 1];
        try
        {
            for (var i = 0; i < paths.Count; i++)
            {
                // Delete shared: on Windows a later commit may delete a piece this stream still reads.
                _pieces[i] = File.OpenHandle(paths[i], FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
                _starts[i + 1] = _starts[i] + RandomAccess.GetLength(_pieces[i]);
            }
        }
        catch
        {
            Dispose(true);
            throw;
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _starts[^1];

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A position in a blob is not negative.");
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (!Locate(buffer.Length, out var piece, out var within, out var count)) return 0;
        var read = RandomAccess.Read(_pieces[piece], buffer[..count], within);
        _position += read;
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!Locate(buffer.Length, out var piece, out var within, out var count)) return 0;
        var read = await RandomAccess.ReadAsync(_pieces[piece], buffer[..count], within, cancellationToken);
        _position += read;
        return read;
    }

    /// <summary>The piece the position is in, the offset there and how much of <paramref name="wanted"/> it holds; false at the end.</summary>
    private bool Locate(int wanted, out int piece, out long within, out int count)
    {
        piece = 0;
        within = 0;
        count = 0;
        if (wanted == 0 || _position >= Length) return false;
        // The last start at or before the position; an empty piece shares its start with the next, so take the last of equals.
        var found = Array.BinarySearch(_starts, 0, _pieces.Length, _position);
        piece = found >= 0 ? found : ~found - 1;
        while (piece + 1 < _pieces.Length && _starts[piece + 1] <= _position) piece++;
        within = _position - _starts[piece];
        count = (int)Math.Min(wanted, _starts[piece + 1] - _position);
        return true;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        var position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        // As a file answers: ZipArchive takes this for a file too short to be a zip.
        if (position < 0) throw new IOException("An attempt was made to move the position before the beginning of the blob.");
        return _position = position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException("A committed blob is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("A committed blob is read-only.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var piece in _pieces) piece?.Dispose();
        base.Dispose(disposing);
    }
}
