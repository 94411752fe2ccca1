using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core;
using RecurringIntegrations.Core.Operations;

namespace RecurringIntegrations.PowerShell
{
    /// <summary>
    /// What every cmdlet doing network work shares: a cancellation source that Ctrl+C (StopProcessing) cancels, a bridge
    /// that runs Core's async work off the pipeline thread while Write* stays on it, and the one mapping of D365Exception to ErrorRecord.
    /// </summary>
    public abstract class BridgedCmdlet : PSCmdlet, IDisposable
    {
        private CancellationTokenSource? _cancellation;

        internal PipelineBridge Bridge { get; } = new PipelineBridge();

        internal CancellationToken CancellationToken => _cancellation?.Token ?? CancellationToken.None;

        protected override void BeginProcessing() => _cancellation = new CancellationTokenSource();

        protected override void StopProcessing() => _cancellation?.Cancel();

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
                Bridge.Run(work, CancellationToken);
            }
            catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (!(ex is D365Exception) && ModuleInitializer.Dependencies?.BrokenFile(ex) is string path)
            {
                // A file under Dependencies/ fails when Core first reaches it (MSAL at the first sign-in), long after import.
                var broken = ModuleFileException.For(path, ex);
                throw new D365Exception(broken.ErrorId, broken.IsMissing ? D365ErrorCategory.ObjectNotFound : D365ErrorCategory.InvalidData,
                    broken.Text, Messages.ModuleFileAction, innerException: ex);
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

        internal void PostVerbose(string line) => Bridge.Post(() => WriteVerbose(line));

        /// <summary>
        /// ErrorId and text come from Core unchanged; the category maps by name (D365ErrorCategory mirrors ErrorCategory);
        /// the recommended action goes where Get-Error and $error[0].ErrorDetails show it.
        /// </summary>
        internal static ErrorRecord ToErrorRecord(Exception exception, object? target)
        {
            if (exception is D365Exception d365)
            {
                var category = Enum.TryParse<ErrorCategory>(d365.Category.ToString(), out var mapped) ? mapped : ErrorCategory.NotSpecified;
                var record = new ErrorRecord(d365, d365.ErrorId, category, target);
                if (!string.IsNullOrWhiteSpace(d365.RecommendedAction))
                    record.ErrorDetails = new ErrorDetails(d365.Message) { RecommendedAction = d365.RecommendedAction };
                return record;
            }
            return new ErrorRecord(exception, exception.GetType().Name, ErrorCategory.NotSpecified, target);
        }
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

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            var session = Session ?? D365Session.Default;
            if (session is null)
            {
                var record = new ErrorRecord(new InvalidOperationException(Messages.NoSession), Messages.NoSessionErrorId, ErrorCategory.InvalidOperation, null)
                {
                    ErrorDetails = new ErrorDetails(Messages.NoSession) { RecommendedAction = Messages.NoSessionAction },
                };
                ThrowTerminatingError(record);
            }
            try
            {
                Client = new D365Client(session!, PostVerbose);
            }
            catch (D365Exception ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, session));
            }
            ActiveSession = session!;
        }

        internal void WriteProgressRecord(int activityId, string activity, OperationProgress progress, string status)
        {
            var record = new ProgressRecord(activityId, activity, status) { PercentComplete = progress.PercentComplete };
            if (progress.CurrentItem != null) record.CurrentOperation = progress.CurrentItem;
            WriteProgress(record);
        }

        internal void CompleteProgress(int activityId, string activity)
        {
            WriteProgress(new ProgressRecord(activityId, activity, " ") { RecordType = ProgressRecordType.Completed });
        }
    }
}
