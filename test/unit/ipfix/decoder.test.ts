import { describe, expect, it } from 'vitest';
import {
  createIpfixDecoder,
  DecodeErrorReason,
  type EncoderTemplate,
  encodeMessage,
  field,
  IpfixEncoder,
  IpfixStreamFramer,
  type TransportSession,
  VARIABLE_LENGTH,
} from '../../../collector-edge/ipfix/index.ts';
import { seededRandom } from '../../../core/random.ts';
import { ANTREA_AGENT_IPV4_FIELDS, antreaRecord } from '../../../workloads/antrea-template.ts';
import { naiveInterpretRecords } from '../../../workloads/naive-interpreter.ts';

const udp: TransportSession = {
  id: 'udp|127.0.0.1:40000|127.0.0.1:4739',
  exporterAddress: '127.0.0.1',
  transport: 'udp',
};
const tcp: TransportSession = {
  id: 'tcp|127.0.0.1:40001|127.0.0.1:4739',
  exporterAddress: '127.0.0.1',
  transport: 'tcp',
};
const header = { exportTime: 1_700_000_000, sequenceNumber: 0, observationDomainId: 7 };

describe('value encodings', () => {
  it('decodes every abstract type, reduced-size integers and both variable-length forms', () => {
    const template: EncoderTemplate = {
      templateId: 300,
      fields: [
        field('octetDeltaCount'), // unsigned64
        field('packetDeltaCount', { length: 4 }), // reduced-size unsigned64
        field('octetTotalCount', { length: 3 }),
        field('packetTotalCount'),
        field('ingressNetworkPolicyRulePriority'), // signed32 (Antrea)
        field('egressNetworkPolicyRulePriority', { length: 2 }), // reduced-size signed32
        field('samplingProbability'), // float64
        field('absoluteError', { length: 4 }), // float64 sent as float32
        field('dataRecordsReliability'), // boolean
        field('hashDigestOutput'),
        field('sourceMacAddress'),
        field('interfaceName', { length: 8 }), // fixed-length string, NUL padded
        field('sourcePodName'), // variable, 1-byte length
        field('httpVals'), // variable, 3-byte length (>= 255)
        field('flowStartSeconds'),
        field('flowStartMilliseconds'),
        field('flowStartMicroseconds'),
        field('flowStartNanoseconds'),
        field('sourceIPv4Address'),
        field('sourceIPv6Address'),
        field('destinationIPv6Address'),
        field('applicationId'), // octetArray, variable
        field('basicList'),
        { name: '99:1234', type: 'octetArray', enterprise: 99, id: 1234, length: 3 }, // unknown IE
        field('reverseOctetDeltaCount'),
      ],
    };
    const long = 'x'.repeat(300);
    const record = {
      octetDeltaCount: 2n ** 60n + 5n,
      packetDeltaCount: 4_000_000_000,
      octetTotalCount: 0xabcdef,
      packetTotalCount: 2 ** 53,
      ingressNetworkPolicyRulePriority: -5,
      egressNetworkPolicyRulePriority: -300,
      samplingProbability: 0.125,
      absoluteError: 1.5,
      dataRecordsReliability: true,
      hashDigestOutput: false,
      sourceMacAddress: '0a:1b:2c:3d:4e:5f',
      interfaceName: 'eth0',
      sourcePodName: 'pod-ünïcode',
      httpVals: long,
      flowStartSeconds: 1_700_000_000,
      flowStartMilliseconds: 1_700_000_000_123,
      flowStartMicroseconds: 1_700_000_000_123_456,
      flowStartNanoseconds: 1_700_000_000_123_456_789n,
      sourceIPv4Address: '127.0.0.1',
      sourceIPv6Address: '::1',
      destinationIPv6Address: '::ffff:10.1.2.3',
      applicationId: 'deadbeef',
      basicList: '0102',
      '99:1234': 'a1b2c3',
      reverseOctetDeltaCount: 0,
    };
    const decoder = createIpfixDecoder();
    const r = decoder.decodeMessage(
      encodeMessage(header, [
        { kind: 'templates', templates: [template] },
        { kind: 'data', template, records: [record] },
      ]),
      tcp,
    );
    expect(r.errors).toEqual([]);
    const got = r.dataSets[0]!.records[0]!;
    expect(got).toEqual({
      ...record,
      interfaceName: 'eth0',
      // IPv4-mapped IPv6 prints as IPv4 (core/ip.ts, Go's net.IP.String()).
      destinationIPv6Address: '10.1.2.3',
      // 2^53 is above the exact range: bigint.
      packetTotalCount: 2n ** 53n,
    });
    expect(typeof got.packetDeltaCount).toBe('number');
  });
});

