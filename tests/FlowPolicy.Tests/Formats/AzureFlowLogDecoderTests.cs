using System.Text;
using FlowPolicy.Core.Flows;
using FlowPolicy.Core.Net;
using FlowPolicy.Ingest.Formats;
using FlowPolicy.Ingest.Formats.Azure;

namespace FlowPolicy.Tests.Formats;

/// <summary>Fixtures follow the examples in Microsoft's NSG flow log and VNet flow log documentation.</summary>
public sealed class AzureFlowLogDecoderTests
{
    private static readonly AzureFlowLogDecoder Decoder = new();

    internal const string NsgVersion1 = """
        {
            "records": [
                {
                    "time": "2017-02-16T22:00:32.8950000Z",
                    "systemId": "55ff55ff-aa66-bb77-cc88-99dd99dd99dd",
                    "category": "NetworkSecurityGroupFlowEvent",
                    "resourceId": "/SUBSCRIPTIONS/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG",
                    "operationName": "NetworkSecurityGroupFlowEvents",
                    "properties": {
                        "Version": 1,
                        "flows": [
                            {
                                "rule": "DefaultRule_DenyAllInBound",
                                "flows": [
                                    {
                                        "mac": "000D3AF8801A",
                                        "flowTuples": [
                                            "1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D"
                                        ]
                                    }
                                ]
                            },
                            {
                                "rule": "UserRule_default-allow-rdp",
                                "flows": [
                                    {
                                        "mac": "000D3AF8801A",
                                        "flowTuples": [
                                            "1487282370,192.0.2.17,10.1.0.4,61771,3389,T,I,A",
                                            "1487282393,203.0.113.34,10.1.0.4,58596,3389,T,I,A",
                                            "1487282393,192.0.2.154,10.1.0.4,61540,3389,T,I,A",
                                            "1487282423,203.0.113.229,10.1.0.4,53163,3389,T,I,A"
                                        ]
                                    }
                                ]
                            }
                        ]
                    }
                },
                {
                    "time": "2017-02-16T22:01:32.8960000Z",
                    "systemId": "55ff55ff-aa66-bb77-cc88-99dd99dd99dd",
                    "category": "NetworkSecurityGroupFlowEvent",
                    "resourceId": "/SUBSCRIPTIONS/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG",
                    "operationName": "NetworkSecurityGroupFlowEvents",
                    "properties": {
                        "Version": 1,
                        "flows": [
                            {
                                "rule": "DefaultRule_DenyAllInBound",
                                "flows": [
                                    {
                                        "mac": "000D3AF8801A",
                                        "flowTuples": [
                                            "1487282481,198.51.100.194,10.1.0.4,53,1732,U,I,D"
                                        ]
                                    }
                                ]
                            }
                        ]
                    }
                }
            ]
        }
        """;

    internal const string NsgVersion2 = """
         {
            "records": [
                {
                    "time": "2018-11-13T12:00:35.3899262Z",
                    "systemId": "66aa66aa-bb77-cc88-dd99-00ee00ee00ee",
                    "category": "NetworkSecurityGroupFlowEvent",
                    "resourceId": "/SUBSCRIPTIONS/aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG",
                    "operationName": "NetworkSecurityGroupFlowEvents",
                    "properties": {
                        "Version": 2,
                        "flows": [
                            {
                                "rule": "DefaultRule_DenyAllInBound",
                                "flows": [
                                    {
                                        "mac": "000D3AF87856",
                                        "flowTuples": [
                                            "1542110402,192.0.2.190,10.5.16.4,28746,443,U,I,D,B,,,,",
                                            "1542110424,203.0.113.10,10.5.16.4,56509,59336,T,I,D,B,,,,",
                                            "1542110432,198.51.100.8,10.5.16.4,48495,8088,T,I,D,B,,,,"
                                        ]
                                    }
                                ]
                            },
                            {
                                "rule": "DefaultRule_AllowInternetOutBound",
                                "flows": [
                                    {
                                        "mac": "000D3AF87856",
                                        "flowTuples": [
                                            "1542110377,10.5.16.4,203.0.113.118,59831,443,T,O,A,B,,,,",
                                            "1542110379,10.5.16.4,203.0.113.117,59932,443,T,O,A,E,1,66,1,66",
                                            "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,14008",
                                            "1542110406,10.5.16.4,198.51.100.225,59929,443,T,O,A,E,15,8489,12,7054"
                                        ]
                                    }
                                ]
                            }
                        ]
                    }
                }
            ]
        }
        """;

