using System;
using System.Net;

namespace RecurringIntegrations.Core
{
    /// <summary>
    /// Mirrors the PowerShell ErrorCategory names the cmdlets need, so Core stays free of PowerShell types
    /// while the cmdlet layer maps one to one by name.
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
    /// A failure the user can act on: a stable ErrorId, a precise category, what happened, and what to do.
    /// Messages never contain a secret or a token.
    /// </summary>
    public sealed class D365Exception : Exception
    {
        public D365Exception(string errorId, D365ErrorCategory category, string message,
            string? recommendedAction = null, HttpStatusCode? statusCode = null, string? serviceMessage = null,
            Exception? innerException = null)
            : base(Compose(message, serviceMessage, recommendedAction), innerException)
        {
            BaseMessage = message;
            ErrorId = errorId;
            Category = category;
            RecommendedAction = recommendedAction;
            StatusCode = statusCode;
            ServiceMessage = serviceMessage;
        }

        /// <summary>What happened, without the service's text and the advice.</summary>
        internal string BaseMessage { get; }

        /// <summary>A stable word scripts can match on, such as <c>EnqueueFileNotFound</c>.</summary>
        public string ErrorId { get; }
        public D365ErrorCategory Category { get; }
        public string? RecommendedAction { get; }
        public HttpStatusCode? StatusCode { get; }
        /// <summary>The service's own error text, when it gave one.</summary>
        public string? ServiceMessage { get; }

        private static string Compose(string message, string? serviceMessage, string? recommendedAction)
        {
            var text = message;
            if (!string.IsNullOrWhiteSpace(serviceMessage)) text += " The service said: " + serviceMessage!.Trim();
            if (!string.IsNullOrWhiteSpace(recommendedAction)) text += " " + recommendedAction!.Trim();
            return text;
        }
    }
}
