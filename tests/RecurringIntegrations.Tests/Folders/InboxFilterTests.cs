using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;

namespace RecurringIntegrations.Tests.Folders;

/// <summary>Issue 18 items 5 and 7: what an inbox sends on Windows, and a path .NET Framework cannot take.</summary>
public sealed class InboxFilterTests
{
    [Theory]
    [InlineData("desktop.ini", FileAttributes.Normal)]
    [InlineData("Desktop.INI", FileAttributes.Normal)]
    [InlineData("Thumbs.db", FileAttributes.Normal)]
    [InlineData("~$book.xlsx", FileAttributes.Normal)]
    [InlineData(".hidden.csv", FileAttributes.Normal)]
    [InlineData("a.csv", FileAttributes.Hidden)]
    [InlineData("a.csv", FileAttributes.System | FileAttributes.Archive)]
    public void Shell_Office_hidden_and_system_files_are_not_data(string name, FileAttributes attributes) =>
        Assert.NotNull(InboxFilter.SkipReason(name, attributes));

    [Theory]
    [InlineData("a.csv")]
    [InlineData("book~$.xlsx")]
    [InlineData("desktop.ini.csv")]
    public void Ordinary_files_are_data(string name) =>
        Assert.Null(InboxFilter.SkipReason(name, FileAttributes.Archive | FileAttributes.ReadOnly));

    [Theory]
    [InlineData("x.csv", "*.csv", true)]
    [InlineData("x.csv_old", "*.csv", false)]
    [InlineData("x.csvx", "*.csv", false)]
    [InlineData("a1.xml", "a?.xml", true)]
    [InlineData("a12.xml", "a?.xml", false)]
    [InlineData("noext", "*.*", true)]
    [InlineData("a+b(1).csv", "a+b(1).csv", true)]
    public void The_filter_matches_the_long_name_only(string name, string filter, bool matches) =>
        Assert.Equal(matches, InboxFilter.Matches(name, filter));

    [Fact]
    public async Task An_inbox_with_shell_Office_and_hidden_files_sends_only_the_real_files_and_says_why_it_skipped_the_others()
    {
        await using var env = await Emulated.StartAsync();
        var inbox = Path.Combine(env.Folder, "inbox");
        Directory.CreateDirectory(inbox);
        foreach (var name in new[] { "a.csv", "b.csv", "x.csv_old", "desktop.ini", "Thumbs.db", "~$a.csv", ".hidden.csv" })
            File.WriteAllText(Path.Combine(inbox, name), "ID\nA\n");
        var verbose = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var import = new FolderImport(env.Session, env.Client, WellKnown.ImportActivity, inbox)
        {
            EntityName = "Customer groups", Filter = "*.csv", Settle = TimeSpan.Zero, Timeout = TimeSpan.FromSeconds(20),
            PollInterval = TimeSpan.FromMilliseconds(50), Verbose = verbose.Enqueue,
        };
        var recorder = new Recorder<FolderImportResult>();

        await import.RunAsync(recorder.Callbacks(), CancellationToken.None);

        Assert.Equal(new[] { "a.csv", "b.csv" }, recorder.Results.Select(r => r.FileName).OrderBy(n => n));
        Assert.Equal(2, env.Emulator.State.Enqueued.Count);
        Assert.Contains(verbose, l => l == "'~$a.csv' in the inbox is skipped: an Office owner file, there while the document is open, not data.");
        Assert.Contains(verbose, l => l.StartsWith("'.hidden.csv' in the inbox is skipped: a hidden file"));
        foreach (var left in new[] { "x.csv_old", "desktop.ini", "Thumbs.db", "~$a.csv", ".hidden.csv" })
            Assert.True(File.Exists(Path.Combine(inbox, left)), left);
    }

    [Fact]
    public void A_path_too_long_for_NET_Framework_is_a_clear_error_naming_it_and_the_fix()
    {
        var path = @"C:\D365\" + new string('a', 300);
        var error = Assert.Throws<D365Exception>(() => FileChecks.FullPath(path, _ => throw new PathTooLongException("The specified path, file name, or both are too long.")));
        Assert.Equal("PathTooLong", error.ErrorId);
        Assert.Contains(path, error.Message);
        Assert.Contains("Enable Win32 long paths", error.RecommendedAction);
        Assert.Contains("shorter path", error.RecommendedAction);
    }

    [Fact]
    public void A_malformed_path_is_a_clear_error_not_an_unexpected_one()
    {
        var error = Assert.Throws<D365Exception>(() => FileChecks.FullPath(@"C:\a:b", _ => throw new NotSupportedException("The given path's format is not supported.")));
        Assert.Equal("PathInvalid", error.ErrorId);
        Assert.Contains(@"C:\a:b", error.Message);
        Assert.Equal("PathInvalid", Assert.Throws<D365Exception>(() => FileChecks.FullPath("a\0b", _ => throw new ArgumentException("Illegal characters in path."))).ErrorId);
    }

    [Fact]
    public void The_output_folder_and_the_inbox_check_their_paths_the_same_way()
    {
        Assert.Equal("PathInvalid", Assert.Throws<D365Exception>(() => FileChecks.PrepareOutputDirectory("a\0b")).ErrorId);
        Assert.Equal("PathInvalid", Assert.Throws<D365Exception>(() => FolderFiles.ExistingFolder("a\0b", "-Path")).ErrorId);
    }
}
