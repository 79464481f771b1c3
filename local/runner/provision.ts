// Creates the stream and the table local mode needs from their template definitions (template.ts), or checks
// that the existing ones (a data folder from an earlier run, LocalStack) have the template's shape.
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  type StreamViewType,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  IncreaseStreamRetentionPeriodCommand,
  type KinesisClient,
  ResourceNotFoundException as KinesisResourceNotFoundException,
  ResourceInUseException,
} from '@aws-sdk/client-kinesis';
import type { StreamDefinition, TableDefinition } from './template.ts';

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Creates the stream (or keeps an existing one) and waits until it is ACTIVE; returns its ARN. */
export async function ensureStream(kinesis: KinesisClient, stream: StreamDefinition): Promise<string> {
  try {
    await kinesis.send(
      new CreateStreamCommand({
        StreamName: stream.name,
        StreamModeDetails: { StreamMode: stream.streamMode },
        // On-demand streams take no shard count (AWS starts them with 4 shards; kinesis-mock too).
        ...(stream.streamMode === 'PROVISIONED' ? { ShardCount: stream.shardCount ?? 1 } : {}),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error; // exists: kept (data folder, LocalStack)
  }
  let arn = '';
  let retention = 0;
  await waitUntil(`Kinesis stream ${stream.name} to become ACTIVE`, async () => {
    try {
      const { StreamDescriptionSummary: summary } = await kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: stream.name }),
      );
      arn = summary?.StreamARN ?? '';
      retention = summary?.RetentionPeriodHours ?? 24;
      return summary?.StreamStatus === 'ACTIVE';
    } catch (error) {
      if (error instanceof KinesisResourceNotFoundException) return false;
      throw error;
    }
  });
  if (stream.retentionPeriodHours && stream.retentionPeriodHours > retention) {
    await kinesis.send(
      new IncreaseStreamRetentionPeriodCommand({
        StreamName: stream.name,
        RetentionPeriodHours: stream.retentionPeriodHours,
      }),
    );
  }
  return arn;
}

/**
 * The CreateTable input of the template's table: keys, attribute definitions, GSIs, billing, its stream if it
 * has one (what a DynamoDB stream event source mapping reads). Encryption,
 * point-in-time recovery and deletion protection are AWS-side properties with no local meaning (their KMS
 * key is a CloudFormation reference), so they are left out.
 */
export function createTableInputOf(table: TableDefinition): CreateTableCommandInput {
  return {
    TableName: table.name,
    AttributeDefinitions: table.attributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
    KeySchema: table.keySchema as CreateTableCommandInput['KeySchema'],
    ...(table.globalSecondaryIndexes
      ? {
          GlobalSecondaryIndexes:
            table.globalSecondaryIndexes as CreateTableCommandInput['GlobalSecondaryIndexes'],
        }
      : {}),
    BillingMode: table.billingMode as CreateTableCommandInput['BillingMode'],
    ...(table.provisionedThroughput
      ? {
          ProvisionedThroughput:
            table.provisionedThroughput as CreateTableCommandInput['ProvisionedThroughput'],
        }
      : {}),
    ...(table.streamViewType
      ? {
          StreamSpecification: {
            StreamEnabled: true,
            StreamViewType: table.streamViewType as StreamViewType,
          },
        }
      : {}),
  };
}

export interface EnsureTableOptions {
  /**
   * Enable the template's TTL. Off for event-time runs: the engine deletes items by wall-clock time, so an item
   * written with an event time in the past would vanish while the run still needs it. Flowline's logic never
   * relies on TTL deletion (TTL only reclaims space; functions/flow-store/index.ts), so leaving it off changes no outcome.
   */
  enableTtl: boolean;
}

/**
 * Creates the table (or checks an existing one has the template's keys, indexes and stream) and waits for
 * ACTIVE. Returns the ARN of the table's stream when the template gives it one.
 */
export async function ensureTable(
  dynamodb: DynamoDBClient,
  table: TableDefinition,
  options: EnsureTableOptions,
): Promise<string | undefined> {
  const input = createTableInputOf(table);
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
    const { Table: existing } = await dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
    const keys = (schema: unknown) => JSON.stringify(schema);
    const indexes = (existing?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
    const wanted = (input.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
    const stream = existing?.StreamSpecification?.StreamEnabled
      ? existing.StreamSpecification.StreamViewType
      : undefined;
    if (
      keys(existing?.KeySchema) !== keys(input.KeySchema) ||
      keys(indexes) !== keys(wanted) ||
      stream !== table.streamViewType
    ) {
      throw new Error(
        `table ${table.name} exists with another key schema, indexes or stream than the template's; ` +
          'delete it (or the data folder) to let local mode create it again',
      );
    }
  }
  let streamArn: string | undefined;
  await waitUntil(`DynamoDB table ${table.name} to become ACTIVE`, async () => {
    try {
      const { Table: described } = await dynamodb.send(new DescribeTableCommand({ TableName: table.name }));
      streamArn = described?.LatestStreamArn;
      return (
        described?.TableStatus === 'ACTIVE' &&
        (described.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE') &&
        (table.streamViewType === undefined || streamArn !== undefined)
      );
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
  });
  if (options.enableTtl && table.ttlAttribute) {
    const { TimeToLiveDescription: ttl } = await dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: table.name }),
    );
    if (ttl?.TimeToLiveStatus !== 'ENABLED' || ttl.AttributeName !== table.ttlAttribute) {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: table.name,
          TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
  return table.streamViewType === undefined ? undefined : streamArn;
}
