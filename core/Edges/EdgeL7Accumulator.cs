using System.Runtime.InteropServices;
using FlowPolicy.Core.Flows;

namespace FlowPolicy.Core.Edges;

/// <summary>
/// The L7 facts of one edge while records are read: operations by (protocol, operation, resource template) and the
/// DNS names its server address was reached by. Kept apart from the L3/L4 accumulator so edges without L7 (nearly
/// all of them) carry nothing more.
/// </summary>
public sealed class EdgeL7Accumulator
{
    /// <summary>Distinct concrete paths remembered per template (for the count in the evidence), at most.</summary>
    private const int MaxPathsKept = 256;

    private readonly Dictionary<(L7Protocol Protocol, string Operation, string Resource), Operation> _operations = new();
    private readonly Dictionary<string, Name> _names = new(StringComparer.Ordinal);

    /// <summary>Adds an oriented observation (client -> server); <paramref name="time"/> in whole seconds.</summary>
    internal void Add(in L7Observation observation, DateTime time)
    {
        string resource = observation.Resource ?? "";
        var protocol = observation.Protocol;
        if (protocol == L7Protocol.Http && resource.Length > 0) resource = PathTemplate.Of(resource);
        var key = (protocol, observation.Operation ?? "", resource);
        ref var op = ref CollectionsMarshal.GetValueRefOrAddDefault(_operations, key, out bool exists);
        op ??= new Operation(time);
        op.Add(observation, time);
        if (protocol == L7Protocol.Http && observation.Resource is { } path && op.Paths.Count < MaxPathsKept) op.Paths.Add(path);
    }

    internal void AddNames(IReadOnlyList<string> names, DateTime time)
    {
        foreach (var name in names)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_names, name, out bool exists);
            if (!exists) entry = new Name { First = time, Last = time };
            entry!.Flows++;
            if (time < entry.First) entry.First = time;
            if (time > entry.Last) entry.Last = time;
        }
    }

    /// <summary>
    /// Adds what storage already summed for one operation (the ClickHouse edge source: one row per edge and operation),
    /// counted as <see cref="Add(in L7Observation, DateTime)"/> counts records: <paramref name="requests"/> request
    /// records, <paramref name="classes"/> responses per HTTP status class (index 1..5), <paramref name="paths"/> the
    /// distinct concrete paths folded into the template.
    /// </summary>
    public void AddSummary(L7Protocol protocol, string operation, string resource, long requests, long responses, long denied, long errors,
        DateTime first, DateTime last, IEnumerable<DateOnly> days, ReadOnlySpan<long> classes, IEnumerable<string> paths)
    {
        ref var op = ref CollectionsMarshal.GetValueRefOrAddDefault(_operations, (protocol, operation, resource), out bool exists);
        op ??= new Operation(first);
        op.Requests += requests;
        op.Responses += responses;
        op.Denied += denied;
        op.Errors += errors;
        if (first < op.First) op.First = first;
        if (last > op.Last) op.Last = last;
        foreach (var day in days) op.Days.Add(day.DayNumber);
        for (int i = 0; i < classes.Length && i < op.Classes.Length; i++) op.Classes[i] += classes[i];
        foreach (var path in paths)
            if (op.Paths.Count < MaxPathsKept) op.Paths.Add(path);
    }

    /// <summary>A name reached by <paramref name="flows"/> flows between <paramref name="first"/> and <paramref name="last"/> (stored, already counted).</summary>
    public void AddName(string name, long flows, DateTime first, DateTime last)
    {
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_names, name, out bool exists);
        if (!exists) entry = new Name { First = first, Last = last };
        entry!.Flows += flows;
        if (first < entry.First) entry.First = first;
        if (last > entry.Last) entry.Last = last;
    }

    public bool IsEmpty => _operations.Count == 0 && _names.Count == 0;

    public void Merge(EdgeL7Accumulator other)
    {
        foreach (var (key, theirs) in other._operations)
        {
            ref var op = ref CollectionsMarshal.GetValueRefOrAddDefault(_operations, key, out bool exists);
            op ??= new Operation(theirs.First);
            op.Merge(theirs);
        }
        foreach (var (name, theirs) in other._names)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_names, name, out bool exists);
            if (!exists) entry = new Name { First = theirs.First, Last = theirs.Last };
            entry!.Flows += theirs.Flows;
            if (theirs.First < entry.First) entry.First = theirs.First;
            if (theirs.Last > entry.Last) entry.Last = theirs.Last;
        }
    }

    public EdgeL7Facts ToFacts()
    {
        var operations = _operations.Select(p => p.Value.ToOperation(p.Key.Protocol, p.Key.Operation, p.Key.Resource))
            .OrderBy(o => o.Protocol).ThenBy(o => o.Resource, StringComparer.Ordinal).ThenBy(o => o.Operation, StringComparer.Ordinal).ToList();
        var names = _names.Select(p => new PeerName(p.Key, p.Value.Flows, p.Value.First, p.Value.Last))
            .OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
        return new EdgeL7Facts { Operations = operations, Names = names };
    }

    private sealed class Name
    {
        public long Flows;
        public DateTime First;
        public DateTime Last;
    }

    private sealed class Operation(DateTime first)
    {
        public long Requests, Responses, Denied, Errors;
        public DateTime First = first, Last = first;
        public readonly HashSet<int> Days = [];
        public readonly long[] Classes = new long[6];
        public readonly HashSet<string> Paths = new(StringComparer.Ordinal);

        public void Add(in L7Observation o, DateTime time)
        {
            if (time < First) First = time;
            if (time > Last) Last = time;
            Days.Add(DateOnly.FromDateTime(time).DayNumber);
            if (o.Direction == L7Direction.Response)
            {
                Responses++;
                if (o.Status >= 0)
                {
                    bool failed = o.Protocol switch
                    {
                        L7Protocol.Http or L7Protocol.Grpc => o.Status >= 500,
                        _ => o.Status != 0, // DNS rcode NOERROR, Kafka error code NONE
                    };
                    if (failed) Errors++;
                    if (o.Protocol is L7Protocol.Http or L7Protocol.Grpc && o.Status is >= 100 and < 600) Classes[o.Status / 100]++;
                }
            }
            else
            {
                Requests++;
                if (o.Verdict == Verdict.Denied) Denied++;
            }
        }

        public void Merge(Operation other)
        {
            Requests += other.Requests;
            Responses += other.Responses;
            Denied += other.Denied;
            Errors += other.Errors;
            if (other.First < First) First = other.First;
            if (other.Last > Last) Last = other.Last;
            Days.UnionWith(other.Days);
            for (int i = 0; i < Classes.Length; i++) Classes[i] += other.Classes[i];
            foreach (var path in other.Paths)
                if (Paths.Count < MaxPathsKept) Paths.Add(path);
        }

        public L7Operation ToOperation(L7Protocol protocol, string operation, string resource)
        {
            var days = Days.Order().Select(DateOnly.FromDayNumber).ToList();
            bool http = protocol is L7Protocol.Http or L7Protocol.Grpc;
            return new L7Operation
            {
                Protocol = protocol,
                Operation = operation,
                Resource = resource,
                Requests = Math.Max(Requests, Responses),
                Responses = Responses,
                Denied = Denied,
                Errors = Errors,
                FirstSeen = First,
                LastSeen = Last,
                Days = days,
                StatusClasses = http ? Classes : [],
                DistinctPaths = Math.Max(1, Paths.Count),
            };
        }
    }
}
