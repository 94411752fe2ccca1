using System;
using System.Diagnostics;
using System.Threading;

namespace RecurringIntegrations.Benchmarks;

/// <summary>
/// Samples this process's working set every few milliseconds on its own thread. The baseline is taken after a full
/// garbage collection, so the peak above it is what the measured work needed and not garbage left from earlier phases.
/// </summary>
internal sealed class MemorySampler : IDisposable
{
    private readonly Thread _thread;
    private readonly Process _self = Process.GetCurrentProcess();
    private volatile bool _stop;
    private long _peakWorkingSet;
    private long _peakPrivate;

    public MemorySampler()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        _self.Refresh();
        IdleWorkingSet = _self.WorkingSet64;
        IdlePrivate = _self.PrivateMemorySize64;
        _peakWorkingSet = IdleWorkingSet;
        _peakPrivate = IdlePrivate;
        _thread = new Thread(Sample) { IsBackground = true, Name = "memory sampler" };
        _thread.Start();
    }

    public long IdleWorkingSet { get; }
    public long IdlePrivate { get; }
    public long PeakWorkingSetAboveIdle => Interlocked.Read(ref _peakWorkingSet) - IdleWorkingSet;
    public long PeakPrivateAboveIdle => Interlocked.Read(ref _peakPrivate) - IdlePrivate;

    private void Sample()
    {
        while (true)
        {
            _self.Refresh();
            Interlocked.Exchange(ref _peakWorkingSet, Math.Max(Interlocked.Read(ref _peakWorkingSet), _self.WorkingSet64));
            Interlocked.Exchange(ref _peakPrivate, Math.Max(Interlocked.Read(ref _peakPrivate), _self.PrivateMemorySize64));
            if (_stop) return;
            Thread.Sleep(2);
        }
    }

    /// <summary>Stops sampling after one last reading, so the peaks are final.</summary>
    public void Stop()
    {
        _stop = true;
        _thread.Join();
    }

    public void Dispose() => Stop();
}
