using FlowPolicy.ClickHouse;
using FlowPolicy.IntegrationTests.Infrastructure;
using FlowPolicy.IntegrationTests.Infrastructure.Chdb;
using Xunit.Abstractions;

namespace FlowPolicy.IntegrationTests.ClickHouse;

/// <summary>
/// Every gate of <see cref="ClickHouseServerVersion"/>, on both sides: on 18.16 the server refuses what the gate says
/// it lacks, on the current engine it accepts what the gate says it has. A gate that is wrong either way fails here.
/// </summary>
public abstract class VersionGateTests<TServer>(TServer server, ITestOutputHelper output) : ClickHouseTest<TServer>(server)
    where TServer : IClickHouseTestServer
{
    [Fact]
    public async Task Each_gate_matches_what_the_server_accepts()
    {
        var version = await Db.GetServerVersionAsync();
        Assert.Equal(Server.Version, version);
        output.WriteLine($"ClickHouse {version}: TTL {version.SupportsTtl}, LowCardinality {version.SupportsLowCardinality} " +
                         $"(experimental setting {version.LowCardinalityNeedsExperimentalSetting}), insert_deduplication_token " +
                         $"{version.SupportsInsertDeduplicationToken}, non_replicated_deduplication_window {version.SupportsNonReplicatedDeduplication}");

        const string ttl = "CREATE TABLE ttl (d DateTime) ENGINE = MergeTree PARTITION BY toYYYYMMDD(d) ORDER BY d TTL d + INTERVAL 1 DAY";
        if (version.SupportsTtl) await Db.ExecuteAsync(ttl);
        else Assert.Equal(ClickHouseServerException.SyntaxError, (await Assert.ThrowsAsync<ClickHouseServerException>(() => Db.ExecuteAsync(ttl))).Code);

        const string lowCardinality = "CREATE TABLE lc (s LowCardinality(String)) ENGINE = MergeTree ORDER BY s";
        if (version.SupportsLowCardinality) await Db.ExecuteAsync(lowCardinality);
        else
        {
            Assert.True(version.LowCardinalityNeedsExperimentalSetting);
            Assert.Equal(44, (await Assert.ThrowsAsync<ClickHouseServerException>(() => Db.ExecuteAsync(lowCardinality))).Code);
            await Db.ExecuteAsync(lowCardinality, settings: [new("allow_experimental_low_cardinality_type", "1")]);
        }

        var token = new KeyValuePair<string, string>[] { new("insert_deduplication_token", "gate") };
        if (version.SupportsInsertDeduplicationToken) await Db.ExecuteAsync("SELECT 1", settings: token);
        else Assert.Equal(115, (await Assert.ThrowsAsync<ClickHouseServerException>(() => Db.ExecuteAsync("SELECT 1", settings: token))).Code);

        const string window = "CREATE TABLE dedup (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 10";
        if (version.SupportsNonReplicatedDeduplication) await Db.ExecuteAsync(window);
        else Assert.Equal(36, (await Assert.ThrowsAsync<ClickHouseServerException>(() => Db.ExecuteAsync(window))).Code); // BAD_ARGUMENTS: unknown MergeTree setting
    }
}

/// <summary>On the private ClickHouse 18.16 server.</summary>
[Collection(ClickHouseCollection.Name)]
public sealed class VersionGateTests(ClickHouseServerFixture server, ITestOutputHelper output) : VersionGateTests<ClickHouseServerFixture>(server, output);

/// <summary>On the current engine (chDB in process).</summary>
[Collection(CurrentClickHouseCollection.Name)]
[Trait("server", "current")]
public sealed class VersionGateTestsOnCurrentServer(ChdbServerFixture server, ITestOutputHelper output) : VersionGateTests<ChdbServerFixture>(server, output);
