using System.Text.Json;

namespace FlowPolicy.Analytics.Anomalies;

/// <summary>The JSON form of an anomaly (`flowpolicy anomalies --json`, one per line; the report; the webhook's details).</summary>
public static class AnomalyJson
{
    public static void Write(Utf8JsonWriter w, FlowAnomaly a)
    {
        w.WriteStartObject();
        w.WriteString("kind", AnomalyText.Name(a.Kind));
        w.WriteString("scope", AnomalyText.Name(a.Scope));
        w.WriteString("subject", a.Subject);
        w.WriteString("metric", AnomalyText.Name(a.Metric));
        w.WriteString("start", Slis.SliJson.Time(a.Start));
        w.WriteString("end", Slis.SliJson.Time(a.End));
        w.WriteNumber("observed", Math.Round(a.Observed, 3));
        w.WriteNumber("expected", Math.Round(a.Expected, 3));
        w.WriteNumber("expected_low", Math.Round(a.ExpectedLow, 3));
        w.WriteNumber("expected_high", Math.Round(a.ExpectedHigh, 3));
        w.WriteNumber("score", Math.Round(a.Score, 3));
        w.WriteString("baseline", AnomalyText.Name(a.Baseline));
        w.WriteStartArray("edges");
        foreach (var e in a.Edges)
        {
            w.WriteStartObject();
            w.WriteString("src", e.Client);
            w.WriteString("dst", e.Server);
            w.WriteNumber("port", e.Port);
            w.WriteString("protocol", Core.Net.IpProtocols.Name(e.Protocol));
            w.WriteNumber("observed", Math.Round(e.Observed, 3));
            w.WriteNumber("expected", Math.Round(e.Expected, 3));
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("explanation", a.Explanation);
        w.WriteEndObject();
    }
}
