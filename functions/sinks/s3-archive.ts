// The S3 archive sink: one object per exported batch (AWS SDK v3 S3 client), named from the batch's
// deduplication token so that delivering a batch again overwrites its own object with the same bytes.
// Two formats: Parquet with Hive-style hour partitions (parquet-archive.ts, the default), or the CSV of
// Antrea's S3 uploader (antrea-csv.ts), for tools that read what the Flow Aggregator uploaded.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { antreaCsvKey, encodeAntreaCsv } from './antrea-csv.ts';
import type { ExportedBatch } from './exported-row.ts';
import { archiveKey, encodeParquet } from './parquet-archive.ts';

export type ArchiveFormat = 'parquet' | 'csv';

export interface S3ArchiveOptions {
  bucket: string;
  /** Key prefix, "" or ending in "/". */
  prefix: string;
  format: ArchiveFormat;
  /** CSV only: gzip the object (Antrea's s3Uploader.compress, on by default). */
  gzip: boolean;
}

interface ArchiveObject {
  key: string;
  body: Buffer;
  contentType: string;
}

async function objectOf(batch: ExportedBatch, options: S3ArchiveOptions): Promise<ArchiveObject> {
  if (options.format === 'parquet') {
    return {
      key: archiveKey(options.prefix, batch),
      body: await encodeParquet(batch.rows),
      contentType: 'application/vnd.apache.parquet',
    };
  }
  // As Antrea uploads it: a .csv.gz object, gzip as the content itself (no Content-Encoding).
  return {
    key: antreaCsvKey(options.prefix, batch, options.gzip),
    body: encodeAntreaCsv(batch.rows, options.gzip),
    contentType: options.gzip ? 'application/gzip' : 'text/csv',
  };
}

export class S3Archive {
  constructor(
    private readonly s3: S3Client,
    private readonly options: S3ArchiveOptions,
  ) {}

  get name(): string {
    return `s3://${this.options.bucket}/${this.options.prefix} (${this.options.format})`;
  }

  async deliver(batch: ExportedBatch): Promise<void> {
    if (batch.rows.length === 0) return;
    const object = await objectOf(batch, this.options);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: object.key,
        Body: object.body,
        ContentType: object.contentType,
        Metadata: { 'flowline-batch-token': batch.token, 'flowline-rows': String(batch.rows.length) },
      }),
    );
  }
}
