using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Reliability;

/// <summary>Everything Core hands to the cmdlets (objects, errors, verbose lines, warnings) is searched for the secret and the token.</summary>
public class SecretLeakTests
{
    private const string Secret = "Ri~Secret.Value-8f3c2a91d7";

    [Fact]
    public async Task No_output_error_or_verbose_line_contains_the_secret_or_the_token()
    {
        await using var emulator = await D365Emulator.StartAsync(new EmulatorOptions { ClientSecret = Secret, ProcessingDelay = TimeSpan.FromMilliseconds(50) });
        var credential = new ClientSecretCredential(emulator.Options.TenantId, emulator.Options.ClientId, Emulated.Secure(Secret));
        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, credential), CancellationToken.None);
        var token = (await session.Tokens.GetTokenAsync(false, CancellationToken.None)).Value;
        var captured = new List<string>();
        var verbose = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var client = new D365Client(session, verbose.Enqueue);
        var folder = Directory.CreateTempSubdirectory().FullName;

        // Happy paths through every operation.
        var good = Path.Combine(folder, "good.csv");
        File.WriteAllText(good, "A\n1\n");
        var bad = Path.Combine(folder, "bad.csv");
        File.WriteAllText(bad, "A\nEMULATOR-ERROR: broken row\n");
        var imports = new Recorder<EnqueuedMessage>();
        await new EnqueueBatch(session, client, WellKnown.ImportActivity).RunAsync(
            new[] { new EnqueueRequest(good), new EnqueueRequest(bad), new EnqueueRequest(Path.Combine(folder, "missing.csv")) }, imports.Callbacks(), CancellationToken.None);
        var statuses = new Recorder<MessageStatus>();
        await new StatusWaiter(session, client) { PollInterval = TimeSpan.FromMilliseconds(50) }
            .RunAsync(imports.Results.Select(r => r.MessageId).ToList(), statuses.Callbacks(), CancellationToken.None);
        var errors = new List<ExecutionError>();
        foreach (var message in imports.Results)
            errors.AddRange(await MessageQueries.ExecutionErrorsOfMessageAsync(client, message.MessageId, CancellationToken.None));
        emulator.AddExportMessage(WellKnown.ExportActivity, "e.xml", "<e/>"u8.ToArray());
        var exports = new Recorder<DequeuedMessage>();
        await new QueueDrain(session, client, WellKnown.ExportActivity) { OutputPath = folder, Acknowledge = true }.RunAsync(exports.Callbacks(), CancellationToken.None);

        // Failure paths: refused token, a web page, malformed JSON, an unknown activity, a wrong secret at connect.
        emulator.Faults.Add(new FaultRule { PathContains = "GetMessageStatus", Kind = FaultKind.Status, StatusCode = 401, Times = 2 });
        emulator.Faults.Add(new FaultRule { PathContains = "GetExecutionIdByMessageId", Kind = FaultKind.HtmlPage });
        emulator.Faults.Add(new FaultRule { PathContains = "/api/connector/dequeue", Kind = FaultKind.MalformedJson });
        var failures = new List<Exception>();
        async Task Capture(Func<Task> call)
        {
            try { await call(); }
            catch (Exception ex) { failures.Add(ex); }
        }
        await Capture(() => client.GetMessageStatusAsync(Guid.NewGuid(), CancellationToken.None));
        await Capture(() => client.GetExecutionIdAsync(Guid.NewGuid(), CancellationToken.None));
        await Capture(() => client.DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));
        await Capture(() => client.EnqueueAsync(Guid.NewGuid(), good, "E", null, null, CancellationToken.None));
        await Capture(() => D365Session.ConnectAsync(Emulated.Options(emulator,
            new ClientSecretCredential(emulator.Options.TenantId, emulator.Options.ClientId, Emulated.Secure(Secret + "-wrong"))), CancellationToken.None));
        Assert.Equal(5, failures.Count);

        captured.AddRange(verbose);
        captured.AddRange(failures.Select(f => f.ToString()));
        captured.AddRange(imports.Errors.Select(e => e.Error.ToString()));
        captured.AddRange(imports.Results.Select(Describe));
        captured.AddRange(statuses.Results.Select(Describe));
        captured.AddRange(errors.Select(Describe));
        captured.AddRange(exports.Results.Select(Describe));
        captured.Add(Describe(session));
        captured.Add(Describe(credential));
        var all = string.Join("\n", captured);

        Assert.Contains("GET /api/connector/dequeue", all);
        Assert.DoesNotContain(Secret, all);
        Assert.DoesNotContain(token, all);
        Assert.DoesNotContain(token.Split('.')[2], all);
        Assert.DoesNotContain(token.Split('.')[1], all);
    }

    [Fact]
    public void Session_and_credentials_hold_no_secret_in_a_public_string()
    {
        var secretTypes = new[] { typeof(D365Session), typeof(ClientSecretCredential), typeof(AccessTokenCredential), typeof(ClientCertificateCredential), typeof(ConnectionOptions),
            typeof(TokenProviderCredential), typeof(ProvidedToken), typeof(ClientAssertionCredential), typeof(DeviceCodeCredential) };
        foreach (var type in secretTypes)
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                Assert.DoesNotMatch("(?i)secret|token$|password", property.PropertyType == typeof(string) ? property.Name : "");
    }

    /// <summary>Every public property value and ToString, as a format view or Export-Csv would show them.</summary>
    private static string Describe(object item)
    {
        var text = new StringBuilder(item.ToString()).Append('\n');
        foreach (var property in item.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = property.GetValue(item);
            text.Append(property.Name).Append('=');
            if (value is IEnumerable<KeyValuePair<string, string?>> fields)
                foreach (var field in fields) text.Append(field.Key).Append(':').Append(field.Value).Append(';');
            else
                text.Append(value);
            text.Append('\n');
        }
        return text.ToString();
    }
}
