// A template's event source mapping as the emulator runs it: the mapping's settings (settings.ts reads them
// from the synthesized template), the invoked function's timeout and memory, and the identity the deployed
// function would have. The source is whatever the reader reads: the correlator's Kinesis stream
// (local/runner/components.ts), or a table's DynamoDB stream for a mapping readDynamoDbStreamMappings found.
import type { CheckpointStore } from './checkpoint-store.ts';
import type { Clock } from './clock.ts';
import { StreamEventSourceMapping } from './emulator.ts';
import type { FailureDestination } from './failure-destination.ts';
import { InProcessFunctionInvoker, type LambdaHandler } from './invoker.ts';
import type { MappingFunctionDefinition, StreamMappingSettings } from './settings.ts';
import { regionFromArn } from './shard-record.ts';
import type { StreamReader } from './stream-reader.ts';

export interface TemplateEventSourceMappingOptions {
  /** Local function names are `<stack>-<logicalId>`, as template.ts names resources without a Name. */
  stackName: string;
  /**
   * The mapping as the template defines it (local/esm/settings.ts): a Kinesis mapping (readKinesisMappings) or
   * one on a table's stream (readDynamoDbStreamMappings), with the function it invokes.
   */
  definition: { readonly settings: StreamMappingSettings; readonly function: MappingFunctionDefinition };
  /** Reads the mapping's source: a KinesisStreamReader, or a DynamoDbStreamReader on the table's stream ARN. */
  reader: StreamReader;
  handler: LambdaHandler;
  destination?: FailureDestination;
  checkpoints: CheckpointStore;
  clock: Clock;
  pollIntervalMs?: number;
}

/**
 * A template's event source mapping run by the emulator: its settings, the function's timeout and memory, and
 * the identity (account and region of the source ARN) the deployed function would have.
 */
export function templateEventSourceMapping(
  options: TemplateEventSourceMappingOptions,
): StreamEventSourceMapping {
  const { stackName, definition, reader } = options;
  const accountId = reader.streamArn.split(':')[4] || '000000000000';
  const functionId = `${stackName}-${definition.function.logicalId}`;
  return new StreamEventSourceMapping({
    reader,
    invoker: new InProcessFunctionInvoker({
      handler: options.handler,
      functionName: functionId,
      region: regionFromArn(reader.streamArn),
      accountId,
      timeoutSeconds: definition.function.timeoutSeconds,
      memorySizeMb: definition.function.memorySizeMb,
    }),
    settings: definition.settings,
    invokeIdentityArn: `arn:aws:iam::${accountId}:role/${functionId}-role`,
    ...(options.destination ? { destination: options.destination } : {}),
    checkpoints: options.checkpoints,
    clock: options.clock,
    ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
  });
}
