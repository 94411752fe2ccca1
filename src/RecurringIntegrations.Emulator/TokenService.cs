using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RecurringIntegrations.Emulator;

/// <summary>Issues and checks the emulator's bearer tokens (HS256 with a key made per instance, so a token
/// from another emulator never validates) and checks certificate client assertions.</summary>
internal sealed class TokenService
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly EmulatorOptions _options;

    public TokenService(EmulatorOptions options) => _options = options;

    public string Issue(string audience, string appId, TimeSpan lifetime)
    {
        var now = _options.Time.GetUtcNow();
        var expires = now + lifetime;
        var issuedAt = expires < now ? expires : now;
        var payload = new JsonObject
        {
            ["aud"] = audience,
            ["iss"] = $"https://sts.windows.net/{_options.TenantId}/",
            ["iat"] = issuedAt.ToUnixTimeSeconds(),
            ["nbf"] = issuedAt.ToUnixTimeSeconds(),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["appid"] = appId,
            ["appidacr"] = "1",
            ["oid"] = ObjectIdOf(appId).ToString(),
            ["sub"] = ObjectIdOf(appId).ToString(),
            ["tid"] = _options.TenantId,
            ["ver"] = "1.0",
        };
        var signingInput = Encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}") + "." + Encode(payload.ToJsonString());
        var signature = HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>True when the token is ours, unexpired and for exactly this audience.</summary>
    public bool Validate(string token, string audience)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
            return false;
        var expected = HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]));
        if (!TryDecode(parts[2], out var signature) || !CryptographicOperations.FixedTimeEquals(expected, signature))
            return false;
        if (ReadPayload(parts[1]) is not { } claims)
            return false;
        var now = _options.Time.GetUtcNow().ToUnixTimeSeconds();
        return ReadEpoch(claims["exp"]) > now
            && (claims["nbf"] is null || ReadEpoch(claims["nbf"]) <= now)
            && string.Equals((string?)claims["aud"], audience, StringComparison.Ordinal);
    }

    /// <summary>The appid a bearer token claims, unchecked: throttling counts calls per caller before authorization.</summary>
    public static string? ClientOf(string token)
    {
        var parts = token.Split('.');
        return parts.Length == 3 && ReadPayload(parts[1]) is { } claims ? (string?)claims["appid"] : null;
    }

    /// <summary>Checks a client_assertion: signed (RS256 or PS256) by a registered certificate, iss and sub the
    /// client id, aud one of <paramref name="audiences"/>, not expired. Returns why not, or null when valid.</summary>
    public string? ValidateAssertion(string assertion, string clientId, IReadOnlyCollection<string> audiences)
    {
        var parts = assertion.Split('.');
        if (parts.Length != 3 || ReadPayload(parts[0]) is not { } header || ReadPayload(parts[1]) is not { } claims
            || !TryDecode(parts[2], out var signature))
            return "The client assertion is not a well-formed JWT.";
        var padding = (string?)header["alg"] switch
        {
            "RS256" => RSASignaturePadding.Pkcs1,
            "PS256" => RSASignaturePadding.Pss,
            _ => null,
        };
        if (padding is null)
            return "The client assertion must be signed with RS256 or PS256.";
        var data = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        var signedByKnownCertificate = false;
        foreach (var certificate in _options.ClientCertificates)
        {
            using var key = certificate.GetRSAPublicKey();
            if (key is not null && key.VerifyData(data, signature, HashAlgorithmName.SHA256, padding))
            {
                signedByKnownCertificate = true;
                break;
            }
        }
        if (!signedByKnownCertificate)
            return "The client assertion is not signed by a certificate registered for the application.";
        if ((string?)claims["iss"] != clientId || (string?)claims["sub"] != clientId)
            return "The client assertion's iss and sub must be the client id.";
        var audience = ((string?)claims["aud"])?.TrimEnd('/');
        var audienceMatches = false;
        foreach (var accepted in audiences)
            audienceMatches |= string.Equals(accepted, audience, StringComparison.OrdinalIgnoreCase);
        if (!audienceMatches)
            return "The client assertion's audience is not this token endpoint.";
        if (!(ReadEpoch(claims["exp"]) > _options.Time.GetUtcNow().ToUnixTimeSeconds()))
            return "The client assertion has expired.";
        return null;
    }

    /// <summary>Epoch seconds as a JSON number or, as MSAL writes them in client assertions, a numeric string.</summary>
    private static long? ReadEpoch(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.Number => node.GetValue<long>(),
        JsonValueKind.String when long.TryParse(node.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) => seconds,
        _ => null,
    };

    /// <summary>A stable object id per application, as Entra gives each service principal one.</summary>
    private static Guid ObjectIdOf(string appId) =>
        new(MD5.HashData(Encoding.UTF8.GetBytes("oid:" + appId)));

    private static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    private static bool TryDecode(string part, out byte[] bytes)
    {
        try
        {
            bytes = Base64Url.DecodeFromChars(part);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    private static JsonObject? ReadPayload(string part)
    {
        if (!TryDecode(part, out var bytes))
            return null;
        try
        {
            return JsonNode.Parse(bytes) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
