using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Core.Operations
{
    /// <summary>
    /// What the operations on one activity of a session share: the client, the activity, and how many items they take on
    /// at once (1: strictly one after the other, in order).
    /// </summary>
    public abstract class ActivityOperation
    {
        public const int MaxThrottleLimit = 64;

        private protected ActivityOperation(D365Session session, D365Client client, Guid activityId)
        {
            Session = session ?? throw new ArgumentNullException(nameof(session));
            Client = client ?? throw new ArgumentNullException(nameof(client));
            ActivityId = activityId;
        }

        /// <summary>Items in flight at once, 1 to <see cref="MaxThrottleLimit"/>.</summary>
        public int ThrottleLimit { get; set; } = 1;

        private protected D365Session Session { get; }
        private protected D365Client Client { get; }
        private protected Guid ActivityId { get; }

        private protected void CheckThrottleLimit()
        {
            if (ThrottleLimit < 1 || ThrottleLimit > MaxThrottleLimit)
                throw new ArgumentOutOfRangeException(nameof(ThrottleLimit), ThrottleLimit, $"The throttle limit is 1 to {MaxThrottleLimit}.");
        }
    }
}
