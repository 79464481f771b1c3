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
// Set by the CDK app: the flusher to wake when a batch created flows (wake-flusher.ts).
const flusherName = process.env.FLUSHER_FUNCTION_NAME?.trim();

export const handler = wireCorrelator(config, {
  now: Date.now,
  logger,
  metrics,
  flusherWake: flusherName
    ? lambdaFlusherWake(createLambdaClient({ maxAttempts: 2 }), flusherName, { now: Date.now, logger })
    : undefined,
});
