using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Tests.Support;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Files;

/// <summary>The one file writer against what a folder can hold in its way: each local failure is an error of its own, never an IOException.</summary>
public class LandingFileTests
{
    private const string Stays = " It stays on the queue.";

    private static LandingFile Start(string folder, string hint = "x") =>
        LandingFile.Create(folder, hint, Stays, ex => ErrorCatalog.DownloadWriteFailed.Wrap(ex, "Saving", ex.Message));

    private static void Write(LandingFile landing, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        landing.Write(bytes, bytes.Length);
    }

    private static string NewFolder() => Directory.CreateTempSubdirectory().FullName;

    [Fact]
    public void A_file_lands_complete_under_its_name_and_no_partial_file_is_left()
    {
        var folder = NewFolder();
        using (var landing = Start(folder))
        {
            Write(landing, "<a/>");
            Assert.StartsWith(".", Path.GetFileName(landing.PartialPath));
            // A dot-name hides it on Unix; on Windows only the attribute set when it is made does.
            Assert.True(File.GetAttributes(landing.PartialPath).HasFlag(FileAttributes.Hidden));
            Assert.False(File.Exists(Path.Combine(folder, "a.xml")));
            Assert.Equal(Path.Combine(folder, "a.xml"), landing.MoveTo(Path.Combine(folder, "a.xml"), replace: false));
        }
        Assert.Equal("<a/>", File.ReadAllText(Path.Combine(folder, "a.xml")));
        Assert.Equal(new[] { "a.xml" }, Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void Disposed_before_its_move_the_partial_file_is_removed()
    {
        var folder = NewFolder();
        using (var landing = Start(folder)) Write(landing, "half");
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void A_folder_holding_the_name_is_its_own_error_and_the_folder_is_untouched()
    {
        var folder = NewFolder();
        var target = Path.Combine(folder, "a.xml");
        Directory.CreateDirectory(Path.Combine(target, "inside"));
        using (var landing = Start(folder))
        {
            Write(landing, "<a/>");
            var error = Assert.Throws<D365Exception>(() => landing.MoveTo(target, replace: true));
            Assert.Equal("FileTargetIsFolder", error.ErrorId);
            Assert.Contains(target, error.Message);
            Assert.EndsWith(Stays.Trim(), error.RecommendedAction);
        }
        Assert.True(Directory.Exists(Path.Combine(target, "inside")));
        Assert.Equal(new[] { "a.xml" }, Directory.GetFileSystemEntries(folder).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("CON.xml")]
    [InlineData("con")]
    [InlineData("NUL.txt")]
    [InlineData("COM1.csv")]
    [InlineData("lpt9.tar.gz")]
    [InlineData("name.")]
    [InlineData("name ")]
    public void Reserved_names_and_a_trailing_dot_or_space_are_refused_on_every_OS(string name)
    {
        var folder = NewFolder();
        using (var landing = Start(folder))
        {
            Write(landing, "data");
            Assert.Equal("FileNameReserved", Assert.Throws<D365Exception>(() => landing.MoveTo(Path.Combine(folder, name), replace: true)).ErrorId);
            Assert.Equal("FileNameReserved", Assert.Throws<D365Exception>(() => landing.MoveToFreeName(folder, name)).ErrorId);
        }
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void A_free_name_steps_past_files_and_folders_of_the_same_name()
    {
        var folder = NewFolder();
        File.WriteAllText(Path.Combine(folder, "a.xml"), "first");
        Directory.CreateDirectory(Path.Combine(folder, "a (2).xml"));
        using var landing = Start(folder);
        Write(landing, "third");

        var landed = landing.MoveToFreeName(folder, "a.xml");

        Assert.Equal(Path.Combine(folder, "a (3).xml"), landed);
        Assert.Equal("first", File.ReadAllText(Path.Combine(folder, "a.xml")));
        Assert.Equal("third", File.ReadAllText(landed));
    }

    [Fact]
    public void Replace_overwrites_an_existing_file()
    {
        var folder = NewFolder();
        var target = Path.Combine(folder, "a.xml");
        File.WriteAllText(target, "old");
        using var landing = Start(folder);
        Write(landing, "new");
        landing.MoveTo(target, replace: true);
        Assert.Equal("new", File.ReadAllText(target));
    }

    [Fact]
    public void A_missing_folder_is_a_local_error_not_an_IOException()
    {
        var folder = Path.Combine(NewFolder(), "gone");
        Assert.Equal("DownloadWriteFailed", Assert.Throws<D365Exception>(() => Start(folder)).ErrorId);
    }

    [Fact]
    public void Disk_full_and_a_locked_target_are_told_apart_from_other_failures()
    {
        var path = Path.Combine(NewFolder(), "a.xml");
        var full = new IOException("No space left on device", OperatingSystem.IsWindows() ? unchecked((int)0x80070070) : 28);
        var locked = new IOException("in use", OperatingSystem.IsWindows() ? unchecked((int)0x80070020) : 11);
        var other = new IOException("something else", 5);
        Func<Exception, D365Exception> fallback = ex => ErrorCatalog.DownloadWriteFailed.Wrap(ex, "Saving", ex.Message);

        Assert.Equal("DiskFull", LandingFile.LocalFailure(full, path, Stays, fallback).ErrorId);
        Assert.Equal("FileTargetInUse", LandingFile.LocalFailure(locked, path, Stays, fallback).ErrorId);
        Assert.Equal("OutputPathAccessDenied", LandingFile.LocalFailure(new UnauthorizedAccessException("no"), path, Stays, fallback).ErrorId);
        Assert.Equal("DownloadWriteFailed", LandingFile.LocalFailure(other, path, Stays, fallback).ErrorId);
    }

    [Fact]
    public async Task A_download_onto_a_folder_of_its_name_fails_once_with_a_local_error_and_is_not_downloaded_again()
    {
        await using var env = await Emulated.StartAsync();
        var correlationId = env.Emulator.AddExportMessage(WellKnown.ExportActivity, "customers.xml", Encoding.UTF8.GetBytes("<a/>"));
        var output = Path.Combine(env.Folder, "out");
        var taken = correlationId.ToString("D") + ".xml";
        Directory.CreateDirectory(Path.Combine(output, taken));
        var message = await env.Client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None);

        var error = await Assert.ThrowsAsync<D365Exception>(() => env.Client.DownloadAsync(message!, output, overwrite: true, CancellationToken.None));

        Assert.Equal("FileTargetIsFolder", error.ErrorId);
        Assert.DoesNotContain(correlationId, env.Emulator.State.Acknowledged);
        Assert.Equal(new[] { taken }, Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("CON.xml", "_CON.xml")]
    [InlineData("report.", "report")]
    [InlineData("nul", "_nul")]
    public async Task A_reserved_name_or_trailing_dot_from_the_service_lands_under_a_safe_name_after_one_download(string offered, string landed)
    {
        using var mocked = Mocked.Connect(_ =>
        {
            var answer = new System.Net.Http.HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new System.Net.Http.ByteArrayContent(Encoding.UTF8.GetBytes("<a/>")) };
            answer.Content.Headers.ContentDisposition = new System.Net.Http.Headers.ContentDispositionHeaderValue("attachment") { FileName = offered };
            return answer;
        });
        var output = NewFolder();
        var message = new RecurringIntegrations.Core.Model.DequeueResult
        {
            CorrelationId = Guid.NewGuid(), DownloadLocation = Mocked.Environment + "/api/connector/download/1", IsDownloadFileExist = true,
        };

        var saved = await mocked.Client.DownloadAsync(message, output, overwrite: true, CancellationToken.None);

        Assert.Equal(Path.Combine(output, landed), saved.Path);
        Assert.Single(mocked.Transport.Requests);
    }

    [Fact]
    public async Task A_download_whose_target_is_open_in_another_program_fails_once_with_a_local_error()
    {
        // Windows' sharing violation when the finished file replaces one Excel holds: injected as the failure of the move.
        var path = Path.Combine(NewFolder(), "a.xml");
        var inUse = new IOException("in use", OperatingSystem.IsWindows() ? unchecked((int)0x80070020) : 11);
        var error = LandingFile.LocalFailure(inUse, path, Stays, ex => ErrorCatalog.DownloadWriteFailed.Wrap(ex, "Saving", ex.Message));
        Assert.Equal("FileTargetInUse", error.ErrorId);
        Assert.Contains(path, error.Message);
        // A D365Exception is no transport failure: the pipeline does not download it again.
        Assert.False(RecurringIntegrations.Core.Http.Failure.IsTransport(error, CancellationToken.None));
    }
}
