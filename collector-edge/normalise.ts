// Decoded IPFIX data record (keyed by IE name) + its context -> FlowRecord, following Antrea's Flow
// Aggregator preprocessor (antrea pkg/flowaggregator/collector/ipfix.go and its IPFIX-to-Protobuf conversion): dispatch by IE name (names are unique
// across IANA, reverse and Antrea, and the decoder already keys Antrea's on (56506|56505|55829, id)),
// IPv4 or IPv6 address IEs, all-zeros Service / ClusterIP / SNAT addresses -> "", egressIP is a textual
// address (invalid -> ""), unknown IEs ignored, missing IEs leave defaults. The collector's decoder builds
// FlowRecords straight from the bytes with flowRecordShape; normaliseRecord / normaliseDataSet apply the same
// rules to decoded IpfixRecords.
import type { FlowRecord, StringField } from '../core/flow-record.ts';
import { canonicalIP, isUnspecifiedAddress, parseIP } from '../core/ip.ts';
import { WIRE_STRING_FIELDS } from '../core/wire.ts';
import type { RecordShape, ValueKind } from './ipfix/compile.ts';
import type { DecodedDataSet } from './ipfix/decoder.ts';
import type { IpfixRecord, IpfixValue } from './ipfix/types.ts';
import { STRING_HINT_COUNT } from './ipfix/values.ts';

export interface RecordContext {
  exporterAddress: string;
  observationDomainId: number;
  /** Message export time, seconds. */
  exportTime: number;
  /** Sequence number of this record: message sequence number + index of the record in its message. */
  sequenceNumber: number;
  receivedAtMs: number;
}

function num(value: IpfixValue | undefined): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return 0;
}

function str(value: IpfixValue | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : String(value);
}

/** Address IE value: "" when absent or all-zeros (Antrea converts 0.0.0.0 / :: to unset). */
function address(v4: IpfixValue | undefined, v6: IpfixValue | undefined): string {
  const value = typeof v4 === 'string' && !isUnspecifiedAddress(v4) ? v4 : v6;
  return typeof value === 'string' && !isUnspecifiedAddress(value) ? value : '';
}

// Egress IPs are few per cluster: remember their canonical forms.
const textualAddresses = new Map<string, string>();

/** egressIP is a string IE: parsed as Antrea does (netip.ParseAddr); invalid -> unset (""). */
function textualAddress(text: string): string {
  if (text === '') return '';
  let canonical = textualAddresses.get(text);
  if (canonical === undefined) {
    canonical = parseIP(text) ? canonicalIP(text) : '';
    if (textualAddresses.size >= 1024) textualAddresses.clear();
    textualAddresses.set(text, canonical);
  }
  return canonical;
}

/**
 * How each FlowRecord field is made, as JavaScript source over `ie(name)` (an IE's value), `hint(name)` (its
 * string hint, compile.ts RecordShape) and the context.
 */
interface FlowRecordSources {
  ie(name: string): string;
  /** What the IE's value always is, when known (compile.ts ValueKind): saves a conversion. */
  kind(name: string): ValueKind;
  hint(name: string): string;
  context: { [K in keyof RecordContext]: string };
}

/** Sources of a FlowRecord object literal and of its string fields' hints (in WIRE_STRING_FIELDS order). */
interface FlowRecordSource {
  literal: string;
  hints: string[];
}

/**
 * The exporter address's hint when none was given (FlowStringHints.reset): any number does, as hints are
 * checked (core/wire.ts). Sessions get their own (exporterHintOf, IngestPipeline.openSession), so
 * that records of many Nodes interleaved in one batch do not evict each other's address from its table.
 */
const CONTEXT_HINT = STRING_HINT_COUNT;
/** First per-session exporter hint, past every value cache's hints (ipfix/values.ts). */
const EXPORTER_HINTS = STRING_HINT_COUNT + 1;
/** Distinct exporter hints handed out before they repeat (hints are only checked, never trusted). */
const EXPORTER_HINT_COUNT = 1 << 16;

/** The exporter-address hint of the `session`-th transport session opened (FlowStringHints.reset). */
export function exporterHintOf(session: number): number {
  return EXPORTER_HINTS + (session % EXPORTER_HINT_COUNT);
}

