using System.Management.Automation;
using RecurringIntegrations.Core.Model;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// Send-D365Enqueue: uploads files to an import activity, one EnqueuedMessage per file. With -ThrottleLimit 1 each file
    /// is uploaded as it arrives from the pipeline (streaming, in order); above 1 uploads also start as files arrive, that
    /// many at once, and each result is written when its upload ends (in input order with -Ordered).
    /// </summary>
    [Cmdlet(VerbsCommunications.Send, "D365Enqueue", DefaultParameterSetName = PathSet, SupportsShouldProcess = true)]
    [OutputType(typeof(EnqueuedMessage))]
    public sealed class SendD365EnqueueCommand : ActivityCmdlet
    {
        public const string PathSet = "Path";
        public const string LiteralPathSet = "LiteralPath";
        private int _uploaded;
        /// <summary>-ThrottleLimit above 1: the uploads going on while input still arrives, and what ends them with the command.</summary>
        private EnqueueStream? _stream;
        private CancellationTokenSource? _streamCancellation;

        /// <summary>Files to upload; wildcards are expanded.</summary>
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[] Path { get; set; } = Array.Empty<string>();

        /// <summary>Files to upload, names taken as is (no wildcards). Get-ChildItem output binds here through its PSPath.</summary>
        [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        [ValidateNotNullOrEmpty]
        public string[] LiteralPath { get; set; } = Array.Empty<string>();

        /// <summary>The entity's display name as in the data project, for example 'Customer groups'. Leave out for data package jobs.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(EntityNameCompleter))]
        public string? EntityName { get; set; }

        /// <summary>
        /// The legal entity; honoured only when the job has "Use company from message" on. Binds by property name, so a CSV
        /// manifest (Path,Company) or a calculated property sends each file to its own company; every file keeps the company
        /// of its own input object, also when -ThrottleLimit collects them first.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        public string? Company { get; set; }

        /// <summary>Shown in the job's message history. Default: the file name.</summary>
        [Parameter]
        public string? ExternalIdentifier { get; set; }

        /// <summary>With -ThrottleLimit above 1: write the results (and errors) in input order rather than as uploads end.</summary>
        [Parameter]
        public SwitchParameter Ordered { get; set; }

        private string ProgressActivity => string.Format(Messages.EnqueueActivity, ActivityId);

        protected override void Process()
        {
            var files = ParameterSetName == LiteralPathSet ? ResolveLiteral() : ResolveWildcards();
            if (files.Count == 0) return;
            var batch = new EnqueueBatch(ActiveSession, Client, ActivityId) { ThrottleLimit = ThrottleLimit };
            if (ThrottleLimit == 1)
            {
                Run(token => batch.RunAsync(files, Callbacks(), token));
                return;
            }
            if (_stream is null)
            {
                _streamCancellation = CancellationTokenSource.CreateLinkedTokenSource(CancellationToken);
                _stream = batch.Stream(Callbacks(), Ordered, total: -1, _streamCancellation.Token);
            }
            var stream = _stream;
            // Returns once every file has a slot; what finished meanwhile is written here, on the pipeline thread.
            RunStream(async token =>
            {
                foreach (var file in files) await stream.AddAsync(file, token).ConfigureAwait(false);
            });
        }

        protected override void End()
        {
            if (_stream != null)
            {
                var stream = _stream;
                RunStream(_ => stream.CompleteAsync());
                _streamCancellation!.Dispose();
            }
            CompleteProgress(ProgressBar.Enqueue, ProgressActivity);
        }

        /// <summary>Pumps the stream's output while <paramref name="step"/> runs; if the command stops, its uploads end with it.</summary>
        private void RunStream(Func<CancellationToken, Task> step)
        {
            try
            {
                Run(step);
            }
            catch
            {
                _streamCancellation!.Cancel();
                try
                {
                    _stream!.CompleteAsync().Wait();
                }
                catch (AggregateException)
                {
                    // Cancelled uploads: the command's own failure is the one to report.
                }
                _streamCancellation.Dispose();
                throw;
            }
        }

        private OperationCallbacks<EnqueuedMessage> Callbacks() => PostingCallbacks<EnqueuedMessage>(message =>
        {
            _uploaded++;
            WriteObject(message);
        }, progress => WriteProgressRecord(ProgressBar.Enqueue, ProgressActivity,
            new OperationProgress(_uploaded, -1, progress.CurrentItem), string.Format(Messages.EnqueueStreamingStatus, _uploaded)),
            confirm: true);

        private List<EnqueueRequest> ResolveWildcards()
        {
            var files = new List<EnqueueRequest>();
            foreach (var path in Path)
            {
                ProviderInfo provider;
                System.Collections.ObjectModel.Collection<string> resolved;
                try
                {
                    resolved = SessionState.Path.GetResolvedProviderPathFromPSPath(path, out provider);
                }
                catch (ItemNotFoundException)
                {
                    WriteFileNotFound(path);
                    continue;
                }
                if (!IsFileSystem(provider, path)) continue;
                // A wildcard that matches nothing resolves to an empty list rather than throwing.
                if (resolved.Count == 0) WriteFileNotFound(path);
                foreach (var file in resolved) files.Add(Request(file));
            }
            return files;
        }

        private List<EnqueueRequest> ResolveLiteral()
        {
            var files = new List<EnqueueRequest>();
            foreach (var path in LiteralPath)
            {
                var file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
                // Existence, emptiness and readability are checked by Core right before the upload, with their own ErrorIds.
                if (IsFileSystem(provider, path)) files.Add(Request(file));
            }
            return files;
        }

        private bool IsFileSystem(ProviderInfo provider, string path)
        {
            if (string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase)) return true;
            WriteError(ToErrorRecord(ErrorCatalog.EnqueuePathNotFileSystem.Create(path, provider.Name), path));
            return false;
        }

        private void WriteFileNotFound(string path) => WriteError(ToErrorRecord(ErrorCatalog.EnqueueFileNotFound.Create(path), path));

        private EnqueueRequest Request(string file) => new EnqueueRequest(file)
        {
            EntityName = EntityName,
            Company = Company,
            ExternalIdentifier = ExternalIdentifier,
        };
    }
}
