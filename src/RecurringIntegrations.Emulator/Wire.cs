using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace RecurringIntegrations.Emulator;

/// <summary>Writes the bodies the real services answer with, byte for byte.</summary>
internal static class Wire
{
    public const string JsonContentType = "application/json; charset=utf-8";

    /// <summary>What D365's OData endpoint sends with every action result and error.</summary>
    public const string ODataContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

    /// <summary>The services write '&amp;' and quotes in URLs and messages as they are, not as \u escapes.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>":port" as a URL needs it, or "" for the scheme's default port (clients leave it out of the Host header).</summary>
    public static string PortSuffix(HttpContext context) =>
        context.Request.Host.Port is { } port && port != (context.Request.IsHttps ? 443 : 80) ? $":{port}" : "";

    public static Task WriteJsonAsync(HttpContext context, int statusCode, string contentType, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            write(writer);
        return WriteBytesAsync(context, statusCode, contentType, buffer.WrittenMemory);
    }

    public static async Task WriteBytesAsync(HttpContext context, int statusCode, string? contentType, ReadOnlyMemory<byte> body)
    {
        context.Response.StatusCode = statusCode;
        if (contentType is not null)
            context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>The error body of D365's OData actions and connector API (docs/protocol.md, "Errors the service returns").</summary>
    public static Task WriteODataErrorAsync(HttpContext context, int statusCode, string innerMessage) =>
        WriteJsonAsync(context, statusCode, ODataContentType, w =>
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("code", "");
            w.WriteString("message", "An error has occurred.");
            w.WriteStartObject("innererror");
            w.WriteString("message", innerMessage);
            w.WriteString("type", "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataException");
            w.WriteString("stacktrace", "   at Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataDelegatingHandler.SendAsync()");
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        });

    /// <summary>D365 answers a missing, expired or foreign token with an empty 401.</summary>
    public static Task WriteUnauthorizedAsync(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return WriteBytesAsync(context, StatusCodes.Status401Unauthorized, null, ReadOnlyMemory<byte>.Empty);
    }

    /// <summary>What a proxy or sign-in redirect puts where JSON was expected.</summary>
    public static Task WriteSignInPageAsync(HttpContext context) =>
        WriteBytesAsync(context, StatusCodes.Status200OK, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(
            "<!DOCTYPE html>\r\n<html><head><title>Sign in to your account</title></head>" +
            "<body><form method=\"post\" action=\"/login\"><div>Sign in</div></form></body></html>\r\n"));

    /// <summary>An error page as a gateway or proxy writes it: HTML, no OData error.</summary>
    public static Task WriteGatewayPageAsync(HttpContext context, int statusCode) =>
        WriteBytesAsync(context, statusCode, "text/html; charset=utf-8", Encoding.UTF8.GetBytes(
            $"<!DOCTYPE html>\r\n<html><head><title>{statusCode} Gateway error</title></head>" +
            $"<body><h1>{statusCode}</h1><p>The server behind the gateway did not answer properly.</p></body></html>\r\n"));

    /// <summary>A JSON body cut off mid-value, as a dropped proxy connection leaves it.</summary>
    public static Task WriteTruncatedJsonAsync(HttpContext context) =>
        WriteBytesAsync(context, StatusCodes.Status200OK, JsonContentType, Encoding.UTF8.GetBytes("{\"value\":\"Proc"));
}
