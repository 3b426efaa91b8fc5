namespace FlowPolicy.Tests.PolicyValidation;

/// <summary>
/// Calico's selector grammar, ported to check emitted selectors the way Calico parses them:
/// tokenizer from projectcalico/calico libcalico-go/lib/selector/tokenizer/tokenizer.go (commit 4f3b49f7922b),
/// parser from libcalico-go/lib/selector/parser/parser.go (commit 039a259ed729). Strings have no escapes: a
/// literal ends at the next quote of its kind. <see cref="Parse"/> returns the expression as a tree to evaluate.
/// </summary>
internal static class CalicoSelector
{
    private enum Tok { Label, String, LBrace, RBrace, Comma, Eq, Ne, In, Not, NotIn, Contains, StartsWith, EndsWith, All, Has, LParen, RParen, And, Or, Global, Eof }

    private readonly record struct Token(Tok Kind, string Value = "");

    /// <summary>An expression node: evaluates against a label set (global() is true only for non-namespaced endpoints, which tests pass as a flag).</summary>
    internal abstract record Node
    {
        public abstract bool Eval(IReadOnlyDictionary<string, string> labels);
    }

    private sealed record AllNode : Node { public override bool Eval(IReadOnlyDictionary<string, string> l) => true; }
    private sealed record GlobalNode : Node { public override bool Eval(IReadOnlyDictionary<string, string> l) => true; }
    private sealed record HasNode(string Key) : Node { public override bool Eval(IReadOnlyDictionary<string, string> l) => l.ContainsKey(Key); }
    private sealed record CompareNode(string Key, Tok Op, string Value) : Node
    {
        public override bool Eval(IReadOnlyDictionary<string, string> l)
        {
            bool has = l.TryGetValue(Key, out var v);
            return Op switch
            {
                Tok.Eq => has && v == Value,
                Tok.Ne => !has || v != Value,
                Tok.Contains => has && v!.Contains(Value, StringComparison.Ordinal),
                Tok.StartsWith => has && v!.StartsWith(Value, StringComparison.Ordinal),
                _ => has && v!.EndsWith(Value, StringComparison.Ordinal),
            };
        }
    }
    private sealed record SetNode(string Key, bool In, IReadOnlyList<string> Values) : Node
    {
        public override bool Eval(IReadOnlyDictionary<string, string> l) =>
            l.TryGetValue(Key, out var v) ? Values.Contains(v) == In : !In;
    }
    private sealed record NotNode(Node Inner) : Node { public override bool Eval(IReadOnlyDictionary<string, string> l) => !Inner.Eval(l); }
    private sealed record AndNode(IReadOnlyList<Node> Parts) : Node { public override bool Eval(IReadOnlyDictionary<string, string> l) => Parts.All(p => p.Eval(l)); }
    private sealed record OrNode(IReadOnlyList<Node> Parts) : Node { public override bool Eval(IReadOnlyDictionary<string, string> l) => Parts.Any(p => p.Eval(l)); }

    /// <summary>The parsed expression, or an error as Calico words it.</summary>
    public static (Node? Node, string? Error) Parse(string selector)
    {
        var (tokens, error) = Tokenize(selector);
        if (error is not null) return (null, error);
        if (tokens[0].Kind == Tok.Eof) return (new AllNode(), null);
        int at = 0;
        var node = ParseOr(tokens, ref at, out error);
        if (error is not null) return (null, error);
        if (tokens[at].Kind != Tok.Eof) return (null, "unexpected content at end of selector");
        return (node, null);
    }

    /// <summary>Whether the expression contains global() anywhere (validator.go: validateEntityRule).</summary>
    public static bool StartsWithGlobalOnly(string selector)
    {
        var (tokens, error) = Tokenize(selector);
        return error is null && tokens.Count <= 2 && tokens[0].Kind == Tok.Global;
    }

    private static Node? ParseOr(List<Token> t, ref int at, out string? error)
    {
        var parts = new List<Node>();
        var first = ParseAnd(t, ref at, out error);
        if (error is not null) return null;
        parts.Add(first!);
        while (t[at].Kind == Tok.Or)
        {
            at++;
            var next = ParseAnd(t, ref at, out error);
            if (error is not null) return null;
            parts.Add(next!);
        }
        return parts.Count == 1 ? parts[0] : new OrNode(parts);
    }

    private static Node? ParseAnd(List<Token> t, ref int at, out string? error)
    {
        var parts = new List<Node>();
        var first = ParseOperation(t, ref at, out error);
        if (error is not null) return null;
        parts.Add(first!);
        while (t[at].Kind == Tok.And)
        {
            at++;
            var next = ParseOperation(t, ref at, out error);
            if (error is not null) return null;
            parts.Add(next!);
        }
        return parts.Count == 1 ? parts[0] : new AndNode(parts);
    }

