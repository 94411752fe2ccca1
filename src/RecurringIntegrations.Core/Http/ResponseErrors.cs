using System.Net;
using System.Net.Http;
using System.Text.Json;
using System.Text.RegularExpressions;
using RecurringIntegrations.Core.Errors;
using RecurringIntegrations.Core.Connection;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>Turns a failed answer of the service into a <see cref="D365Exception"/> that says what to do.</summary>
    internal static class ResponseErrors
    {
        /// <param name="done">What was done before giving up ("Gave up after 8 tries over 23.8 s."), or null.</param>
        public static D365Exception FromResponse(string operation, HttpResponseMessage response, string body, Uri environment, string? done = null)
        {
            var error = Translate(operation, response, body, environment);
            return done is null ? error
                : error.WithMessage(error.BaseMessage + " " + done, error.ServiceMessage);
        }

        private static D365Exception Translate(string operation, HttpResponseMessage response, string body, Uri environment)
        {
            var status = response.StatusCode;
            var code = (int)status;
            var mediaType = response.Content?.Headers.ContentType?.MediaType;
            var storageError = StorageErrorMessage(body);
            if (storageError is null && LooksLikeHtml(mediaType, body))
                return WebPageInsteadOfJson(operation, body, status);
            var serviceMessage = storageError ?? ODataErrorMessage(body);
            var audience = EnvironmentAddress.ToAudience(environment);

            if (code >= 300 && code < 400)
                return ErrorCatalog.UnexpectedRedirect.FromService(status, serviceMessage, null, operation, code, response.Headers.Location);
            switch (status)
            {
                case HttpStatusCode.Unauthorized:
                    return ErrorCatalog.Unauthorized.FromService(status, serviceMessage, null, operation, audience);
                case HttpStatusCode.Forbidden:
                    return ErrorCatalog.Forbidden.FromService(status, serviceMessage, null, operation);
                case HttpStatusCode.NotFound:
                    return ErrorCatalog.NotFound.FromService(status, serviceMessage, null, operation);
                case (HttpStatusCode)413:
                    return ErrorCatalog.PayloadTooLarge.FromService(status, serviceMessage, null, operation);
                case (HttpStatusCode)429:
                    return ErrorCatalog.Throttled.FromService(status, serviceMessage, null, operation, "the request (429 Too Many Requests)");
                case HttpStatusCode.BadRequest:
                    return ErrorCatalog.RequestRejected.FromService(status, serviceMessage, null, operation);
            }
            if (code >= 500)
                return (code == 503 ? ErrorCatalog.ServiceUnavailable : ErrorCatalog.ServiceError).FromService(status, serviceMessage, null, operation, code, response.ReasonPhrase);
            return ErrorCatalog.UnexpectedStatus.FromService(status, serviceMessage, null, operation, code, response.ReasonPhrase);
        }

        /// <summary>
        /// Azure storage's own error (an XML body, such as BlobNotFound for a download whose file is gone): "Code: Message", or
        /// null for any other body. It is an answer of the storage, not a web page put in the way.
        /// </summary>
        internal static string? StorageErrorMessage(string body)
        {
            var match = Regex.Match(body, @"^\s*(<\?xml[^>]*\?>\s*)?<Error>\s*<Code>([^<]{1,100})</Code>(\s*<Message>([^<]{0,500})</Message>)?");
            if (!match.Success) return null;
            var text = match.Groups[4].Value.Trim();
            return text.Length == 0 ? match.Groups[2].Value : match.Groups[2].Value + ": " + text;
        }

        public static bool LooksLikeHtml(string? mediaType, string body) =>
            (mediaType != null && mediaType.IndexOf("html", StringComparison.OrdinalIgnoreCase) >= 0) ||
            body.TrimStart().StartsWith("<", StringComparison.Ordinal);

        public static D365Exception WebPageInsteadOfJson(string operation, string body, HttpStatusCode? status)
        {
            var title = Regex.Match(body, "<title[^>]*>(.*?)</title>", RegexOptions.IgnoreCase | RegexOptions.Singleline);
            var page = title.Success ? $" titled '{WebUtility.HtmlDecode(title.Groups[1].Value).Trim()}'" : string.Empty;
            return ErrorCatalog.UnexpectedWebPage.FromService(status, null, null, operation, page);
        }

        public static D365Exception MalformedJson(string operation, string detail) =>
            ErrorCatalog.MalformedResponse.Create(operation, detail);

        /// <summary>True when the body is the service's OData error envelope: the service itself answered that the call failed.</summary>
        internal static bool IsODataError(string body)
        {
            if (string.IsNullOrWhiteSpace(body) || !body.TrimStart().StartsWith("{", StringComparison.Ordinal)) return false;
            try
            {
                using var document = JsonDocument.Parse(body);
                return document.RootElement.ValueKind == JsonValueKind.Object &&
                       Json.TryGetProperty(document.RootElement, "error", out var error) && error.ValueKind == JsonValueKind.Object;
            }
            catch (JsonException)
            {
                return false;
            }
        }

        /// <summary>The most specific message of an OData error body, or null when the body is not one.</summary>
        internal static string? ODataErrorMessage(string body)
        {
            if (string.IsNullOrWhiteSpace(body)) return null;
            try
            {
                using var document = JsonDocument.Parse(body);
                if (document.RootElement.ValueKind != JsonValueKind.Object ||
                    !Json.TryGetProperty(document.RootElement, "error", out var error) || error.ValueKind != JsonValueKind.Object)
                    return null;
                if (Json.TryGetProperty(error, "innererror", out var inner) && inner.ValueKind == JsonValueKind.Object &&
                    Json.TryGetProperty(inner, "message", out var innerMessage) && innerMessage.ValueKind == JsonValueKind.String &&
                    !string.IsNullOrWhiteSpace(innerMessage.GetString()))
                    return innerMessage.GetString();
                if (Json.TryGetProperty(error, "message", out var message) && message.ValueKind == JsonValueKind.String)
                    return message.GetString();
                return null;
            }
            catch (JsonException)
            {
                return body.Length > 300 ? body.Substring(0, 300) : body;
            }
        }
    }
}
