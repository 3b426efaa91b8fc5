namespace FlowPolicy.Ingest.Formats.Internal;

/// <summary>
/// Per-source decoder state (in <see cref="DecodeCursor.State"/>) that a Kafka lane may hand to the next message of
/// the same format: its caches are keyed by raw bytes, so a message decodes the same with or without them, and a fresh
/// set per message would cost memory and never warm up.
/// </summary>
internal interface IReusableDecodeState
{
    /// <summary>Forgets what belonged to the last source only (a VPC header), keeping the caches.</summary>
    void PrepareForNextSource();
}

internal static class DecodeStates
{
    /// <summary>The cursor's state of type <typeparamref name="T"/>, created on first use (a state of another type is replaced).</summary>
    public static T Of<T>(ref DecodeCursor cursor) where T : class, new()
    {
        if (cursor.State is T state) return state;
        state = new T();
        cursor.State = state;
        return state;
    }
}
