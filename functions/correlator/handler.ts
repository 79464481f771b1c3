// Lambda entry of the correlator (bundled by lib/correlator.ts): module-scope clients, logic elsewhere.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createLambdaClient } from '../../adapters/aws-clients.ts';
import { CORRELATOR_SERVICE_NAME, METRICS_NAMESPACE } from '../shared/metric-names.ts';
import { correlatorConfigFromEnv } from './config.ts';
import { lambdaFlusherWake, wireCorrelator } from './wiring.ts';

const config = correlatorConfigFromEnv();
const logger = new Logger({ serviceName: CORRELATOR_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: CORRELATOR_SERVICE_NAME });
// Set by the CDK app: the flushers to wake when a batch created flows (wake-flusher.ts), comma-separated.
const flusherNames = (process.env.FLUSHER_FUNCTION_NAME ?? '')
  .split(',')
  .map((name) => name.trim())
  .filter((name) => name !== '');

export const handler = wireCorrelator(config, {
  now: Date.now,
  logger,
  metrics,
  flusherWake:
    flusherNames.length > 0
      ? lambdaFlusherWake(createLambdaClient({ maxAttempts: 2 }), flusherNames, { now: Date.now, logger })
      : undefined,
});
