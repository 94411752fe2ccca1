using System.Runtime.InteropServices;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Http;

namespace RecurringIntegrations.Core.Files
{
    /// <summary>
    /// The one way a file is written: into a hidden partial file beside its target, flushed to disk, then moved into place,
    /// so a file under its final name is always complete. Disposed before <see cref="MoveTo"/> or <see cref="MoveToFreeName"/>,
    /// the partial file is removed. Every local failure (disk full, a folder or a locked file in the way, a reserved name)
    /// is a <see cref="D365Exception"/> of its own: an IOException escaping from here would be taken for a dropped
    /// connection and the download made again.
    /// </summary>
    internal sealed class LandingFile : IDisposable
    {
        private const int CopyBufferSize = 81920;
        private const int HeadLength = 512;

        private readonly FileStream _stream;
        private readonly string _stays;
        private readonly Func<Exception, D365Exception> _otherFailure;
        private readonly byte[] _head = new byte[HeadLength];
        private readonly SemaphoreSlim _positioned = new SemaphoreSlim(1, 1);
        private int _headLength;
        private bool _moved;

        private LandingFile(string partial, FileStream stream, string stays, Func<Exception, D365Exception> otherFailure)
        {
            PartialPath = partial;
            _stream = stream;
            _stays = stays;
            _otherFailure = otherFailure;
        }

        public string PartialPath { get; }
        public long Length { get; private set; }

        /// <summary>The first bytes written (up to 512): enough to tell a zip, XML or JSON file by its content.</summary>
        public byte[] Head
        {
            get
            {
                var head = new byte[_headLength];
                Buffer.BlockCopy(_head, 0, head, 0, _headLength);
                return head;
            }
        }

        /// <summary>The stream to write through, for writers that need one (a zip archive); it must not be disposed by them.</summary>
        public Stream Stream => _stream;

