// The flow log's filters (Antrea's flowLogger.filters): the format the CDK app checks at synth and the
// exporter reads from FLOW_LOG_FILTERS, so both refuse the same mistakes (functions/sinks/flow-log.ts
// applies them). Pure.

/** The flow logger's own rule action names in its filters (flowaggregator config NetworkPolicyRuleAction). */
export const FILTER_RULE_ACTIONS: Readonly<Record<string, number>> = {
  None: 0,
  Allow: 1,
  Drop: 2,
  Reject: 3,
};

/** One of flowLogger.filters: each non-empty list must hold the row's action; filters are OR-ed. */
export interface FlowLogFilter {
  ingressNetworkPolicyRuleActions: number[];
  egressNetworkPolicyRuleActions: number[];
}

/**
 * flowLogger.filters as Antrea's configuration writes them, in JSON:
 * `[{"ingressNetworkPolicyRuleActions": ["Drop", "Reject"]}, {"egressNetworkPolicyRuleActions": ["Drop"]}]`.
 * Antrea turns an unknown action into one no row has; here it is refused, so a typo does not silently
 * empty the log. Throws an Error saying what is wrong.
 */
export function parseFlowLogFilters(text: string): FlowLogFilter[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(
      'not JSON: expected a list of {ingressNetworkPolicyRuleActions, egressNetworkPolicyRuleActions}',
    );
  }
  if (!Array.isArray(parsed)) throw new Error('expected a JSON list of filters');
  return parsed.map((filter, index) => {
    if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
      throw new Error(`filter ${index}: expected an object`);
    }
    const unknownKeys = Object.keys(filter).filter(
      (key) => key !== 'ingressNetworkPolicyRuleActions' && key !== 'egressNetworkPolicyRuleActions',
    );
    if (unknownKeys.length > 0) throw new Error(`filter ${index}: unknown key ${unknownKeys.join(', ')}`);
    const actions = (key: keyof FlowLogFilter): number[] => {
      const list: unknown = (filter as Record<string, unknown>)[key] ?? [];
      if (!Array.isArray(list)) throw new Error(`filter ${index}: ${key} must be a list`);
      return list.map((name) => {
        const value = typeof name === 'string' ? FILTER_RULE_ACTIONS[name] : undefined;
        if (value === undefined) {
          throw new Error(
            `filter ${index}: ${key}: ${JSON.stringify(name)} is not one of ${Object.keys(FILTER_RULE_ACTIONS).join(', ')}`,
          );
        }
        return value;
      });
    };
    return {
      ingressNetworkPolicyRuleActions: actions('ingressNetworkPolicyRuleActions'),
      egressNetworkPolicyRuleActions: actions('egressNetworkPolicyRuleActions'),
    };
  });
}
