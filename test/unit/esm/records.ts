// Shard records for unit tests: real-looking 56-digit sequence numbers, one second apart.
import type { ShardRecord } from '../../../local/esm/shard-record.ts';

export const BASE_SEQUENCE = 49590338271490256608559692538361571095921575989136588898n;
export const BASE_ARRIVAL_MS = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

export function shardRecords(count: number, shardId = 'shardId-000000000001'): ShardRecord[] {
  return Array.from({ length: count }, (_, index) => {
    const sequence = BASE_SEQUENCE + BigInt(index) * 1000n;
    return {
      shardId,
      sequenceNumber: sequence.toString(),
      sequence,
      approximateArrivalMs: BASE_ARRIVAL_MS + index * 1000,
      payload: {
        eventSource: 'aws:kinesis',
        partitionKey: `key-${index % 3}`,
        data: new TextEncoder().encode(`record ${index}`),
      },
    };
  });
}