// The preprocessor rules above, once, as the source of a FlowRecord object literal in FlowRecord's field order
// (one hidden class for every record). Compiled twice: into every data template's decoder (the collector gets
// FlowRecords straight from the bytes, no intermediate IpfixRecord) and into normaliseRecord (any IpfixRecord).
function flowRecordSource({ ie, kind, hint, context }: FlowRecordSources): FlowRecordSource {
  // num() and str() of a value known to be a number / string (or absent) are the value itself (or 0 / "").
  const convert = (name: string, type: 'number' | 'string') => {
    const known = kind(name);
    if (known === 'absent') return type === 'number' ? '0' : "''";
    return known === type ? ie(name) : `${type === 'number' ? 'num' : 'str'}(${ie(name)})`;
  };
  const num = (name: string) => convert(name, 'number');
  const str = (name: string) => convert(name, 'string');
  const address = (name: string) => `address(${ie(`${name}v4`)}, ${ie(`${name}v6`)})`;
  // Antrea sets the IP version from whichever source address IE is present (IPv4 first); a template
  // says which statically, an IpfixRecord only at run time.
  const v4Kind = kind('sourceIPv4Address');
  const v4 = `${ie('sourceIPv4Address')} !== undefined`;
  const ip = (v4Name: string, v6Name: string) => {
    if (v4Kind === 'other') return `str(${v4} ? ${ie(v4Name)} : ${ie(v6Name)})`;
    return str(v4Kind === 'absent' ? v6Name : v4Name);
  };
  // The hint of the IE a string field's value comes from; -1 where it is made anew (egressIP).
  const ipHint = (v4Name: string, v6Name: string) => {
    if (v4Kind === 'other') return `(${v4} ? ${hint(v4Name)} : ${hint(v6Name)})`;
    return hint(v4Kind === 'absent' ? v6Name : v4Name);
  };
  const addressHint = (name: string) => (hint(`${name}v4`) !== '-1' ? hint(`${name}v4`) : hint(`${name}v6`));
  const hints: { [K in StringField]: string } = {
    exporterAddress: 'exporterHint', // a local of the set's setup (flowRecordShape)
    sourceIP: ipHint('sourceIPv4Address', 'sourceIPv6Address'),
    destinationIP: ipHint('destinationIPv4Address', 'destinationIPv6Address'),
    tcpState: hint('tcpState'),
    sourcePodName: hint('sourcePodName'),
    sourcePodNamespace: hint('sourcePodNamespace'),
    sourceNodeName: hint('sourceNodeName'),
    destinationPodName: hint('destinationPodName'),
    destinationPodNamespace: hint('destinationPodNamespace'),
    destinationNodeName: hint('destinationNodeName'),
    destinationClusterIP: addressHint('destinationClusterIP'),
    destinationServiceIP: addressHint('destinationServiceIP'),
    destinationServicePortName: hint('destinationServicePortName'),
    ingressNetworkPolicyName: hint('ingressNetworkPolicyName'),
    ingressNetworkPolicyNamespace: hint('ingressNetworkPolicyNamespace'),
    ingressNetworkPolicyRuleName: hint('ingressNetworkPolicyRuleName'),
    egressNetworkPolicyName: hint('egressNetworkPolicyName'),
    egressNetworkPolicyNamespace: hint('egressNetworkPolicyNamespace'),
    egressNetworkPolicyRuleName: hint('egressNetworkPolicyRuleName'),
    egressName: hint('egressName'),
    egressIP: '-1',
    egressNodeName: hint('egressNodeName'),
    proxySnatIP: addressHint('proxySnatIP'),
    sourcePodLabels: hint('sourcePodLabels'),
    destinationPodLabels: hint('destinationPodLabels'),
  };
  const fields: { [K in keyof FlowRecord]: string } = {
    exporterAddress: context.exporterAddress,
    observationDomainId: context.observationDomainId,
    exportTime: context.exportTime,
    sequenceNumber: context.sequenceNumber,
    receivedAtMs: context.receivedAtMs,
    sourceIP: ip('sourceIPv4Address', 'sourceIPv6Address'),
    destinationIP: ip('destinationIPv4Address', 'destinationIPv6Address'),
    sourceTransportPort: num('sourceTransportPort'),
    destinationTransportPort: num('destinationTransportPort'),
    protocolIdentifier: num('protocolIdentifier'),
    flowStartSeconds: num('flowStartSeconds'),
    flowEndSeconds: num('flowEndSeconds'),
    flowEndReason: num('flowEndReason'),
    tcpState: str('tcpState'),
    flowType: num('flowType'),
    packetTotalCount: num('packetTotalCount'),
    packetDeltaCount: num('packetDeltaCount'),
    octetTotalCount: num('octetTotalCount'),
    octetDeltaCount: num('octetDeltaCount'),
    reversePacketTotalCount: num('reversePacketTotalCount'),
    reversePacketDeltaCount: num('reversePacketDeltaCount'),
    reverseOctetTotalCount: num('reverseOctetTotalCount'),
    reverseOctetDeltaCount: num('reverseOctetDeltaCount'),
    sourcePodName: str('sourcePodName'),
    sourcePodNamespace: str('sourcePodNamespace'),
    sourceNodeName: str('sourceNodeName'),
    destinationPodName: str('destinationPodName'),
    destinationPodNamespace: str('destinationPodNamespace'),
    destinationNodeName: str('destinationNodeName'),
    destinationClusterIP: address('destinationClusterIP'),
    destinationServiceIP: address('destinationServiceIP'),
    destinationServicePort: num('destinationServicePort'),
    destinationServicePortName: str('destinationServicePortName'),
    ingressNetworkPolicyName: str('ingressNetworkPolicyName'),
    ingressNetworkPolicyNamespace: str('ingressNetworkPolicyNamespace'),
    ingressNetworkPolicyRuleName: str('ingressNetworkPolicyRuleName'),
    ingressNetworkPolicyRuleAction: num('ingressNetworkPolicyRuleAction'),
    ingressNetworkPolicyType: num('ingressNetworkPolicyType'),
    egressNetworkPolicyName: str('egressNetworkPolicyName'),
    egressNetworkPolicyNamespace: str('egressNetworkPolicyNamespace'),
    egressNetworkPolicyRuleName: str('egressNetworkPolicyRuleName'),
    egressNetworkPolicyRuleAction: num('egressNetworkPolicyRuleAction'),
    egressNetworkPolicyType: num('egressNetworkPolicyType'),
    egressName: str('egressName'),
    egressIP: `textualAddress(${str('egressIP')})`,
    egressNodeName: str('egressNodeName'),
    proxySnatIP: address('proxySnatIP'),
    proxySnatPort: num('proxySnatPort'),
    sourcePodLabels: str('sourcePodLabels'),
    destinationPodLabels: str('destinationPodLabels'),
  };
  return {
    literal: `{\n${Object.entries(fields)
      .map(([field, source]) => `  ${field}: ${source},`)
      .join('\n')}\n}`,
    hints: WIRE_STRING_FIELDS.map((field) => hints[field as StringField]),
  };
}

