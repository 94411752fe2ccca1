using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Tests.Support;
using Xunit;
using static RecurringIntegrations.Tests.Support.MockTransport;

namespace RecurringIntegrations.Tests.Operations;

/// <summary>
/// Parallel uploads as files arrive (Send-D365Enqueue -ThrottleLimit above 1), over a mock transport. The test is the
/// producer, and each upload waits at its confirmation until the test lets it go, so the order in which uploads end is
/// the test's: nothing here depends on timing.
/// </summary>
public sealed class EnqueueStreamTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly string _folder = Directory.CreateTempSubdirectory("ri-stream-").FullName;
    private readonly Dictionary<string, TaskCompletionSource<bool>> _gates = new();

    public void Dispose() => Directory.Delete(_folder, true);

    private EnqueueRequest File(string name)
    {
        var path = Path.Combine(_folder, name);
        System.IO.File.WriteAllText(path, $"<{name}/>");
        _gates[path] = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new EnqueueRequest(path) { EntityName = "Customer groups" };
    }

    private void Let(EnqueueRequest file) => _gates[file.Path].SetResult(true);

    private static Mocked Service() => Mocked.Connect(Json($"\"{Guid.NewGuid()}\""));

    /// <summary>A recorder whose uploads each wait at their confirmation for the test's go.</summary>
    private OperationCallbacks<EnqueuedMessage> Gated(Recorder<EnqueuedMessage> recorder)
    {
        var callbacks = recorder.Callbacks();
        callbacks.Confirm = (path, _, _) => _gates[path].Task;
        return callbacks;
    }

    private static IEnumerable<string> Names(Recorder<EnqueuedMessage> recorder) =>
        recorder.Results.Select(m => m.FileName).Concat(recorder.Errors.Select(e => Path.GetFileName((string)e.Target)));

    [Fact]
    public async Task The_first_upload_is_done_before_the_producer_makes_the_second_file()
    {
        using var mocked = Service();
        var recorder = new Recorder<EnqueuedMessage>();
        var first = new TaskCompletionSource<EnqueuedMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var callbacks = recorder.Callbacks();
        callbacks.Result = first.SetResult;
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 8 }.Stream(callbacks, ordered: false, total: -1, None);

        await stream.AddAsync(File("a.xml"), None);
        var message = await first.Task.WaitAsync(Guard);

        Assert.Equal("a.xml", message.FileName);
        Assert.Single(mocked.Transport.Requests);
        callbacks.Result = recorder.Results.Enqueue;
        await stream.AddAsync(File("b.xml"), None);
        await stream.CompleteAsync().WaitAsync(Guard);
        Assert.Equal("b.xml", Assert.Single(recorder.Results).FileName);
        Assert.Equal(2, mocked.Transport.Requests.Count);
    }

    [Theory]
    [InlineData(false, new[] { "c.xml", "b.xml", "a.xml", "d.xml", "e.xml" })]
    [InlineData(true, new[] { "a.xml", "b.xml", "c.xml", "d.xml", "e.xml" })]
    public async Task Results_come_as_uploads_end_or_in_input_order(bool ordered, string[] expected)
    {
        using var mocked = Service();
        var recorder = new Recorder<EnqueuedMessage>();
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 3 }.Stream(Gated(recorder), ordered, total: -1, None);
        var (a, b, c, d, e) = (File("a.xml"), File("b.xml"), File("c.xml"), File("d.xml"), File("e.xml"));
        foreach (var file in new[] { a, b, c }) await stream.AddAsync(file, None);

        // The window is full: d gets a slot only when c's upload has ended and its outcome is reported (or held: a, d and e
        // end at once below, in any order).
        var addingD = stream.AddAsync(d, None);
        Assert.False(addingD.IsCompleted);
        Let(c);
        await addingD.WaitAsync(Guard);
        Assert.Equal(ordered ? Array.Empty<string>() : new[] { "c.xml" }, Names(recorder));
        var addingE = stream.AddAsync(e, None);
        Let(b);
        await addingE.WaitAsync(Guard);
        Assert.Equal(ordered ? Array.Empty<string>() : new[] { "c.xml", "b.xml" }, Names(recorder));

        Let(a);
        Let(d);
        Let(e);
        await stream.CompleteAsync().WaitAsync(Guard);
        if (!ordered) Assert.Equal(expected.Take(2), Names(recorder).Take(2));
        else Assert.Equal(expected, Names(recorder));
        Assert.Equal(expected.OrderBy(n => n), Names(recorder).OrderBy(n => n));
        Assert.Equal(5, recorder.Progress.Max(p => p.Completed));
        Assert.All(recorder.Progress, p => Assert.Equal(-1, p.Total));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_failing_file_does_not_stop_the_others_and_keeps_its_place_when_ordered(bool ordered)
    {
        using var mocked = Service();
        var recorder = new Recorder<EnqueuedMessage>();
        var outcomes = new List<string>();
        var callbacks = Gated(recorder);
        callbacks.Result = m => { lock (outcomes) outcomes.Add(m.FileName); };
        callbacks.Error = (target, error) => { lock (outcomes) outcomes.Add($"{Path.GetFileName((string)target)}: {error.ErrorId}"); };
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 2 }.Stream(callbacks, ordered, total: -1, None);
        var a = File("a.xml");
        // No such file: it fails before its confirmation, so it ends first whatever the gates say.
        var missing = new EnqueueRequest(Path.Combine(_folder, "missing.xml"));
        var c = File("c.xml");

        await stream.AddAsync(a, None);
        await stream.AddAsync(missing, None);
        await stream.AddAsync(c, None);
        Let(c);
        Let(a);
        await stream.CompleteAsync().WaitAsync(Guard);

        var failed = "missing.xml: EnqueueFileNotFound";
        if (ordered) Assert.Equal(new[] { "a.xml", failed, "c.xml" }, outcomes);
        else
        {
            Assert.Equal(failed, outcomes[0]);
            Assert.Equal(new[] { "a.xml", "c.xml" }, outcomes.Skip(1).OrderBy(n => n));
        }
        Assert.Equal(2, mocked.Transport.Requests.Count);
    }
}
