namespace FlowPolicy.Core.Edges;

/// <summary>A name pattern: `*` any run of characters, `?` one character, everything else literal (ordinal).</summary>
public sealed class Glob
{
    private readonly string _pattern;
    private readonly bool _literal;

    public Glob(string pattern)
    {
        _pattern = pattern;
        _literal = pattern.IndexOfAny(['*', '?']) < 0;
    }

    public string Pattern => _pattern;

    public bool Matches(string? text)
    {
        if (text is null) return false;
        if (_literal) return string.Equals(text, _pattern, StringComparison.Ordinal);
        return Match(_pattern.AsSpan(), text.AsSpan());
    }

    // Iterative wildcard match with one backtrack point: linear for the patterns people write.
    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (star >= 0) { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }

    public override string ToString() => _pattern;
}
