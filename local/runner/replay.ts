// `flowline local --replay FILE...`: captures (pcap, pcapng, raw IPFIX, .hex: the readers `flowline decode`
// uses) through the whole local pipeline on event time. A message's time is its capture timestamp, or, for
// inputs without one (raw, hex), its IPFIX export time. At end of input every pending flow expires and is
// exported; the rows of ClickHouse `flows` can then be printed as JSON Lines.

import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClickHouseClient, createClient } from '@clickhouse/client';
import { createDynamoDbClient, createKinesisClient } from '../../adapters/aws-clients.ts';
import { readInput } from '../../collector-edge/ipfix/readers/messages.ts';
import { startLocalEngines } from '../engines/index.ts';
import type { LocalKubernetesOptions } from './components.ts';
import { EventTimePipeline } from './event-time-pipeline.ts';
import { prepareLocalStack } from './prepare.ts';
import { loadStackTemplate, readLocalTopology } from './template.ts';

export interface ReplayStats {
  files: number;
  messages: number;
  /** Input the readers could not frame (named on stderr like `flowline decode`). */
  problems: number;
  firstEventMs: number | undefined;
  lastEventMs: number | undefined;
}

/** Export time of an IPFIX message header (bytes 4-7, seconds), or undefined when too short / not v10. */
export function exportTimeMs(bytes: Uint8Array): number | undefined {
  if (bytes.length < 16 || bytes[0] !== 0 || bytes[1] !== 10) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4) * 1000;
}

export interface ReplayInput {
  file: string;
  bytes: Uint8Array;
}

/** Reads the files in order; a file that cannot be read is reported and skipped. */
export async function readReplayInputs(
  files: string[],
  report: (line: string) => void,
): Promise<ReplayInput[]> {
  const inputs: ReplayInput[] = [];
  for (const file of files) {
    try {
      inputs.push({ file, bytes: new Uint8Array(await readFile(file)) });
    } catch (error) {
      report(`${file}: offset 0: unreadable: ${(error as Error).message}`);
    }
  }
  return inputs;
}

/** The first event time of the inputs (so the pipeline's clocks can start there). */
export function firstEventTime(inputs: ReplayInput[]): number | undefined {
  for (const input of inputs) {
    for (const item of readInput(input.file, input.bytes)) {
      if ('message' in item) return item.message.receivedAtMs ?? exportTimeMs(item.message.bytes);
    }
  }
  return undefined;
}

/** Feeds every message, in file order, into the pipeline at its own time, then finishes the run. */
export async function replayInputs(
  pipeline: EventTimePipeline,
  inputs: ReplayInput[],
  report: (line: string) => void,
): Promise<ReplayStats> {
  const stats: ReplayStats = {
    files: inputs.length,
    messages: 0,
    problems: 0,
    firstEventMs: undefined,
    lastEventMs: undefined,
  };
  for (const input of inputs) {
    for (const item of readInput(input.file, input.bytes)) {
      if ('problem' in item) {
        stats.problems += 1;
        const { error, line } = item.problem;
        report(
          `${input.file}: ${line !== undefined ? `line ${line}, ` : ''}offset ${error.offset}: ${error.reason}: ${error.detail}`,
        );
        continue;
      }
      const { message } = item;
      // Out-of-order times never move the clock back (RunningClock.set is monotonic).
      const atMs = message.receivedAtMs ?? exportTimeMs(message.bytes) ?? pipeline.eventClock.now();
      stats.firstEventMs ??= atMs;
      stats.lastEventMs = Math.max(stats.lastEventMs ?? atMs, atMs);
      const transport = message.session.transport === 'udp' ? 'udp' : 'tcp';
      await pipeline.ingestMessage(
        message.bytes,
        { sessionId: message.session.id, address: message.session.exporterAddress, transport },
        atMs,
      );
      stats.messages += 1;
    }
  }
  await pipeline.finish();
  return stats;
}

