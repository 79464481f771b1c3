// Local mode's sinks: `--archive` starts s3rver on loopback and sets the exporter's variables; an S3 client
// made the way the exporter makes it (createS3Client: standard endpoint variable, local mode's credentials)
// archives a batch there (Parquet, and Antrea's CSV), and a second delivery of the batch leaves one object.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../adapters/aws-clients.ts';
import { antreaCsvLine } from '../../functions/sinks/antrea-csv.ts';
import { sinksConfigFromEnv } from '../../functions/sinks/config.ts';
import { decodeParquet } from '../../functions/sinks/parquet-archive.ts';
import { S3Archive } from '../../functions/sinks/s3-archive.ts';
import { LOCAL_ARCHIVE_BUCKET, type LocalSinks, startLocalSinks } from '../../local/runner/sinks.ts';
import { aggregatedFlowArbitrary, exportedRow } from '../fixtures/exported-rows.ts';

const saved = { ...process.env };
let dir = '';
let sinks: LocalSinks;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowline-local-sinks-'));
  // What local mode's engines put in the environment before the sinks start.
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  process.env.AWS_REGION = 'us-east-1';
  sinks = await startLocalSinks(
    {
      archive: true,
      ipfixExport: 'udp://127.0.0.1:4739',
      ipfixExportFormat: 'JSON',
      flowLogFile: join(dir, 'flows.log'),
      flowLogFilters: '[{"ingressNetworkPolicyRuleActions":["Drop","Reject"]}]',
    },
    dir,
  );
  Object.assign(process.env, sinks.env);
});
afterAll(async () => {
  await sinks?.stop();
  process.env = saved;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('local mode sinks', () => {
  it('set the variables the exporter reads, as the CDK app does', () => {
    const config = sinksConfigFromEnv(process.env);
    expect(config.archive).toEqual({
      bucket: LOCAL_ARCHIVE_BUCKET,
      prefix: 'flows/',
      format: 'parquet',
      gzip: true,
    });
    expect(config.ipfix).toMatchObject({ transport: 'udp', host: '127.0.0.1', port: 4739, format: 'JSON' });
    expect(config.flowLog).toEqual({
      file: join(dir, 'flows.log'),
      prettyPrint: true,
      filters: [{ ingressNetworkPolicyRuleActions: [2, 3], egressNetworkPolicyRuleActions: [] }],
    });
    expect(sinks.banner.join('\n')).toMatch(/flow log +\/.*flows\.log \(Antrea's flow logger lines, filters/);
    expect(sinks.banner.join('\n')).toMatch(
      /S3 archive +http:\/\/127\.0\.0\.1:\d+\/flowline-archive\/flows\//,
    );
  });

  it('archive a batch into the local S3 with local mode credentials; a redelivery keeps one object', async () => {
    const s3 = createS3Client();
    const archive = new S3Archive(s3, {
      bucket: LOCAL_ARCHIVE_BUCKET,
      prefix: 'flows/',
      format: 'parquet',
      gzip: true,
    });
    const rows = fc.sample(aggregatedFlowArbitrary, 25).map((flow, i) => exportedRow(flow, i + 1));
    const batch = { token: 'flowline-25-local', rows };
    await archive.deliver(batch);
    await archive.deliver(batch);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_ARCHIVE_BUCKET }));
    const keys = (listed.Contents ?? []).map((o) => o.Key);
    expect(keys).toEqual(['flows/date=2027-01-15/hour=08/flowline-25-local.parquet']);
    const object = await s3.send(new GetObjectCommand({ Bucket: LOCAL_ARCHIVE_BUCKET, Key: keys[0] }));
    const back = await decodeParquet(Buffer.from(await object.Body!.transformToByteArray()));
    expect(back.map((r) => r.flowKey)).toEqual(rows.map((r) => r.flowKey));
    s3.destroy();
  });

  it("as Antrea's S3 uploader: records-<12>.csv.gz, its lines; a redelivery keeps one object", async () => {
    const s3 = createS3Client();
    const archive = new S3Archive(s3, {
      bucket: LOCAL_ARCHIVE_BUCKET,
      prefix: 'antrea/',
      format: 'csv',
      gzip: true,
    });
    const rows = fc.sample(aggregatedFlowArbitrary, 25).map((flow, i) => exportedRow(flow, i + 1));
    const batch = { token: 'flowline-25-csv', rows };
    await archive.deliver(batch);
    await archive.deliver(batch);
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: LOCAL_ARCHIVE_BUCKET, Prefix: 'antrea/' }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^antrea\/records-[a-z0-9]{12}\.csv\.gz$/);
    const object = await s3.send(new GetObjectCommand({ Bucket: LOCAL_ARCHIVE_BUCKET, Key: keys[0] }));
    const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
    expect(text).toBe(rows.map((row) => `${antreaCsvLine(row)}\n`).join(''));
    s3.destroy();
  });
});
