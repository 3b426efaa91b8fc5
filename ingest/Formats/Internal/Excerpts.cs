using System.Text;

namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>Short, printable excerpts of bad input for error messages and the dead-letter table.</summary>
internal static class Excerpts
{
    public const int MaxBytes = 200;

    public static string Of(ReadOnlySpan<byte> raw)
    {
        var cut = raw.Length > MaxBytes ? raw[..MaxBytes] : raw;
        var text = Encoding.UTF8.GetString(cut); // invalid sequences become U+FFFD, never an exception
        var builder = new StringBuilder(text.Length + 3);
        foreach (char c in text)
            builder.Append(char.IsControl(c) ? '.' : c);
        if (raw.Length > MaxBytes) builder.Append("...");
        return builder.ToString();
    }
}
