// Shared inputs of the collector unit tests.

import { ShardMap } from '../../../collector-edge/shard-map.ts';
import type { FlowRecord } from '../../../core/flow-record.ts';
import { ClusterSimulation } from '../../../simulator/model.ts';

export const MAX_HASH_KEY = (1n << 128n) - 1n;

/** Open shards splitting the hash-key space evenly, as CreateStream does. */
export function evenShards(count: number): ShardMap {
  const width = (MAX_HASH_KEY + 1n) / BigInt(count);
  return new ShardMap(
    Array.from({ length: count }, (_, i) => ({
      shardId: `shardId-${String(i).padStart(12, '0')}`,
      startingHashKey: width * BigInt(i),
      endingHashKey: i === count - 1 ? MAX_HASH_KEY : width * BigInt(i + 1) - 1n,
    })),
  );
}

/** Realistic Antrea agent records from the simulator, with collector-side fields filled in. */
export function simulatedRecords(options: {
  seed: number;
  connections: number;
  polls: number;
}): FlowRecord[] {
  const sim = new ClusterSimulation({ ...options, nodes: 4 });
  const out: FlowRecord[] = [];
  for (let poll = sim.nextExport(); poll; poll = sim.nextExport()) {
    for (const records of poll.byNode) {
      for (const { node, record } of records) {
        out.push({
          ...record,
          exporterAddress: `192.168.77.${10 + node}`,
          observationDomainId: 1000 + node,
          exportTime: poll.exportTime,
          sequenceNumber: out.length,
          receivedAtMs: poll.exportTime * 1000 + 3,
        });
      }
    }
  }
  return out;
}
