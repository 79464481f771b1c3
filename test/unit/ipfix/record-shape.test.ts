// The collector's decoder builds FlowRecords straight from the bytes (flowRecordShape) instead of decoding to
// IpfixRecords and normalising them: both paths must give the same FlowRecords, and packing with the string
// hints the shaped decoder notes must give the same Kinesis records as packing without them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeAgents } from '../../../bench/collector.bench.ts';
import {
  createIpfixDecoder,
  type EncoderTemplate,
  encodeMessage,
  field,
  type IpfixDecoder,
  type TransportSession,
} from '../../../collector-edge/ipfix/index.ts';
import { FlowStringHints, flowRecordShape, normaliseDataSet } from '../../../collector-edge/normalise.ts';
import { type SealedBatch, ShardPacker } from '../../../collector-edge/packer.ts';
import type { FlowRecord } from '../../../core/flow-record.ts';
import { evenShards } from '../collector/fixtures.ts';

const session: TransportSession = { id: 'tcp|shape', exporterAddress: '192.0.2.7', transport: 'tcp' };
const header = { exportTime: 1_700_000_000, sequenceNumber: 4_294_967_000, observationDomainId: 9 };

/** Decodes `messages` with both decoders and returns the FlowRecords of each, message by message. */
function bothWays(messages: Uint8Array[], receivedAtMs = 1_700_000_000_555) {
  const hints = new FlowStringHints();
  const shaped = createIpfixDecoder({ recordShape: flowRecordShape(hints), clock: () => receivedAtMs });
  const plain: IpfixDecoder = createIpfixDecoder({ clock: () => receivedAtMs });
  const viaShape: FlowRecord[] = [];
  const viaNormalise: FlowRecord[] = [];
  for (const message of messages) {
    hints.reset();
    const a = shaped.decodeMessage(message, session);
    const b = plain.decodeMessage(message, session);
    expect(a.errors).toEqual(b.errors);
    expect(a.dataSets.map((s) => [s.templateId, s.options, s.delayed, s.records.length])).toEqual(
      b.dataSets.map((s) => [s.templateId, s.options, s.delayed, s.records.length]),
    );
    for (const set of a.dataSets) if (!set.options) viaShape.push(...set.records);
    for (const set of b.dataSets) viaNormalise.push(...normaliseDataSet(set));
  }
  return { viaShape, viaNormalise };
}

