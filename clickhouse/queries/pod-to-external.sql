-- Pod-to-External dashboard (Theia pod_to_external_dashboard): flowType 3, on the flows table itself
-- (the destination is an IP, which the pod view keys on too, but Theia reads flows here).
-- name: cumulative-bytes
SELECT
  sum(octetDeltaCount) AS bytes,
  sum(reverseOctetDeltaCount) AS reverseBytes,
  concat(sourcePodNamespace, '/', sourcePodName) AS source,
  destinationIP AS destination
FROM flows
WHERE flowType = 3
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY source, destination
ORDER BY bytes DESC, source, destination
LIMIT 50;

-- name: throughput
SELECT
  toStartOfInterval(flowEndSeconds, INTERVAL {intervalSeconds:UInt32} SECOND) AS time,
  concat(sourcePodNamespace, '/', sourcePodName, ' -> ', destinationIP) AS pair,
  avg(throughput) AS throughput,
  avg(reverseThroughput) AS reverseThroughput
FROM flows
WHERE flowType = 3
  AND sourcePodNamespace NOT IN ('kube-system', 'flow-visibility', 'flow-aggregator')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY time, pair
HAVING throughput > 0
ORDER BY time, pair
LIMIT 50;
