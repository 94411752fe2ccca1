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
/// producer, and each upload waits at the service until the test lets it go, so the order in which uploads end is the
/// test's: nothing here depends on timing.
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
        lock (_gates) _gates[name] = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        return new EnqueueRequest(path) { EntityName = "Customer groups" };
    }

    private void Let(EnqueueRequest file)
    {
        lock (_gates) _gates[Path.GetFileName(file.Path)].SetResult(true);
    }

    private static Mocked Service() => Mocked.Connect(Json($"\"{Guid.NewGuid()}\""));

    /// <summary>
    /// A service whose answer to each upload waits for the test's go (the file name is the upload's external identifier);
    /// each upload that reaches it releases <see cref="_arrived"/> once.
    /// </summary>
    private Mocked GatedService() => Mocked.Connect(After(request =>
    {
        var name = request.Headers.GetValues("x-ms-dyn-externalidentifier").Single();
        Task gate;
        lock (_gates)
        {
            gate = _gates[name].Task;
            _arrivals.Add(name);
        }
        _arrived.Release();
        return gate;
    }, Json($"\"{Guid.NewGuid()}\"")));

    private readonly SemaphoreSlim _arrived = new(0);
    /// <summary>The uploads that reached the service, in order.</summary>
    private readonly List<string> _arrivals = new();

    /// <summary>Waits (guarded) until <paramref name="count"/> more uploads have reached the service.</summary>
    private async Task Arrive(int count)
    {
        for (var i = 0; i < count; i++) Assert.True(await _arrived.WaitAsync(Guard), "an upload never reached the service");
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
        using var mocked = GatedService();
        var recorder = new Recorder<EnqueuedMessage>();
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 3 }.Stream(recorder.Callbacks(), ordered, total: -1, None);
        var (a, b, c, d, e) = (File("a.xml"), File("b.xml"), File("c.xml"), File("d.xml"), File("e.xml"));
        foreach (var file in new[] { a, b, c, d, e }) await stream.AddAsync(file, None);

        // Three uploads go; d and e wait their turn. c ends first: d goes, and c's outcome is reported (or held).
        await Arrive(3);
        Let(c);
        await Arrive(1);
        Let(b);
        await Arrive(1);
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

    [Fact]
    public async Task The_producer_is_read_ahead_by_the_limit_so_a_freed_upload_slot_takes_the_next_file_at_once()
    {
        using var mocked = GatedService();
        var recorder = new Recorder<EnqueuedMessage>();
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 2 }.Stream(recorder.Callbacks(), ordered: false, total: -1, None);
        var files = Enumerable.Range(0, 5).Select(i => File($"f{i}.xml")).ToList();

        // Two uploads going and two files waiting their turn: the producer is not held back ...
        for (var i = 0; i < 4; i++) Assert.True(stream.AddAsync(files[i], None).IsCompleted, $"file {i} was held back");
        await Arrive(2);
        // ... and the two going are the first two added (the two go at once, so in either order).
        lock (_gates) Assert.Equal(new[] { "f0.xml", "f1.xml" }, _arrivals.OrderBy(n => n, StringComparer.Ordinal));
        // ... until a fifth: it waits for a file to be done.
        var adding = stream.AddAsync(files[4], None);
        Assert.False(adding.IsCompleted);
        Assert.Equal(2, mocked.Transport.Requests.Count);

        // An upload ends: the next file, already at hand, is sent without the producer; then the fifth is taken. The next
        // is the third added, whichever pool thread ran the third's or the fourth's upload first: the turns go in input order.
        Let(files[0]);
        await Arrive(1);
        lock (_gates) Assert.Equal("f2.xml", _arrivals[2]);
        await adding.WaitAsync(Guard);
        foreach (var file in files.Skip(1)) Let(file);
        await stream.CompleteAsync().WaitAsync(Guard);
        Assert.Equal(5, recorder.Results.Count);
        lock (_gates) Assert.Equal(5, _arrivals.Distinct().Count());
    }

    [Fact]
    public async Task Each_file_is_confirmed_as_it_is_added_so_a_declined_file_is_never_sent()
    {
        using var mocked = Service();
        var recorder = new Recorder<EnqueuedMessage>();
        var asked = new List<string>();
        var callbacks = recorder.Callbacks();
        callbacks.Confirm = (path, _, _) =>
        {
            asked.Add(Path.GetFileName(path));
            return Task.FromResult(!path.EndsWith("no.xml", StringComparison.Ordinal));
        };
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 2 }.Stream(callbacks, ordered: true, total: -1, None);
        var (yes, no, last) = (File("yes.xml"), File("no.xml"), File("last.xml"));

        await stream.AddAsync(yes, None);
        Assert.Equal(new[] { "yes.xml" }, asked);
        await stream.AddAsync(no, None);
        await stream.AddAsync(last, None);
        Assert.Equal(new[] { "yes.xml", "no.xml", "last.xml" }, asked);
        await stream.CompleteAsync().WaitAsync(Guard);

        Assert.Equal(new[] { "yes.xml", "last.xml" }, recorder.Results.Select(m => m.FileName));
        Assert.Equal(2, mocked.Transport.Requests.Count);
        Assert.Equal(3, recorder.Progress.Max(p => p.Completed));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_failing_file_does_not_stop_the_others_and_keeps_its_place_when_ordered(bool ordered)
    {
        using var mocked = GatedService();
        var recorder = new Recorder<EnqueuedMessage>();
        var outcomes = new List<string>();
        var callbacks = recorder.Callbacks();
        callbacks.Result = m => { lock (outcomes) outcomes.Add(m.FileName); };
        callbacks.Error = (target, error) => { lock (outcomes) outcomes.Add($"{Path.GetFileName((string)target)}: {error.ErrorId}"); };
        var stream = new EnqueueBatch(mocked.Session, mocked.Client, Guid.NewGuid()) { ThrottleLimit = 2 }.Stream(callbacks, ordered, total: -1, None);
        var a = File("a.xml");
        // No such file: it fails as it is added, before its confirmation, so it ends first whatever the gates say.
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
