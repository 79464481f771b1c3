-- Theia's pod, node and policy views: materialized views writing TO SummingMergeTree tables, with Theia's
-- key and sum columns, so the Grafana dashboards query flows_pod_view / flows_node_view /
-- flows_policy_view unchanged. The target tables carry their own deduplication window: a replayed insert
-- into flows that is dropped as a duplicate must also be dropped by each view's target table.

CREATE TABLE IF NOT EXISTS pod_view_table (
  timeInserted DateTime DEFAULT now(),
  flowEndSeconds DateTime,
  flowEndSecondsFromSourceNode DateTime,
  flowEndSecondsFromDestinationNode DateTime,
  sourcePodName String,
  destinationPodName String,
  destinationIP String,
  destinationServicePort UInt16,
  destinationServicePortName String,
  flowType UInt8,
  sourcePodNamespace String,
  destinationPodNamespace String,
  sourceTransportPort UInt16,
  destinationTransportPort UInt16,
  clusterUUID String,
  octetDeltaCount UInt64,
  reverseOctetDeltaCount UInt64,
  throughput UInt64,
  reverseThroughput UInt64,
  throughputFromSourceNode UInt64,
  throughputFromDestinationNode UInt64
) ENGINE = SummingMergeTree((octetDeltaCount, reverseOctetDeltaCount, throughput, reverseThroughput,
  throughputFromSourceNode, throughputFromDestinationNode))
ORDER BY (timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  sourcePodName, destinationPodName, destinationIP, destinationServicePort, destinationServicePortName,
  flowType, sourcePodNamespace, destinationPodNamespace, sourceTransportPort, destinationTransportPort,
  clusterUUID)
TTL timeInserted + INTERVAL {{ttl}}
SETTINGS merge_with_ttl_timeout = {{mergeWithTtlTimeout}}, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS flows_pod_view TO pod_view_table AS
SELECT
  timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  sourcePodName, destinationPodName, destinationIP, destinationServicePort, destinationServicePortName,
  flowType, sourcePodNamespace, destinationPodNamespace, sourceTransportPort, destinationTransportPort,
  clusterUUID,
  sum(octetDeltaCount) AS octetDeltaCount,
  sum(reverseOctetDeltaCount) AS reverseOctetDeltaCount,
  sum(throughput) AS throughput,
  sum(reverseThroughput) AS reverseThroughput,
  sum(throughputFromSourceNode) AS throughputFromSourceNode,
  sum(throughputFromDestinationNode) AS throughputFromDestinationNode
FROM flows
GROUP BY
  timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  sourcePodName, destinationPodName, destinationIP, destinationServicePort, destinationServicePortName,
  flowType, sourcePodNamespace, destinationPodNamespace, sourceTransportPort, destinationTransportPort,
  clusterUUID;

CREATE TABLE IF NOT EXISTS node_view_table (
  timeInserted DateTime DEFAULT now(),
  flowEndSeconds DateTime,
  flowEndSecondsFromSourceNode DateTime,
  flowEndSecondsFromDestinationNode DateTime,
  sourceNodeName String,
  destinationNodeName String,
  sourcePodNamespace String,
  destinationPodNamespace String,
  clusterUUID String,
  octetDeltaCount UInt64,
  reverseOctetDeltaCount UInt64,
  throughput UInt64,
  reverseThroughput UInt64,
  throughputFromSourceNode UInt64,
  reverseThroughputFromSourceNode UInt64,
  throughputFromDestinationNode UInt64,
  reverseThroughputFromDestinationNode UInt64
) ENGINE = SummingMergeTree((octetDeltaCount, reverseOctetDeltaCount, throughput, reverseThroughput,
  throughputFromSourceNode, reverseThroughputFromSourceNode, throughputFromDestinationNode,
  reverseThroughputFromDestinationNode))
ORDER BY (timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  sourceNodeName, destinationNodeName, sourcePodNamespace, destinationPodNamespace, clusterUUID)
TTL timeInserted + INTERVAL {{ttl}}
SETTINGS merge_with_ttl_timeout = {{mergeWithTtlTimeout}}, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS flows_node_view TO node_view_table AS
SELECT
  timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  sourceNodeName, destinationNodeName, sourcePodNamespace, destinationPodNamespace, clusterUUID,
  sum(octetDeltaCount) AS octetDeltaCount,
  sum(reverseOctetDeltaCount) AS reverseOctetDeltaCount,
  sum(throughput) AS throughput,
  sum(reverseThroughput) AS reverseThroughput,
  sum(throughputFromSourceNode) AS throughputFromSourceNode,
  sum(reverseThroughputFromSourceNode) AS reverseThroughputFromSourceNode,
  sum(throughputFromDestinationNode) AS throughputFromDestinationNode,
  sum(reverseThroughputFromDestinationNode) AS reverseThroughputFromDestinationNode
