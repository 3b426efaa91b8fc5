using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace FlowPolicy.Tests.Architecture;

/// <summary>
/// Public on purpose (issue 18): a type is public only when another FlowPolicy project uses it, by name or through a
/// member whose signature holds it (both leave a type reference in the caller's metadata). Everything else is
/// internal; tests and benchmarks see internals through InternalsVisibleTo (Directory.Build.props).
/// </summary>
public sealed class PublicSurfaceTests
{
    /// <summary>The production assemblies, in data-path order (the CLI's is flowpolicy.dll).</summary>
    private static readonly string[] Assemblies =
        ["FlowPolicy.Core", "FlowPolicy.ClickHouse", "FlowPolicy.Ingest", "FlowPolicy.LocalServers", "FlowPolicy.Analytics", "FlowPolicy.Suggest", "flowpolicy"];

    /// <summary>
    /// Public because a used public type exposes them through <c>required</c> members (SuggestedRule's Client, Server,
    /// Evidence, Confidence, FlagSet; SuggestionSet.Workloads), which may not be less visible than their type (CS9032).
    /// </summary>
    private static readonly HashSet<string> ExposedByRequiredMembers =
    [
        "FlowPolicy.Suggest.Inference.Peer", "FlowPolicy.Suggest.Inference.PeerKind", "FlowPolicy.Suggest.Inference.RuleConfidence",
        "FlowPolicy.Suggest.Inference.RuleFlags", "FlowPolicy.Suggest.Inference.RuleEvidence",
    ];

    [Fact]
    public void Every_public_type_is_used_by_another_project()
    {
        var publicTypes = new Dictionary<string, List<string>>();
        var usedFrom = new Dictionary<string, HashSet<string>>();
        foreach (var assembly in Assemblies)
        {
            using var pe = new PEReader(File.OpenRead(Path.Combine(AppContext.BaseDirectory, assembly + ".dll")));
            var metadata = pe.GetMetadataReader();
            publicTypes[assembly] = metadata.TypeDefinitions.Select(metadata.GetTypeDefinition)
                .Where(t => (t.Attributes & TypeAttributes.VisibilityMask) == TypeAttributes.Public)
                // Constants are copied into their callers, which then hold no reference: a constants-only type is exempt.
                .Where(t => t.GetMethods().Count > 0 || t.GetFields().Any(f => (metadata.GetFieldDefinition(f).Attributes & FieldAttributes.Literal) == 0))
                .Select(t => metadata.GetString(t.Namespace) + "." + metadata.GetString(t.Name))
                .ToList();
            // Top-level types referenced from other assemblies (nested ones are scoped by their declaring type's reference).
            usedFrom[assembly] = metadata.TypeReferences.Select(metadata.GetTypeReference)
                .Where(r => r.ResolutionScope.Kind == HandleKind.AssemblyReference)
                .Select(r => metadata.GetString(r.Namespace) + "." + metadata.GetString(r.Name))
                .ToHashSet(StringComparer.Ordinal);
        }

        var unused = Assemblies
            .SelectMany(assembly => publicTypes[assembly]
                .Where(type => !ExposedByRequiredMembers.Contains(type) && !Assemblies.Any(other => other != assembly && usedFrom[other].Contains(type)))
                .Select(type => $"{assembly}: {type}"))
            .ToList();
        Assert.True(unused.Count == 0, "Public types no other project uses (make them internal):\n" + string.Join("\n", unused));
    }
}
