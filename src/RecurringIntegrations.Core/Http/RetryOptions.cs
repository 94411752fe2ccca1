namespace RecurringIntegrations.Core.Http
{
    /// <summary>How hard a call tries before it gives up. One policy serves every call of a session.</summary>
    public sealed class RetryOptions
    {
        /// <summary>Tries that failed for a transient reason (throttling not counted), the first included.</summary>
        public int MaxAttempts { get; set; } = 6;
        public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);
        /// <summary>The most time spent backing off between failed tries of one call (throttling waits not counted).</summary>
        public TimeSpan MaxTotalWait { get; set; } = TimeSpan.FromMinutes(5);
        /// <summary>How long one try of an ordinary call may take. File transfers are limited by inactivity instead.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);
        /// <summary>How long one call may be held back by throttling in all (pauses, pacing, tries answered 429) before it fails.</summary>
        public TimeSpan ThrottlingBudget { get; set; } = TimeSpan.FromMinutes(30);
    }
}
