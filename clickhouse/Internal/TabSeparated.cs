using System.Text;

namespace FlowPolicy.ClickHouse.Internal;

/// <summary>Reads ClickHouse's TabSeparated output: rows end with \n, fields split on \t, backslash escapes undone.</summary>
internal static class TabSeparated
{
    public static IReadOnlyList<string[]> Parse(string body)
    {
        var rows = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c == '\\' && i + 1 < body.Length)
            {
                char next = body[++i];
                field.Append(next switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\b',
                    'f' => '\f',
                    '0' => '\0',
                    'a' => '\a',
                    'v' => '\v',
                    'e' => '\u001B',
                    _ => next, // \\ \' and any other escaped character stand for themselves
                });
            }
            else if (c == '\t')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\n')
            {
                fields.Add(field.ToString());
                field.Clear();
                rows.Add(fields.ToArray());
                fields.Clear();
            }
            else field.Append(c);
        }
        if (field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            rows.Add(fields.ToArray());
        }
        return rows;
    }
}