describe('templates', () => {
  const t256: EncoderTemplate = {
    templateId: 256,
    fields: [field('sourceIPv4Address'), field('destinationIPv4Address'), field('sourcePodName')],
  };
  const rec = { sourceIPv4Address: '127.0.0.1', destinationIPv4Address: '127.0.0.2', sourcePodName: 'p' };
  const templateMsg = (odid = 7) =>
    encodeMessage({ ...header, observationDomainId: odid }, [{ kind: 'templates', templates: [t256] }]);
  const dataMsg = (odid = 7, seq = 0) =>
    encodeMessage({ ...header, observationDomainId: odid, sequenceNumber: seq }, [
      { kind: 'data', template: t256, records: [rec] },
    ]);

  it('are scoped per transport session and observation domain', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(templateMsg(7), tcp);
    expect(decoder.decodeMessage(dataMsg(7), tcp).recordCount).toBe(1);
    expect(decoder.decodeMessage(dataMsg(8), tcp).heldSets).toBe(1);
    expect(decoder.decodeMessage(dataMsg(7), udp).heldSets).toBe(1);
    expect(decoder.stats().compiledDecoders).toBe(1);
  });

  it('holds data that arrives before its template and decodes it when the template comes', () => {
    let now = 1000;
    const decoder = createIpfixDecoder({ clock: () => now, maxHoldMs: 5000 });
    const early = decoder.decodeMessage(dataMsg(7, 41), udp);
    expect(early.heldSets).toBe(1);
    expect(early.recordCount).toBe(0);
    now += 4000;
    const later = decoder.decodeMessage(templateMsg(7), udp);
    expect(later.recordCount).toBe(1);
    expect(later.dataSets[0]).toMatchObject({
      delayed: true,
      sequenceNumber: 41,
      templateId: 256,
      receivedAtMs: 1000,
    });
    expect(decoder.stats()).toMatchObject({ setsHeld: 1, setsReleased: 1, setsDropped: 0, currentlyHeld: 0 });
  });

  it('drops held data after maxHoldMs (counted, typed) and when the holding area is full', () => {
    let now = 0;
    const decoder = createIpfixDecoder({ clock: () => now, maxHoldMs: 5000, maxHeldSets: 2 });
    decoder.decodeMessage(dataMsg(7), udp);
    now = 6000;
    const expired = decoder.expireHeld();
    expect(expired.map((e) => e.reason)).toEqual([DecodeErrorReason.TemplateMissing]);
    decoder.decodeMessage(dataMsg(7), udp);
    decoder.decodeMessage(dataMsg(7), udp);
    const third = decoder.decodeMessage(dataMsg(7), udp);
    expect(third.errors.map((e) => e.reason)).toEqual([DecodeErrorReason.TemplateMissing]);
    expect(decoder.stats()).toMatchObject({ setsHeld: 4, setsDropped: 2, currentlyHeld: 2 });
    expect(decoder.decodeMessage(templateMsg(7), udp).recordCount).toBe(2);
  });

  it('UDP templates expire after their lifetime unless refreshed; TCP templates do not', () => {
    let now = 0;
    const decoder = createIpfixDecoder({ clock: () => now, udpTemplateLifetimeMs: 60_000 });
    decoder.decodeMessage(templateMsg(), udp);
    decoder.decodeMessage(templateMsg(), tcp);
    now = 50_000;
    expect(decoder.decodeMessage(dataMsg(), udp).recordCount).toBe(1);
    decoder.decodeMessage(templateMsg(), udp); // refresh at 50 s
    now = 100_000;
    expect(decoder.decodeMessage(dataMsg(), udp).recordCount).toBe(1);
    now = 111_000;
    expect(decoder.decodeMessage(dataMsg(), udp).heldSets).toBe(1);
    expect(decoder.decodeMessage(dataMsg(), tcp).recordCount).toBe(1);
    expect(decoder.stats().templatesExpired).toBe(1);
  });

  it('withdrawals: one template, and withdraw-all (template id = set id)', () => {
    const decoder = createIpfixDecoder();
    const t257 = { ...t256, templateId: 257 };
    decoder.decodeMessage(encodeMessage(header, [{ kind: 'templates', templates: [t256, t257] }]), tcp);
    expect(decoder.templates()).toHaveLength(2);
    const w = decoder.decodeMessage(encodeMessage(header, [{ kind: 'withdraw', templateIds: [256] }]), tcp);
    expect(w.templatesWithdrawn).toBe(1);
    expect(decoder.templates().map((t) => t.templateId)).toEqual([257]);
    decoder.decodeMessage(encodeMessage(header, [{ kind: 'withdrawAll' }]), tcp);
    expect(decoder.templates()).toEqual([]);
  });

  it('options templates (set 3): scope count, records flagged as options', () => {
    const encoder = new IpfixEncoder({ observationDomainId: 1 });
    encoder.defineTemplate(
      400,
      [field('meteringProcessId'), field('exportedMessageTotalCount'), field('samplerName')],
      1,
    );
    const decoder = createIpfixDecoder();
    const t = decoder.decodeMessage(encoder.templateMessage(1), tcp);
    expect(t.templatesDefined[0]).toMatchObject({ options: true, scopeFieldCount: 1 });
    const [data] = encoder.dataMessages(
      400,
      [{ meteringProcessId: 9, exportedMessageTotalCount: 77, samplerName: 's' }],
      1,
    );
    const r = decoder.decodeMessage(data!, tcp);
    expect(r.dataSets[0]).toMatchObject({
      options: true,
      records: [{ meteringProcessId: 9, exportedMessageTotalCount: 77, samplerName: 's' }],
    });
  });

  it('a template redefinition replaces the old one', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(templateMsg(), tcp);
    const other: EncoderTemplate = { templateId: 256, fields: [field('protocolIdentifier')] };
    decoder.decodeMessage(encodeMessage(header, [{ kind: 'templates', templates: [other] }]), tcp);
    const r = decoder.decodeMessage(
      encodeMessage(header, [{ kind: 'data', template: other, records: [{ protocolIdentifier: 17 }] }]),
      tcp,
    );
    expect(r.dataSets[0]!.records).toEqual([{ protocolIdentifier: 17 }]);
  });
});

