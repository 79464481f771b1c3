// Acceptance: every go-ipfix vector decodes to the values of test/fixtures/vectors/DECODED.txt (parsed
// here, not copied), and the malformed ones give the documented errors.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createIpfixDecoder,
  DecodeErrorReason,
  type IpfixRecord,
  type TransportSession,
} from '../../../collector-edge/ipfix/index.ts';

const VECTORS = join(import.meta.dirname, '../../fixtures/vectors');
const session: TransportSession = { id: 'vectors', exporterAddress: '127.0.0.1', transport: 'tcp' };

function vector(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(VECTORS, name), 'utf8').trim(), 'hex'));
}

/** DECODED.txt -> per file: header values and the records as name -> printed value. */
function expectedFromDecodedTxt(): Map<
  string,
  { header: Record<string, number>; records: Array<Record<string, string>> }
> {
  const out = new Map<string, { header: Record<string, number>; records: Array<Record<string, string>> }>();
  let current: { header: Record<string, number>; records: Array<Record<string, string>> } | undefined;
  for (const line of readFileSync(join(VECTORS, 'DECODED.txt'), 'utf8').split('\n')) {
    const file = /^## (\S+\.hex): (.*)$/.exec(line);
    if (file) {
      const header: Record<string, number> = {};
      for (const m of file[2]!.matchAll(/(\w+)=(\d+)/g)) header[m[1]!] = Number(m[2]);
      current = { header, records: [] };
      out.set(file[1]!, current);
      continue;
    }
    if (/^ {4}record \d+:/.test(line)) current!.records.push({});
    const field = /^ {6}(\w+) = (.*)$/.exec(line);
    if (field) current!.records.at(-1)![field[1]!] = field[2]!;
  }
  return out;
}

function printed(value: unknown): string {
  return typeof value === 'string' && !/^[0-9a-f:.]+$/.test(value) ? `'${value}'` : String(value);
}

const available = existsSync(join(VECTORS, 'DECODED.txt'));

