using System;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>How hard a call tries before it gives up. One policy serves every call of a session.</summary>
    public sealed class RetryOptions
    {
        /// <summary>Tries in all, the first included.</summary>
        public int MaxAttempts { get; set; } = 6;
        public TimeSpan BaseDelay { get; set; } = TimeSpan.FromSeconds(1);
        public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);
        /// <summary>The most time spent waiting between tries of one call, Retry-After waits included.</summary>
        public TimeSpan MaxTotalWait { get; set; } = TimeSpan.FromMinutes(5);
        /// <summary>How long one try of an ordinary call may take. File transfers are limited by inactivity instead.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);
    }
}
