// The ticker assembled from its configuration: the one place that turns TickerConfig into a Ticker and
// its round loop. The Lambda entry (handler.ts) and local mode both build it here.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { openFlowTable } from '../flow-store/layout.ts';
import { type LoopOptions, RoundLoop } from '../shared/round-loop.ts';
import type { TickerConfig } from './config.ts';
import { Ticker, type TickReport } from './ticker.ts';

export function wireTicker(
  config: TickerConfig,
  deps: { dynamodb: DynamoDBClient; clock: () => number; sleep: (ms: number) => Promise<void> },
): { ticker: Ticker; loop: RoundLoop<TickReport>; loopOptions: Omit<LoopOptions<TickReport>, 'onRound'> } {
  const queue = openFlowTable(
    deps.dynamodb,
    config.tableName,
    config.schedule,
    config.layout,
    config.partition,
  );
  const ticker = new Ticker(queue, {
    schedule: config.schedule,
    maxFlowsPerRound: config.maxFlowsPerRound,
    writeConcurrency: config.writeConcurrency,
    clock: deps.clock,
  });
  return {
    ticker,
    loop: new RoundLoop(ticker),
    loopOptions: {
      runForMs: config.runForMs,
      intervalMs: config.commitIntervalMs,
      maxBackoffMs: config.maxBackoffMs,
      clock: deps.clock,
      sleep: deps.sleep,
    },
  };
}