describe('flowRecordShape: the decoder builds the FlowRecords normaliseDataSet would', () => {
  it('Antrea agent records, IPv4 and IPv6 templates (simulator)', () => {
    const agents = encodeAgents(4, 600);
    for (const stream of agents.streams) {
      const { viaShape, viaNormalise } = bothWays([stream.templates, ...stream.messages]);
      expect(viaShape.length).toBe(stream.records);
      expect(viaShape).toEqual(viaNormalise);
    }
  });

  it('the go-ipfix vectors', () => {
    const dir = join(import.meta.dirname, '../../fixtures/vectors');
    const hex = (name: string) =>
      new Uint8Array(Buffer.from(readFileSync(join(dir, name), 'utf8').trim(), 'hex'));
    const names = readdirSync(dir).filter((n) => n.endsWith('.hex'));
    const templates = names.filter((n) => /template/i.test(n)).map(hex);
    const data = names.filter((n) => !/template/i.test(n)).map(hex);
    const { viaShape, viaNormalise } = bothWays([...templates, ...data]);
    expect(viaShape.length).toBeGreaterThan(0);
    expect(viaShape).toEqual(viaNormalise);
  });

  it('unusual encodings: reduced sizes, counters above 2^53, long and non-ASCII strings, both IP versions', () => {
    const template: EncoderTemplate = {
      templateId: 400,
      fields: [
        field('sourceIPv6Address'),
        field('sourceIPv4Address'),
        field('destinationIPv6Address'),
        field('destinationIPv4Address'),
        field('sourceTransportPort', { length: 1 }),
        field('destinationTransportPort'),
        field('protocolIdentifier'),
        field('packetTotalCount'), // 8 bytes: a bigint above 2^53
        field('octetTotalCount', { length: 3 }),
        field('octetDeltaCount', { length: 5 }),
        field('flowStartSeconds'),
        field('tcpState'),
        field('sourcePodName'),
        field('sourcePodName'), // a repeated IE ("sourcePodName#2"): the first one counts
        field('sourcePodNamespace', { length: 12 }), // fixed-length string, NUL padded
        field('destinationPodLabels'),
        field('destinationClusterIPv4'),
        field('destinationServiceIPv6'),
        field('proxySnatIPv4'),
        field('egressIP'),
        field('flowType'),
        field('ingressNetworkPolicyRuleAction'),
      ],
    };
    const records = [
      {
        sourceIPv6Address: 'fd00::1',
        sourceIPv4Address: '10.0.0.1',
        destinationIPv6Address: '::ffff:10.9.9.9',
        destinationIPv4Address: '10.0.0.2',
        sourceTransportPort: 200,
        destinationTransportPort: 443,
        protocolIdentifier: 6,
        packetTotalCount: 2n ** 60n + 3n,
        octetTotalCount: 0xabcdef,
        octetDeltaCount: 2 ** 39 + 1,
        flowStartSeconds: 4_000_000_000,
        tcpState: 'ESTABLISHED',
        sourcePodName: 'pöd-ünïcode-😀',
        'sourcePodName#2': 'second',
        sourcePodNamespace: 'kube-system',
        destinationPodLabels: `{"app":"${'x'.repeat(300)}"}`,
        destinationClusterIPv4: '0.0.0.0',
        destinationServiceIPv6: 'fd00:10:96::a',
        proxySnatIPv4: '10.0.0.254',
        egressIP: 'FD00::0001',
        flowType: 4,
        ingressNetworkPolicyRuleAction: 2,
      },
      {
        sourceIPv6Address: '::',
        sourceIPv4Address: '0.0.0.0',
        destinationIPv6Address: '2001:db8::1',
        destinationIPv4Address: '0.0.0.0',
        sourceTransportPort: 0,
        destinationTransportPort: 0,
        protocolIdentifier: 17,
        packetTotalCount: 5,
        octetTotalCount: 0,
        octetDeltaCount: 0,
        flowStartSeconds: 0,
        tcpState: '',
        sourcePodName: '',
        'sourcePodName#2': '',
        sourcePodNamespace: '',
        destinationPodLabels: '',
        destinationClusterIPv4: '10.96.0.1',
        destinationServiceIPv6: '::',
        proxySnatIPv4: '0.0.0.0',
        egressIP: 'not an address',
        flowType: 0,
        ingressNetworkPolicyRuleAction: 0,
      },
    ];
    // Enough records for the value caches to return cached strings too; a data set before its template.
    const data = encodeMessage({ ...header, sequenceNumber: 10 }, [
      { kind: 'data', template, records: [...records, ...records, ...records] },
    ]);
    const templates = encodeMessage(header, [
      { kind: 'templates', templates: [template] },
      { kind: 'data', template, records },
    ]);
    const { viaShape, viaNormalise } = bothWays([data, templates, data]);
    expect(viaShape).toHaveLength(14);
    expect(viaShape).toEqual(viaNormalise);
    expect(viaShape[0]).toMatchObject({
      sourceIP: '10.0.0.1',
      packetTotalCount: 2 ** 60,
      egressIP: 'fd00::1',
    });
  });

  it('templates without the IPv4 source, and options templates (statistics, not flows)', () => {
    const v6: EncoderTemplate = {
      templateId: 401,
      fields: [field('sourceIPv6Address'), field('destinationIPv6Address'), field('sourcePodName')],
    };
    const stats: EncoderTemplate = {
      templateId: 402,
      scopeFieldCount: 1,
      fields: [field('exportingProcessId'), field('exportedMessageTotalCount')],
    };
    const message = encodeMessage(header, [
      { kind: 'templates', templates: [v6] },
      { kind: 'templates', templates: [stats] },
      { kind: 'data', template: stats, records: [{ exportingProcessId: 1, exportedMessageTotalCount: 9 }] },
      {
        kind: 'data',
        template: v6,
        records: [{ sourceIPv6Address: 'fd00::2', destinationIPv6Address: 'fd00::3', sourcePodName: 'p' }],
      },
    ]);
    const { viaShape, viaNormalise } = bothWays([message]);
    expect(viaShape).toHaveLength(1);
    expect(viaShape).toEqual(viaNormalise);
  });

  it('packing with the shaped decoder string hints gives the same Kinesis records as without', () => {
    const agents = encodeAgents(4, 1500);
    const pack = (useHints: boolean) => {
      const out: SealedBatch[] = [];
      const packer = new ShardPacker({
        targetBytes: 25_000,
        lingerMs: 500,
        now: () => 0,
        onSealed: (batch) => out.push(batch),
      });
      packer.setShardMap(evenShards(4));
      const hints = new FlowStringHints();
      const decoder = createIpfixDecoder({
        recordShape: flowRecordShape(hints),
        clock: () => 1_700_000_000_001,
      });
      for (let round = 0; round < 3; round++) {
        agents.streams.forEach((stream, i) => {
          const s = { ...session, id: `tcp|${i}`, exporterAddress: `10.0.0.${i}` };
          for (const message of [stream.templates, ...stream.messages]) {
            hints.reset();
            for (const set of decoder.decodeMessage(message, s).dataSets) {
              if (set.options) continue;
              set.records.forEach((record, k) => {
                if (useHints) packer.add(record, hints.buffer, hints.offsetOf(set, k));
                else packer.add(record);
              });
            }
          }
        });
      }
      packer.flushAll();
      return out;
    };
    const hinted = pack(true);
    const plain = pack(false);
    expect(hinted.length).toBeGreaterThan(10);
    expect(hinted.map((b) => [b.partitionKey, b.explicitHashKey, b.recordCount])).toEqual(
      plain.map((b) => [b.partitionKey, b.explicitHashKey, b.recordCount]),
    );
    const differing = hinted.filter((b, i) => !b.data.equals(plain[i]!.data)).length;
    expect(differing).toBe(0);
  });
});
