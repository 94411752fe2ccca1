using System.Net;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>Whether a call may go again after a transient failure. Reads, status calls and acks may; calls that start work decide for themselves.</summary>
    internal class ResendRule
    {
        public static readonly ResendRule Always = new ResendRule();

        public virtual ResendVerdict Judge(TryContext attempt, Failure failure) => ResendVerdict.Resend;
    }

    /// <summary>A resend rule's answer: send again, or not, and why not.</summary>
    internal sealed class ResendVerdict
    {
        public static readonly ResendVerdict Resend = new ResendVerdict(null);

        private ResendVerdict(string? refusal) => Refusal = refusal;

        /// <summary>Why the call must not go again ("the connection failed after it was sent, ..."); null to send again.</summary>
        public string? Refusal { get; }

        public static ResendVerdict Refuse(string why) => new ResendVerdict(why);
    }

    /// <summary>
    /// A call its resend rule would not send again: the service may have done what it asked. The caller turns it into its
    /// own error (EnqueueOutcomeUnknown, PackageOutcomeUnknown), which says what to check before sending it again.
    /// </summary>
    internal sealed class ResendRefusedException : Exception
    {
        public ResendRefusedException(HttpMessage message, Failure failure, string refusal)
            : base($"{message.Operation}: {refusal}.", failure.Exception)
        {
            Operation = message.Operation;
            Refusal = refusal;
            StatusCode = failure.Status is int status ? (HttpStatusCode)status : (HttpStatusCode?)null;
            Tries = message.TriesSoFar();
        }

        public string Operation { get; }
        public string Refusal { get; }
        public HttpStatusCode? StatusCode { get; }
        /// <summary>"once (0.4 s)", "3 times over 2.1 s".</summary>
        public string Tries { get; }
    }

    /// <summary>
    /// When a call that starts work (an upload, an import) may go again without risking that work twice (docs/protocol.md,
    /// "Throttling and limits"): only when the service cannot have taken it. It cannot when it said so (429, 503, 408, or a
    /// 500 carrying its own OData error), when the connection was refused, or when no byte of an uploaded file left (whatever the answer). After
    /// the request was sent, a lost connection, no answer in time, a 502/504 from a gateway or a 500 that is not the
    /// service's own error may hide work that was started.
    /// </summary>
    internal sealed class UploadResendRule : ResendRule
    {
        public static readonly UploadResendRule Instance = new UploadResendRule();

        public override ResendVerdict Judge(TryContext attempt, Failure failure)
        {
            // Not one byte of the file left (an answer or a reset before the body, as with "Expect: 100-continue"): nothing to duplicate.
            if (attempt.Request.Content is FileUploadContent { BodyStarted: false }) return ResendVerdict.Resend;
            if (failure.Status == 408 || failure.Status == 429 || failure.Status == 503) return ResendVerdict.Resend;
            if (failure.Status == 500 && failure.ServiceAnswered) return ResendVerdict.Resend;
            if (failure.ConnectionRefused) return ResendVerdict.Resend;

            return ResendVerdict.Refuse(failure.Status switch
            {
                500 => "the 500 answer is not the service's own error, so something in between may have cut the call off after the service took it",
                int => $"a gateway answered {failure.Description}, and the service behind it may have taken the call",
                null when failure.TimedOut => $"{failure.Description} after it was sent, and the service may have taken it",
                null => $"the connection failed after it was sent ({failure.Description}), and the service may have taken it",
            });
        }
    }
}
