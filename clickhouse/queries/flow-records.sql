-- Flow Records dashboard (Theia flow_records_dashboard): the raw rows of flows.
-- name: records
SELECT
  flowStartSeconds, flowEndSeconds, sourceIP, sourceTransportPort, destinationIP, destinationTransportPort,
  protocolIdentifier, sourcePodNamespace, sourcePodName, destinationPodNamespace, destinationPodName,
  destinationServicePortName, flowType, tcpState, octetDeltaCount, reverseOctetDeltaCount, throughput,
  reverseThroughput, ingressNetworkPolicyName, egressNetworkPolicyName, incomplete
FROM flows
WHERE flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
ORDER BY flowEndSeconds DESC, sourceIP, destinationIP, sourceTransportPort, destinationTransportPort
LIMIT 10000;

-- name: records-per-flow-type
SELECT flowType, count() AS records, sum(octetDeltaCount) AS bytes
FROM flows
WHERE flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY flowType
ORDER BY flowType;