describe('sequence accounting', () => {
  it('counts lost records and reordered messages per (session, domain), RFC and go-ipfix numbering', () => {
    const encoder = new IpfixEncoder({ observationDomainId: 3 });
    encoder.defineTemplate(256, [field('protocolIdentifier')]);
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(encoder.templateMessage(0), tcp);
    const batch = (n: number) =>
      encoder.dataMessages(
        256,
        Array.from({ length: n }, () => ({ protocolIdentifier: 6 })),
        0,
      )[0]!;
    const m1 = batch(2);
    const m2 = batch(3);
    const m3 = batch(1);
    const m4 = batch(4);
    decoder.decodeMessage(m1, tcp);
    decoder.decodeMessage(m3, tcp); // m2 (3 records) missing
    decoder.decodeMessage(m2, tcp); // arrives late
    decoder.decodeMessage(m4, tcp);
    expect(decoder.sequenceStats()).toEqual([
      { sessionId: tcp.id, observationDomainId: 3, messages: 5, lostRecords: 3, reorderedMessages: 1 },
    ]);
    // go-ipfix stamps seq = previous + this message's records: also in order.
    const go = createIpfixDecoder();
    const goTemplate: EncoderTemplate = { templateId: 256, fields: [field('protocolIdentifier')] };
    go.decodeMessage(
      encodeMessage({ ...header, sequenceNumber: 0 }, [{ kind: 'templates', templates: [goTemplate] }]),
      tcp,
    );
    let seq = 0;
    for (const n of [1, 3, 2]) {
      seq += n;
      const records = Array.from({ length: n }, () => ({ protocolIdentifier: 6 }));
      go.decodeMessage(
        encodeMessage({ ...header, sequenceNumber: seq }, [{ kind: 'data', template: goTemplate, records }]),
        tcp,
      );
    }
    expect(go.stats()).toMatchObject({ lostRecords: 0, reorderedMessages: 0 });
  });
});

