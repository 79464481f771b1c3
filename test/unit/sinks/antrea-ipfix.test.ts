// The aggregated-record export against Antrea's template (literal fixture from its source), Flowline's own
// decoder (every IE equals the row's value, IPv4 and IPv6, any values) and go-ipfix's JSON record format.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIpfixDecoder } from '../../../collector-edge/ipfix/index.ts';
import {
  AggregatedRecordEncoder,
  aggregatedTemplateNames,
  jsonRecordLine,
  observationDomainIdOf,
  TEMPLATE_ID_IPV4,
  TEMPLATE_ID_IPV6,
} from '../../../functions/sinks/antrea-ipfix.ts';
import { ANTREA_AGGREGATED_TEMPLATE_V4 } from '../../fixtures/antrea-aggregated-template.ts';
import {
  aggregatedFlowArbitrary,
  expectedIeValue,
  exportedRow,
  SINK_CLUSTER_UUID,
  sampleFlow,
} from '../../fixtures/exported-rows.ts';

function decodeAll(messages: Uint8Array[]) {
  const decoder = createIpfixDecoder();
  const session = { id: 'tcp|test', exporterAddress: '127.0.0.1', transport: 'tcp' as const };
  const sets = messages.flatMap((m) => {
    const result = decoder.decodeMessage(m, session);
    expect(result.errors).toEqual([]);
    return result.dataSets;
  });
  return { sets, decoder };
}

describe('aggregated template', () => {
  it('has Antrea HEAD IEs in order, with their enterprise and id (IPv4), and the IPv6 variant', () => {
    const encoder = new AggregatedRecordEncoder(1, 'c', 65535);
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(encoder.templateMessage(1), { id: 't', exporterAddress: '', transport: 'tcp' });
    expect(aggregatedTemplateNames(false)).toEqual(ANTREA_AGGREGATED_TEMPLATE_V4.map(([name]) => name));
    expect(aggregatedTemplateNames(true)).toEqual(
      ANTREA_AGGREGATED_TEMPLATE_V4.map(([name]) => name.replace('IPv4', 'IPv6')),
    );
    const templates = decoder.templates();
    const v4 = templates.find((t) => t.templateId === TEMPLATE_ID_IPV4)!;
    expect(v4.fields.map((f) => [f.name, f.enterprise, f.id])).toEqual(ANTREA_AGGREGATED_TEMPLATE_V4);
    expect(templates.find((t) => t.templateId === TEMPLATE_ID_IPV6)).toBeDefined();
  });

  it('observation domain id = FNV-1 32 of the cluster UUID bytes (Antrea genObservationDomainID)', () => {
    expect(observationDomainIdOf(SINK_CLUSTER_UUID)).toBe(37993219);
    expect(() => observationDomainIdOf('not-a-uuid')).toThrow(/not a UUID/);
  });
});

describe('IPFIX data records', () => {
  it('decode to the row values, IE by IE, for any flow (IPv4 and IPv6 in one batch)', () => {
    fc.assert(
      fc.property(fc.array(aggregatedFlowArbitrary, { minLength: 1, maxLength: 20 }), (flows) => {
        const rows = flows.map((f, i) => exportedRow(f, i + 1));
        const encoder = new AggregatedRecordEncoder(
          observationDomainIdOf(SINK_CLUSTER_UUID),
          SINK_CLUSTER_UUID,
          1472,
        );
        const messages = [
          encoder.templateMessage(1_800_000_000),
          ...encoder.dataMessages(rows, 1_800_000_000),
        ];
        for (const m of messages) expect(m.length).toBeLessThanOrEqual(1472);
        const { sets } = decodeAll(messages);
        const records = sets.flatMap((s) => s.records.map((r) => ({ set: s, r })));
        expect(records).toHaveLength(rows.length);
        // IPv4 rows first, then IPv6 rows, each in batch order.
        const ordered = [
          ...rows.filter((r) => !String(r.sourceIP).includes(':')),
          ...rows.filter((r) => String(r.sourceIP).includes(':')),
        ];
        for (const [i, { set, r }] of records.entries()) {
          const row = ordered[i]!;
          expect(set.observationDomainId).toBe(37993219);
          expect(set.templateId).toBe(
            String(row.sourceIP).includes(':') ? TEMPLATE_ID_IPV6 : TEMPLATE_ID_IPV4,
          );
          for (const name of aggregatedTemplateNames(set.templateId === TEMPLATE_ID_IPV6)) {
            expect(r[name], name).toEqual(expectedIeValue(name, row, SINK_CLUSTER_UUID));
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it('numbers messages with the count of data records sent before them (RFC 7011)', () => {
    const rows = Array.from({ length: 50 }, (_, i) => exportedRow(sampleFlow(), i + 1));
    const encoder = new AggregatedRecordEncoder(7, 'c', 1472);
    const { decoder, sets } = decodeAll([
      encoder.templateMessage(1),
      ...encoder.dataMessages(rows, 1),
      ...encoder.dataMessages(rows, 2),
    ]);
    expect(sets.reduce((n, s) => n + s.records.length, 0)).toBe(100);
    expect(decoder.sequenceStats()).toMatchObject([{ lostRecords: 0 }]);
  });
});

describe('JSON record format', () => {
  it('is go-ipfix\'s line: "@timestamp" then "ipfix" with every template IE by name, sorted, values = row', () => {
    fc.assert(
      fc.property(aggregatedFlowArbitrary, (flow) => {
        const row = exportedRow(flow);
        const line = jsonRecordLine(row, 'cluster-a', Date.UTC(2026, 11, 3, 6, 40, 5, 999));
        expect(line.endsWith('}\n')).toBe(true);
        expect(line.startsWith('{"@timestamp":"2026-12-03T06:40:05Z","ipfix":{')).toBe(true);
        expect(line).not.toMatch(/[<>&]/); // Go escapes them as \u003c \u003e \u0026
        const parsed = JSON.parse(line) as { '@timestamp': string; ipfix: Record<string, unknown> };
        const ipv6 = String(row.sourceIP).includes(':');
        const names = ANTREA_AGGREGATED_TEMPLATE_V4.map(([name]) =>
          ipv6 ? name.replace('IPv4', 'IPv6') : name,
        );
        expect(Object.keys(parsed.ipfix)).toEqual([...names].sort());
        for (const name of names)
          expect(parsed.ipfix[name], name).toEqual(expectedIeValue(name, row, 'cluster-a'));
      }),
      { numRuns: 100 },
    );
  });
});
