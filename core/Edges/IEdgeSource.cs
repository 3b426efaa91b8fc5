
namespace FlowPolicy.Core.Edges;

/// <summary>Where a job gets the edges of a window: the ClickHouse rollups, or edges already aggregated from files.</summary>
public interface IEdgeSource
{
    /// <summary>The window's edges in <see cref="EdgeOrder"/>.</summary>
    Task<IReadOnlyList<Edge>> ReadEdgesAsync(AnalysisWindow window, CancellationToken cancellationToken = default);
}

/// <summary>Edges already in memory (the embedded mode: ingest's <c>FileEdgeSource</c> applied the window while reading).</summary>
public sealed class LoadedEdgeSource(IReadOnlyList<Edge> edges) : IEdgeSource
{
    public Task<IReadOnlyList<Edge>> ReadEdgesAsync(AnalysisWindow window, CancellationToken cancellationToken = default) =>
        Task.FromResult(edges);
}

/// <summary>Another source's edges that concern <paramref name="scope"/> (<see cref="NamespaceScope.Keeps"/>), in the same order.</summary>
public sealed class ScopedEdgeSource(IEdgeSource inner, NamespaceScope scope) : IEdgeSource
{
    public async Task<IReadOnlyList<Edge>> ReadEdgesAsync(AnalysisWindow window, CancellationToken cancellationToken = default)
    {
        var edges = await inner.ReadEdgesAsync(window, cancellationToken).ConfigureAwait(false);
        return scope.IsEverything ? edges : edges.Where(scope.Keeps).ToList();
    }
}
