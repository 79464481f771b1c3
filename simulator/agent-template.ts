// The IPFIX templates an Antrea agent (HEAD, pkg/agent/flowexporter/exporter/ipfix.go) exports: 43 IEs,
// IPv4 and IPv6 variants, as template ids 256 and 257 like go-ipfix allocates them on (re)connect.
import type { FieldSpecifier } from '../collector-edge/ipfix/compile.ts';
import { defaultRegistry } from '../collector-edge/ipfix/registry.ts';
import { Enterprise, type IeType, VARIABLE_LENGTH } from '../collector-edge/ipfix/types.ts';
import {
  ANTREA_ENTERPRISE_ELEMENTS,
  ANTREA_IANA_ELEMENTS,
  ANTREA_REVERSE_ELEMENTS,
} from '../core/antrea-elements.ts';

export const IPV4_TEMPLATE_ID = 256;
export const IPV6_TEMPLATE_ID = 257;

/** IE names of the agent template, in the agent's order. */
export function agentTemplateNames(ipv6: boolean): string[] {
  const v = ipv6 ? 'IPv6' : 'IPv4';
  return [
    ...ANTREA_IANA_ELEMENTS,
    `source${v}Address`,
    `destination${v}Address`,
    ...ANTREA_REVERSE_ELEMENTS,
    ...ANTREA_ENTERPRISE_ELEMENTS,
    `destinationCluster${v}`,
    `proxySnat${v}`,
    `destinationService${v}`,
  ];
}

const FIXED_LENGTH: Partial<Record<IeType, number>> = {
  unsigned8: 1,
  unsigned16: 2,
  unsigned32: 4,
  unsigned64: 8,
  dateTimeSeconds: 4,
  ipv4Address: 4,
  ipv6Address: 16,
};

/** Field specifiers of the agent template (Antrea IEs under enterprise 56506, reverse under 29305). */
export function agentTemplateFields(ipv6: boolean): FieldSpecifier[] {
  return agentTemplateNames(ipv6).map((name) => {
    const element = defaultRegistry.byElementName(name);
    if (!element) throw new Error(`agent template: ${name} is not in the IE registry`);
    const length = element.type === 'string' ? VARIABLE_LENGTH : FIXED_LENGTH[element.type];
    if (length === undefined) throw new Error(`agent template: no length for ${name} (${element.type})`);
    const enterprise = ANTREA_IE.has(name) ? Enterprise.Antrea : element.enterprise;
    return { enterprise, id: element.id, length };
  });
}

const ANTREA_IE = new Set([
  ...ANTREA_ENTERPRISE_ELEMENTS,
  'destinationClusterIPv4',
  'destinationClusterIPv6',
  'proxySnatIPv4',
  'proxySnatIPv6',
  'destinationServiceIPv4',
  'destinationServiceIPv6',
]);
