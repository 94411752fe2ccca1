using System.Net;

namespace RecurringIntegrations.Core.Errors
{
    /// <summary>
    /// The categories of the catalogue; the cmdlet layer maps each to PowerShell's ErrorCategory, so Core stays free of
    /// PowerShell types.
    /// </summary>
    public enum D365ErrorCategory
    {
        NotSpecified,
        AuthenticationError,
        ConnectionError,
        LimitsExceeded,
        InvalidData,
        InvalidArgument,
        ObjectNotFound,
        OperationTimeout,
        InvalidOperation,
        ResourceUnavailable,
        SecurityError,
        PermissionDenied,
        WriteError,
        ReadError,
        OperationStopped,
    }

    /// <summary>
    /// A failure the user can act on: a stable ErrorId, a precise category, what happened, and what to do, all from one
    /// <see cref="ErrorEntry"/> of the <see cref="ErrorCatalog"/>. Messages never contain a secret or a token.
    /// </summary>
    public sealed class D365Exception : Exception
    {
        internal D365Exception(ErrorEntry entry, string message, string? recommendedAction, HttpStatusCode? statusCode,
            string? serviceMessage, Exception? innerException)
            : base(Compose(message, serviceMessage, recommendedAction), innerException)
        {
            Entry = entry;
            BaseMessage = message;
            RecommendedAction = string.IsNullOrWhiteSpace(recommendedAction) ? null : recommendedAction;
            StatusCode = statusCode;
            ServiceMessage = serviceMessage;
        }

        /// <summary>The catalogue entry this error was raised from.</summary>
        public ErrorEntry Entry { get; }

        /// <summary>What happened, without the service's text and the advice.</summary>
        internal string BaseMessage { get; }

        /// <summary>A stable word scripts can match on, such as <c>EnqueueFileNotFound</c>.</summary>
        public string ErrorId => Entry.ErrorId;
        public D365ErrorCategory Category => Entry.Category;
        public string? RecommendedAction { get; }
        public HttpStatusCode? StatusCode { get; }
        /// <summary>The service's own error text, when it gave one.</summary>
        public string? ServiceMessage { get; }

        /// <summary>The same error with another text of what happened (more said, or a secret taken out).</summary>
        internal D365Exception WithMessage(string message, string? serviceMessage) =>
            new D365Exception(Entry, message, RecommendedAction, StatusCode, serviceMessage, InnerException);

        private static string Compose(string message, string? serviceMessage, string? recommendedAction)
        {
            var text = message;
            if (!string.IsNullOrWhiteSpace(serviceMessage)) text += " The service said: " + serviceMessage!.Trim();
            if (!string.IsNullOrWhiteSpace(recommendedAction)) text += " " + recommendedAction!.Trim();
            return text;
        }
    }
}
