// suggest's name for the product's one IP prefix type. Rules, peers and emitters say "Cidr"; the type, its parsing,
// formatting, containment and family rules live in core (FlowPolicy.Core.Net.IpPrefix), shared with check/analyze's
// policy ipBlocks and the inventory's CIDR leases, so they cannot drift apart again (an evaluator copy once let
// ::/0 match IPv4).
global using Cidr = FlowPolicy.Core.Net.IpPrefix;
