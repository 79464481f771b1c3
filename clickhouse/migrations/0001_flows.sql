-- The flows table: Antrea's 51 insert columns with Antrea's names, types and order (flow-aggregator e2e
-- schema, which matches the Flow Aggregator's INSERT), plus timeInserted and trusted, then Flowline's own
-- additive columns at the end.
--
-- Engine: plain MergeTree. ClickHouse Cloud turns it into SharedMergeTree; self-hosted clusters keep it
-- local. Deduplication of replayed inserts (insert_deduplication_token from the flusher) needs a
-- deduplication window: non-replicated MergeTree has none by default, so it is set here; SharedMergeTree
-- and Replicated* use replicated_deduplication_window instead (on by default).
--
-- ORDER BY: every dashboard query filters on a flowEndSeconds range first, then on flowType and Pod
-- namespaces, so the sparse primary index prunes by time. No PARTITION BY: a partition expression would
-- split one insert into several blocks whose split could differ on a replay, and the retention TTL is
-- short enough that merges clean up.
CREATE TABLE IF NOT EXISTS flows (
  timeInserted DateTime DEFAULT now(),
  flowStartSeconds DateTime,
  flowEndSeconds DateTime,
  flowEndSecondsFromSourceNode DateTime,
  flowEndSecondsFromDestinationNode DateTime,
  flowEndReason UInt8,
  sourceIP String,
  destinationIP String,
  sourceTransportPort UInt16,
  destinationTransportPort UInt16,
  protocolIdentifier UInt8,
  packetTotalCount UInt64,
  octetTotalCount UInt64,
  packetDeltaCount UInt64,
  octetDeltaCount UInt64,
  reversePacketTotalCount UInt64,
  reverseOctetTotalCount UInt64,
  reversePacketDeltaCount UInt64,
  reverseOctetDeltaCount UInt64,
  sourcePodName String,
  sourcePodNamespace String,
  sourceNodeName String,
  destinationPodName String,
  destinationPodNamespace String,
  destinationNodeName String,
  destinationClusterIP String,
  destinationServicePort UInt16,
  destinationServicePortName String,
  ingressNetworkPolicyName String,
  ingressNetworkPolicyNamespace String,
  ingressNetworkPolicyRuleName String,
  ingressNetworkPolicyRuleAction UInt8,
  ingressNetworkPolicyType UInt8,
  egressNetworkPolicyName String,
  egressNetworkPolicyNamespace String,
  egressNetworkPolicyRuleName String,
  egressNetworkPolicyRuleAction UInt8,
  egressNetworkPolicyType UInt8,
  tcpState String,
  flowType UInt8,
  sourcePodLabels String,
  destinationPodLabels String,
  throughput UInt64,
  reverseThroughput UInt64,
  throughputFromSourceNode UInt64,
  throughputFromDestinationNode UInt64,
  reverseThroughputFromSourceNode UInt64,
  reverseThroughputFromDestinationNode UInt64,
  clusterUUID String,
  trusted UInt8 DEFAULT 0,
  egressName String,
  egressIP String,
  egressNodeName String,
  -- Flowline columns (additive; Antrea's INSERT does not name them, so they take their defaults there).
  flowKey String DEFAULT '',
  exportSeq UInt32 DEFAULT 0,
  incomplete UInt8 DEFAULT 0,
  exporterAddress String DEFAULT '',
  destinationServiceIP String DEFAULT '',
  exportedAt DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = MergeTree
ORDER BY (flowEndSeconds, flowType, sourcePodNamespace, destinationPodNamespace)
TTL timeInserted + INTERVAL {{ttl}}
SETTINGS merge_with_ttl_timeout = {{mergeWithTtlTimeout}}, non_replicated_deduplication_window = 10000;
