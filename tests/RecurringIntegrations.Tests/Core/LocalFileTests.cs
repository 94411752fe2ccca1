using System;
using System.IO;
using System.Net.Http;
using System.Text;
using RecurringIntegrations.Core;
using RecurringIntegrations.Core.Files;
using RecurringIntegrations.Core.Model;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Core;

public class LocalFileTests
{
    [Fact]
    public void Missing_empty_and_folder_paths_are_refused_before_any_call()
    {
        var folder = Directory.CreateTempSubdirectory().FullName;
        var empty = Path.Combine(folder, "empty.xml");
        File.WriteAllBytes(empty, Array.Empty<byte>());

        Assert.Equal("EnqueueFileNotFound", Assert.Throws<D365Exception>(() => FileChecks.ReadableFileLength(Path.Combine(folder, "none.xml"))).ErrorId);
        Assert.Equal("EnqueueFileEmpty", Assert.Throws<D365Exception>(() => FileChecks.ReadableFileLength(empty)).ErrorId);
        Assert.Equal("EnqueuePathIsDirectory", Assert.Throws<D365Exception>(() => FileChecks.ReadableFileLength(folder)).ErrorId);
        Assert.Equal("EnqueuePathEmpty", Assert.Throws<D365Exception>(() => FileChecks.ReadableFileLength(" ")).ErrorId);
    }

    [Fact]
    public void Output_path_that_is_a_file_is_refused_and_a_missing_folder_is_made()
    {
        var folder = Directory.CreateTempSubdirectory().FullName;
        var file = Path.Combine(folder, "f.txt");
        File.WriteAllText(file, "x");

        Assert.Equal("OutputPathIsFile", Assert.Throws<D365Exception>(() => FileChecks.PrepareOutputDirectory(file)).ErrorId);
        var made = FileChecks.PrepareOutputDirectory(Path.Combine(folder, "a", "b"));
        Assert.True(Directory.Exists(made));
    }

    [Theory]
    [InlineData(new byte[] { 0x50, 0x4B, 0x03, 0x04, 1 }, ".zip")]
    [InlineData(new byte[] { (byte)'<', (byte)'?' }, ".xml")]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, (byte)'<' }, ".xml")]
    [InlineData(new byte[] { 0xFF, 0xFE, (byte)'<', 0 }, ".xml")]
    [InlineData(new byte[] { (byte)'{', (byte)'"' }, ".json")]
    [InlineData(new byte[] { (byte)'A', (byte)',', (byte)'B' }, ".txt")]
    [InlineData(new byte[] { 1, 0, 2 }, ".bin")]
    public void Saved_file_extension_is_read_from_the_content(byte[] head, string extension) =>
        Assert.Equal(extension, DownloadFiles.SniffExtension(head));

    [Theory]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("..\\..\\x.xml", "x.xml")]
    [InlineData("Customers V3.xml", "Customers V3.xml")]
    [InlineData("..", "")]
    public void File_names_offered_by_the_service_cannot_escape_the_output_folder(string offered, string expected) =>
        Assert.Equal(expected, FileNames.Sanitize(offered));

    [Fact]
    public void Service_file_name_wins_over_the_correlation_id()
    {
        var message = new DequeueResult { CorrelationId = Guid.NewGuid() };
        using var named = new HttpResponseMessage { Content = new ByteArrayContent(Array.Empty<byte>()) };
        named.Content.Headers.ContentDisposition = new System.Net.Http.Headers.ContentDispositionHeaderValue("attachment") { FileName = "\"Customers.xml\"" };
        using var anonymous = new HttpResponseMessage { Content = new ByteArrayContent(Array.Empty<byte>()) };

        Assert.Equal("Customers.xml", DownloadFiles.ChooseName(named, message, Encoding.UTF8.GetBytes("<a/>")));
        Assert.Equal(message.CorrelationId + ".xml", DownloadFiles.ChooseName(anonymous, message, Encoding.UTF8.GetBytes("<a/>")));
    }

    [Theory]
    [InlineData("\"6d31e09f-0249-459f-94f0-aad9c2c47b64\"", true)]
    [InlineData("6d31e09f-0249-459f-94f0-aad9c2c47b64", true)]
    [InlineData("\"00000000-0000-0000-0000-000000000000\"", false)]
    [InlineData("<html/>", false)]
    [InlineData("", false)]
    public void Message_id_is_read_from_the_quoted_enqueue_answer(string body, bool valid) =>
        Assert.Equal(valid, D365Client.TryReadMessageId(body, out _));
}
