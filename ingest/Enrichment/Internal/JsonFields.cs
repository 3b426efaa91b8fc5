using System.Text.Json;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats.Internal;

namespace FlowPolicy.Ingest.Enrichment.Internal;

/// <summary>Typed, non-throwing field access for inventory JSON.</summary>
internal static class JsonFields
{
    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    public static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;

    public static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        Child(element, name) is { ValueKind: JsonValueKind.Array } array ? array.EnumerateArray() : [];

    public static bool TryInt(JsonElement element, string name, out int value)
    {
        value = 0;
        return Child(element, name) is { ValueKind: JsonValueKind.Number } number && number.TryGetInt32(out value);
    }

    public static bool True(JsonElement element, string name) =>
        Child(element, name).ValueKind == JsonValueKind.True;

    /// <summary>An optional RFC 3339 time; absent or null gives <paramref name="absent"/>.</summary>
    public static bool TryTime(JsonElement element, string name, DateTime absent, out DateTime time, out string? error)
    {
        time = absent;
        error = null;
        var value = Child(element, name);
        if (value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return true;
        if (value.ValueKind == JsonValueKind.String && FlowTimestamps.TryParseRfc3339(value.GetString(), out time)) return true;
        error = $"\"{name}\" must be an RFC 3339 time like 2026-11-01T00:00:00Z, not {value.GetRawText()}";
        return false;
    }

    public static bool TryLabels(JsonElement element, string name, IdentityInterner interner,
        out KeyValuePair<string, string>[] labels, out string? error)
    {
        labels = [];
        error = null;
        var value = Child(element, name);
        if (value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return true;
        if (value.ValueKind != JsonValueKind.Object)
        {
            error = $"\"{name}\" must be an object of string values";
            return false;
        }
        var list = new List<KeyValuePair<string, string>>();
        foreach (var property in value.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.String)
            {
                error = $"label '{property.Name}' must have a string value";
                return false;
            }
            list.Add(new(interner.String(property.Name)!, interner.String(property.Value.GetString())!));
        }
        labels = list.ToArray();
        return true;
    }

    /// <summary>"TCP", "UDP", "SCTP" or a number; absent means TCP (the Kubernetes default).</summary>
    public static bool TryProtocol(JsonElement element, string name, out byte protocol, out string? error)
    {
        protocol = IpProtocols.Tcp;
        error = null;
        var value = Child(element, name);
        if (value.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return true;
        if (value.ValueKind == JsonValueKind.String && IpProtocols.TryParse(value.GetString().AsSpan(), out protocol)) return true;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetByte(out protocol) && protocol != 0) return true;
        error = $"\"{name}\" must be TCP, UDP, SCTP or a protocol number, not {value.GetRawText()}";
        return false;
    }
}
