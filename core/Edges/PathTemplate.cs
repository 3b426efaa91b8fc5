using System.Text;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// Generalises an HTTP path into a template where a segment is an identifier, conservatively: only whole segments that
/// are a decimal number (<c>{id}</c>), a UUID in its 8-4-4-4-12 hex form (<c>{uuid}</c>), or a hex string of at least 16
/// digits holding a digit and a letter (<c>{hash}</c>: SHA/MD5 digests, object ids) become placeholders. Words, versions
/// (<c>v2</c>), dates and mixed slugs stay as they are: a template that is too narrow costs one more rule, one that is too
/// wide opens paths nobody used. docs/l7.md, "Path templates".
/// </summary>
public static class PathTemplate
{
    public const string Id = "{id}";
    public const string Uuid = "{uuid}";
    public const string Hash = "{hash}";

    /// <summary>The template of a path (no query); the path itself when no segment is an identifier.</summary>
    public static string Of(string path)
    {
        if (path.IndexOf('/') < 0) return path;
        StringBuilder? result = null;
        int start = 0;
        while (start <= path.Length)
        {
            int end = path.IndexOf('/', start);
            if (end < 0) end = path.Length;
            var segment = path.AsSpan(start, end - start);
            var placeholder = Placeholder(segment);
            if (placeholder is not null && result is null) result = new StringBuilder(path.Length).Append(path, 0, start);
            if (result is not null)
            {
                if (placeholder is not null) result.Append(placeholder);
                else result.Append(segment);
                if (end < path.Length) result.Append('/');
            }
            start = end + 1;
        }
        return result?.ToString() ?? path;
    }

    /// <summary>The placeholder a segment becomes, or null when it stays.</summary>
    public static string? Placeholder(ReadOnlySpan<char> segment)
    {
        if (segment.IsEmpty) return null;
        bool allDigits = true, allHex = true, hasLetter = false;
        foreach (char c in segment)
        {
            if (!char.IsAsciiDigit(c)) allDigits = false;
            if (char.IsAsciiHexDigit(c)) hasLetter |= char.IsAsciiLetter(c);
            else allHex = false;
        }
        if (allDigits) return Id;
        if (IsUuid(segment)) return Uuid;
        if (allHex && hasLetter && segment.Length >= 16 && HasDigit(segment)) return Hash;
        return null;
    }

    private static bool HasDigit(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
            if (char.IsAsciiDigit(c)) return true;
        return false;
    }

    private static bool IsUuid(ReadOnlySpan<char> s)
    {
        if (s.Length != 36) return false;
        for (int i = 0; i < 36; i++)
        {
            bool dash = i is 8 or 13 or 18 or 23;
            if (dash ? s[i] != '-' : !char.IsAsciiHexDigit(s[i])) return false;
        }
        return true;
    }

    /// <summary>
    /// A regular expression matching every path of the template, whole and with an optional query string (Envoy
    /// matches Cilium's HTTP path against the whole <c>:path</c>, which includes the query): literal segments escaped,
    /// placeholders as their character classes (RE2 syntax, which Envoy uses).
    /// </summary>
    public static string ToRegex(string template)
    {
        var regex = new StringBuilder("^");
        int i = 0;
        while (i < template.Length)
        {
            if (template.AsSpan(i).StartsWith(Id)) { regex.Append("[0-9]+"); i += Id.Length; continue; }
            if (template.AsSpan(i).StartsWith(Uuid)) { regex.Append("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"); i += Uuid.Length; continue; }
            if (template.AsSpan(i).StartsWith(Hash)) { regex.Append("[0-9a-fA-F]{16,}"); i += Hash.Length; continue; }
            char c = template[i++];
            if ("\\.+*?()|[]{}^$".Contains(c)) regex.Append('\\');
            regex.Append(c);
        }
        return regex.Append(@"(\?.*)?$").ToString();
    }

    /// <summary>Whether a concrete path (no query) fits the template.</summary>
    public static bool Matches(string template, string path) => Of(path) == template || template == path;
}
