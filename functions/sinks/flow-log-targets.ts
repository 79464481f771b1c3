// Where the flow log's lines go (flow-log.ts formats them). Deployed: a CloudWatch Logs log group, one log
// stream per exporter container and day (AWS SDK v3 CloudWatch Logs client), the serverless counterpart of
// the Flow Aggregator's rotating file: retention replaces lumberjack's backups, and Logs Insights or a
// subscription filter reads it. Local mode: a file, as Antrea's /tmp/antrea-flows.log.
// At least once, as the flow logger's lines carry no identity: a batch delivered again after a write whose
// answer was lost (or after a container's lease ran out) repeats its lines.
import { appendFile } from 'node:fs/promises';
import {
  type CloudWatchLogsClient,
  CreateLogStreamCommand,
  type InputLogEvent,
  PutLogEventsCommand,
  ResourceAlreadyExistsException,
} from '@aws-sdk/client-cloudwatch-logs';
import type { ExportedBatch } from './exported-row.ts';
import { type FlowLogFormat, flowLogLines } from './flow-log.ts';

/** PutLogEvents' limits: events per request, and bytes per request counting 26 per event. */
export const PUT_LOG_EVENTS_LIMITS = { events: 10_000, bytes: 1_048_576, perEventOverhead: 26 } as const;
/** Largest event CloudWatch Logs takes (1 MB, its overhead included). */
export const MAX_EVENT_BYTES = PUT_LOG_EVENTS_LIMITS.bytes - PUT_LOG_EVENTS_LIMITS.perEventOverhead;

/** `line` cut to MAX_EVENT_BYTES of UTF-8 at a character boundary (only hostile names get there). */
function fittedLine(line: string): string {
  if (Buffer.byteLength(line) <= MAX_EVENT_BYTES) return line;
  return new TextDecoder().decode(Buffer.from(line).subarray(0, MAX_EVENT_BYTES)).replace(/\uFFFD$/, '');
}

/** The lines as PutLogEvents requests' events, in order, every request within the limits. */
export function logEventRequests(lines: readonly string[], timestamp: number): InputLogEvent[][] {
  const requests: InputLogEvent[][] = [];
  let events: InputLogEvent[] = [];
  let bytes = 0;
  for (const line of lines) {
    const message = fittedLine(line);
    const size = Buffer.byteLength(message) + PUT_LOG_EVENTS_LIMITS.perEventOverhead;
    if (events.length === PUT_LOG_EVENTS_LIMITS.events || bytes + size > PUT_LOG_EVENTS_LIMITS.bytes) {
      requests.push(events);
      events = [];
      bytes = 0;
    }
    events.push({ timestamp, message });
    bytes += size;
  }
  if (events.length > 0) requests.push(events);
  return requests;
}

/** "2026/12/04/<owner>": a stream per container and UTC day, as Lambda names its own. */
export function logStreamNameOf(nowMs: number, owner: string): string {
  return `${new Date(nowMs).toISOString().slice(0, 10).replaceAll('-', '/')}/${owner}`;
}

export class CloudWatchFlowLog {
  private readonly streams = new Set<string>();

  constructor(
    private readonly logs: CloudWatchLogsClient,
    private readonly options: FlowLogFormat & { logGroup: string; owner: string; clock: () => number },
  ) {}

  get name(): string {
    return `CloudWatch Logs ${this.options.logGroup}`;
  }

  async deliver(batch: ExportedBatch): Promise<void> {
    const lines = flowLogLines(batch.rows, this.options);
    if (lines.length === 0) return;
    // Stamped when written, as the flow logger writes them: never outside what PutLogEvents accepts.
    const now = this.options.clock();
    const logStreamName = await this.stream(now);
    for (const logEvents of logEventRequests(lines, now)) {
      const out = await this.logs.send(
        new PutLogEventsCommand({ logGroupName: this.options.logGroup, logStreamName, logEvents }),
      );
      const rejected = out.rejectedLogEventsInfo;
      if (rejected && Object.values(rejected).some((index) => index !== undefined)) {
        throw new Error(`CloudWatch Logs rejected events of the batch: ${JSON.stringify(rejected)}`);
      }
    }
  }

  private async stream(nowMs: number): Promise<string> {
    const logStreamName = logStreamNameOf(nowMs, this.options.owner);
    if (this.streams.has(logStreamName)) return logStreamName;
    try {
      await this.logs.send(
        new CreateLogStreamCommand({ logGroupName: this.options.logGroup, logStreamName }),
      );
    } catch (error) {
      if (!(error instanceof ResourceAlreadyExistsException)) throw error;
    }
    this.streams.add(logStreamName);
    return logStreamName;
  }
}

/** Local mode's flow log: the lines appended to a file. */
export class FileFlowLog {
  constructor(private readonly options: FlowLogFormat & { path: string }) {}

  get name(): string {
    return `file ${this.options.path}`;
  }

  async deliver(batch: ExportedBatch): Promise<void> {
    const lines = flowLogLines(batch.rows, this.options);
    if (lines.length > 0) await appendFile(this.options.path, `${lines.join('\n')}\n`);
  }
}
