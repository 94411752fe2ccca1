using System;
using System.Threading;
using System.Threading.Tasks;
using RecurringIntegrations.Core.Authentication;
using RecurringIntegrations.Emulator;
using RecurringIntegrations.Tests.Support;
using Xunit;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;
using RecurringIntegrations.Core.Api;

namespace RecurringIntegrations.Tests.Core;

/// <summary>Managed identity is found through process-wide environment variables, so these tests never run in parallel with each other.</summary>
[Collection(ProcessEnvironmentCollection.Name)]
public class ManagedIdentityTests
{
    [Fact]
    public async Task System_assigned_identity_gets_a_token_from_the_App_Service_style_endpoint()
    {
        await using var emulator = await D365Emulator.StartAsync();
        using var variables = new EnvironmentVariables(("IDENTITY_ENDPOINT", emulator.ManagedIdentityEndpoint.ToString()), ("IDENTITY_HEADER", emulator.Options.ManagedIdentityHeader));

        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, new ManagedIdentityCredential()), CancellationToken.None);
        Assert.Null(await new D365Client(session).DequeueAsync(WellKnown.ExportActivity, CancellationToken.None));

        Assert.Equal("ManagedIdentity", session.AuthenticationKind);
        Assert.Equal(1, emulator.State.TokenRequests);
        Assert.Contains(emulator.State.Requests, r => r.PathAndQuery.StartsWith("/msi/token") && r.StatusCode == 200);
    }

    [Fact]
    public async Task User_assigned_identity_sends_its_client_id()
    {
        await using var emulator = await D365Emulator.StartAsync();
        using var variables = new EnvironmentVariables(("IDENTITY_ENDPOINT", emulator.ManagedIdentityEndpoint.ToString()), ("IDENTITY_HEADER", emulator.Options.ManagedIdentityHeader));
        var clientId = "11111111-2222-3333-4444-555555555555";

        using var session = await D365Session.ConnectAsync(Emulated.Options(emulator, new ManagedIdentityCredential(clientId)), CancellationToken.None);

        Assert.Equal(clientId, session.ClientId);
        Assert.Contains(emulator.State.Requests, r => r.PathAndQuery.StartsWith("/msi/token") && r.PathAndQuery.Contains(clientId));
    }

    [Fact]
    public async Task Wrong_identity_header_fails_with_managed_identity_advice()
    {
        await using var emulator = await D365Emulator.StartAsync();
        using var variables = new EnvironmentVariables(("IDENTITY_ENDPOINT", emulator.ManagedIdentityEndpoint.ToString()), ("IDENTITY_HEADER", "not-the-header"));

        var error = await Assert.ThrowsAsync<D365Exception>(() =>
            D365Session.ConnectAsync(Emulated.Options(emulator, new ManagedIdentityCredential()), CancellationToken.None));

        Assert.Equal("ManagedIdentityTokenFailed", error.ErrorId);
        Assert.Contains("Managed identity works only inside Azure", error.Message);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection
{
    public const string Name = "Process environment variables";
}

/// <summary>Sets environment variables for one test and restores them after.</summary>
public sealed class EnvironmentVariables : IDisposable
{
    private readonly (string Name, string? Value)[] _previous;

    public EnvironmentVariables(params (string Name, string? Value)[] values)
    {
        _previous = Array.ConvertAll(values, v => (v.Name, Environment.GetEnvironmentVariable(v.Name)));
        foreach (var (name, value) in values) Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose()
    {
        foreach (var (name, value) in _previous) Environment.SetEnvironmentVariable(name, value);
    }
}