        /// <summary>
        /// Starts a file in <paramref name="directory"/>. <paramref name="stays"/> ends each error's advice with what became of
        /// the item (" The message stays on the queue."); <paramref name="otherFailure"/> turns any other local I/O failure into
        /// the caller's error.
        /// </summary>
        /// <param name="bufferSize">1 for a copy loop that writes whole buffers: a full disk then fails in the write, where it is
        /// reported, and never later in Dispose, where it would mask that error.</param>
        public static LandingFile Create(string directory, string hint, string stays, Func<Exception, D365Exception> otherFailure, int bufferSize = 1)
        {
            var partial = Path.Combine(directory, "." + hint + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
            try
            {
                var stream = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize, FileOptions.Asynchronous);
                // Windows shows dot-files: the attribute hides it from Explorer and from scripts that list the folder without -Force.
                if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) File.SetAttributes(partial, FileAttributes.Hidden);
                return new LandingFile(partial, stream, stays, otherFailure);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, partial, stays, otherFailure);
            }
        }

        public async Task WriteAsync(byte[] buffer, int count, CancellationToken cancellationToken)
        {
            KeepHead(buffer, count);
            try
            {
                await _stream.WriteAsync(buffer, 0, count, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, PartialPath, _stays, _otherFailure);
            }
            Length += count;
        }

        public void Write(byte[] buffer, int count)
        {
            KeepHead(buffer, count);
            try
            {
                _stream.Write(buffer, 0, count);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, PartialPath, _stays, _otherFailure);
            }
            Length += count;
        }

        /// <summary>
        /// Writes at <paramref name="offset"/>, for a download that arrives in ranges at once: one write at a time, as the
        /// file has one position. <see cref="Length"/> is then the end of the furthest write.
        /// </summary>
        public async Task WriteAtAsync(long offset, byte[] buffer, int count, CancellationToken cancellationToken)
        {
            await _positioned.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (offset == _headLength) KeepHead(buffer, count);
                _stream.Position = offset;
                await _stream.WriteAsync(buffer, 0, count, cancellationToken).ConfigureAwait(false);
                Length = Math.Max(Length, offset + count);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, PartialPath, _stays, _otherFailure);
            }
            finally
            {
                _positioned.Release();
            }
        }

        /// <summary>Cuts the file to <paramref name="length"/>: what an earlier, longer try of the same download left beyond it goes.</summary>
        public void Truncate(long length)
        {
            try
            {
                _stream.SetLength(length);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, PartialPath, _stays, _otherFailure);
            }
            Length = length;
        }

        private void KeepHead(byte[] buffer, int count)
        {
            if (_headLength >= HeadLength) return;
            var take = Math.Min(count, HeadLength - _headLength);
            Buffer.BlockCopy(buffer, 0, _head, _headLength, take);
            _headLength += take;
        }

        /// <summary>
        /// Copies <paramref name="source"/> to the end. A read that brings nothing for <paramref name="idleTimeout"/> on
        /// <paramref name="time"/> fails as an IOException (the connection's failure, which a retry may mend); a failed write
        /// fails as the local error it is. A stalled read ends also where the stream ignores the token (.NET Framework).
        /// </summary>
        public async Task CopyFromAsync(Stream source, TimeSpan idleTimeout, TimeProvider time, CancellationToken cancellationToken)
        {
            var buffer = new byte[CopyBufferSize];
            while (true)
            {
                var read = await BodyReads.ReadAsync(source, buffer, 0, buffer.Length, idleTimeout, time, cancellationToken).ConfigureAwait(false);
                if (read == 0) return;
                await WriteAsync(buffer, read, cancellationToken).ConfigureAwait(false);
            }
        }

        /// <summary>Flushes to disk and moves the file to <paramref name="target"/>, replacing a file there in one step when <paramref name="replace"/> is set.</summary>
        public string MoveTo(string target, bool replace)
        {
            FileNames.CheckUsable(target, _stays);
            Flush();
            try
            {
                // A rename over the old file, never a delete and then a move: a crash between those would leave neither.
                if (replace && File.Exists(target)) File.Replace(PartialPath, target, null);
                else File.Move(PartialPath, target);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, target, _stays, _otherFailure);
            }
            _moved = true;
            return target;
        }

        /// <summary>Flushes to disk and moves the file to <paramref name="name"/> in <paramref name="directory"/>, or to 'stem (2).ext', ... when that is taken.</summary>
        public string MoveToFreeName(string directory, string name)
        {
            FileNames.CheckUsable(Path.Combine(directory, name), _stays);
            Flush();
            while (true)
            {
                var target = FileNames.Free(directory, name);
                try
                {
                    File.Move(PartialPath, target);
                    _moved = true;
                    return target;
                }
                catch (IOException) when (FileNames.Exists(target))
                {
                    // Another writer took the name between the check and the move: take the next one.
                }
                catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                {
                    throw LocalFailure(ex, target, _stays, _otherFailure);
                }
            }
        }

        private void Flush()
        {
            try
            {
                _stream.Flush(true);
                _stream.Dispose();
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw LocalFailure(ex, PartialPath, _stays, _otherFailure);
            }
        }

        public void Dispose()
        {
            try
            {
                _stream.Dispose();
            }
            catch (IOException)
            {
                // A write that failed already said why; the partial file goes below either way.
            }
            if (_moved) return;
            try
            {
                File.Delete(PartialPath);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }

        /// <summary>The error of a local failure at <paramref name="path"/>, by what the file system says went wrong.</summary>
        internal static D365Exception LocalFailure(Exception ex, string path, string stays, Func<Exception, D365Exception> otherFailure)
        {
            if (Directory.Exists(path)) return ErrorCatalog.FileTargetIsFolder.Wrap(ex, path, stays);
            if (ex is IOException io && IsDiskFull(io)) return ErrorCatalog.DiskFull.Wrap(ex, path, stays);
            if (ex is IOException locked && IsInUse(locked)) return ErrorCatalog.FileTargetInUse.Wrap(ex, path, stays);
            if (ex is UnauthorizedAccessException) return ErrorCatalog.OutputPathAccessDenied.Wrap(ex, $"write '{path}'", stays);
            return otherFailure(ex);
        }

        /// <summary>Windows: ERROR_HANDLE_DISK_FULL (39), ERROR_DISK_FULL (112); elsewhere .NET reports errno: ENOSPC (28).</summary>
        internal static bool IsDiskFull(IOException ex) =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? (ex.HResult & 0xFFFF) is 39 or 112 : ex.HResult == 28;

        /// <summary>Windows: a sharing or lock violation (32, 33); elsewhere a refused lock, EWOULDBLOCK (11 on Linux, 35 on macOS).</summary>
        internal static bool IsInUse(IOException ex) =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? (ex.HResult & 0xFFFF) is 32 or 33 : ex.HResult is 11 or 35;
    }
}