    internal const string VNet = """
        {
            "records": [
                {
                    "time": "2022-09-14T09:00:52.5625085Z",
                    "flowLogVersion": 4,
                    "flowLogGUID": "abcdef01-2345-6789-0abc-def012345678",
                    "macAddress": "00224871C205",
                    "category": "FlowLogFlowEvent",
                    "flowLogResourceID": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_EASTUS2EUAP/FLOWLOGS/VNETFLOWLOG",
                    "targetResourceID": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/myResourceGroup/providers/Microsoft.Network/virtualNetworks/myVNet",
                    "operationName": "FlowLogFlowEvent",
                    "flowRecords": {
                        "flows": [
                            {
                                "aclID": "00000000-1234-abcd-ef00-c1c2c3c4c5c6",
                                "flowGroups": [
                                    {
                                        "rule": "DefaultRule_AllowInternetOutBound",
                                        "flowTuples": [
                                            "1663146003599,10.0.0.6,52.239.184.180,23956,443,6,O,B,NX,0,0,0,0",
                                            "1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2,1580",
                                            "1663146003637,10.0.0.6,40.74.146.17,22730,443,6,O,B,NX,0,0,0,0",
                                            "1663146003640,10.0.0.6,40.74.146.17,22730,443,6,O,E,NX,3,705,4,4569",
                                            "1663146004251,10.0.0.6,40.74.146.17,22732,443,6,O,B,NX,0,0,0,0",
                                            "1663146004251,10.0.0.6,40.74.146.17,22732,443,6,O,E,NX,3,705,4,4569",
                                            "1663146004622,10.0.0.6,40.74.146.17,22734,443,6,O,B,NX,0,0,0,0",
                                            "1663146004622,10.0.0.6,40.74.146.17,22734,443,6,O,E,NX,2,134,1,108",
                                            "1663146017343,10.0.0.6,104.16.218.84,36776,443,6,O,B,NX,0,0,0,0",
                                            "1663146022793,10.0.0.6,104.16.218.84,36776,443,6,O,E,NX,22,2217,33,32466"
                                        ]
                                    }
                                ]
                            },
                            {
                                "aclID": "01020304-abcd-ef00-1234-102030405060",
                                "flowGroups": [
                                    {
                                        "rule": "BlockHighRiskTCPPortsFromInternet",
                                        "flowTuples": [
                                            "1663145998065,101.33.218.153,10.0.0.6,55188,22,6,I,D,NX,0,0,0,0",
                                            "1663146005503,192.241.200.164,10.0.0.6,35276,119,6,I,D,NX,0,0,0,0"
                                        ]
                                    },
                                    {
                                        "rule": "Internet",
                                        "flowTuples": [
                                            "1663145989563,20.106.221.10,10.0.0.6,50557,44357,6,I,D,NX,0,0,0,0",
                                            "1663145989679,20.55.117.81,10.0.0.6,62797,35945,6,I,D,NX,0,0,0,0",
                                            "1663145989709,20.55.113.5,10.0.0.6,51961,65515,6,I,D,NX,0,0,0,0",
                                            "1663145990049,13.65.224.51,10.0.0.6,40497,40129,6,I,D,NX,0,0,0,0",
                                            "1663145990145,20.55.117.81,10.0.0.6,62797,30472,6,I,D,NX,0,0,0,0",
                                            "1663145990175,20.55.113.5,10.0.0.6,51961,28184,6,I,D,NX,0,0,0,0",
                                            "1663146015545,20.106.221.10,10.0.0.6,50557,31244,6,I,D,NX,0,0,0,0"
                                        ]
                                    }
                                ]
                            }
                        ]
                    }
                }
            ]
        }
        """;

    [Fact]
    public void Documents_are_not_line_oriented() => Assert.False(Decoder.IsLineOriented(Encoding.UTF8.GetBytes(NsgVersion1)));

