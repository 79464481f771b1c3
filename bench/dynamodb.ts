// DynamoDB Local for a benchmark, and the consumed capacity of every DynamoDB call a client makes, for the benchmarks that price DynamoDB
// (exporter, flow-state): ReturnConsumedCapacity=TOTAL is added to each request and the units are summed
// per command, so a figure can be split into index queries, item reads and item writes.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startDynamoDb } from '../local/engines/index.ts';

const READ_COMMANDS = new Set(['QueryCommand', 'GetItemCommand', 'BatchGetItemCommand', 'ScanCommand']);

export interface CapacityMeter {
  read: number;
  write: number;
  /** BatchExecuteStatement units, kept apart (DynamoDB Local answers it without ConsumedCapacity). */
  statementUnits: number;
  /** BatchExecuteStatement requests answered without ConsumedCapacity: their units are unknown. */
  unreportedStatements: number;
  /** Units by command name, e.g. { QueryCommand: 12, UpdateItemCommand: 40 }. */
  byCommand: Map<string, number>;
  reset(): void;
}

export function meterCapacity(client: DynamoDBClient): CapacityMeter {
  const meter: CapacityMeter = {
    read: 0,
    write: 0,
    statementUnits: 0,
    unreportedStatements: 0,
    byCommand: new Map(),
    reset() {
      meter.read = 0;
      meter.write = 0;
      meter.statementUnits = 0;
      meter.unreportedStatements = 0;
      meter.byCommand.clear();
    },
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string };
      input.ReturnConsumedCapacity ??= 'TOTAL';
      const result = await next(args);
      const output = result.output as {
        ConsumedCapacity?: Array<{ CapacityUnits?: number }> | { CapacityUnits?: number };
      };
      const consumed = output.ConsumedCapacity;
      const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
        (sum, c) => sum + (c.CapacityUnits ?? 0),
        0,
      );
      const command = context.commandName ?? '';
      meter.byCommand.set(command, (meter.byCommand.get(command) ?? 0) + units);
      if (command === 'BatchExecuteStatementCommand') {
        if (consumed === undefined) meter.unreportedStatements += 1;
        meter.statementUnits += units;
      } else if (READ_COMMANDS.has(command)) meter.read += units;
      else meter.write += units;
      return result;
    },
    { step: 'initialize', name: 'flowlineBenchCapacityMeter' },
  );
  return meter;
}

const ENGINE_ENV = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

/**
 * DynamoDB Local for one benchmark: the AWS SDK's environment points at it (so createDynamoDbClient()
 * reaches it) until `stop`, which also puts the environment back as it was.
 */
export async function useDynamoDbLocal(): Promise<{ stop(): Promise<void> }> {
  const engine = await startDynamoDb();
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: engine.endpoint,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  return {
    async stop() {
      await engine.stop();
      for (const key of ENGINE_ENV) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    },
  };
}
