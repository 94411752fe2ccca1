using RecurringIntegrations.Core.Errors;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>What a failed try means for one kind of host: whether another try may help, and the error that tells the user.</summary>
    internal abstract class ResponseClassifier
    {
        /// <summary>No answer, or an answer that says "not now" (a timeout, throttling, a server or gateway failure).</summary>
        public virtual bool IsTransient(Failure failure) =>
            failure.Status is null || failure.Status == 408 || failure.Status == 429 || failure.Status == 500 ||
            failure.Status == 502 || failure.Status == 503 || failure.Status == 504;

        /// <param name="done">What was done before giving up ("Tried 8 times over 23.8 s, then gave up."), or null.</param>
        public abstract D365Exception Error(TryContext attempt, Failure failure, string? done);
    }

    /// <summary>The environment's answers, read as the service's own (OData errors, sign-in pages, throttling).</summary>
    internal sealed class EnvironmentClassifier(Uri environment) : ResponseClassifier
    {
        private readonly Uri _environment = environment;

        public override D365Exception Error(TryContext attempt, Failure failure, string? done)
        {
            var operation = attempt.Message.Operation;
            if (attempt.Response != null)
                return ResponseErrors.FromResponse(operation, attempt.Response, attempt.ErrorBody, _environment, done);
            return (failure.TimedOut ? ErrorCatalog.RequestTimedOut : ErrorCatalog.ConnectionFailed).FromService(null, null, failure.Exception,
                operation, _environment.Host, failure.Description, done is null ? string.Empty : " " + done);
        }
    }
}
