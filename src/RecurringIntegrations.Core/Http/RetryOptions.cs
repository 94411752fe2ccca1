namespace RecurringIntegrations.Core.Http
{
    /// <summary>How hard a call tries before it gives up. One policy serves every call of a session.</summary>
    public sealed class RetryOptions
    {
        /// <summary>Tries that failed for a transient reason (throttling not counted), the first included.</summary>
        public int MaxAttempts { get; set; } = 8;
        /// <summary>
        /// The first back-off's ceiling, doubling per failed try (with jitter, half to all of it): a quarter second, so a single
        /// failure costs little (the AWS SDKs start at 100 ms), while 8 tries still span 16 to 32 s of an environment's hiccup.
        /// </summary>
        public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(250);
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);
        /// <summary>The most time spent backing off between failed tries of one call (throttling waits not counted).</summary>
        public TimeSpan MaxTotalWait { get; set; } = TimeSpan.FromMinutes(5);
        /// <summary>How long one try of an ordinary call may take. File transfers are limited by inactivity instead.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);
        /// <summary>How long one call may be held back by throttling in all (pauses, pacing, tries answered 429) before it fails.</summary>
        public TimeSpan ThrottlingBudget { get; set; } = TimeSpan.FromMinutes(30);
    }
}
