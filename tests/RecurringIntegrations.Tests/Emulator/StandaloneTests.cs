using System;
using RecurringIntegrations.Emulator;
using Xunit;

namespace RecurringIntegrations.Tests.Emulator;

public class StandaloneTests
{
    [Fact]
    public void Fault_option_reads_kind_path_and_times()
    {
        var reset = Program.ParseFault("reset-after-body:/api/connector/enqueue:2");
        Assert.Equal(FaultKind.ResetAfterBody, reset.Kind);
        Assert.Equal("/api/connector/enqueue", reset.PathContains);
        Assert.Equal(2, reset.Times);

        var throttled = Program.ParseFault("429:dequeue");
        Assert.Equal((FaultKind.Status, 429, "1", 1), (throttled.Kind, throttled.StatusCode, throttled.RetryAfter, throttled.Times));

        var slow = Program.ParseFault("delay-250:GetMessageStatus:-1");
        Assert.Equal((FaultKind.Delay, TimeSpan.FromMilliseconds(250), -1), (slow.Kind, slow.Delay, slow.Times));
    }

    [Theory]
    [InlineData("reset")]
    [InlineData("teapot:/api")]
    [InlineData("500:")]
    public void Fault_option_that_cannot_be_read_is_refused(string text) =>
        Assert.Throws<ArgumentException>(() => Program.ParseFault(text));
}