/** Every row of `flows`, in a stable order, as ClickHouse's JSONEachRow gives them (numbers unquoted). */
export async function readFlowRows(clickhouse: ClickHouseClient): Promise<Record<string, unknown>[]> {
  const result = await clickhouse.query({
    query: 'SELECT * FROM flows ORDER BY flowKey, exportSeq, flowEndSeconds',
    format: 'JSONEachRow',
    // DateTime columns as UTC text whatever the machine's time zone; 64-bit counters as JSON numbers.
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0, session_timezone: 'UTC' },
  });
  return result.json<Record<string, unknown>>();
}

/** A fixed cluster UUID for replays, so the same captures print the same rows. */
export const REPLAY_CLUSTER_UUID = '00000000-0000-4000-8000-00000000f10e';

export interface ReplayRunOptions {
  files: string[];
  printRows: boolean;
  clusterUUID?: string;
  /** Fill Pod metadata / labels from the Pods of this kubeconfig's cluster (collector-edge/k8s-metadata). */
  kubernetes?: LocalKubernetesOptions;
}

/** The whole `--replay` run on fresh in-memory engines. Returns the exit code. */
export async function runReplay(
  options: ReplayRunOptions,
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  const report = (line: string) => io.err(`${line}\n`);
  const inputs = await readReplayInputs(options.files, report);
  const startMs = firstEventTime(inputs);
  if (startMs === undefined) {
    report('flowline local --replay: no IPFIX message in the input');
    return 1;
  }
  const started = performance.now();
  const [template, engines] = await Promise.all([loadStackTemplate(), startLocalEngines()]);
  const workDir = mkdtempSync(join(tmpdir(), 'flowline-replay-'));
  const env = engines.env();
  Object.assign(process.env, env, { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' });
  const kinesis = createKinesisClient();
  const dynamodb = createDynamoDbClient();
  const connection = {
    url: env.CLICKHOUSE_URL as string,
    username: env.CLICKHOUSE_USER as string,
    password: env.CLICKHOUSE_PASSWORD as string,
    database: 'default',
  };
  const clickhouse = createClient(connection);
  let pipeline: EventTimePipeline | undefined;
  try {
    const topology = readLocalTopology(template);
    const prepared = await prepareLocalStack({
      topology,
      kinesis,
      dynamodb,
      clickhouse: connection,
      clusterUUID: options.clusterUUID ?? REPLAY_CLUSTER_UUID,
      enableTtl: false,
    });
    pipeline = await EventTimePipeline.start({
      topology,
      streamArn: prepared.streamArn,
      tableStreamArn: prepared.tableStreamArn,
      kinesis,
      workDir,
      startMs,
      ...(options.kubernetes ? { collector: { kubernetes: options.kubernetes } } : {}),
    });
    const stats = await replayInputs(pipeline, inputs, report);
    const records = await pipeline.collector!.metrics.total('flowline_collector_flow_records_total');
    const rows = await readFlowRows(clickhouse);
    if (options.printRows) io.out(rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
    const failedRounds = pipeline.rounds.filter((round) => !round.ok);
    const span = ((stats.lastEventMs ?? startMs) - startMs) / 1000;
    report(
      `replay: ${stats.messages} IPFIX messages, ${records} flow records over ${span} s of event time -> ` +
        `${rows.length} rows in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
        `(${pipeline.rounds.length} ticker rounds, ${failedRounds.length} failed; ` +
        `${pipeline.exports.length} exporter batches; ` +
        `${pipeline.mapping.snapshot().failureRecordsSent} batches to the on-failure destination)`,
    );
    if (failedRounds.length > 0 && !pipeline.rounds.at(-1)?.ok) {
      report(`replay: the last ticker round failed: ${pipeline.rounds.at(-1)?.error}`);
      return 1;
    }
    return records === 0 && stats.messages > 0 && rows.length === 0 ? 1 : 0;
  } finally {
    await pipeline?.stop().catch(() => undefined);
    await clickhouse.close();
    kinesis.destroy();
    dynamodb.destroy();
    await engines.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
