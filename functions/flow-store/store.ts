// The DynamoDB adapter of the flow store port (core/flow-state/ports.ts) the correlator depends on.
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type FlowStore,
  type FlowWrite,
  type ReadResult,
  type WriteExtras,
  type WriteResult,
  writeEach,
} from '../../core/flow-state/ports.ts';
import type { FlowState, ScheduleConfig, StoredFlow } from '../../core/flow-state/state.ts';
import { getItems } from './item-batches.ts';
import { conditionalWriteOf, storedFlowOf } from './marshal.ts';

export class DynamoFlowStore implements FlowStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly config: ScheduleConfig,
  ) {}

  /**
   * Eventually consistent (half the read units of a strong read): every write of a flow is conditional on
   * the version read, and a refused one hands back the stored item (ALL_OLD), so a stale read costs one
   * refused write and a retry on the current item, never a wrong state. Staleness lasts about a second;
   * an item is written about once per correlator window.
   */
  async read(keys: readonly string[]): Promise<ReadResult> {
    let consumedReadUnits = 0;
    const items = await getItems(this.client, this.tableName, keys, {
      consistentRead: false,
      onConsumedReadUnits: (units) => {
        consumedReadUnits += units;
      },
    });
    const flows = new Map<string, StoredFlow>();
    for (const item of items.values()) {
      const stored = storedFlowOf(item);
      flows.set(stored.state.flow.flowKey, stored);
    }
    return { flows, consumedReadUnits };
  }

  async write(
    state: FlowState,
    expectedVersion: number | undefined,
    nowMs: number,
    extras?: WriteExtras,
  ): Promise<WriteResult> {
    const write = conditionalWriteOf(state, expectedVersion, nowMs, this.config, extras);
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          ...write,
          ReturnConsumedCapacity: 'TOTAL',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return {
        ok: true,
        version: (expectedVersion ?? 0) + 1,
        consumedWriteUnits: out.ConsumedCapacity?.CapacityUnits ?? 0,
      };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // ALL_OLD hands back the current item at no extra cost, saving a read before the retry.
        return { ok: false, current: error.Item ? storedFlowOf(error.Item) : undefined };
      }
      throw error;
    }
  }

  /** One UpdateItem per flow; a write that fails for another reason than its condition is reported, not thrown. */
  writeMany(writes: readonly FlowWrite[], nowMs: number, concurrency: number): Promise<WriteResult[]> {
    return writeEach(writes, concurrency, (w) => this.write(w.state, w.expectedVersion, nowMs, w.extras));
  }
}
