using System.Globalization;
using System.Net;

namespace RecurringIntegrations.Core.Errors
{
    /// <summary>
    /// One ErrorId of the catalogue: its category, its message and its advice. Message and advice are composite formats
    /// that take the same arguments, so an entry whose advice depends on the situation names that part as a placeholder.
    /// </summary>
    public sealed class ErrorEntry
    {
        internal ErrorEntry(string errorId, D365ErrorCategory category, string message, string advice)
        {
            ErrorId = errorId;
            Category = category;
            Message = message;
            Advice = advice;
        }

        /// <summary>A stable word scripts can match on, such as <c>EnqueueFileNotFound</c>.</summary>
        public string ErrorId { get; }
        public D365ErrorCategory Category { get; }
        /// <summary>What happened, a composite format.</summary>
        public string Message { get; }
        /// <summary>What to do, a composite format over the same arguments as <see cref="Message"/>.</summary>
        public string Advice { get; }

        public D365Exception Create(params object?[] args) => FromService(null, null, null, args);

        public D365Exception Wrap(Exception inner, params object?[] args) => FromService(null, null, inner, args);

        /// <summary>An error the service answered: its status code and its own text travel with it.</summary>
        public D365Exception FromService(HttpStatusCode? statusCode, string? serviceMessage, Exception? inner, params object?[] args) =>
            new D365Exception(this, Format(Message, args), Format(Advice, args), statusCode, serviceMessage, inner);

        private static string Format(string format, object?[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
    }
}
