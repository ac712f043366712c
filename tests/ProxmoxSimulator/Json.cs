using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ProxmoxSimulator;

public static class Json
{
    public static readonly JsonSerializerOptions StateOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNameCaseInsensitive = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    public static readonly JsonSerializerOptions Api = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(JsonNode node) => node == null ? "null" : node.ToJsonString(Api);

    /// <summary>A config value as PVE returns it: integer/boolean/number schema keys as numbers, the rest as strings.</summary>
    public static JsonNode ConfigValue(string key, string value, bool memoryAsString)
    {
        if (key == "memory" && !memoryAsString && long.TryParse(value, out var mem)) return JsonValue.Create(mem);
        if (ConfigSchema.IsNumeric(key))
        {
            if (long.TryParse(value, out var l)) return JsonValue.Create(l);
            if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)) return JsonValue.Create(d);
        }
        return JsonValue.Create(value);
    }
}
