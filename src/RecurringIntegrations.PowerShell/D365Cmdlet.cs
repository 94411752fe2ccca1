using System.Management.Automation;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Operations;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// What every cmdlet of the module shares: a cancellation source that Ctrl+C (StopProcessing) cancels, a bridge
    /// that runs Core's async work off the pipeline thread while Write* stays on it, and the one mapping of exceptions to
    /// ErrorRecords. Cmdlets override Begin, Process and End: whatever escapes them still leaves as an ErrorRecord with an
    /// ErrorId of the catalogue, never with a .NET type name.
    /// </summary>
    public abstract class BridgedCmdlet : PSCmdlet, IDisposable
    {
        private CancellationTokenSource? _cancellation;

        internal PipelineBridge Bridge { get; } = new PipelineBridge();

        internal CancellationToken CancellationToken => _cancellation?.Token ?? CancellationToken.None;

        protected sealed override void BeginProcessing()
        {
            _cancellation = new CancellationTokenSource();
            Guard(Begin);
        }

        protected sealed override void ProcessRecord() => Guard(Process);

        protected sealed override void EndProcessing() => Guard(End);

        protected virtual void Begin() { }

        protected virtual void Process() { }

        protected virtual void End() { }

        private void Guard(Action step)
        {
            try
            {
                step();
            }
            catch (Exception ex) when (!(ex is PipelineStoppedException || ex is ActionPreferenceStopException))
            {
                ThrowTerminatingError(ToErrorRecord(ex, null));
            }
        }

        protected override void StopProcessing() => _cancellation?.Cancel();

        /// <summary>
        /// Writes an object with its user-facing type name first (<see cref="PSTypeNames"/>). It hides Cmdlet.WriteObject so
        /// that no cmdlet of the module can write one without it.
        /// </summary>
        public new void WriteObject(object? sendToPipeline) => base.WriteObject(PSTypeNames.Named(sendToPipeline));

        public void Dispose()
        {
            _cancellation?.Dispose();
            GC.SuppressFinalize(this);
        }

        /// <summary>Runs Core work and pumps its callbacks here. Ctrl+C surfaces as a pipeline stop, not as an error.</summary>
        internal void Run(Func<CancellationToken, Task> work)
        {
            try
            {
                using (RunspaceScript.Pumping(Bridge))
                    Bridge.Run(work, CancellationToken);
            }
            catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!(ex is D365Exception) && ModuleInitializer.Dependencies?.BrokenFile(ex) is string path)
            {
                // A file under Dependencies/ fails when Core first reaches it (MSAL at the first sign-in), long after import.
                var entry = ModuleFileException.For(path, ex).ErrorId switch
                {
                    ModuleFileTexts.MissingId => ErrorCatalog.ModuleFileMissing,
                    ModuleFileTexts.BlockedId => ErrorCatalog.ModuleFileBlocked,
                    _ => ErrorCatalog.ModuleFileDamaged,
                };
                throw entry.Wrap(ex, path, ModuleFileException.ModuleFolder);
            }
        }

        /// <summary>Runs work for one item; its failure becomes a non-terminating error on that item and the pipeline goes on.</summary>
        /// <returns>False when the work failed (the error is written).</returns>
        internal bool RunForItem(object target, Func<CancellationToken, Task> work)
        {
            try
            {
                Run(work);
                return true;
            }
            catch (D365Exception ex)
            {
                WriteError(ToErrorRecord(ex, target));
                return false;
            }
        }

        /// <summary>Callbacks that post to the bridge, so results, errors, warnings and progress reach the host on this thread.</summary>
        internal OperationCallbacks<T> PostingCallbacks<T>(Action<T> result, Action<OperationProgress>? progress, bool confirm)
        {
            var callbacks = new OperationCallbacks<T>
            {
                Result = item => Bridge.Post(() => result(item)),
                Error = (target, error) => Bridge.Post(() => WriteError(ToErrorRecord(error, target))),
                Warning = text => Bridge.Post(() => WriteWarning(text)),
            };
            if (progress != null) callbacks.Progress = value => Bridge.Post(() => progress(value));
            if (confirm) callbacks.Confirm = (target, action, _) => Bridge.InvokeAsync(() => ShouldProcess(target, action));
            return callbacks;
        }

        /// <summary>
        /// Where the -Verbose lines of Core go: posted to the pipeline thread, or nowhere when the verbose stream is off, so
        /// that a run without -Verbose neither formats nor posts a line per HTTP call.
        /// </summary>
        internal Action<string>? VerboseLines => VerboseIsOn() ? line => Bridge.Post(() => WriteVerbose(line)) : (Action<string>?)null;

        private bool VerboseIsOn()
        {
            if (MyInvocation.BoundParameters.TryGetValue("Verbose", out var bound)) return ((SwitchParameter)bound).IsPresent;
            return LanguagePrimitives.TryConvertTo(GetVariableValue("VerbosePreference"), out ActionPreference preference)
                && preference != ActionPreference.SilentlyContinue && preference != ActionPreference.Ignore;
        }

        /// <summary>
        /// ErrorId, category and text come from the catalogue; the recommended action goes where Get-Error and
        /// $error[0].ErrorDetails show it. Anything that is not a D365Exception is a fault of the module: UnexpectedError,
        /// with the exception inside.
        /// </summary>
        internal static ErrorRecord ToErrorRecord(Exception exception, object? target)
        {
            var error = exception as D365Exception
                ?? ErrorCatalog.UnexpectedError.Wrap(exception, "The command failed", exception.GetType().FullName, exception.Message);
            var record = new ErrorRecord(error, error.ErrorId, ToErrorCategory(error.Category), target);
            if (error.RecommendedAction != null)
                record.ErrorDetails = new ErrorDetails(error.Message) { RecommendedAction = error.RecommendedAction };
            return record;
        }

        internal static ErrorCategory ToErrorCategory(D365ErrorCategory category) => category switch
        {
            D365ErrorCategory.NotSpecified => ErrorCategory.NotSpecified,
            D365ErrorCategory.AuthenticationError => ErrorCategory.AuthenticationError,
            D365ErrorCategory.ConnectionError => ErrorCategory.ConnectionError,
            D365ErrorCategory.LimitsExceeded => ErrorCategory.LimitsExceeded,
            D365ErrorCategory.InvalidData => ErrorCategory.InvalidData,
            D365ErrorCategory.InvalidArgument => ErrorCategory.InvalidArgument,
            D365ErrorCategory.ObjectNotFound => ErrorCategory.ObjectNotFound,
            D365ErrorCategory.OperationTimeout => ErrorCategory.OperationTimeout,
            D365ErrorCategory.InvalidOperation => ErrorCategory.InvalidOperation,
            D365ErrorCategory.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
            D365ErrorCategory.SecurityError => ErrorCategory.SecurityError,
            D365ErrorCategory.PermissionDenied => ErrorCategory.PermissionDenied,
            D365ErrorCategory.WriteError => ErrorCategory.WriteError,
            D365ErrorCategory.ReadError => ErrorCategory.ReadError,
            D365ErrorCategory.OperationStopped => ErrorCategory.OperationStopped,
            _ => throw new ArgumentOutOfRangeException(nameof(category), category, "A category of the catalogue has no PowerShell ErrorCategory."),
        };
    }

    /// <summary>Base of the data cmdlets: -Session, with the default session of the last Connect-D365 when it is left out.</summary>
    public abstract class D365Cmdlet : BridgedCmdlet
    {
        /// <summary>The session to use. Default: the session of the last Connect-D365.</summary>
        [Parameter]
        [ValidateNotNull]
        public D365Session? Session { get; set; }

        internal D365Session ActiveSession { get; private set; } = null!;

        /// <summary>The client of this invocation: one -Verbose line per HTTP call, posted to the pipeline thread.</summary>
        internal D365Client Client { get; private set; } = null!;

        protected override void Begin()
        {
            var session = Session ?? D365Session.Default;
            if (session is null)
                ThrowTerminatingError(ToErrorRecord(ErrorCatalog.NoSession.Create(), null));
            try
            {
                Client = new D365Client(session!, VerboseLines);
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, session));
            }
            ActiveSession = session!;
        }

        internal void WriteProgressRecord(ProgressBar bar, string activity, OperationProgress progress, string status)
        {
            var record = new ProgressRecord((int)bar, activity, status) { PercentComplete = progress.PercentComplete };
            if (progress.CurrentItem != null) record.CurrentOperation = progress.CurrentItem;
            WriteProgress(record);
        }

        /// <summary>
        /// Runs an operation over many items whose own failure ends the command (an item's failure arrives as a
        /// non-terminating error through the callbacks), and closes its progress bar however it ends.
        /// </summary>
        internal void RunWithProgress(Func<CancellationToken, Task> work, object? target, ProgressBar bar, string activity)
        {
            try
            {
                Run(work);
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, target));
            }
            finally
            {
                CompleteProgress(bar, activity);
            }
        }

        internal void CompleteProgress(ProgressBar bar, string activity)
        {
            WriteProgress(new ProgressRecord((int)bar, activity, " ") { RecordType = ProgressRecordType.Completed });
        }
    }
}
