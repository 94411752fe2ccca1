using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Errors;
using Xunit;

namespace RecurringIntegrations.Tests.Connection;

/// <summary>Which proxy a session takes: one decision in our code, the same on .NET Framework and on PowerShell 7.</summary>
public sealed class ProxyDecisionTests
{
    private static readonly Uri Environment = new("https://contoso.operations.dynamics.com/");

    private static ProxyRoute Decide(Dictionary<string, string> variables, Uri? proxy = null, ICredentials? credential = null, bool useDefault = false) =>
        ProxyDecision.Decide(proxy, credential, useDefault, name => variables.TryGetValue(name, out var value) ? value : null);

    private static Dictionary<string, string> Vars(params string[] pairs)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < pairs.Length; i += 2) variables[pairs[i]] = pairs[i + 1];
        return variables;
    }

    [Fact]
    public void Without_parameter_or_variables_the_system_settings_are_used_with_the_credentials_given()
    {
        var route = Decide(Vars());
        Assert.Equal(ProxySource.System, route.Source);
        Assert.Null(route.Credentials);
        Assert.Equal("system proxy settings", route.Description);
        Assert.Same(CredentialCache.DefaultCredentials, Decide(Vars(), useDefault: true).Credentials);
    }

    [Fact]
    public void The_parameter_wins_over_the_variables_and_takes_the_credential()
    {
        var credential = new NetworkCredential("proxyuser", "S3cret!");
        var route = Decide(Vars("HTTPS_PROXY", "http://other:3128"), new Uri("http://proxy.contoso.com:8080/some/path"), credential);
        Assert.Equal(ProxySource.Parameter, route.Source);
        Assert.Equal(new Uri("http://proxy.contoso.com:8080"), route.GetProxy(Environment));
        Assert.False(route.IsBypassed(Environment));
        Assert.Same(credential, route.Credentials);
        Assert.Equal("http://proxy.contoso.com:8080", route.Description);
    }

    [Fact]
    public void HTTPS_PROXY_with_a_user_name_and_password_in_the_URL_gives_the_address_without_them_and_the_credential()
    {
        var route = Decide(Vars("HTTPS_PROXY", "http://CONTOSO%5Cproxy%20user:p%40ss:word@proxy.contoso.com:3128/"));
        Assert.Equal(ProxySource.Environment, route.Source);
        var address = route.GetProxy(Environment);
        Assert.Equal(new Uri("http://proxy.contoso.com:3128"), address);
        Assert.Empty(address.UserInfo);
        var credential = route.Credentials!.GetCredential(address, "Basic")!;
        Assert.Equal(("proxy user", "p@ss:word", "CONTOSO"), (credential.UserName, credential.Password, credential.Domain));
        Assert.Equal("http://proxy.contoso.com:3128 (from HTTPS_PROXY)", route.Description);
        Assert.DoesNotContain("word", route.Description);
    }

    [Fact]
    public void A_credential_given_as_a_parameter_wins_over_the_one_in_the_variable()
    {
        var credential = new NetworkCredential("given", "given-password");
        Assert.Same(credential, Decide(Vars("HTTPS_PROXY", "http://user:pass@proxy:3128"), credential: credential).Credentials);
        Assert.Same(CredentialCache.DefaultCredentials, Decide(Vars("HTTPS_PROXY", "http://user:pass@proxy:3128"), useDefault: true).Credentials);
    }

    [Fact]
    public void Variables_are_read_as_PowerShell_7_reads_them_lower_case_first_by_scheme_then_ALL_PROXY()
    {
        var route = Decide(Vars("https_proxy", "lower:1", "HTTPS_PROXY", "http://upper:2", "HTTP_PROXY", "http://plain:3"));
        Assert.Equal(new Uri("http://lower:1"), route.GetProxy(Environment));
        Assert.Equal(new Uri("http://plain:3"), route.GetProxy(new Uri("http://contoso.example/")));

        var all = Decide(Vars("ALL_PROXY", "http://all:4"));
        Assert.Equal(new Uri("http://all:4"), all.GetProxy(Environment));
        Assert.Equal("http://all:4 (from ALL_PROXY)", all.Description);

        // HTTP_PROXY alone is for http calls only: every call of a session to a remote host is https, so it goes direct.
        var httpOnly = Decide(Vars("HTTP_PROXY", "http://plain:3"));
        Assert.True(httpOnly.IsBypassed(Environment));
        Assert.Equal(Environment, httpOnly.GetProxy(Environment));
        Assert.Equal("http://plain:3 (from HTTP_PROXY, http only)", httpOnly.Description);
    }

    [Theory]
    [InlineData("contoso.operations.dynamics.com", true)]
    [InlineData(".dynamics.com", true)]
    [InlineData("*.dynamics.com", true)]
    [InlineData(" other.example , .operations.dynamics.com ", true)]
    [InlineData("dynamics.com", false)]
    [InlineData("operations.dynamics.com.evil", false)]
    [InlineData("", false)]
    public void NO_PROXY_names_hosts_and_domains_that_go_direct(string noProxy, bool bypassed)
    {
        var route = Decide(Vars("HTTPS_PROXY", "http://proxy:3128", "NO_PROXY", noProxy));
        Assert.Equal(bypassed, route.IsBypassed(Environment));
        Assert.Equal(bypassed ? Environment : new Uri("http://proxy:3128"), route.GetProxy(Environment));
    }

    [Fact]
    public void NO_PROXY_star_means_no_proxy_at_all()
    {
        var route = Decide(Vars("HTTPS_PROXY", "http://proxy:3128", "no_proxy", "*"));
        Assert.True(route.IsBypassed(Environment));
        Assert.Equal("none (NO_PROXY is *)", route.Description);
    }

    [Theory]
    [InlineData("https://127.0.0.1:5443/")]
    [InlineData("https://localhost/")]
    [InlineData("https://[::1]:8443/")]
    [InlineData("http://169.254.169.254/metadata/identity/oauth2/token")]
    public void This_machines_own_addresses_never_go_through_a_proxy(string destination)
    {
        Assert.True(Decide(Vars(), new Uri("http://proxy:8080")).IsBypassed(new Uri(destination)));
        Assert.True(Decide(Vars("HTTPS_PROXY", "http://proxy:3128", "HTTP_PROXY", "http://proxy:3128")).IsBypassed(new Uri(destination)));
    }

    [Fact]
    public void A_parameter_address_with_a_password_is_refused_without_showing_it()
    {
        var error = Assert.Throws<D365Exception>(() => Decide(Vars(), new Uri("http://alice:S3cret!@proxy:8080")));
        Assert.Equal("ProxyInvalid", error.ErrorId);
        Assert.Contains("http://proxy:8080", error.Message);
        Assert.Contains("-ProxyCredential", error.Message);
        Assert.DoesNotContain("S3cret", error.Message);
        Assert.DoesNotContain("alice", error.Message);
    }

    [Theory]
    [InlineData("https://proxy:8443")]
    [InlineData("socks5://proxy:1080")]
    public void Only_http_proxies_are_taken(string address)
    {
        Assert.Equal("ProxyInvalid", Assert.Throws<D365Exception>(() => Decide(Vars(), new Uri(address))).ErrorId);
        var error = Assert.Throws<D365Exception>(() => Decide(Vars("HTTPS_PROXY", address.Replace("://", "://user:S3cret@"))));
        Assert.Equal("ProxyInvalid", error.ErrorId);
        Assert.Contains("HTTPS_PROXY", error.Message);
        Assert.DoesNotContain("S3cret", error.Message);
    }

    [Fact]
    public void A_variable_that_is_not_a_URL_is_refused_and_not_shown()
    {
        var error = Assert.Throws<D365Exception>(() => Decide(Vars("HTTPS_PROXY", "http://user:S3cret@")));
        Assert.Equal("ProxyInvalid", error.ErrorId);
        Assert.DoesNotContain("S3cret", error.Message);
    }

    [Fact]
    public void A_relative_parameter_address_is_refused()
    {
        Assert.Equal("ProxyInvalid", Assert.Throws<D365Exception>(() => Decide(Vars(), new Uri("proxy", UriKind.Relative))).ErrorId);
    }

    [Fact]
    public void Both_kinds_of_proxy_credential_at_once_are_refused()
    {
        var error = Assert.Throws<D365Exception>(() => Decide(Vars(), new Uri("http://proxy:8080"), new NetworkCredential("u", "p"), useDefault: true));
        Assert.Equal("ProxyCredentialConflict", error.ErrorId);
    }

    [Fact]
    public void A_407_or_a_proxy_that_refuses_connections_is_told_apart_from_a_lost_connection()
    {
        Assert.Equal(ProxyFailureKind.AuthenticationRequired,
            ProxyFailure.Of(new HttpRequestException("The proxy tunnel request to proxy 'http://127.0.0.1:4070/' failed with status code '407'.")));
        Assert.Null(ProxyFailure.Of(new HttpRequestException("The proxy tunnel request to proxy 'http://127.0.0.1:407/' failed with status code '502'.")));
        Assert.Equal(ProxyFailureKind.Unreachable,
            ProxyFailure.Of(new HttpRequestException("Connection refused (127.0.0.1:9)", new SocketException((int)SocketError.ConnectionRefused))));
        Assert.Equal(ProxyFailureKind.Unreachable, ProxyFailure.Of(new HttpRequestException("x", new SocketException((int)SocketError.HostNotFound))));
        Assert.Equal(ProxyFailureKind.Unreachable, ProxyFailure.Of(new HttpRequestException("x", new WebException("x", WebExceptionStatus.ProxyNameResolutionFailure))));
        Assert.Null(ProxyFailure.Of(new HttpRequestException("x", new System.IO.IOException("reset", new SocketException((int)SocketError.ConnectionReset)))));
    }
}