describe.skipIf(!available)('go-ipfix vectors', () => {
  const expected = expectedFromDecodedTxt();
  const pairs: Array<[string, string[]]> = [
    [
      'goipfix_f5c5793_templatePacketIPv4.hex',
      ['goipfix_f5c5793_dataPacket1IPv4.hex', 'goipfix_f5c5793_dataPacket2IPv4.hex'],
    ],
    [
      'goipfix_f5c5793_templatePacketIPv6.hex',
      ['goipfix_f5c5793_dataPacket1IPv6.hex', 'goipfix_f5c5793_dataPacket2IPv6.hex'],
    ],
    ['goipfix_head_process_test_validTemplatePacket.hex', ['goipfix_head_process_test_validDataPacket.hex']],
    [
      'goipfix_head_process_test_validTemplatePacketIPv6.hex',
      ['goipfix_head_process_test_validDataPacketIPv6.hex'],
    ],
  ];

  for (const [template, dataFiles] of pairs) {
    it(`${template} + data decode to DECODED.txt`, () => {
      const decoder = createIpfixDecoder({ clock: () => 0 });
      const t = decoder.decodeMessage(vector(template), session);
      expect(t.errors).toEqual([]);
      expect(t.templatesDefined).toHaveLength(1);
      expect(t.header).toMatchObject({
        exportTime: expected.get(template)!.header.exportTime,
        observationDomainId: expected.get(template)!.header.obsDomainId,
      });
      for (const file of dataFiles) {
        const result = decoder.decodeMessage(vector(file), session);
        expect(result.errors).toEqual([]);
        const want = expected.get(file)!;
        expect(want.records.length).toBeGreaterThan(0);
        expect(result.header!.sequenceNumber).toBe(want.header.seq);
        expect(result.header!.exportTime).toBe(want.header.exportTime);
        const records: IpfixRecord[] = result.dataSets.flatMap((s) => s.records);
        expect(records).toHaveLength(want.records.length);
        records.forEach((record, i) => {
          const asPrinted = Object.fromEntries(Object.entries(record).map(([k, v]) => [k, printed(v)]));
          expect(asPrinted).toEqual(want.records[i]);
        });
      }
    });
  }

  it('keys IE 136 on the enterprise: flowEndReason (IANA) and tcpState (Antrea) in one template', () => {
    const decoder = createIpfixDecoder();
    const t = decoder.decodeMessage(vector('goipfix_f5c5793_templatePacketIPv4.hex'), session);
    const fields = t.templatesDefined[0]!.fields.filter((f) => f.id === 136);
    expect(fields.map((f) => [f.enterprise, f.name, f.type])).toEqual([
      [0, 'flowEndReason', 'unsigned8'],
      [56506, 'tcpState', 'string'],
    ]);
    const record = decoder.decodeMessage(vector('goipfix_f5c5793_dataPacket1IPv4.hex'), session).dataSets[0]!
      .records[0]!;
    expect(record.flowEndReason).toBe(2);
    expect(record.tcpState).toBe('ESTABLISHED');
  });

  it('rejects version 9 ("collector only supports IPFIX (v10)") and stays usable', () => {
    const decoder = createIpfixDecoder();
    const r = decoder.decodeMessage(
      vector('goipfix_head_process_test_invalidTemplatePacketWrongVersion.hex'),
      session,
    );
    expect(r.errors.map((e) => e.reason)).toEqual([DecodeErrorReason.UnsupportedVersion]);
    expect(r.errors[0]!.detail).toContain('NetFlow v9');
    expect(decoder.templates()).toEqual([]);
    decoder.decodeMessage(vector('goipfix_head_process_test_validTemplatePacket.hex'), session);
    expect(
      decoder.decodeMessage(vector('goipfix_head_process_test_validDataPacket.hex'), session).recordCount,
    ).toBe(1);
  });

  it('legacy Antrea enterprise 55829 resolves through the Antrea registry', () => {
    // The v9 vector's body as a v10 message: element 105 of enterprise 55829 is destinationNodeName.
    const bytes = vector('goipfix_head_process_test_invalidTemplatePacketWrongVersion.hex');
    bytes[1] = 10;
    const r = createIpfixDecoder().decodeMessage(bytes, session);
    expect(r.errors).toEqual([]);
    expect(r.templatesDefined[0]!.fields.map((f) => f.name)).toEqual([
      'sourceIPv4Address',
      'destinationIPv4Address',
      'destinationNodeName',
    ]);
  });

  it('malformed template fields ("buffer too short"): error, and the old template of that id is deleted', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(vector('goipfix_head_process_test_validTemplatePacket.hex'), session);
    expect(decoder.templates()).toHaveLength(1);
    const r = decoder.decodeMessage(
      vector('goipfix_head_process_test_malformedTemplateFields_line489.hex'),
      session,
    );
    expect(r.errors.map((e) => e.reason)).toEqual([
      DecodeErrorReason.MessageTruncated,
      DecodeErrorReason.TemplateRecordTruncated,
    ]);
    expect(decoder.templates()).toEqual([]);
  });

  it('malformed template record header ("buffer too short"): error, the existing template is kept', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(vector('goipfix_head_process_test_validTemplatePacket.hex'), session);
    const r = decoder.decodeMessage(
      vector('goipfix_head_process_test_malformedTemplateRecordHeader_line501.hex'),
      session,
    );
    expect(r.errors.map((e) => e.reason)).toEqual([
      DecodeErrorReason.MessageTruncated,
      DecodeErrorReason.TemplateRecordTruncated,
    ]);
    expect(decoder.templates()).toHaveLength(1);
    expect(
      decoder.decodeMessage(vector('goipfix_head_process_test_validDataPacket.hex'), session).recordCount,
    ).toBe(1);
  });

  it('malformed data record (set header truncated): error, nothing decoded, counters consistent', () => {
    const decoder = createIpfixDecoder();
    decoder.decodeMessage(vector('goipfix_head_process_test_validTemplatePacket.hex'), session);
    const r = decoder.decodeMessage(
      vector('goipfix_head_process_test_malformedDataRecord_line575.hex'),
      session,
    );
    expect(r.errors.map((e) => e.reason)).toEqual([
      DecodeErrorReason.MessageTruncated,
      DecodeErrorReason.SetHeaderTruncated,
    ]);
    expect(r.recordCount).toBe(0);
    const stats = decoder.stats();
    expect(stats.errors.messageTruncated).toBe(1);
    expect(stats.errors.setHeaderTruncated).toBe(1);
  });
});