FROM flows
GROUP BY
  timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  sourceNodeName, destinationNodeName, sourcePodNamespace, destinationPodNamespace, clusterUUID;

CREATE TABLE IF NOT EXISTS policy_view_table (
  timeInserted DateTime DEFAULT now(),
  flowEndSeconds DateTime,
  flowEndSecondsFromSourceNode DateTime,
  flowEndSecondsFromDestinationNode DateTime,
  egressNetworkPolicyName String,
  egressNetworkPolicyNamespace String,
  egressNetworkPolicyRuleAction UInt8,
  ingressNetworkPolicyName String,
  ingressNetworkPolicyNamespace String,
  ingressNetworkPolicyRuleAction UInt8,
  sourcePodName String,
  sourceTransportPort UInt16,
  sourcePodNamespace String,
  destinationPodName String,
  destinationTransportPort UInt16,
  destinationPodNamespace String,
  destinationServicePort UInt16,
  destinationServicePortName String,
  destinationIP String,
  clusterUUID String,
  octetDeltaCount UInt64,
  reverseOctetDeltaCount UInt64,
  throughput UInt64,
  reverseThroughput UInt64,
  throughputFromSourceNode UInt64,
  reverseThroughputFromSourceNode UInt64,
  throughputFromDestinationNode UInt64,
  reverseThroughputFromDestinationNode UInt64
) ENGINE = SummingMergeTree((octetDeltaCount, reverseOctetDeltaCount, throughput, reverseThroughput,
  throughputFromSourceNode, reverseThroughputFromSourceNode, throughputFromDestinationNode,
  reverseThroughputFromDestinationNode))
ORDER BY (timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  egressNetworkPolicyName, egressNetworkPolicyNamespace, egressNetworkPolicyRuleAction,
  ingressNetworkPolicyName, ingressNetworkPolicyNamespace, ingressNetworkPolicyRuleAction,
  sourcePodName, sourceTransportPort, sourcePodNamespace, destinationPodName, destinationTransportPort,
  destinationPodNamespace, destinationServicePort, destinationServicePortName, destinationIP, clusterUUID)
TTL timeInserted + INTERVAL {{ttl}}
SETTINGS merge_with_ttl_timeout = {{mergeWithTtlTimeout}}, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS flows_policy_view TO policy_view_table AS
SELECT
  timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  egressNetworkPolicyName, egressNetworkPolicyNamespace, egressNetworkPolicyRuleAction,
  ingressNetworkPolicyName, ingressNetworkPolicyNamespace, ingressNetworkPolicyRuleAction,
  sourcePodName, sourceTransportPort, sourcePodNamespace, destinationPodName, destinationTransportPort,
  destinationPodNamespace, destinationServicePort, destinationServicePortName, destinationIP, clusterUUID,
  sum(octetDeltaCount) AS octetDeltaCount,
  sum(reverseOctetDeltaCount) AS reverseOctetDeltaCount,
  sum(throughput) AS throughput,
  sum(reverseThroughput) AS reverseThroughput,
  sum(throughputFromSourceNode) AS throughputFromSourceNode,
  sum(reverseThroughputFromSourceNode) AS reverseThroughputFromSourceNode,
  sum(throughputFromDestinationNode) AS throughputFromDestinationNode,
  sum(reverseThroughputFromDestinationNode) AS reverseThroughputFromDestinationNode
FROM flows
GROUP BY
  timeInserted, flowEndSeconds, flowEndSecondsFromSourceNode, flowEndSecondsFromDestinationNode,
  egressNetworkPolicyName, egressNetworkPolicyNamespace, egressNetworkPolicyRuleAction,
  ingressNetworkPolicyName, ingressNetworkPolicyNamespace, ingressNetworkPolicyRuleAction,
  sourcePodName, sourceTransportPort, sourcePodNamespace, destinationPodName, destinationTransportPort,
  destinationPodNamespace, destinationServicePort, destinationServicePortName, destinationIP, clusterUUID;
