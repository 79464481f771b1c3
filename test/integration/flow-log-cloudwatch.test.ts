// The flow log's CloudWatch Logs target through the real AWS SDK client. No CloudWatch Logs runs on this
// machine (LocalStack needs Docker), so the service is a stand-in on loopback that speaks its JSON 1.1
// protocol for the two calls the sink makes and enforces what the real service does to them: the group and
// stream must exist, a stream is created once (ResourceAlreadyExistsException after), a request holds at
// most 10,000 events and 1,048,576 bytes (26 per event included), in time order. The SDK finds it through
// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, as the handler's client would.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudWatchLogsClient } from '../../adapters/aws-clients.ts';
import { buildFlowRow } from '../../functions/exporter/rows.ts';
import { type ExportedRow, exportedRowOf } from '../../functions/sinks/exported-row.ts';
import { flowLogLine } from '../../functions/sinks/flow-log.ts';
import { CloudWatchFlowLog, PUT_LOG_EVENTS_LIMITS } from '../../functions/sinks/flow-log-targets.ts';
import { antreaTestFlow } from '../fixtures/antrea-test-flow.ts';

interface LogEvent {
  timestamp: number;
  message: string;
}

class LogsStandIn {
  readonly streams = new Map<string, LogEvent[]>();
  readonly calls: string[] = [];
  rejectNext = false;
  private server: Server | undefined;

  constructor(readonly group: string) {}

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const action = String(request.headers['x-amz-target']).replace('Logs_20140328.', '');
        this.calls.push(action);
        const [status, answer] = this.handle(action, JSON.parse(body));
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()));
  }

  private handle(action: string, input: Record<string, unknown>): [number, object] {
    const fail = (type: string, message: string): [number, object] => [400, { __type: type, message }];
    if (input.logGroupName !== this.group) return fail('ResourceNotFoundException', 'no such group');
    const name = String(input.logStreamName);
    if (action === 'CreateLogStream') {
      if (this.streams.has(name)) return fail('ResourceAlreadyExistsException', 'stream exists');
      this.streams.set(name, []);
      return [200, {}];
    }
    if (action !== 'PutLogEvents') return fail('UnknownOperationException', action);
    const stream = this.streams.get(name);
    if (!stream) return fail('ResourceNotFoundException', 'no such stream');
    const events = input.logEvents as LogEvent[];
    const bytes = events.reduce((sum, e) => sum + Buffer.byteLength(e.message) + 26, 0);
    if (events.length > PUT_LOG_EVENTS_LIMITS.events || bytes > PUT_LOG_EVENTS_LIMITS.bytes) {
      return fail('InvalidParameterException', `batch too large: ${events.length} events, ${bytes} bytes`);
    }
    if (events.some((e, i) => i > 0 && e.timestamp < events[i - 1]!.timestamp)) {
      return fail('InvalidParameterException', 'log events not in chronological order');
    }
    if (this.rejectNext) {
      this.rejectNext = false;
      return [200, { rejectedLogEventsInfo: { tooOldLogEventEndIndex: events.length } }];
    }
    stream.push(...events);
    return [200, { nextSequenceToken: String(stream.length) }];
  }
}

function rowOf(port: number): ExportedRow {
  const flow = antreaTestFlow(true, { sourceTransportPort: port });
  return exportedRowOf(flow, buildFlowRow(flow, { clusterUUID: 'u', exportSeq: 1, exportedAtMs: 1e12 }));
}

describe('the flow log on CloudWatch Logs (SDK client, protocol stand-in)', () => {
  const service = new LogsStandIn('flowline-flows');
  const saved = { ...process.env };
  const now = Date.UTC(2026, 11, 4, 12, 0, 0);
  let logs: ReturnType<typeof createCloudWatchLogsClient>;

  beforeAll(async () => {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: await service.start(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    logs = createCloudWatchLogsClient({ maxAttempts: 1 });
  });
  afterAll(async () => {
    logs.destroy();
    process.env = saved;
    await service.stop();
  });

  const sink = (owner: string) =>
    new CloudWatchFlowLog(logs, {
      logGroup: service.group,
      owner,
      clock: () => now,
      prettyPrint: true,
      filters: [],
    });

  it("writes each batch's lines in order to the container's stream, created once", async () => {
    const container = sink('c1');
    await container.deliver({ token: 't1', rows: [rowOf(1), rowOf(2)] });
    await container.deliver({ token: 't2', rows: [rowOf(3)] });
    const stream = service.streams.get('2026/12/04/c1')!;
    expect(stream.map((e) => e.message)).toEqual([1, 2, 3].map((p) => flowLogLine(rowOf(p), true)));
    expect(stream.every((e) => e.timestamp === now)).toBe(true);
    expect(service.calls.filter((c) => c === 'CreateLogStream')).toHaveLength(1);
  });

  it('a container whose stream exists already (same name) goes on writing to it', async () => {
    await sink('c1').deliver({ token: 't4', rows: [rowOf(4)] });
    expect(service.streams.get('2026/12/04/c1')).toHaveLength(4);
  });

  it('a large batch is split into requests the service takes, none refused', async () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => rowOf(i));
    await sink('c2').deliver({ token: 't5', rows });
    expect(service.streams.get('2026/12/04/c2')).toHaveLength(12_000);
  });

  it('events the service rejects fail the delivery, so the outbox retries the batch', async () => {
    service.rejectNext = true;
    await expect(sink('c3').deliver({ token: 't6', rows: [rowOf(5)] })).rejects.toThrow(/rejected events/);
  });
});
