using System;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using Xunit;

namespace RecurringIntegrations.Tests.Connection;

/// <summary>The environment URL with a path (on-premises), the token audience without it, and the URLs of calls and downloads.</summary>
public sealed class EnvironmentAddressTests
{
    [Theory]
    [InlineData("https://AX.Contoso.com/namespaces/AXSF/", "https://ax.contoso.com/namespaces/AXSF")]
    [InlineData("https://ax.contoso.com/namespaces/AXSF", "https://ax.contoso.com/namespaces/AXSF")]
    [InlineData("ax.contoso.com/namespaces/AXSF", "https://ax.contoso.com/namespaces/AXSF")]
    [InlineData("https://ax.contoso.com:443/namespaces/AXSF/?cmp=USMF&mi=DefaultDashboard", "https://ax.contoso.com/namespaces/AXSF")]
    [InlineData("https://ax.contoso.com:8443/namespaces/AXSF#top", "https://ax.contoso.com:8443/namespaces/AXSF")]
    [InlineData("https://Contoso.Operations.Dynamics.com/?cmp=USMF", "https://contoso.operations.dynamics.com")]
    [InlineData("http://127.0.0.1:8080/namespaces/AXSF/", "http://127.0.0.1:8080/namespaces/AXSF")]
    public void The_path_is_kept_as_given_without_a_trailing_slash(string given, string expected) =>
        Assert.Equal(expected, EnvironmentAddress.ToText(EnvironmentAddress.Normalize(given)));

    [Theory]
    [InlineData("https://AX.Contoso.com/namespaces/AXSF/", "https://ax.contoso.com")]
    [InlineData("https://ax.contoso.com:8443/namespaces/AXSF", "https://ax.contoso.com:8443")]
    [InlineData("https://contoso.operations.dynamics.com", "https://contoso.operations.dynamics.com")]
    public void The_audience_is_the_environment_without_its_path(string given, string audience) =>
        Assert.Equal(audience, EnvironmentAddress.ToAudience(EnvironmentAddress.Normalize(given)));

    [Theory]
    [InlineData("/api/connector/enqueue/6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a01?entity=Customer%20groups&company=USMF")]
    [InlineData("/api/connector/dequeue/6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02")]
    [InlineData("/api/connector/ack/6ab0c2f1-3d1e-4c5f-9a11-0d2b7f3e1a02")]
    [InlineData("/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.GetMessageStatus")]
    [InlineData("/data/DataManagementDefinitionGroups/Microsoft.Dynamics.DataEntities.GetAzureWriteUrl")]
    [InlineData("/Metadata/DataEntities")]
    public void Every_call_goes_under_the_path(string call)
    {
        Assert.Equal("https://ax.contoso.com/namespaces/AXSF" + call,
            EnvironmentAddress.Combine(EnvironmentAddress.Normalize("https://ax.contoso.com/namespaces/AXSF/"), call).AbsoluteUri);
        Assert.Equal("https://contoso.operations.dynamics.com" + call,
            EnvironmentAddress.Combine(EnvironmentAddress.Normalize("https://contoso.operations.dynamics.com/"), call).AbsoluteUri);
    }

    [Theory]
    // Under the path, as the service hands it out: kept; http://host:80 rewritten to the environment's scheme and port.
    [InlineData("https://ax.contoso.com/namespaces/AXSF/api/connector/download/%7Bb%7D?correlation-id=c&blob=d",
        "https://ax.contoso.com/namespaces/AXSF/api/connector/download/%7Bb%7D?correlation-id=c&blob=d")]
    [InlineData("http://ax.contoso.com:80/namespaces/AXSF/api/connector/download/%7Bb%7D?correlation-id=c",
        "https://ax.contoso.com/namespaces/AXSF/api/connector/download/%7Bb%7D?correlation-id=c")]
    [InlineData("https://AX.contoso.com/namespaces/axsf/api/connector/download/%7Bb%7D",
        "https://ax.contoso.com/namespaces/axsf/api/connector/download/%7Bb%7D")]
    // Without the path (built by an AOS from the path it saw behind the gateway): the path is put in front.
    [InlineData("http://ax.contoso.com/api/connector/download/%7Bb%7D?correlation-id=c&blob=d",
        "https://ax.contoso.com/namespaces/AXSF/api/connector/download/%7Bb%7D?correlation-id=c&blob=d")]
    public void A_download_location_on_the_environment_is_fetched_under_its_path(string location, string expected) =>
        Assert.Equal(expected, EnvironmentAddress.ResolveDownloadLocation(EnvironmentAddress.Normalize("https://ax.contoso.com/namespaces/AXSF"), location).AbsoluteUri);

    [Fact]
    public void A_download_location_of_a_cloud_environment_is_left_as_it_is()
    {
        var location = "http://contoso.operations.dynamics.com:80/api/connector/download/%7Bb%7D?correlation-id=c";
        Assert.Equal("https://contoso.operations.dynamics.com/api/connector/download/%7Bb%7D?correlation-id=c",
            EnvironmentAddress.ResolveDownloadLocation(EnvironmentAddress.Normalize("https://contoso.operations.dynamics.com"), location).AbsoluteUri);
    }

    [Theory]
    [InlineData("https://adfs.contoso.com/namespaces/AXSF/api/connector/download/x")]
    [InlineData("https://ax.contoso.com.evil.example/namespaces/AXSF/api/connector/download/x")]
    public void A_download_location_on_another_host_is_refused_whatever_its_path(string location)
    {
        var error = Assert.Throws<D365Exception>(() =>
            EnvironmentAddress.ResolveDownloadLocation(EnvironmentAddress.Normalize("https://ax.contoso.com/namespaces/AXSF"), location));
        Assert.Equal("DownloadLocationForeignHost", error.ErrorId);
    }
}
