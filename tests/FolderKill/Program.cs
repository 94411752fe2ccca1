using System;
using System.Security;
using System.Threading;
using RecurringIntegrations.Core.Api;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Folders;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Packages;

// FolderKill import|export <folder> <environment> <tenant> <client id> <secret> <activity id> <throttle limit>
// FolderKill package <folder> <environment> <tenant> <client id> <secret> <data project> <company>
// Prints "running" once connected, then one line per row and error, then "done". The kill tests start it and kill it.
if (args.Length != 8)
{
    Console.Error.WriteLine("usage: FolderKill import|export <folder> <environment> <tenant> <client id> <secret> <activity id> <throttle limit>");
    Console.Error.WriteLine("       FolderKill package <folder> <environment> <tenant> <client id> <secret> <data project> <company>");
    return 2;
}
var secret = new SecureString();
foreach (var c in args[5]) secret.AppendChar(c);
var options = new ConnectionOptions(args[2], new ClientSecretCredential(args[3], args[4], secret)) { AuthorityHost = new Uri(args[2] + "/") };
using var session = await D365Session.ConnectAsync(options, CancellationToken.None);
var client = new D365Client(session);
Console.WriteLine("running");
var failures = 0;
void Error(object target, D365Exception error)
{
    Interlocked.Increment(ref failures);
    Console.WriteLine($"error {error.ErrorId} {target}");
}
if (args[0] == "package")
{
    var import = new FolderImport(session, client, new DataPackageClient(session), args[6], args[7], args[1])
    {
        Settle = TimeSpan.Zero,
        Timeout = TimeSpan.FromSeconds(30),
        PollInterval = TimeSpan.FromMilliseconds(100),
    };
    await import.RunAsync(new OperationCallbacks<FolderImportResult>
    {
        Result = row => Console.WriteLine($"row {row.FileName} {row.Outcome}"),
        Error = Error,
    }, CancellationToken.None);
}
else if (args[0] == "import")
{
    var import = new FolderImport(session, client, Guid.Parse(args[6]), args[1])
    {
        EntityName = "Customer groups",
        ThrottleLimit = int.Parse(args[7]),
        Settle = TimeSpan.Zero,
        Timeout = TimeSpan.FromSeconds(30),
        PollInterval = TimeSpan.FromMilliseconds(100),
    };
    await import.RunAsync(new OperationCallbacks<FolderImportResult>
    {
        Result = row => Console.WriteLine($"row {row.FileName} {row.Outcome}"),
        Error = Error,
    }, CancellationToken.None);
}
else
{
    var export = new FolderExport(session, client, Guid.Parse(args[6]), args[1]) { ThrottleLimit = int.Parse(args[7]) };
    await export.RunAsync(new OperationCallbacks<FolderExportResult>
    {
        Result = row => Console.WriteLine($"row {row.CorrelationId} {row.AlreadySaved}"),
        Error = Error,
    }, CancellationToken.None);
}
Console.WriteLine("done");
return 0;
