// Readers and `flowline decode`: pcap / pcapng (UDP and TCP, IPv4 and IPv6), raw streams, .hex files,
// templates across files, errors with file and offset, exit status.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFiles } from '../../../cli/commands/decode.ts';
import { encodeMessage, field, IpfixEncoder } from '../../../collector-edge/ipfix/index.ts';
import { type PacketSpec, pcapFile, pcapngFile, TcpFlags, tcpFrame, udpFrame } from './pcap-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'flowline-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exporter() {
  const encoder = new IpfixEncoder({ observationDomainId: 5 });
  encoder.defineTemplate(256, [
    field('sourceIPv4Address'),
    field('destinationIPv4Address'),
    field('octetDeltaCount'),
    field('sourcePodName'),
  ]);
  const records = Array.from({ length: 40 }, (_, i) => ({
    sourceIPv4Address: '127.0.0.1',
    destinationIPv4Address: `127.0.0.${2 + (i % 5)}`,
    octetDeltaCount: i === 0 ? 2n ** 60n : 1000 + i,
    sourcePodName: `pod-${i}`,
  }));
  const data = encoder.dataMessages(256, records, 1_700_000_000);
  return { template: encoder.templateMessage(1_700_000_000), data, records };
}

function run(files: string[]) {
  const lines: string[] = [];
  const errors: string[] = [];
  const totals = decodeFiles(
    files,
    (l) => lines.push(l),
    (l) => errors.push(l),
  );
  return { records: lines.map((l) => JSON.parse(l) as Record<string, unknown>), errors, totals };
}

describe('flowline decode', () => {
  it('.hex files: templates carry across files; JSON with meta keys and big integers as strings', () => {
    const { template, data } = exporter();
    writeFileSync(join(dir, 't.hex'), `${Buffer.from(template).toString('hex')}\n`);
    writeFileSync(
      join(dir, 'd.hex'),
      `# data\n${data.map((m) => Buffer.from(m).toString('hex')).join('\n')}\n`,
    );
    const { records, errors } = run([join(dir, 't.hex'), join(dir, 'd.hex')]);
    expect(errors).toEqual([]);
    expect(records).toHaveLength(40);
    expect(records[0]).toEqual({
      _templateId: 256,
      _observationDomainId: 5,
      _exportTime: 1_700_000_000,
      sourceIPv4Address: '127.0.0.1',
      destinationIPv4Address: '127.0.0.2',
      octetDeltaCount: '1152921504606846976',
      sourcePodName: 'pod-0',
    });
    expect(records[1]!.octetDeltaCount).toBe(1001);
  });

  it('raw streams with garbage: records decoded, the error names file and offset', () => {
    const { template, data } = exporter();
    const garbage = Buffer.from('not ipfix');
    const stream = Buffer.concat([template, ...data, garbage]);
    writeFileSync(join(dir, 'stream.bin'), stream);
    const { records, errors } = run([join(dir, 'stream.bin')]);
    expect(records).toHaveLength(40);
    expect(errors[0]).toContain(`stream.bin: offset ${stream.length - garbage.length}: streamResync`);
    expect(errors.every((e) => e.includes('stream.bin: offset'))).toBe(true);
  });

  it('pcap and pcapng: UDP over IPv4 and IPv6, one session per 5-tuple; TCP reassembled in order', () => {
    const { template, data } = exporter();
    const packets: PacketSpec[] = [];
    let t = 1_700_000_000_000;
    // UDP exporter on IPv4 and another on IPv6: each sends its own template.
    for (const [source, destination] of [
      ['127.0.0.1', '127.0.0.1'],
      ['::1', '::1'],
    ] as const) {
      packets.push({ timestampMs: t++, frame: udpFrame(source, 50000, destination, 4739, template) });
      for (const m of data)
        packets.push({ timestampMs: t++, frame: udpFrame(source, 50000, destination, 4739, m) });
    }
    // TCP exporter: segments out of order and one retransmitted.
    const stream = Buffer.concat([template, ...data]);
    packets.push({
      timestampMs: t++,
      frame: tcpFrame('127.0.0.1', 50001, '127.0.0.1', 4739, 100, 0, TcpFlags.SYN),
    });
    const segments: Array<[number, Uint8Array]> = [];
    for (let o = 0; o < stream.length; o += 200)
      segments.push([o, new Uint8Array(stream.subarray(o, o + 200))]);
    expect(segments.length).toBeGreaterThanOrEqual(3);
    const order = [0, 2, 1, 1, ...Array.from({ length: segments.length - 3 }, (_, k) => k + 3)];
    for (const i of order) {
      const [o, d] = segments[i]!;
      packets.push({
        timestampMs: t++,
        frame: tcpFrame('127.0.0.1', 50001, '127.0.0.1', 4739, 101 + o, 1, TcpFlags.ACK, d),
      });
    }
    writeFileSync(join(dir, 'c.pcap'), pcapFile(packets));
    writeFileSync(join(dir, 'c.pcapng'), pcapngFile(packets));
    for (const file of ['c.pcap', 'c.pcapng']) {
      const { records, errors } = run([join(dir, file)]);
      expect(errors).toEqual([]);
      expect(records).toHaveLength(120);
    }
  });

  it('CLI: JSON Lines on stdout, errors on stderr, exit 1 only when nothing decodes', () => {
    const { template, data } = exporter();
    writeFileSync(
      join(dir, 'ok.hex'),
      [template, ...data].map((m) => Buffer.from(m).toString('hex')).join('\n'),
    );
    writeFileSync(join(dir, 'bad.hex'), '000a00\n');
    const bin = join(import.meta.dirname, '../../../bin/flowline.js');
    const ok = spawnSync('node', [bin, 'decode', join(dir, 'bad.hex'), join(dir, 'ok.hex')], {
      encoding: 'utf8',
    });
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(40);
    expect(ok.stderr).toContain('bad.hex: line 1, offset 0: messageHeaderTruncated');
    const bad = spawnSync('node', [bin, 'decode', join(dir, 'bad.hex')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
  });

  it('data before its template in the same file list is decoded once the template arrives', () => {
    const { template, data } = exporter();
    writeFileSync(
      join(dir, 'late.hex'),
      [...data, template].map((m) => Buffer.from(m).toString('hex')).join('\n'),
    );
    expect(run([join(dir, 'late.hex')]).records).toHaveLength(40);
    // and never-arriving templates are reported at the end
    writeFileSync(
      join(dir, 'orphan.hex'),
      Buffer.from(
        encodeMessage({ exportTime: 0, sequenceNumber: 0, observationDomainId: 1 }, [
          { kind: 'raw', setId: 999, body: new Uint8Array(4) },
        ]),
      ).toString('hex'),
    );
    const orphan = run([join(dir, 'orphan.hex')]);
    expect(orphan.errors).toEqual([
      expect.stringContaining('orphan.hex: line 1, offset 16: templateMissing'),
    ]);
  });
});
