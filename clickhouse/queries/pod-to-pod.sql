-- Pod-to-Pod dashboard (Theia pod_to_pod_dashboard), on flows_pod_view. Grafana's
-- $__timeFilter(flowEndSeconds) is written as the {from}/{to} query parameters.
-- name: cumulative-bytes
SELECT
  sum(octetDeltaCount) AS bytes,
  sum(reverseOctetDeltaCount) AS reverseBytes,
  concat(sourcePodNamespace, '/', sourcePodName) AS source,
  concat(destinationPodNamespace, '/', destinationPodName) AS destination
FROM flows_pod_view
WHERE flowType IN (1, 2)
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND destinationPodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY source, destination
ORDER BY bytes DESC, source, destination
LIMIT 50;

-- name: throughput
SELECT
  toStartOfInterval(flowEndSeconds, INTERVAL {intervalSeconds:UInt32} SECOND) AS time,
  concat(sourcePodNamespace, '/', sourcePodName, ':', toString(sourceTransportPort), ' -> ',
    destinationPodNamespace, '/', destinationPodName, ':', toString(destinationTransportPort)) AS pair,
  avg(throughput) AS throughput,
  avg(reverseThroughput) AS reverseThroughput
FROM flows_pod_view
WHERE flowType IN (1, 2)
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND destinationPodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY time, pair
HAVING throughput > 0
ORDER BY time, pair
LIMIT 50;
