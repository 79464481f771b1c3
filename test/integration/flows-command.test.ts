// `flowline flows` (antctl get flowrecords) against DynamoDB Local, on items the real correlator wrote from
// vector V-1 (IPv4 and IPv6): filters, exact lookup, expiry, and the CLI wiring.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { encodeWireBatch } from '../../core/wire.ts';
import { correlatorSettingsOf } from '../../functions/correlator/config.ts';
import { correlateBatch } from '../../functions/correlator/correlate-batch.ts';
import { BucketFlowTable } from '../../functions/flow-store/buckets.ts';
import {
  flowRecordJson,
  flowRecordTable,
  listFlows,
  matchesFilter,
} from '../../functions/flow-store/flow-records.ts';
import {
  createTableInput,
  DynamoFlowStore,
  defaultScheduleConfig,
} from '../../functions/flow-store/index.ts';
import { useEngines } from '../support/engines.ts';
import { vectorRecords } from '../unit/correlator/fixtures.ts';

const engines = useEngines({ kinesis: false, clickhouse: false });
const SCHEDULE = defaultScheduleConfig();
const NOW = 1_800_000_000_000;
const V4_KEY = '10.0.0.1|10.0.0.2|6|1234|5678';
const V6_KEY = '2001:0:3238:dfe1:63::fefb|2001:0:3238:dfe1:63::fefc|6|1234|5678';

async function tableWithV1(layout: 'per-flow' | 'buckets' = 'per-flow'): Promise<string> {
  const client = engines().dynamodb;
  const table = `flows-cmd-${process.pid}-${Date.now()}`;
  await client.send(new CreateTableCommand(createTableInput(table)));
  const records = ['IPv4', 'IPv6'].flatMap((family) => [
    ...vectorRecords(`goipfix_f5c5793_dataPacket1${family}.hex`),
    ...vectorRecords(`goipfix_f5c5793_dataPacket2${family}.hex`),
  ]);
  const outcome = await correlateBatch(
    [{ kinesis: { data: encodeWireBatch(records).toString('base64'), sequenceNumber: '1' } }],
    {
      store:
        layout === 'buckets'
          ? new BucketFlowTable(client, table, SCHEDULE, { buckets: 4, marginMs: 120_000 })
          : new DynamoFlowStore(client, table, SCHEDULE),
      now: () => NOW,
    },
    correlatorSettingsOf(SCHEDULE, { writeConcurrency: 4, maxWriteAttempts: 5 }),
  );
  expect(outcome.keyFailures).toEqual([]);
  return table;
}

describe('flowline flows', () => {
  it('filters on the flow key as antctl does', () => {
    expect(matchesFilter(V4_KEY, {})).toBe(true);
    expect(matchesFilter(V4_KEY, { sourceIP: '10.0.0.1', destinationTransportPort: 5678 })).toBe(true);
    expect(matchesFilter(V4_KEY, { protocolIdentifier: 17 })).toBe(false);
    expect(matchesFilter(V6_KEY, { sourceIP: '10.0.0.1' })).toBe(false);
  });

  it.each(['per-flow', 'buckets'] as const)(
    'lists the correlated V-1 flows, looks one up exactly, and hides expired items (%s)',
    async (layout) => {
      const client = engines().dynamodb;
      const table = await tableWithV1(layout);

      const all = await listFlows(client, table, {}, NOW);
      expect(all.map((f) => f.state.flow.flowKey)).toEqual([V4_KEY, V6_KEY]);

      const exact = await listFlows(
        client,
        table,
        {
          sourceIP: '10.0.0.1',
          destinationIP: '10.0.0.2',
          protocolIdentifier: 6,
          sourceTransportPort: 1234,
          destinationTransportPort: 5678,
        },
        NOW,
      );
      expect(exact).toHaveLength(1);
      // Peer case V-1: the merged record as the Flow Aggregator holds it after its export (the flow is ready
      // once both halves are in, so the correlator's write exported it: throughputs and deltas reset).
      expect(flowRecordJson(exact[0]!)).toMatchObject({
        sourceIPv4Address: '10.0.0.1',
        destinationIPv4Address: '10.0.0.2',
        sourcePodName: 'pod1',
        destinationPodName: 'pod2',
        destinationClusterIPv4: '10.0.0.3',
        destinationServicePort: 4739,
        flowEndSeconds: 1257896000,
        flowEndSecondsFromSourceNode: 1257894000,
        flowEndSecondsFromDestinationNode: 1257896000,
        packetTotalCount: 1000,
        reversePacketTotalCount: 400,
        throughput: 0,
        readyToSend: 1,
      });

      const v6 = await listFlows(client, table, { sourceIP: '2001:0:3238:dfe1:63::fefb' }, NOW);
      expect(v6.map((f) => flowRecordJson(f).destinationClusterIPv6)).toEqual(['2001:0:3238:bbbb:63::aaaa']);
      expect(flowRecordTable(v6).split('\n')[1]).toMatch(
        /^2001:0:3238:dfe1:63::fefb\s+2001:0:3238:dfe1:63::fefc\s+1234\s+5678\s+6\s+pod1\s+pod2/,
      );

      // Past their TTL the items are logically absent, whether or not DynamoDB has deleted them yet.
      expect(await listFlows(client, table, {}, NOW + 10 * 86_400_000)).toEqual([]);
    },
  );

  it('the command reads the table through the standard endpoint variables', async () => {
    const table = await tableWithV1();
    const local = engines().local;
    if (!local) return; // against LocalStack the environment already names the endpoint
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/flowline.js', 'flows', '--table', table, '--srcip', '10.0.0.1', '-o', 'json'],
      { env: { ...process.env, ...local.env() }, timeout: 60_000 },
    );
    const flows = JSON.parse(stdout) as Array<Record<string, unknown>>;
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ sourcePodName: 'pod1', destinationPodName: 'pod2', exportSeq: 1 });
  });
});
