-- Pod-to-Service dashboard (Theia pod_to_service_dashboard), on flows_pod_view.
-- name: cumulative-bytes
SELECT
  sum(octetDeltaCount) AS bytes,
  sum(reverseOctetDeltaCount) AS reverseBytes,
  concat(sourcePodNamespace, '/', sourcePodName) AS source,
  destinationServicePortName AS destination
FROM flows_pod_view
WHERE flowType IN (1, 2)
  AND destinationServicePortName != ''
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY source, destination
ORDER BY bytes DESC, source, destination
LIMIT 50;

-- name: throughput
SELECT
  toStartOfInterval(flowEndSeconds, INTERVAL {intervalSeconds:UInt32} SECOND) AS time,
  concat(sourcePodNamespace, '/', sourcePodName, ' -> ', destinationServicePortName) AS pair,
  avg(throughputFromSourceNode) AS throughput,
  avg(reverseThroughput) AS reverseThroughput
FROM flows_pod_view
WHERE flowType IN (1, 2)
  AND destinationServicePortName != ''
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY time, pair
HAVING throughput > 0
ORDER BY time, pair
LIMIT 50;
