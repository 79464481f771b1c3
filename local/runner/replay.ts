// `flowline local --replay FILE...`: captures (pcap, pcapng, raw IPFIX, .hex: the readers `flowline decode`
// uses) through the whole local pipeline on event time. A message's time is its capture timestamp, or, for
// inputs without one (raw, hex), its IPFIX export time. At end of input every pending flow expires and is
// exported; the rows of ClickHouse `flows` can then be printed as JSON Lines.
import { readFile } from 'node:fs/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { readInput } from '../../collector-edge/ipfix/readers/messages.ts';
import type { EventTimePipeline } from './event-time-pipeline.ts';

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
export async function readReplayInputs(files: string[], report: (line: string) => void): Promise<ReplayInput[]> {
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
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return result.json<Record<string, unknown>>();
}
