-- Node-to-Node dashboard (Theia node_to_node_dashboard), on flows_node_view.
-- name: cumulative-bytes
SELECT
  sum(octetDeltaCount) AS bytes,
  sum(reverseOctetDeltaCount) AS reverseBytes,
  sourceNodeName AS source,
  destinationNodeName AS destination
FROM flows_node_view
WHERE sourceNodeName != '' AND destinationNodeName != ''
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND destinationPodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY source, destination
ORDER BY bytes DESC, source, destination
LIMIT 50;

-- name: throughput
SELECT
  toStartOfInterval(flowEndSeconds, INTERVAL {intervalSeconds:UInt32} SECOND) AS time,
  concat(sourceNodeName, ' -> ', destinationNodeName) AS pair,
  avg(throughputFromSourceNode) AS throughputFromSourceNode,
  avg(reverseThroughputFromSourceNode) AS reverseThroughputFromSourceNode,
  avg(throughputFromDestinationNode) AS throughputFromDestinationNode,
  avg(reverseThroughputFromDestinationNode) AS reverseThroughputFromDestinationNode
FROM flows_node_view
WHERE sourceNodeName != '' AND destinationNodeName != ''
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY time, pair
ORDER BY time, pair
LIMIT 50;
