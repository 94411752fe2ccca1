using System.Collections.Concurrent;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>
/// Sign-in for people and on-premises farms: Entra ID's device code flow (the device authorization endpoint, the
/// token endpoint's device_code and refresh_token grants) and an AD FS token endpoint (/adfs/oauth2/token, client
/// credentials with a secret or a certificate assertion, the resource given as resource= or as a scope).
/// A device code is approved after <see cref="EmulatorOptions.DeviceCodeApprovalDelay"/>, or by
/// POST /emulator/devicecode/approve (as the person entering the code would).
/// </summary>
internal sealed class SignInEndpoints(EmulatorOptions options, TokenService tokens, EmulatorState state)
{
    public const string DeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";
    private const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    private static readonly string[] OidcScopes = ["openid", "profile", "offline_access"];

    private readonly ConcurrentDictionary<string, DeviceCode> _deviceCodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _refreshTokens = new(StringComparer.Ordinal);

    /// <summary>The device authorization and AD FS endpoints, and the approval a person gives by entering the code.</summary>
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapPost("/emulator/devicecode/approve", ApproveAsync).WithMetadata(new Operation("DeviceCodeApprove", OperationAccess.Admin));
        routes.MapPost("/{tenant}/oauth2/v2.0/devicecode", context => DeviceAuthorizationAsync(context, (string)context.GetRouteValue("tenant")!))
            .WithMetadata(new Operation("DeviceAuthorization", OperationAccess.Anonymous));
        routes.MapPost("/adfs/oauth2/token", AdfsTokenAsync).WithMetadata(new Operation("AdfsToken", OperationAccess.Anonymous));
    }

    /// <summary>
    /// The device_code and refresh_token grants of Entra ID's v2.0 token endpoint, which <see cref="IdentityEndpoints"/>
    /// serves: true when the request was one of them and is answered.
    /// </summary>
    public async Task<bool> TryGrantAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
            return false;
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var grant = form["grant_type"].ToString();
        // MSAL sends the short form Entra ID also takes.
        if (grant is DeviceCodeGrant or "device_code")
        {
            await DeviceCodeTokenAsync(context, form);
            return true;
        }
        if (grant == "refresh_token")
        {
            await RefreshTokenAsync(context, form);
            return true;
        }
        return false;
    }

    private async Task DeviceAuthorizationAsync(HttpContext context, string tenant)
    {
        if (!string.Equals(tenant, options.TenantId, StringComparison.OrdinalIgnoreCase))
        {
            await IdentityEndpoints.EntraErrorAsync(context, 400, "invalid_request", 90002, $"Tenant '{tenant}' not found.");
            return;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var clientId = form["client_id"].ToString();
        if (!string.Equals(clientId, options.ClientId, StringComparison.OrdinalIgnoreCase))
        {
            await IdentityEndpoints.EntraErrorAsync(context, 400, "unauthorized_client", 700016, $"Application with identifier '{clientId}' was not found in the directory '{options.TenantId}'.");
            return;
        }
        var resource = ResourceOf(form["scope"].ToString());
        if (resource is null)
        {
            await IdentityEndpoints.EntraErrorAsync(context, 400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.");
            return;
        }
        var code = new DeviceCode(
            Convert.ToHexString(RandomNumberGenerator.GetBytes(24)),
            RandomNumberGenerator.GetString("BCDFGHJKLMNPQRSTVWXZ", 9),
            clientId, resource, options.Time.GetUtcNow());
        _deviceCodes[code.Code] = code;
        var verification = $"{IdentityEndpoints.Origin(context)}/emulator/devicecode";
        await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("user_code", code.UserCode);
            w.WriteString("device_code", code.Code);
            w.WriteString("verification_uri", verification);
            w.WriteNumber("expires_in", 900);
            w.WriteNumber("interval", 1);
            w.WriteString("message", $"To sign in, use a web browser to open the page {verification} and enter the code {code.UserCode} to authenticate.");
            w.WriteEndObject();
        });
    }

    private async Task DeviceCodeTokenAsync(HttpContext context, IFormCollection form)
    {
        // The token endpoint wants a secret from an app that is not a public client; it never gets one here.
        if (!options.AllowPublicClientFlows)
        {
            await IdentityEndpoints.EntraErrorAsync(context, 401, "invalid_client", 7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
            return;
        }
        if (!_deviceCodes.TryGetValue(form["device_code"].ToString(), out var code))
        {
            await IdentityEndpoints.EntraErrorAsync(context, 400, "expired_token", 70020, "The provided authorization code or refresh token has expired due to inactivity.");
            return;
        }
        var approved = code.Approved || (options.DeviceCodeApprovalDelay is { } delay && options.Time.GetUtcNow() - code.IssuedAt >= delay);
        if (!approved)
        {
            await IdentityEndpoints.EntraErrorAsync(context, 400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.");
            return;
        }
        _deviceCodes.TryRemove(code.Code, out _);
        await WriteUserTokenAsync(context, code.ClientId, code.Resource);
    }

    private async Task RefreshTokenAsync(HttpContext context, IFormCollection form)
    {
        if (!_refreshTokens.TryRemove(form["refresh_token"].ToString(), out var resource))
        {
            await IdentityEndpoints.EntraErrorAsync(context, 400, "invalid_grant", 700082, "The refresh token has expired due to inactivity.");
            return;
        }
        await WriteUserTokenAsync(context, form["client_id"].ToString(), resource);
    }

    /// <summary>What MSAL needs to keep an account: the tokens, client_info (uid, utid) and an id_token.</summary>
    private Task WriteUserTokenAsync(HttpContext context, string clientId, string resource)
    {
        var token = tokens.Issue(resource, clientId, options.TokenLifetime);
        state.CountTokenGrant();
        var refresh = Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
        _refreshTokens[refresh] = resource;
        const string user = "00000000-0000-0000-0000-0000000000e1";
        var now = options.Time.GetUtcNow();
        var idToken = Encode("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + Encode(new JsonObject
        {
            ["aud"] = clientId,
            ["iss"] = $"{IdentityEndpoints.Origin(context)}/{options.TenantId}/v2.0",
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = (now + options.TokenLifetime).ToUnixTimeSeconds(),
            ["name"] = "Emulator User",
            ["oid"] = user,
            ["preferred_username"] = "user@emulator.test",
            ["sub"] = user,
            ["tid"] = options.TenantId,
            ["ver"] = "2.0",
        }.ToJsonString()) + ".";
        var expiresIn = Math.Max(0, (long)Math.Ceiling(options.TokenLifetime.TotalSeconds) - 1);
        return Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("token_type", "Bearer");
            w.WriteString("scope", resource + "/.default");
            w.WriteNumber("expires_in", expiresIn);
            w.WriteNumber("ext_expires_in", expiresIn);
            w.WriteString("access_token", token);
            w.WriteString("refresh_token", refresh);
            w.WriteString("id_token", idToken);
            w.WriteString("client_info", Encode($"{{\"uid\":\"{user}\",\"utid\":\"{options.TenantId}\"}}"));
            w.WriteEndObject();
        });
    }

    /// <summary>POST /emulator/devicecode/approve[?user_code=X]: approves that code, or every pending one.</summary>
    private async Task ApproveAsync(HttpContext context)
    {
        var userCode = context.Request.Query["user_code"].ToString();
        var approved = 0;
        foreach (var code in _deviceCodes.Values)
        {
            if (userCode.Length > 0 && !string.Equals(code.UserCode, userCode, StringComparison.OrdinalIgnoreCase)) continue;
            code.Approved = true;
            approved++;
        }
        await context.Response.WriteAsJsonAsync(new { approved });
    }

    /// <summary>AD FS client credentials: client_id with client_secret or a certificate's client_assertion; the resource as resource= or scope=.</summary>
    private async Task AdfsTokenAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            await AdfsErrorAsync(context, 400, "invalid_request", "MSIS9609: The 'grant_type' parameter is missing.");
            return;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        if (form["grant_type"].ToString() != "client_credentials")
        {
            await AdfsErrorAsync(context, 400, "unsupported_grant_type", "MSIS9611: The authorization server does not support the requested 'grant_type'.");
            return;
        }
        var clientId = form["client_id"].ToString();
        if (!string.Equals(clientId, options.ClientId, StringComparison.OrdinalIgnoreCase))
        {
            await AdfsErrorAsync(context, 400, "invalid_client", $"MSIS9607: The 'client_id' parameter in the request is invalid. No registered client is found with this identifier '{clientId}'.");
            return;
        }
        var assertion = form["client_assertion"].ToString();
        if (assertion.Length > 0)
        {
            var problem = form["client_assertion_type"].ToString() != AssertionType
                ? $"The client_assertion_type must be '{AssertionType}'."
                : tokens.ValidateAssertion(assertion, clientId, [$"{IdentityEndpoints.Origin(context)}/adfs/oauth2/token"]);
            if (problem is not null)
            {
                await AdfsErrorAsync(context, 401, "invalid_client", $"MSIS9622: Client authentication failed. {problem}");
                return;
            }
        }
        else if (form["client_secret"].ToString() != options.ClientSecret)
        {
            await AdfsErrorAsync(context, 401, "invalid_client", "MSIS9622: Client authentication failed. Please verify the credential provided for client authentication is valid.");
            return;
        }
        var resource = form["resource"].ToString() is { Length: > 0 } given ? given.TrimEnd('/').ToLowerInvariant() : ResourceOf(form["scope"].ToString());
        if (resource is null)
        {
            await AdfsErrorAsync(context, 400, "invalid_request", "MSIS9602: The 'resource' parameter is missing, and no scope names one.");
            return;
        }
        var token = tokens.Issue(resource, clientId, options.TokenLifetime);
        state.CountTokenGrant();
        var expiresIn = Math.Max(0, (long)Math.Ceiling(options.TokenLifetime.TotalSeconds) - 1);
        await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("access_token", token);
            w.WriteString("token_type", "bearer");
            w.WriteNumber("expires_in", expiresIn);
            w.WriteEndObject();
        });
    }

    private static Task AdfsErrorAsync(HttpContext context, int statusCode, string error, string description) =>
        Wire.WriteJsonAsync(context, statusCode, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", error);
            w.WriteString("error_description", description);
            w.WriteEndObject();
        });

    /// <summary>The resource of a scope list: the one '&lt;resource&gt;/.default' among MSAL's openid, profile and offline_access.</summary>
    private static string? ResourceOf(string scope)
    {
        var resources = scope.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(s => !OidcScopes.Contains(s, StringComparer.OrdinalIgnoreCase)).ToArray();
        return resources is [var only] && only.EndsWith("/.default", StringComparison.Ordinal)
            ? only[..^"/.default".Length].TrimEnd('/').ToLowerInvariant()
            : null;
    }

    private static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    private sealed class DeviceCode(string code, string userCode, string clientId, string resource, DateTimeOffset issuedAt)
    {
        public string Code { get; } = code;
        public string UserCode { get; } = userCode;
        public string ClientId { get; } = clientId;
        public string Resource { get; } = resource;
        public DateTimeOffset IssuedAt { get; } = issuedAt;
        public volatile bool Approved;
    }
}