describe('bad input', () => {
  const t: EncoderTemplate = {
    templateId: 256,
    fields: [field('sourceIPv4Address'), field('sourcePodName')],
  };
  const good = () =>
    encodeMessage(header, [
      { kind: 'templates', templates: [t] },
      { kind: 'data', template: t, records: [{ sourceIPv4Address: '127.0.0.1', sourcePodName: 'a' }] },
    ]);
  const reasons = (bytes: Uint8Array) =>
    createIpfixDecoder()
      .decodeMessage(bytes, tcp)
      .errors.map((e) => e.reason);
  const raw = (setId: number, body: number[]) =>
    encodeMessage(header, [{ kind: 'raw', setId, body: Uint8Array.from(body) }]);

  it('truncated header, wrong versions, invalid message length', () => {
    expect(reasons(good().subarray(0, 10))).toEqual([DecodeErrorReason.MessageHeaderTruncated]);
    for (const version of [9, 5, 0x4500]) {
      const m = good();
      m[0] = version >> 8;
      m[1] = version & 0xff;
      expect(reasons(m)).toEqual([DecodeErrorReason.UnsupportedVersion]);
    }
    const m = good();
    m[2] = 0;
    m[3] = 8;
    expect(reasons(m)).toEqual([DecodeErrorReason.MessageLengthInvalid]);
    const trailing = new Uint8Array(good().length + 3);
    trailing.set(good());
    expect(reasons(trailing)).toEqual([DecodeErrorReason.TrailingBytes]);
  });

  it('set lengths: zero-length set, overrun, reserved set ids', () => {
    const zero = good();
    zero[18] = 0;
    zero[19] = 0;
    expect(reasons(zero)).toEqual([DecodeErrorReason.SetLengthInvalid]);
    const overrun = good();
    overrun[19] = (overrun[19]! + 200) & 0xff;
    overrun[18] = overrun[18]! + 1;
    expect(reasons(overrun)).toContain(DecodeErrorReason.SetLengthOverrun);
    expect(reasons(raw(1, [0, 0, 0, 0]))).toEqual([DecodeErrorReason.SetIdReserved]);
  });

  it('template records: id below 256, field count that does not fit, zero-length field, bad scope', () => {
    expect(reasons(raw(2, [0, 255, 0, 1, 0, 8, 0, 4]))).toEqual([DecodeErrorReason.TemplateIdInvalid]);
    expect(reasons(raw(2, [1, 0, 0, 50, 0, 8, 0, 4]))).toEqual([DecodeErrorReason.TemplateRecordTruncated]);
    expect(reasons(raw(2, [1, 0, 0, 1, 0, 8, 0, 0]))).toEqual([DecodeErrorReason.TemplateFieldInvalid]);
    expect(reasons(raw(3, [1, 0, 0, 1, 0, 0, 0, 8, 0, 4]))).toEqual([
      DecodeErrorReason.OptionsTemplateScopeInvalid,
    ]);
    expect(reasons(raw(3, [1, 0, 0, 1, 0, 2, 0, 8, 0, 4]))).toEqual([
      DecodeErrorReason.OptionsTemplateScopeInvalid,
    ]);
    // enterprise bit set but the enterprise number is missing
    expect(reasons(raw(2, [1, 0, 0, 1, 0x80, 101, 0xff, 0xff]))).toEqual([
      DecodeErrorReason.TemplateRecordTruncated,
    ]);
  });

  it('absurd variable lengths overrun the set: error for the set, earlier records kept, decoder usable', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(encodeMessage(header, [{ kind: 'templates', templates: [t] }]), tcp);
    const body = [127, 0, 0, 1, 1, 0x61, 127, 0, 0, 2, 0xff, 0xff, 0xff, 0x62];
    const r = decoder.decodeMessage(raw(256, body), tcp);
    expect(r.errors.map((e) => e.reason)).toEqual([DecodeErrorReason.RecordOverrun]);
    expect(r.dataSets[0]!.records).toEqual([{ sourceIPv4Address: '127.0.0.1', sourcePodName: 'a' }]);
    expect(decoder.decodeMessage(good(), tcp).recordCount).toBe(1);
    expect(decoder.stats().errors.recordOverrun).toBe(1);
  });

  it('padding after the last record is accepted; non-zero leftovers are reported', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(encodeMessage(header, [{ kind: 'templates', templates: [t] }]), tcp);
    expect(decoder.decodeMessage(raw(256, [127, 0, 0, 1, 0, 0, 0, 0]), tcp).errors).toEqual([]);
    const fixed: EncoderTemplate = { templateId: 260, fields: [field('sourceIPv4Address')] };
    decoder.decodeMessage(encodeMessage(header, [{ kind: 'templates', templates: [fixed] }]), tcp);
    const r = decoder.decodeMessage(raw(260, [127, 0, 0, 1, 9, 9]), tcp);
    expect(r.recordCount).toBe(1);
    expect(r.errors.map((e) => e.reason)).toEqual([DecodeErrorReason.RecordOverrun]);
  });
});

