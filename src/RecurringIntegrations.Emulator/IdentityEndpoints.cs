using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RecurringIntegrations.Emulator;

/// <summary>The Entra ID token endpoints (v2.0 with scope=, v1 with resource=; client credentials with a secret or a
/// certificate assertion), the discovery document, the App Service managed identity endpoint, and the environment's root,
/// which sends a caller without a session to sign in.</summary>
internal sealed class IdentityEndpoints(EmulatorOptions options, TokenService tokens, EmulatorState state, SignInEndpoints signIn)
{
    private const string AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    private const string DefaultScopeSuffix = "/.default";

    private readonly EmulatorOptions _options = options;
    private readonly TokenService _tokens = tokens;
    private readonly EmulatorState _state = state;

    public void Map(IEndpointRouteBuilder routes)
    {
        var anonymous = new Operation("Token", OperationAccess.Anonymous);
        routes.MapPost("/{tenant}/oauth2/v2.0/token", context => TokenAsync(context, Tenant(context), v1: false)).WithMetadata(anonymous);
        routes.MapPost("/{tenant}/oauth2/token", context => TokenAsync(context, Tenant(context), v1: true)).WithMetadata(anonymous);
        var discovery = new Operation("OpenIdConfiguration", OperationAccess.Anonymous);
        routes.MapGet("/{tenant}/v2.0/.well-known/openid-configuration", context => OpenIdConfigurationAsync(context, Tenant(context))).WithMetadata(discovery);
        routes.MapGet("/{tenant}/.well-known/openid-configuration", context => OpenIdConfigurationAsync(context, Tenant(context))).WithMetadata(discovery);
        routes.MapGet("/msi/token", ManagedIdentityAsync).WithMetadata(new Operation("ManagedIdentity", OperationAccess.Anonymous));
        routes.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], RootAsync).WithMetadata(new Operation("Root", OperationAccess.Anonymous));
        routes.MapGet("/{tenant}/oauth2/authorize", Wire.WriteSignInPageAsync).WithMetadata(new Operation("SignIn", OperationAccess.Anonymous));
    }

    private static string Tenant(HttpContext context) => (string)context.GetRouteValue("tenant")!;

    /// <summary>
    /// GET /: clients probe the environment's root (Microsoft's scheduler reads 200 as "the instance is up"). With a valid
    /// token it is the web client's page; without one the service sends the browser to sign in, a 302 to the authority.
    /// </summary>
    private Task RootAsync(HttpContext context)
    {
        if (TokenCheckMiddleware.IsAuthorized(context, _tokens))
            return Wire.WriteBytesAsync(context, StatusCodes.Status200OK, "text/html; charset=utf-8", System.Text.Encoding.UTF8.GetBytes(
                "<!DOCTYPE html>\r\n<html><head><title>Finance and Operations</title></head><body><div id=\"shell\"></div></body></html>\r\n"));
        var origin = Origin(context);
        context.Response.Redirect($"{origin}/{_options.TenantId}/oauth2/authorize?response_type=code&client_id=00000015-0000-0000-c000-000000000000" +
                                  $"&redirect_uri={Uri.EscapeDataString(origin + "/")}");
        return Task.CompletedTask;
    }

    /// <summary>POST /{tenant}/oauth2/v2.0/token (scope=&lt;resource&gt;/.default) or, with <paramref name="v1"/>, the v1
    /// endpoint /{tenant}/oauth2/token (resource=&lt;resource&gt;), which older clients and many scripts still call. Both put
    /// the resource into aud as sent.</summary>
    public async Task TokenAsync(HttpContext context, string tenant, bool v1)
    {
        if (!string.Equals(tenant, _options.TenantId, StringComparison.OrdinalIgnoreCase))
        {
            await EntraErrorAsync(context, 400, "invalid_request", 90002,
                $"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.");
            return;
        }
        if (!v1 && await signIn.TryGrantAsync(context))
            return;
        if (!context.Request.HasFormContentType)
        {
            await EntraErrorAsync(context, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.");
            return;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        string? Field(string name) => form.TryGetValue(name, out var value) ? value.ToString() : null;

        foreach (var required in new[] { "grant_type", "client_id", v1 ? "resource" : "scope" })
        {
            if (string.IsNullOrEmpty(Field(required)))
            {
                await EntraErrorAsync(context, 400, "invalid_request", 900144, $"The request body must contain the following parameter: '{required}'.");
                return;
            }
        }
        if (Field("grant_type") != "client_credentials")
        {
            await EntraErrorAsync(context, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
            return;
        }
        var clientId = Field("client_id")!;
        if (!string.Equals(clientId, _options.ClientId, StringComparison.OrdinalIgnoreCase))
        {
            await EntraErrorAsync(context, 400, "unauthorized_client", 700016,
                $"Application with identifier '{clientId}' was not found in the directory '{_options.TenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.");
            return;
        }
        var scope = v1 ? Field("resource")! + DefaultScopeSuffix : Field("scope")!;
        if (!v1 && (!scope.EndsWith(DefaultScopeSuffix, StringComparison.Ordinal) || scope.Contains(' ')))
        {
            await EntraErrorAsync(context, 400, "invalid_scope", 1002012,
                $"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).");
            return;
        }

        var secret = Field("client_secret");
        var assertion = Field("client_assertion");
        if (assertion is not null)
        {
            var origin = Origin(context);
            var audiences = new[] { $"{origin}/{tenant}/oauth2/v2.0/token", $"{origin}/{tenant}/oauth2/token", $"{origin}/{tenant}/v2.0", $"{origin}/{tenant}" };
            var problem = Field("client_assertion_type") != AssertionType
                ? $"The client_assertion_type must be '{AssertionType}'."
                : _tokens.ValidateAssertion(assertion, clientId, audiences);
            if (problem is not null)
            {
                await EntraErrorAsync(context, 401, "invalid_client", 700027, $"Client assertion failed signature validation. {problem}");
                return;
            }
        }
        else if (secret != _options.ClientSecret)
        {
            await EntraErrorAsync(context, 401, "invalid_client", 7000215,
                $"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{clientId}'.");
            return;
        }

        // Entra puts the resource in aud as requested; the API side then insists it is the exact environment URL.
        var audience = scope[..^DefaultScopeSuffix.Length];
        var token = _tokens.Issue(audience, clientId, _options.TokenLifetime);
        _state.CountTokenGrant();
        var expiresIn = Math.Max(0, (long)Math.Ceiling(_options.TokenLifetime.TotalSeconds) - 1);
        if (v1)
        {
            // v1 answers its numbers as strings and names the resource.
            var now = _options.Time.GetUtcNow().ToUnixTimeSeconds();
            await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
            {
                w.WriteStartObject();
                w.WriteString("token_type", "Bearer");
                w.WriteString("expires_in", expiresIn.ToString(CultureInfo.InvariantCulture));
                w.WriteString("ext_expires_in", expiresIn.ToString(CultureInfo.InvariantCulture));
                w.WriteString("expires_on", (now + expiresIn).ToString(CultureInfo.InvariantCulture));
                w.WriteString("not_before", now.ToString(CultureInfo.InvariantCulture));
                w.WriteString("resource", audience);
                w.WriteString("access_token", token);
                w.WriteEndObject();
            });
            return;
        }
        await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("token_type", "Bearer");
            w.WriteNumber("expires_in", expiresIn);
            w.WriteNumber("ext_expires_in", expiresIn);
            w.WriteString("access_token", token);
            w.WriteEndObject();
        });
    }

    public Task OpenIdConfigurationAsync(HttpContext context, string tenant)
    {
        var root = $"{Origin(context)}/{tenant}";
        return Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("token_endpoint", $"{root}/oauth2/v2.0/token");
            w.WriteStartArray("token_endpoint_auth_methods_supported");
            w.WriteStringValue("client_secret_post");
            w.WriteStringValue("private_key_jwt");
            w.WriteEndArray();
            w.WriteString("jwks_uri", $"{root}/discovery/v2.0/keys");
            w.WriteStartArray("response_types_supported");
            w.WriteStringValue("code");
            w.WriteStringValue("id_token");
            w.WriteEndArray();
            w.WriteString("issuer", $"{root}/v2.0");
            w.WriteString("authorization_endpoint", $"{root}/oauth2/v2.0/authorize");
            w.WriteString("tenant_region_scope", "WW");
            w.WriteEndObject();
        });
    }

    /// <summary>GET /msi/token?resource=&amp;api-version=2019-08-01[&amp;client_id=], as App Service and Azure Automation serve it.</summary>
    public async Task ManagedIdentityAsync(HttpContext context)
    {
        if (context.Request.Headers["X-IDENTITY-HEADER"].ToString() != _options.ManagedIdentityHeader)
        {
            await ManagedIdentityErrorAsync(context, 401, "The X-IDENTITY-HEADER header is missing or wrong.");
            return;
        }
        var resource = context.Request.Query["resource"].ToString();
        if (resource.Length == 0)
        {
            await ManagedIdentityErrorAsync(context, 400, "The resource parameter is required.");
            return;
        }
        var clientId = context.Request.Query["client_id"].ToString();
        if (clientId.Length == 0)
            clientId = _options.ClientId;
        // Clients vary in how they spell the resource; the audience D365 checks is lower case with no slash.
        var audience = resource.TrimEnd('/').ToLowerInvariant();
        if (audience.EndsWith(DefaultScopeSuffix, StringComparison.Ordinal))
            audience = audience[..^DefaultScopeSuffix.Length];
        var token = _tokens.Issue(audience, clientId, _options.TokenLifetime);
        _state.CountTokenGrant();
        var expiresOn = (_options.Time.GetUtcNow() + _options.TokenLifetime).ToUnixTimeSeconds();
        await Wire.WriteJsonAsync(context, 200, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("access_token", token);
            w.WriteString("expires_on", expiresOn.ToString(CultureInfo.InvariantCulture));
            w.WriteString("resource", resource);
            w.WriteString("token_type", "Bearer");
            w.WriteString("client_id", clientId);
            w.WriteEndObject();
        });
    }

    /// <summary>The URL the client called, as a token audience: lower case, without the scheme's default port.</summary>
    internal static string Origin(HttpContext context) =>
        $"{context.Request.Scheme}://{context.Request.Host.Host}{Wire.PortSuffix(context)}".ToLowerInvariant();

    private static Task ManagedIdentityErrorAsync(HttpContext context, int statusCode, string message) =>
        Wire.WriteJsonAsync(context, statusCode, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteNumber("statusCode", statusCode);
            w.WriteString("message", message);
            w.WriteString("correlationId", Guid.NewGuid().ToString());
            w.WriteEndObject();
        });

    /// <summary>Entra ID's error shape: the AADSTS code leads error_description, which also carries the ids.</summary>
    internal static Task EntraErrorAsync(HttpContext context, int statusCode, string error, int code, string description)
    {
        var traceId = Guid.NewGuid().ToString();
        var correlationId = Guid.TryParse(context.Request.Headers["client-request-id"], out var sent) ? sent.ToString() : Guid.NewGuid().ToString();
        var timestamp = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return Wire.WriteJsonAsync(context, statusCode, Wire.JsonContentType, w =>
        {
            w.WriteStartObject();
            w.WriteString("error", error);
            w.WriteString("error_description",
                $"AADSTS{code}: {description} Trace ID: {traceId} Correlation ID: {correlationId} Timestamp: {timestamp}");
            w.WriteStartArray("error_codes");
            w.WriteNumberValue(code);
            w.WriteEndArray();
            w.WriteString("timestamp", timestamp);
            w.WriteString("trace_id", traceId);
            w.WriteString("correlation_id", correlationId);
            w.WriteString("error_uri", $"https://login.microsoftonline.com/error?code={code}");
            w.WriteEndObject();
        });
    }
}