    private static Node? ParseOperation(List<Token> t, ref int at, out string? error)
    {
        error = null;
        bool negated = false;
        while (t[at].Kind == Tok.Not)
        {
            negated = !negated;
            at++;
        }
        Node? node;
        var token = t[at];
        switch (token.Kind)
        {
            case Tok.Has: node = new HasNode(token.Value); at++; break;
            case Tok.All: node = new AllNode(); at++; break;
            case Tok.Global: node = new GlobalNode(); at++; break;
            case Tok.Label:
                if (at + 2 >= t.Count) { error = "unexpected end of string looking for op"; return null; }
                var op = t[at + 1].Kind;
                if (op is Tok.Eq or Tok.Ne or Tok.Contains or Tok.StartsWith or Tok.EndsWith)
                {
                    if (t[at + 2].Kind != Tok.String) { error = "expected string"; return null; }
                    node = new CompareNode(token.Value, op, t[at + 2].Value);
                    at += 3;
                }
                else if (op is Tok.In or Tok.NotIn)
                {
                    if (t[at + 2].Kind != Tok.LBrace) { error = "expected set literal"; return null; }
                    at += 3;
                    var values = new List<string>();
                    while (t[at].Kind == Tok.String)
                    {
                        values.Add(t[at].Value);
                        at++;
                        if (t[at].Kind == Tok.Comma) at++;
                        else break;
                    }
                    if (t[at].Kind != Tok.RBrace) { error = "expected }"; return null; }
                    at++;
                    node = new SetNode(token.Value, op == Tok.In, values);
                }
                else { error = $"expected == or != not: {op}"; return null; }
                break;
            case Tok.LParen:
                at++;
                node = ParseOr(t, ref at, out error);
                if (error is not null) return null;
                if (t[at].Kind != Tok.RParen) { error = "expected )"; return null; }
                at++;
                break;
            default:
                error = $"unexpected token: {token.Kind}";
                return null;
        }
        return negated ? new NotNode(node!) : node;
    }

    private static (List<Token> Tokens, string? Error) Tokenize(string input)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (true)
        {
            while (i < input.Length && input[i] is ' ' or '\t') i++;
            if (i >= input.Length)
            {
                tokens.Add(new Token(Tok.Eof));
                return (tokens, null);
            }
            var last = tokens.Count > 0 ? tokens[^1].Kind : Tok.Eof;
            char c = input[i];
            switch (c)
            {
                case '(': tokens.Add(new Token(Tok.LParen)); i++; continue;
                case ')': tokens.Add(new Token(Tok.RParen)); i++; continue;
                case '{': tokens.Add(new Token(Tok.LBrace)); i++; continue;
                case '}': tokens.Add(new Token(Tok.RBrace)); i++; continue;
                case ',': tokens.Add(new Token(Tok.Comma)); i++; continue;
                case '"' or '\'':
                    int end = input.IndexOf(c, i + 1);
                    if (end < 0) return (tokens, "unterminated string");
                    tokens.Add(new Token(Tok.String, input[(i + 1)..end]));
                    i = end + 1;
                    continue;
                case '=':
                    if (i + 1 < input.Length && input[i + 1] == '=') { tokens.Add(new Token(Tok.Eq)); i += 2; continue; }
                    return (tokens, "expected ==");
                case '!':
                    if (i + 1 < input.Length && input[i + 1] == '=') { tokens.Add(new Token(Tok.Ne)); i += 2; }
                    else { tokens.Add(new Token(Tok.Not)); i++; }
                    continue;
                case '&':
                    if (i + 1 < input.Length && input[i + 1] == '&') { tokens.Add(new Token(Tok.And)); i += 2; continue; }
                    return (tokens, "expected &&");
                case '|':
                    if (i + 1 < input.Length && input[i + 1] == '|') { tokens.Add(new Token(Tok.Or)); i += 2; continue; }
                    return (tokens, "expected ||");
            }
            var rest = input.AsSpan(i);
            if (last == Tok.Label)
            {
                // After a label: an operator word.
                if (rest.StartsWith("contains")) { tokens.Add(new Token(Tok.Contains)); i += 8; continue; }
                if (TryWords(input, ref i, "starts", "with")) { tokens.Add(new Token(Tok.StartsWith)); continue; }
                if (TryWords(input, ref i, "ends", "with")) { tokens.Add(new Token(Tok.EndsWith)); continue; }
                if (TryWords(input, ref i, "not", "in")) { tokens.Add(new Token(Tok.NotIn)); continue; }
                if (rest.StartsWith("in")) { tokens.Add(new Token(Tok.In)); i += 2; continue; }
                return (tokens, $"unexpected characters after label '{tokens[^1].Value}', was expecting an operator");
            }
            if (rest.StartsWith("has("))
            {
                i += 4;
                while (i < input.Length && input[i] is ' ' or '\t') i++;
                string ident = Identifier(input, i);
                if (ident.Length == 0) return (tokens, "no label name in has( expression");
                i += ident.Length;
                while (i < input.Length && input[i] is ' ' or '\t') i++;
                if (i >= input.Length || input[i] != ')') return (tokens, "no closing ')' after has(");
                tokens.Add(new Token(Tok.Has, ident));
                i++;
                continue;
            }
            if (rest.StartsWith("all(") || rest.StartsWith("global("))
            {
                bool all = rest.StartsWith("all(");
                i += all ? 4 : 7;
                while (i < input.Length && input[i] is ' ' or '\t') i++;
                if (i >= input.Length || input[i] != ')') return (tokens, all ? "no closing ')' after all(" : "no closing ')' after global(");
                tokens.Add(new Token(all ? Tok.All : Tok.Global));
                i++;
                continue;
            }
            string label = Identifier(input, i);
            if (label.Length == 0) return (tokens, "unexpected characters");
            tokens.Add(new Token(Tok.Label, label));
            i += label.Length;
        }
    }

    private static bool TryWords(string input, ref int i, string first, string second)
    {
        if (!input.AsSpan(i).StartsWith(first)) return false;
        int j = i + first.Length;
        while (j < input.Length && input[j] is ' ' or '\t') j++;
        if (!input.AsSpan(j).StartsWith(second)) return false;
        i = j + second.Length;
        return true;
    }

    /// <summary>tokenizer.findIdentifier: [a-zA-Z0-9_./-]*, up to the first other character (empty when the input ends first, as upstream).</summary>
    private static string Identifier(string input, int start)
    {
        for (int i = start; i < input.Length; i++)
        {
            char c = input[i];
            if (char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '/' or '-') continue;
            return input[start..i];
        }
        return "";
    }
}
