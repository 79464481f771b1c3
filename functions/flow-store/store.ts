// The DynamoDB adapter of the flow store port (core/flow-state/ports.ts) the correlator depends on.
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { chunksOf } from '../../core/concurrency.ts';
import type { FlowStore, ReadResult, WriteExtras, WriteResult } from '../../core/flow-state/ports.ts';
import type { FlowState, ScheduleConfig, StoredFlow } from '../../core/flow-state/state.ts';
import { conditionalWriteOf, type FlowItem, storedFlowOf } from './marshal.ts';
import { ATTR } from './schema.ts';

const BATCH_GET_LIMIT = 100;
const UNPROCESSED_RETRIES = 8;

export class DynamoFlowStore implements FlowStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly config: ScheduleConfig,
  ) {}

  async read(keys: readonly string[]): Promise<ReadResult> {
    const flows = new Map<string, StoredFlow>();
    let consumedReadUnits = 0;
    await Promise.all(
      chunksOf(keys, BATCH_GET_LIMIT).map(async (chunk) => {
        let pending: FlowItem[] | undefined = chunk.map((pk) => ({ [ATTR.pk]: { S: pk } }));
        for (let attempt = 0; pending && pending.length > 0; attempt++) {
          if (attempt > UNPROCESSED_RETRIES)
            throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
          if (attempt > 0) await backoff(attempt);
          const out: BatchGetItemCommandOutput = await this.client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          );
          for (const c of out.ConsumedCapacity ?? []) consumedReadUnits += c.CapacityUnits ?? 0;
          for (const item of out.Responses?.[this.tableName] ?? []) {
            const stored = storedFlowOf(item);
            flows.set(stored.state.flow.flowKey, stored);
          }
          pending = out.UnprocessedKeys?.[this.tableName]?.Keys;
        }
      }),
    );
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
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