const helpers = { num, str, address, textualAddress };

/**
 * String hints of the FlowRecords a decoder with flowRecordShape(hints) builds, for WireBatchBuilder.add:
 * WIRE_STRING_FIELDS.length numbers per record, a data set's records one after another from the offset in
 * its `shapeState`. They accumulate until reset() (the collector resets before each message).
 */
export class FlowStringHints {
  static readonly perRecord = WIRE_STRING_FIELDS.length;
  buffer = new Int32Array(1024 * FlowStringHints.perRecord);
  length = 0;
  /** The hint of the exporter address of the message being decoded (its session's). */
  exporterHint = CONTEXT_HINT;

  /** Before each message: no hints yet; `exporterHint`, the hint of its session's exporter address. */
  reset(exporterHint = CONTEXT_HINT): void {
    this.length = 0;
    this.exporterHint = exporterHint;
  }

  /** Where the hints of record `index` of `set` start. */
  offsetOf(set: DecodedDataSet<FlowRecord>, index: number): number {
    return (set.shapeState as number) + index * FlowStringHints.perRecord;
  }

  /**
   * Room for the hints of up to `records` more records (a data set's most, from its length); returns where
   * they go. Reserved once per data set rather than per record: the decoder sets `length` to the end of what
   * it wrote after the set's last record (end()).
   */
  reserve(records: number): number {
    const offset = this.length;
    const needed = offset + records * FlowStringHints.perRecord;
    if (needed > this.buffer.length) {
      const grown = new Int32Array(Math.max(this.buffer.length * 2, needed));
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.length = needed;
    return offset;
  }

  /** After a data set: its records' hints end at `offset`. */
  end(offset: number): void {
    this.length = offset;
  }
}

/**
 * The RecordShape (ipfix/compile.ts) that makes an IPFIX decoder build FlowRecords directly: its data sets'
 * records are what normaliseDataSet would return for them. With `hints`, it also notes each record's string
 * hints there, so that packing it (core/wire.ts) finds its strings without hashing them.
 */
export function flowRecordShape(hints?: FlowStringHints): RecordShape<FlowRecord> {
  return {
    source: ({ value, kind, hint, minRecordLength }) => {
      const { literal, hints: hintSources } = flowRecordSource({
        ie: value,
        kind,
        hint,
        context: {
          exporterAddress: 'c.exporterAddress',
          observationDomainId: 'c.observationDomainId',
          exportTime: 'c.exportTime',
          sequenceNumber: '(c.sequenceNumber + c.firstRecordIndex + i) >>> 0',
          receivedAtMs: 'c.receivedAtMs',
        },
      });
      if (!hints) return { expression: literal };
      // The set's hint space at once (room for as many records as its length allows), `hintAt` advancing
      // per record.
      const setup = [
        `  let hintAt = flowHints.reserve(((end - p) / ${Math.max(1, minRecordLength)}) | 0);`,
        '  c.shapeState = hintAt;',
        '  const hintBuffer = flowHints.buffer;',
        '  const exporterHint = flowHints.exporterHint;',
      ];
      const statements = [
        ...hintSources.map((source, k) => `    hintBuffer[hintAt + ${k}] = ${source};`),
        `    hintAt += ${FlowStringHints.perRecord};`,
      ];
      return {
        setup: setup.join('\n'),
        statements: statements.join('\n'),
        expression: literal,
        after: '  flowHints.end(hintAt);',
      };
    },
    helpers: hints ? { ...helpers, flowHints: hints } : helpers,
  };
}

const helperNames = Object.keys(helpers) as (keyof typeof helpers)[];

/** One IPFIX data record (by IE name) as a FlowRecord. */
export const normaliseRecord = new Function(
  ...helperNames,
  `return function normaliseRecord(f, context) {\n  return ${
    flowRecordSource({
      ie: (name) => `f[${JSON.stringify(name)}]`,
      kind: () => 'other',
      hint: () => '-1',
      context: {
        exporterAddress: 'context.exporterAddress',
        observationDomainId: 'context.observationDomainId',
        exportTime: 'context.exportTime',
        sequenceNumber: 'context.sequenceNumber',
        receivedAtMs: 'context.receivedAtMs',
      },
    }).literal
  };\n};`,
)(...helperNames.map((name) => helpers[name])) as (f: IpfixRecord, context: RecordContext) => FlowRecord;

/**
 * FlowRecords of a decoded data set. Options records (exporter statistics) are not flows: none.
 * Record i gets sequenceNumber = message sequence + its index among the message's data records.
 */
export function normaliseDataSet(set: DecodedDataSet): FlowRecord[] {
  if (set.options) return [];
  const out = new Array<FlowRecord>(set.records.length);
  // One context object per set, its sequence number advanced per record (normaliseRecord copies it).
  const context: RecordContext = {
    exporterAddress: set.exporterAddress,
    observationDomainId: set.observationDomainId,
    exportTime: set.exportTime,
    sequenceNumber: 0,
    receivedAtMs: set.receivedAtMs,
  };
  for (let i = 0; i < set.records.length; i++) {
    context.sequenceNumber = (set.sequenceNumber + set.firstRecordIndex + i) >>> 0;
    out[i] = normaliseRecord(set.records[i]!, context);
  }
  return out;
}
