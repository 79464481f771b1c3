// Lambda entry of the correlator (bundled by lib/correlator.ts): module-scope clients, logic elsewhere.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CORRELATOR_SERVICE_NAME, METRICS_NAMESPACE } from '../shared/metric-names.ts';
import { correlatorConfigFromEnv } from './config.ts';
import { wireCorrelator } from './wiring.ts';

const config = correlatorConfigFromEnv();
const logger = new Logger({ serviceName: CORRELATOR_SERVICE_NAME });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: CORRELATOR_SERVICE_NAME });

export const handler = wireCorrelator(config, { now: Date.now, logger, metrics });
