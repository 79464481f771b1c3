// Helpers of the collector integration tests: streams on kinesis-mock, reading a stream back through the
// wire format, comparing with what the simulator sent, test certificates, polling with a deadline.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { expect } from 'vitest';
import type { FlowRecord, FlowRecordField } from '../../core/flow-record.ts';
import { decodeWireBatch } from '../../core/wire.ts';
import type { SentRecord } from '../../simulator/exporter.ts';

export async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function createStream(kinesis: KinesisClient, name: string, shards = 4): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  await waitFor(`stream ${name} ACTIVE`, async () => {
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  });
}

/** Every Kinesis record of the stream, decoded with the wire format. */
export async function readStream(
  kinesis: KinesisClient,
  name: string,
): Promise<{ records: FlowRecord[]; kinesisRecords: number; bytes: number; shardsUsed: number }> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const records: FlowRecord[] = [];
  let kinesisRecords = 0;
  let bytes = 0;
  let shardsUsed = 0;
  for (const shard of shards) {
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: name,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    let used = false;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      for (const record of page.Records ?? []) {
        kinesisRecords++;
        bytes += record.Data!.length;
        used = true;
        records.push(...decodeWireBatch(record.Data!));
      }
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
    if (used) shardsUsed++;
  }
  return { records, kinesisRecords, bytes, shardsUsed };
}

/** Sum of a metric's samples in Prometheus text format (all label sets). */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const COLLECTOR_SIDE = new Set<FlowRecordField>([
  'exporterAddress',
  'observationDomainId',
  'exportTime',
  'sequenceNumber',
  'receivedAtMs',
]);

/**
 * Every sent record arrived exactly once, identified by (observation domain, sequence number, export time), with the
 * content the simulator sent. `allowDuplicates` lists how many repeated deliveries are acceptable.
 */
export function expectExactlyOnce(received: FlowRecord[], sent: SentRecord[], allowDuplicates = 0): void {
  const idOf = (r: { observationDomainId: number; sequenceNumber: number; exportTime: number }) =>
    `${r.observationDomainId}|${r.sequenceNumber}|${r.exportTime}`;
  const byId = new Map(sent.map((s) => [idOf(s), s]));
  expect(byId.size).toBe(sent.length);
  const seen = new Map<string, number>();
  for (const record of received) {
    const id = idOf(record);
    const original = byId.get(id);
    if (!original) throw new Error(`received a record that was never sent: ${id}`);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    for (const [field, value] of Object.entries(original.record)) {
      if (COLLECTOR_SIDE.has(field as FlowRecordField)) continue;
      if (record[field as FlowRecordField] !== value)
        throw new Error(`${id}: ${field} is ${record[field as FlowRecordField]}, sent ${value}`);
    }
    expect(['127.0.0.1', '::1']).toContain(record.exporterAddress);
  }
  const missing = sent.filter((s) => !seen.has(idOf(s)));
  expect(missing.length, `${missing.length} of ${sent.length} records missing`).toBe(0);
  const duplicates = [...seen.values()].reduce((n, count) => n + count - 1, 0);
  expect(duplicates).toBeLessThanOrEqual(allowDuplicates);
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function makeCertificates(
  dir: string,
): Record<'ca' | 'caKey' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const p = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=flowline-test-ca',
  );
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'antrea-agent'],
  ] as const) {
    run('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    run(
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
    );
  }
  return {
    ca: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
  };
}