    [Fact]
    public void Nsg_version_1_document_decodes_every_tuple_with_rule_reporter_and_decision()
    {
        var sink = CloudRecordingSink.Decode(Decoder, NsgVersion1, "PT1H.json");

        Assert.Empty(sink.Rejected);
        Assert.Equal(6, sink.Accepted.Count);
        var denied = sink.Accepted[0];
        Assert.Equal(new DateTime(2017, 2, 16, 22, 0, 21, DateTimeKind.Utc), denied.Start);
        Assert.Equal(denied.Start, denied.End);
        Assert.Equal(PackedIp.Parse("192.0.2.95"), denied.SrcIp);
        Assert.Equal(PackedIp.Parse("10.1.0.4"), denied.DstIp);
        Assert.Equal(51529, denied.SrcPort);
        Assert.Equal(5358, denied.DstPort);
        Assert.Equal(IpProtocols.Tcp, denied.Protocol);
        Assert.Equal(Verdict.Denied, denied.Verdict);
        Assert.Equal(DirectionHint.Request, denied.Direction);
        Assert.Equal("FABRIAKMVM1-NSG/DefaultRule_DenyAllInBound", denied.PolicyName);
        Assert.Equal("000D3AF8801A", denied.Reporter);
        Assert.Equal(0UL, denied.Bytes);
        Assert.Equal(0UL, denied.Packets);

        Assert.All(sink.Accepted.Skip(1).Take(4), f =>
        {
            Assert.Equal(Verdict.Allowed, f.Verdict);
            Assert.Equal("FABRIAKMVM1-NSG/UserRule_default-allow-rdp", f.PolicyName);
            Assert.Equal(3389, f.DstPort);
        });
        Assert.Equal(IpProtocols.Udp, sink.Accepted[5].Protocol);
    }

    [Fact]
    public void Nsg_version_2_tuples_sum_both_directions_and_begin_tuples_count_zero()
    {
        var sink = CloudRecordingSink.Decode(Decoder, NsgVersion2);

        Assert.Empty(sink.Rejected);
        Assert.Equal(7, sink.Accepted.Count);
        Assert.All(sink.Accepted.Take(3), f =>
        {
            Assert.Equal(Verdict.Denied, f.Verdict);
            Assert.Equal(0UL, f.Bytes);
            Assert.Equal(0UL, f.Packets);
        });
        var begin = sink.Accepted[3];
        Assert.Equal(Verdict.Allowed, begin.Verdict);
        Assert.Equal((0UL, 0UL), (begin.Bytes, begin.Packets));
        var end = sink.Accepted[4];
        Assert.Equal((132UL, 2UL), (end.Bytes, end.Packets));
        var continuing = sink.Accepted[5];
        Assert.Equal((16978UL + 14008UL, 30UL + 24UL), (continuing.Bytes, continuing.Packets));
        Assert.Equal(PackedIp.Parse("10.5.16.4"), continuing.SrcIp);
        Assert.Equal(443, continuing.DstPort);
        Assert.Equal(new DateTime(2018, 11, 13, 11, 59, 39, DateTimeKind.Utc), continuing.Start);
        Assert.Equal("000D3AF87856", continuing.Reporter);
    }

    [Fact]
    public void Microsofts_bandwidth_example_adds_up_to_the_documented_totals()
    {
        string document = """
            {"records":[{"category":"NetworkSecurityGroupFlowEvent","resourceId":"/x/NETWORKSECURITYGROUPS/WEB-NSG","properties":{"Version":2,"flows":[{"rule":"UserRule_https","flows":[{"mac":"000D3AF87856","flowTuples":[
            "1708978215,203.0.113.105,10.0.0.5,35370,443,T,I,A,B,,,,",
            "1708978215,203.0.113.105,10.0.0.5,35370,443,T,I,A,C,1021,588096,8005,4610880",
            "1708978215,203.0.113.105,10.0.0.5,35370,443,T,I,A,E,52,29952,47,27072"
            ]}]}]}}]}
            """;

        var sink = CloudRecordingSink.Decode(Decoder, document);

        Assert.Equal(3, sink.Accepted.Count);
        Assert.Equal(9125UL, sink.Accepted.Aggregate(0UL, (sum, f) => sum + f.Packets));
        Assert.Equal(5256000UL, sink.Accepted.Aggregate(0UL, (sum, f) => sum + f.Bytes));
        Assert.All(sink.Accepted, f => Assert.Equal("WEB-NSG/UserRule_https", f.PolicyName));
    }

