using FlowPolicy.Core.Flows;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// What the L7 records and DNS answers say about one edge: the operations clients used (HTTP method and path template,
/// gRPC method, Kafka api key and topic, DNS query types and names) and the names the server's address was reached by.
/// Null on an edge nothing L7 was seen for. docs/l7.md explains how records join edges.
/// </summary>
public sealed class EdgeL7Facts
{
    /// <summary>Operations in a stable order (protocol, resource, operation).</summary>
    public IReadOnlyList<L7Operation> Operations { get; init; } = [];
    /// <summary>DNS names the client resolved to the server's address before connecting, by name.</summary>
    public IReadOnlyList<PeerName> Names { get; init; } = [];
}

/// <summary>HTTP status classes (1xx..5xx) of the responses seen; other codes are not counted.</summary>
internal enum StatusClass : byte { Informational = 1, Success = 2, Redirection = 3, ClientError = 4, ServerError = 5 }

/// <summary>
/// One operation on an edge with its evidence. <see cref="Resource"/> is a path template for HTTP
/// (<see cref="PathTemplate"/>), the gRPC <c>/package.Service/Method</c>, the Kafka topic, or the DNS query name.
/// </summary>
public sealed class L7Operation
{
    public required L7Protocol Protocol { get; init; }
    /// <summary>HTTP method, Kafka api key, DNS query types; "" when the records did not say.</summary>
    public required string Operation { get; init; }
    public required string Resource { get; init; }
    /// <summary>Requests: request records, or response records where the proxy logged only those (the larger of the two).</summary>
    public long Requests { get; init; }
    public long Responses { get; init; }
    /// <summary>Requests the proxy denied (an L7 policy already in force).</summary>
    public long Denied { get; init; }
    /// <summary>Responses that failed: HTTP 5xx, a DNS rcode other than NOERROR, a Kafka error code.</summary>
    public long Errors { get; init; }
    public DateTime FirstSeen { get; init; }
    public DateTime LastSeen { get; init; }
    public IReadOnlyList<DateOnly> Days { get; init; } = [];
    /// <summary>Responses per HTTP status class, index 1..5 (index 0 unused); empty for other protocols.</summary>
    public IReadOnlyList<long> StatusClasses { get; init; } = [];
    /// <summary>Distinct paths folded into this template (1 when the path had nothing to generalise).</summary>
    public int DistinctPaths { get; init; } = 1;

    public override string ToString() => Operation.Length == 0 ? Resource : $"{Operation} {Resource}";
}

/// <summary>A DNS name a client reached the edge's server address by, with the evidence.</summary>
public sealed record PeerName(string Name, long Flows, DateTime FirstSeen, DateTime LastSeen);
