-- Network Policy dashboard (Theia networkpolicy_dashboard), on flows_policy_view.
-- name: bytes-by-policy
SELECT
  sum(octetDeltaCount) AS bytes,
  sum(reverseOctetDeltaCount) AS reverseBytes,
  concat(egressNetworkPolicyNamespace, '/', egressNetworkPolicyName) AS egressPolicy,
  egressNetworkPolicyRuleAction AS egressAction,
  concat(ingressNetworkPolicyNamespace, '/', ingressNetworkPolicyName) AS ingressPolicy,
  ingressNetworkPolicyRuleAction AS ingressAction
FROM flows_policy_view
WHERE (egressNetworkPolicyName != '' OR ingressNetworkPolicyName != '')
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY egressPolicy, egressAction, ingressPolicy, ingressAction
ORDER BY bytes DESC, egressPolicy, ingressPolicy
LIMIT 50;

-- name: denied-connections
SELECT
  concat(sourcePodNamespace, '/', sourcePodName) AS source,
  if(destinationPodName != '', concat(destinationPodNamespace, '/', destinationPodName), destinationIP) AS destination,
  egressNetworkPolicyRuleAction AS egressAction,
  ingressNetworkPolicyRuleAction AS ingressAction,
  sum(octetDeltaCount) AS bytes
FROM flows_policy_view
WHERE (egressNetworkPolicyRuleAction IN (2, 3) OR ingressNetworkPolicyRuleAction IN (2, 3))
  AND flowEndSeconds BETWEEN {from:DateTime} AND {to:DateTime}
GROUP BY source, destination, egressAction, ingressAction
ORDER BY bytes DESC, source, destination
LIMIT 50;
