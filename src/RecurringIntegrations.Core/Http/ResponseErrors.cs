using System;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RecurringIntegrations.Core.Http
{
    /// <summary>Turns a failed answer of the service into a <see cref="D365Exception"/> that says what to do.</summary>
    internal static class ResponseErrors
    {
        /// <param name="done">What was done before giving up ("Gave up after 6 tries over 3.1 s."), or null.</param>
        public static D365Exception FromResponse(string operation, HttpResponseMessage response, string body, Uri environment, string? done = null)
        {
            var error = Translate(operation, response, body, environment);
            return done is null ? error
                : new D365Exception(error.ErrorId, error.Category, error.BaseMessage + " " + done, error.RecommendedAction, error.StatusCode, error.ServiceMessage);
        }

        private static D365Exception Translate(string operation, HttpResponseMessage response, string body, Uri environment)
        {
            var status = response.StatusCode;
            var code = (int)status;
            var mediaType = response.Content?.Headers.ContentType?.MediaType;
            if (LooksLikeHtml(mediaType, body))
                return WebPageInsteadOfJson(operation, body, status);
            var serviceMessage = ODataErrorMessage(body);
            var audience = EnvironmentAddress.ToAudience(environment);

            if (code >= 300 && code < 400)
                return new D365Exception("UnexpectedRedirect", D365ErrorCategory.InvalidOperation,
                    $"{operation}: the environment answered with a redirect ({code}) to '{response.Headers.Location}'.",
                    "On-premises environments answer the recurring-integration connector with a redirect: the API is available in cloud environments only. Check the environment URL.",
                    status, serviceMessage);
            switch (status)
            {
                case HttpStatusCode.Unauthorized:
                    return new D365Exception("Unauthorized", D365ErrorCategory.AuthenticationError,
                        $"{operation}: the environment refused the token (401 Unauthorized).",
                        $"Check that the app (client id) is registered in the environment under System administration > Setup > Microsoft Entra ID applications, and that the token's audience is exactly '{audience}' (lower case, no trailing slash). A caller-supplied token may have expired.",
                        status, serviceMessage);
                case HttpStatusCode.Forbidden:
                    return new D365Exception("Forbidden", D365ErrorCategory.SecurityError,
                        $"{operation}: the environment refused access (403 Forbidden).",
                        "Add the app to the recurring job's authorization policy (Data management > Manage scheduled data jobs) and check the user mapped to the app.",
                        status, serviceMessage);
                case HttpStatusCode.NotFound:
                    return new D365Exception("NotFound", D365ErrorCategory.ObjectNotFound,
                        $"{operation}: the environment has no such resource (404 Not Found).",
                        "Check the environment URL and the activity id of the recurring job.", status, serviceMessage);
                case (HttpStatusCode)413:
                    return new D365Exception("PayloadTooLarge", D365ErrorCategory.LimitsExceeded,
                        $"{operation}: the file is too large for the service (413).",
                        "The enqueue API refuses bodies from about 36-50 MB: split the file, zip it as a data package, or use the package API for large data.",
                        status, serviceMessage);
                case (HttpStatusCode)429:
                    return new D365Exception("Throttled", D365ErrorCategory.LimitsExceeded,
                        $"{operation}: the service throttled the request (429 Too Many Requests).",
                        "Connect-D365 -ThrottlingBudget allows a longer wait; or run at a quieter time.",
                        status, serviceMessage);
                case HttpStatusCode.BadRequest:
                    return new D365Exception("RequestRejected", D365ErrorCategory.InvalidArgument,
                        $"{operation}: the service rejected the request (400 Bad Request).",
                        "Check the activity id (the recurring job's id), the entity name and the company.", status, serviceMessage);
            }
            if (code >= 500)
                return new D365Exception(code == 503 ? "ServiceUnavailable" : "ServiceError", D365ErrorCategory.ResourceUnavailable,
                    $"{operation}: the service failed ({code} {response.ReasonPhrase}).",
                    "Try again later; if it persists, check the environment's health.",
                    status, serviceMessage);
            return new D365Exception("UnexpectedStatus", D365ErrorCategory.InvalidOperation,
                $"{operation}: the service answered {code} {response.ReasonPhrase}.", null, status, serviceMessage);
        }

        public static bool LooksLikeHtml(string? mediaType, string body) =>
            (mediaType != null && mediaType.IndexOf("html", StringComparison.OrdinalIgnoreCase) >= 0) ||
            body.TrimStart().StartsWith("<", StringComparison.Ordinal);

        public static D365Exception WebPageInsteadOfJson(string operation, string body, HttpStatusCode? status)
        {
            var title = Regex.Match(body, "<title[^>]*>(.*?)</title>", RegexOptions.IgnoreCase | RegexOptions.Singleline);
            var page = title.Success ? $" titled '{WebUtility.HtmlDecode(title.Groups[1].Value).Trim()}'" : string.Empty;
            return new D365Exception("UnexpectedWebPage", D365ErrorCategory.InvalidData,
                $"{operation}: the service answered with a web page{page} instead of JSON.",
                "The URL may not be a D365 environment, or a proxy or sign-in page intercepted the call: check the environment URL and the proxy.",
                status);
        }

        public static D365Exception MalformedJson(string operation, string detail) =>
            new D365Exception("MalformedResponse", D365ErrorCategory.InvalidData,
                $"{operation}: the service's answer is not the JSON the API documents ({detail}).",
                "Check that the URL is a D365 Finance & Operations environment; if it is, try again later.");

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