    [Fact]
    public void Vnet_flow_log_uses_millisecond_times_iana_protocols_acl_qualified_rules_and_deny_state()
    {
        var sink = CloudRecordingSink.Decode(Decoder, VNet);

        Assert.Empty(sink.Rejected);
        Assert.Equal(19, sink.Accepted.Count);
        var first = sink.Accepted[0];
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(1663146003599), first.Start);
        Assert.Equal(IpProtocols.Tcp, first.Protocol);
        Assert.Equal(Verdict.Allowed, first.Verdict);
        Assert.Equal(DirectionHint.Request, first.Direction);
        Assert.Equal("00000000-1234-abcd-ef00-c1c2c3c4c5c6/DefaultRule_AllowInternetOutBound", first.PolicyName);
        Assert.Equal("00224871C205", first.Reporter);
        var last = sink.Accepted[9];
        Assert.Equal((2217UL + 32466UL, 22UL + 33UL), (last.Bytes, last.Packets));
        Assert.Equal(PackedIp.Parse("104.16.218.84"), last.DstIp);

        var blocked = sink.Accepted[10];
        Assert.Equal(Verdict.Denied, blocked.Verdict);
        Assert.Equal(PackedIp.Parse("101.33.218.153"), blocked.SrcIp);
        Assert.Equal(22, blocked.DstPort);
        Assert.Equal("01020304-abcd-ef00-1234-102030405060/BlockHighRiskTCPPortsFromInternet", blocked.PolicyName);
        Assert.All(sink.Accepted.Skip(10), f => Assert.Equal(Verdict.Denied, f.Verdict));
        Assert.Equal("01020304-abcd-ef00-1234-102030405060/Internet", sink.Accepted[18].PolicyName);
    }

    [Fact]
    public void Vnet_tuples_in_epoch_seconds_with_empty_begin_counters_decode()
    {
        // Microsoft's VNet bandwidth example writes seconds and leaves B counters empty.
        string record = """{"time":"2017-05-02T22:25:38Z","macAddress":"112233445566","category":"FlowLogFlowEvent","flowRecords":{"flows":[{"aclID":"unspecified","flowGroups":[{"rule":"unspecified","flowTuples":["1493763938,185.170.185.105,10.2.0.4,35370,23,6,I,B,NX,,,,","1493695838,185.170.185.105,10.2.0.4,35370,23,6,I,C,NX,1021,588096,8005,4610880"]}]}]}}""";

        var sink = CloudRecordingSink.Decode(Decoder, record);

        Assert.Empty(sink.Rejected);
        Assert.Equal(2, sink.Accepted.Count);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1493763938), sink.Accepted[0].Start);
        Assert.Equal(0UL, sink.Accepted[0].Bytes);
        Assert.Null(sink.Accepted[0].PolicyName);
        Assert.Equal(588096UL + 4610880UL, sink.Accepted[1].Bytes);
    }

    [Theory]
    [InlineData("NX_NOT_ACCEPTED", Verdict.Denied)]
    [InlineData("NX_SW_NOT_READY", Verdict.Denied)]
    [InlineData("NX_NOT_SUPPORTED", Verdict.Denied)]
    [InlineData("X", Verdict.Allowed)]
    [InlineData("NX_FALLBACK", Verdict.Allowed)]
    [InlineData("NX_LOCAL_DST", Verdict.Allowed)]
    public void Vnet_encryption_states_that_drop_packets_are_denied(string encryption, Verdict verdict)
    {
        string record = "{\"macAddress\":\"m\",\"flowRecords\":{\"flows\":[{\"aclID\":\"a\",\"flowGroups\":[{\"rule\":\"r\",\"flowTuples\":[\"1663146003606,10.0.0.6,10.0.0.7,23956,443,6,O,E,"
            + encryption + ",3,767,2,1580\"]}]}]}}";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, record).Accepted);

        Assert.Equal(verdict, flow.Verdict);
    }

    [Theory]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I", "has 7 fields, expected 8")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D,B,,,,", "version 1 flow tuple has 13 fields, expected 8")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D,B,,,,,,", "more than 13 fields")]
    [InlineData("1487282421,192.0.2.300,10.1.0.4,51529,5358,T,I,D", "source IP '192.0.2.300' is not an IP address")]
    [InlineData("1487282421,192.0.2.95,10.1.0.x,51529,5358,T,I,D", "destination IP '10.1.0.x'")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,65536,5358,T,I,D", "source port '65536' is not a port")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,-1,T,I,D", "destination port '-1'")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,5358,X,I,D", "protocol 'X' is not T (TCP) or U (UDP)")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,5358,T,S,D", "flow direction 'S' is not I or O")]
    [InlineData("1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,Q", "traffic decision 'Q' is not A or D")]
    [InlineData("yesterday,192.0.2.95,10.1.0.4,51529,5358,T,I,D", "time 'yesterday' is not a Unix epoch time")]
    [InlineData("99999999999999999,192.0.2.95,10.1.0.4,51529,5358,T,I,D", "is not a Unix epoch time")]
    public void Bad_nsg_version_1_tuples_are_rejected_at_their_line_and_the_others_still_decode(string bad, string reason)
    {
        string document = NsgVersion1.Replace("1487282393,203.0.113.34,10.1.0.4,58596,3389,T,I,A", bad);

        var sink = CloudRecordingSink.Decode(Decoder, document, "nsg.json");

        var error = Assert.Single(sink.Rejected);
        Assert.Contains(reason, error.Reason);
        Assert.StartsWith("azure: ", error.Reason);
        Assert.Equal(new SourcePosition("nsg.json", CloudRecordingSink.LineOf(document, "\"" + bad + "\"")), error.Position);
        Assert.Equal(bad, error.Excerpt);
        Assert.Equal(5, sink.Accepted.Count);
    }

    [Theory]
    [InlineData("1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,Z,30,16978,24,14008", "flow state 'Z' is not B, C or E")]
    [InlineData("1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,lots,24,14008", "bytes sent 'lots' is not a count")]
    [InlineData("1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,-30,16978,24,14008", "packets sent '-30'")]
    [InlineData("1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,2.4,14008", "packets received '2.4'")]
    [InlineData("1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,99999999999999999999", "bytes received")]
    [InlineData("1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A", "version 2 flow tuple has 8 fields, expected 13")]
    public void Bad_nsg_version_2_tuples_are_rejected_at_their_line(string bad, string reason)
    {
        const string good = "1542110379,10.5.16.4,203.0.113.115,44931,443,T,O,A,C,30,16978,24,14008";
        string document = NsgVersion2.Replace(good, bad);

        var sink = CloudRecordingSink.Decode(Decoder, document);

        var error = Assert.Single(sink.Rejected);
        Assert.Contains(reason, error.Reason);
        Assert.Equal(CloudRecordingSink.LineOf(document, "\"" + bad + "\""), error.Position.Line);
        Assert.Equal(6, sink.Accepted.Count);
    }

    [Theory]
    [InlineData("1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2", "VNet flow tuple has 12 fields, expected 13")]
    [InlineData("1663146003606,10.0.0.6,52.239.184.180,23956,443,T,O,X,NX,3,767,2,1580", "flow state 'X' is not B, C, E or D")]
    [InlineData("1663146003606,10.0.0.6,52.239.184.180,23956,443,TCP,O,E,NX,3,767,2,1580", "protocol 'TCP' is not an IANA protocol number")]
    [InlineData("1663146003606,10.0.0.6,52.239.184.180,23956,443,256,O,E,NX,3,767,2,1580", "protocol '256'")]
    [InlineData("1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,A,NX,3,767,2,1580", "flow state 'A'")]
    public void Bad_vnet_tuples_are_rejected_at_their_line(string bad, string reason)
    {
        const string good = "1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2,1580";
        string document = VNet.Replace(good, bad);

        var sink = CloudRecordingSink.Decode(Decoder, document, "vnet.json", firstLine: 41);

        var error = Assert.Single(sink.Rejected);
        Assert.Contains(reason, error.Reason);
        Assert.Equal(40 + CloudRecordingSink.LineOf(document, "\"" + bad + "\""), error.Position.Line);
        Assert.Equal(18, sink.Accepted.Count);
    }

    [Fact]
    public void Structural_errors_are_rejected_where_they_are_and_the_rest_decodes()
    {
        string document = NsgVersion2
            .Replace("\"1542110424,203.0.113.10,10.5.16.4,56509,59336,T,I,D,B,,,,\"", "true")
            .Replace("\"1542110432,198.51.100.8,10.5.16.4,48495,8088,T,I,D,B,,,,\"", "\"\"");

        var sink = CloudRecordingSink.Decode(Decoder, document);

        var error = Assert.Single(sink.Rejected);
        Assert.Contains("flow tuple is not a string", error.Reason);
        Assert.Equal(CloudRecordingSink.LineOf(document, "true"), error.Position.Line);
        var skipped = Assert.Single(sink.Skipped);
        Assert.Contains("empty flow tuple", skipped.Reason);
        Assert.Equal(CloudRecordingSink.LineOf(document, "\"\""), skipped.Position.Line);
        Assert.Equal(5, sink.Accepted.Count);
    }

    [Theory]
    [InlineData("""{"records":{"time":"x"}}""", "records is not an array")]
    [InlineData("""{"records":[1]}""", "records[] element is not an object")]
    [InlineData("""{"records":[{"time":"x"}]}""", "records[] element is not a flow log record")]
    [InlineData("""{"category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2}}""", "record has no properties.flows array")]
    [InlineData("""{"properties":{"Version":2,"flows":{}}}""", "flows is not an array")]
    [InlineData("""{"properties":{"Version":2,"flows":[{"rule":"r","flows":[{"mac":"m","flowTuples":"1,2"}]}]}}""", "flowTuples is not an array")]
    [InlineData("""{"flowRecords":{"flows":[{"aclID":"a","flowGroups":7}]}}""", "flowGroups is not an array")]
    [InlineData("""{"hello":"world"}""", "not a flow log record")]
    [InlineData("""[1]""", "expected a JSON object, found a number")]
    [InlineData("""{"records":[{"properties":{"flows":[{"rule":"r","flows":[{"flowTuples":["1487282421,192.0.2.95""", "invalid JSON")]
    public void Json_lines_with_bad_documents_or_records_reject_that_line_and_decode_the_next(string bad, string reason)
    {
        const string good = """{"macAddress":"000D3AF87856","category":"NetworkSecurityGroupFlowEvent","resourceId":"/S/NETWORKSECURITYGROUPS/NSG1","properties":{"Version":2,"flows":[{"rule":"r1","flows":[{"mac":"000D3AF87856","flowTuples":["1542110379,10.5.16.4,203.0.113.117,59932,443,T,O,A,E,1,66,1,66"]}]}]}}""";
        string text = good + "\n" + bad + "\n{\"records\":[" + good + "]}\n";

        var sink = CloudRecordingSink.Decode(Decoder, text, "hub", firstLine: 7);

        var error = Assert.Single(sink.Rejected);
        Assert.Contains(reason, error.Reason);
        Assert.Equal(new SourcePosition("hub", 8), error.Position);
        Assert.Equal(2, sink.Accepted.Count);
        Assert.Equal("NSG1/r1", sink.Accepted[0].PolicyName);
    }

    [Fact]
    public void Json_lines_of_single_records_decode_each_record()
    {
        string nsgRecord = """{"time":"2018-11-13T12:00:35Z","macAddress":"000D3AF87856","category":"NetworkSecurityGroupFlowEvent","resourceId":"/S/NETWORKSECURITYGROUPS/NSG1","operationName":"NetworkSecurityGroupFlowEvents","properties":{"Version":2,"flows":[{"rule":"r1","flows":[{"mac":"000D3AF87856","flowTuples":["1542110379,10.5.16.4,203.0.113.117,59932,443,T,O,A,E,1,66,1,66"]}]}]}}""";
        string vnetRecord = """{"flowRecords":{"flows":[{"aclID":"acl","flowGroups":[{"flowTuples":["1663146003606,10.0.0.6,52.239.184.180,23956,443,6,O,E,NX,3,767,2,1580"],"rule":"late-rule"}]}]},"macAddress":"00224871C205","category":"FlowLogFlowEvent"}""";

        var sink = CloudRecordingSink.Decode(Decoder, nsgRecord + "\r\n" + vnetRecord + "\r\n");

        Assert.Empty(sink.Rejected);
        Assert.Equal(2, sink.Accepted.Count);
        // Fields that come after the tuples (rule, macAddress) still apply to them.
        Assert.Equal("acl/late-rule", sink.Accepted[1].PolicyName);
        Assert.Equal("00224871C205", sink.Accepted[1].Reporter);
    }

    [Fact]
    public void A_json_array_of_records_decodes()
    {
        string records = "[\n" + string.Join(",\n", Enumerable.Range(0, 3).Select(i =>
            "{\"macAddress\":\"m" + i + "\",\"properties\":{\"Version\":1,\"flows\":[{\"rule\":\"r\",\"flows\":[{\"flowTuples\":[\"1487282421,192.0.2.95,10.1.0.4,5152" + i + ",5358,T,I,D\"]}]}]}}")) + "\n]";

        var sink = CloudRecordingSink.Decode(Decoder, records);

        Assert.Empty(sink.Rejected);
        Assert.Equal(["m0", "m1", "m2"], sink.Accepted.Select(f => f.Reporter));
        Assert.Equal("r", sink.Accepted[0].PolicyName);
    }

    [Fact]
    public void Truncated_document_keeps_the_tuples_before_the_break_and_rejects_at_the_break()
    {
        int cut = NsgVersion1.IndexOf("\"1487282393,192.0.2.154", StringComparison.Ordinal) + 20;
        string truncated = NsgVersion1[..cut];

        var sink = CloudRecordingSink.Decode(Decoder, truncated, "PT1H.json");

        Assert.Equal(3, sink.Accepted.Count);
        var error = Assert.Single(sink.Rejected);
        Assert.Contains("invalid JSON", error.Reason);
        Assert.Equal(CloudRecordingSink.LineOf(truncated, "\"1487282393,192.0.2"), error.Position.Line);
    }

    [Fact]
    public void Broken_record_in_a_document_is_rejected_and_later_records_still_decode()
    {
        const string mac = "\"mac\": \"000D3AF8801A\",";
        int at = NsgVersion1.IndexOf(mac, StringComparison.Ordinal) + mac.Length;
        string document = NsgVersion1[..at] + "," + NsgVersion1[at..];

        var sink = CloudRecordingSink.Decode(Decoder, document);

        var error = Assert.Single(sink.Rejected);
        Assert.Contains("invalid JSON", error.Reason);
        Assert.Equal(CloudRecordingSink.LineOf(document, mac + ","), error.Position.Line);
        // The second record (its one tuple) survives; the broken first record's tuples are lost with it.
        var flow = Assert.Single(sink.Accepted);
        Assert.Equal(PackedIp.Parse("198.51.100.194"), flow.SrcIp);
    }

    [Fact]
    public void Document_nested_inside_records_as_in_microsofts_version_1_sample_is_decoded()
    {
        string nested = "{\"records\":[" + NsgVersion1 + "]}";

        var sink = CloudRecordingSink.Decode(Decoder, nested);

        Assert.Empty(sink.Rejected);
        Assert.Equal(6, sink.Accepted.Count);
    }

    [Fact]
    public void Record_without_version_accepts_both_tuple_layouts()
    {
        const string record = """{"properties":{"flows":[{"rule":"r","flows":[{"mac":"m","flowTuples":["1487282421,192.0.2.95,10.1.0.4,51529,5358,T,I,D","1542110379,10.5.16.4,203.0.113.117,59932,443,T,O,A,E,1,66,1,66","1,10.0.0.1,10.0.0.2,1,2,T,I,D,B,,"]}]}]}}""";

        var sink = CloudRecordingSink.Decode(Decoder, record);

        Assert.Equal(2, sink.Accepted.Count);
        Assert.Contains("expected 8 (version 1) or 13 (version 2)", Assert.Single(sink.Rejected).Reason);
    }

    [Fact]
    public void Cursor_advances_by_the_lines_of_the_payload()
    {
        var sink = CloudRecordingSink.Decode(Decoder, Encoding.UTF8.GetBytes(VNet + "\n"), out var cursor, "vnet.json", firstLine: 5);

        Assert.Equal(19, sink.Accepted.Count);
        Assert.Equal(5 + VNet.Count(c => c == '\n') + 1, cursor.Line);
    }

    [Fact]
    public void Nsg_reporter_falls_back_to_the_nsg_name_without_any_mac()
    {
        const string record = """{"resourceid":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/APP-NSG","properties":{"version":1,"flows":[{"rule":"r","flows":[{"flowtuples":["1487282421,192.0.2.95,10.1.0.4,51529,5358,U,O,A"]}]}]}}""";

        var flow = Assert.Single(CloudRecordingSink.Decode(Decoder, record).Accepted);

        Assert.Equal("APP-NSG", flow.Reporter);
        Assert.Equal("APP-NSG/r", flow.PolicyName);
        Assert.Equal(IpProtocols.Udp, flow.Protocol);
    }
}