describe('compiled decoder', () => {
  it('agrees with the naive interpreter on Antrea-shaped records', () => {
    const encoder = new IpfixEncoder({ observationDomainId: 1 });
    encoder.defineTemplate(256, ANTREA_AGENT_IPV4_FIELDS);
    const random = seededRandom(42);
    const records = Array.from({ length: 300 }, (_, i) => antreaRecord(random, i));
    const decoder = createIpfixDecoder();
    const info = decoder.decodeMessage(encoder.templateMessage(0), tcp).templatesDefined[0]!;
    for (const message of encoder.dataMessages(256, records, 0)) {
      const compiled = decoder.decodeMessage(message, tcp).dataSets[0]!.records;
      const naive: Record<string, unknown>[] = [];
      naiveInterpretRecords(info.fields, message, 20, message.length, naive as never);
      expect(compiled).toEqual(naive);
      expect(compiled.length).toBeGreaterThan(0);
    }
    expect(decoder.stats().records).toBe(300);
    expect(info.fields.filter((f) => f.length === VARIABLE_LENGTH).length).toBeGreaterThan(15);
  });
});

describe('stream framer', () => {
  it('splits a byte stream at any chunking and resyncs after garbage', () => {
    const encoder = new IpfixEncoder({ observationDomainId: 1 });
    encoder.defineTemplate(256, [field('protocolIdentifier')]);
    const messages = [
      encoder.templateMessage(0),
      ...encoder.dataMessages(256, [{ protocolIdentifier: 6 }], 0),
    ];
    const garbage = Uint8Array.from([1, 2, 3, 4, 5]);
    const stream = Buffer.concat([messages[0]!, garbage, messages[1]!]);
    for (const chunk of [1, 3, 7, 1000]) {
      const framer = new IpfixStreamFramer();
      const out: Uint8Array[] = [];
      let resyncs = 0;
      for (let o = 0; o < stream.length; o += chunk) {
        const r = framer.push(stream.subarray(o, o + chunk));
        out.push(...r.messages.map((m) => m.bytes));
        resyncs += r.errors.length;
      }
      expect(out).toEqual(messages);
      expect(resyncs).toBeGreaterThanOrEqual(1);
      expect(framer.finish()).toEqual([]);
    }
  });
});
