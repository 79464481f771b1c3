import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyFlowRecord, type FlowRecord } from '../../../core/flow-record.ts';
import { decodeWireBatch, encodeWireBatch, WireBatchBuilder, WireFormatError } from '../../../core/wire.ts';

const sample = (i: number): FlowRecord => ({
  ...emptyFlowRecord(),
  exporterAddress: '127.0.0.1',
  observationDomainId: 7,
  exportTime: 1_636_083_412,
  sequenceNumber: i,
  receivedAtMs: 1_700_000_000_123,
  sourceIP: `10.0.${i % 256}.1`,
  destinationIP: '2001:0:3238:dfe1:63::fefc',
  sourceTransportPort: 1234,
  destinationTransportPort: 5678,
  protocolIdentifier: 6,
  flowStartSeconds: 1_257_893_000,
  flowEndSeconds: 1_257_894_000,
  flowEndReason: 2,
  tcpState: 'ESTABLISHED',
  flowType: 2,
  packetTotalCount: 2 ** 53 - 1,
  octetTotalCount: 800_000,
  sourcePodName: 'pod1',
  sourcePodNamespace: 'default',
  destinationServicePortName: 'default/svc:http',
  sourcePodLabels: '{"app":"ünïcode"}',
});

describe('Kinesis wire format v1', () => {
  it('round-trips records exactly, counters up to 2^53', () => {
    const records = Array.from({ length: 50 }, (_, i) => sample(i));
    expect(decodeWireBatch(encodeWireBatch(records))).toEqual(records);
  });

  it('round-trips arbitrary records (property)', () => {
    const text = fc.string({ maxLength: 40 });
    const count = fc.maxSafeNat();
    const arbitraryRecord = fc.record({
      sourceIP: text,
      destinationIP: text,
      sourcePodName: text,
      tcpState: text,
      packetTotalCount: count,
      octetDeltaCount: count,
      receivedAtMs: count,
      sourceTransportPort: fc.integer({ min: 0, max: 65535 }),
    });
    fc.assert(
      fc.property(fc.array(arbitraryRecord, { maxLength: 20 }), (partials) => {
        const records = partials.map((p) => ({ ...emptyFlowRecord(), ...p }));
        expect(decodeWireBatch(encodeWireBatch(records))).toEqual(records);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('interleaved batches round-trip and list each string once, as a batch built alone does', () => {
    const unique = (i: number): FlowRecord => ({
      ...sample(i),
      sourcePodName: `a${i}`,
      sourcePodNamespace: `b${i}`,
      sourceNodeName: `c${i}`,
      destinationPodName: `d${i}`,
      destinationPodNamespace: `e${i}`,
      destinationNodeName: `f${i}`,
      destinationClusterIP: `g${i}`,
      destinationServiceIP: `h${i}`,
      destinationServicePortName: `i${i}`,
      ingressNetworkPolicyName: `j${i}`,
      ingressNetworkPolicyNamespace: `k${i}`,
      egressNetworkPolicyName: `l${i}`,
      egressNetworkPolicyNamespace: `m${i}`,
      egressName: `n${i}`,
      sourcePodLabels: `o${i}`,
    });
    const builders = [new WireBatchBuilder(), new WireBatchBuilder(), new WireBatchBuilder()];
    const expected: FlowRecord[][] = [[], [], []];
    for (let i = 0; i < 6_000; i++) {
      // Every third record repeats an earlier one's strings, so lookups hit as well as miss.
      const record = i % 3 === 2 ? { ...unique(i - 2), sequenceNumber: i } : unique(i);
      builders[i % 3]!.add(record);
      expected[i % 3]!.push(record);
    }
    builders.forEach((builder, b) => {
      const size = builder.byteLength;
      const payload = builder.finish();
      expect(payload.length).toBe(size);
      expect(decodeWireBatch(payload)).toEqual(expected[b]);
      expect(payload.equals(encodeWireBatch(expected[b]!))).toBe(true);
    });
  });

  it('knows its exact encoded size before finishing', () => {
    const builder = new WireBatchBuilder();
    for (let i = 0; i < 300; i++) {
      builder.add(sample(i));
      expect(builder.byteLength).toBe(builder.finish().length);
    }
    // Shared names go to the string table once: a record costs well under 100 bytes here.
    expect(builder.byteLength / builder.recordCount).toBeLessThan(100);
  });

  it('rejects what it does not understand with a typed reason', () => {
    const good = encodeWireBatch([sample(1)]);
    const reasonOf = (bytes: Uint8Array) => {
      try {
        decodeWireBatch(bytes);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(WireFormatError);
        return (error as WireFormatError).reason;
      }
    };
    expect(reasonOf(Buffer.from('{"json":true}'))).toBe('bad-magic');
    expect(reasonOf(Buffer.from([0x46, 0x4c, 2, 0]))).toBe('unknown-version');
    expect(reasonOf(Buffer.from([0x46, 0x4c, 1, 1]))).toBe('unknown-flags');
    expect(reasonOf(good.subarray(0, good.length - 1))).toBe('truncated');
    expect(reasonOf(Buffer.concat([good, Buffer.from([0])]))).toBe('trailing-bytes');
    expect(reasonOf(Buffer.from([0x46, 0x4c]))).toBe('truncated');
  });

  it('rejects a string index outside the table', () => {
    const payload = Buffer.from(encodeWireBatch([sample(1)]));
    // header(4) + table count varint: the first field of the first record is exporterAddress's index.
    const tableCount = payload[4]!;
    let offset = 5;
    for (let i = 0; i < tableCount; i++) offset += 1 + payload[offset]!;
    offset += 1; // record count
    payload[offset] = 0x7f;
    expect(() => decodeWireBatch(payload)).toThrow(/out of range/);
  });
});
