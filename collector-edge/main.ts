// The collector as a process (`flowline collect`): configuration, the Kinesis client, signal handling.
// SIGTERM/SIGINT drain (stop accepting, send or spool everything) and exit 0; a second signal exits at once
// (the spool still holds everything accepted).

import { existsSync } from 'node:fs';
import { createKinesisClient } from '../adapters/aws-clients.ts';
import { Collector } from './collector.ts';
import { type CollectorConfig, ConfigError, type FlagValues, loadCollectorConfig } from './config.ts';
import { KinesisStreamSink } from './kinesis-sink.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from './log.ts';
import { CollectorMetrics } from './metrics.ts';
import type { FlowAggregatorCertificates } from './tls/flow-aggregator-certificates.ts';
import { startGeneratedCertificates } from './tls/generated-certificates.ts';

export async function runCollectorProcess(env: NodeJS.ProcessEnv, flags: FlagValues): Promise<number> {
  let config: CollectorConfig;
  const metrics = new CollectorMetrics({ defaultMetrics: true });
  let certificates: FlowAggregatorCertificates | undefined;
  try {
    // First: in generated mode this writes the TLS files the configuration check then finds.
    const level = (flags['log-level'] ?? env.FLOWLINE_LOG_LEVEL ?? 'info') as LogLevel;
    certificates = await startGeneratedCertificates(env, {
      logger: createLogger(LOG_LEVELS.includes(level) ? level : 'info'),
      registry: metrics.registry,
    });
    config = loadCollectorConfig(env, flags, existsSync);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`flowline collect: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  // One attempt per call: the producer retries entry by entry with its own backoff and spools meanwhile.
  const client = createKinesisClient({
    ...(config.region ? { region: config.region } : {}),
    maxAttempts: 1,
    requestTimeoutMs: 10_000,
  });
  const collector = await Collector.start(config, {
    sink: new KinesisStreamSink(client, config.streamName),
    logger,
    metrics,
  });
  const stopped = new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn('second signal: exiting now; unsent records stay in the spool', { signal });
        process.exit(1);
      }
      logger.info('signal received: draining', { signal });
      collector.drain().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error('drain failed; unsent records stay in the spool', { error });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  const code = await stopped;
  certificates?.stop();
  client.destroy();
  return code;
}
