// The at-rest month (issue 21): what a deployment costs with zero flow records, component by component,
// each with what drives it. Pure arithmetic over cost/prices.json, the deployed defaults (lib/config.ts)
// and the resources the stack holds whatever the traffic (STANDING_RESOURCES, checked against the
// synthesized template by test/infra). ClickHouse storage is left out: it is the rows already kept.
import { DEFAULT_CONFIG, type StreamMode } from '../lib/config.ts';
import { fmt, LIST_PRICES, lambdaMonthly, type Prices, SECONDS_PER_MONTH } from './model.ts';

const HOURS_PER_MONTH = SECONDS_PER_MONTH / 3600;

/** Resources the stack holds at any traffic; test/infra/flowline-stack.test.ts counts them in the template. */
export const STANDING_RESOURCES = {
  /** The data key (ingest stream and flow store) and the alarm topic's. */
  kmsKeys: 2,
  /** The ClickHouse password. */
  secrets: 1,
  alarms: 14,
  /** The operations dashboard is opt-in (context `dashboard`). */
  dashboards: 0,
  /** The ticker's schedule: rate(1 minute). */
  tickerScheduleSeconds: 60,
} as const;

/** Figures of an at-rest invocation no benchmark measures on AWS, each with its basis. */
export const AT_REST_ASSUMPTIONS = {
  tickerInvocationMs: {
    value: 80,
    basis:
      'one round: two sequential DynamoDB round trips (due Query per shard; earliest-due Query per shard, in parallel) at 10-30 ms each in-Region, plus logging',
  },
  logBytesPerInvocation: {
    value: 1300,
    basis: "the round's INFO line (~800 B of JSON) and Lambda's START/END/REPORT lines",
  },
  kmsRequestsPerInvocation: {
    value: 1,
    basis:
      'upper bound: DynamoDB asks KMS for the table key when a connection’s cached key (5 min) has expired',
  },
} as const;

export interface AtRestOptions {
  kinesisMode: StreamMode;
  /** Provisioned mode: the deployed shard count. */
  shardCount: number;
  tickerMemoryMb: number;
  dueShardCount: number;
}

export const DEFAULT_AT_REST: AtRestOptions = {
  kinesisMode: DEFAULT_CONFIG.streamMode,
  shardCount: DEFAULT_CONFIG.shardCount,
  tickerMemoryMb: DEFAULT_CONFIG.tickerMemoryMb,
  dueShardCount: DEFAULT_CONFIG.dueShardCount,
};

export interface AtRestLine {
  component: string;
  usd: number;
  driver: string;
}

export interface AtRestReport {
  options: AtRestOptions;
  lines: AtRestLine[];
  /** Every line: list prices, no free tier. */
  monthly: number;
  /** The same, less CloudWatch's always-free alarms and dashboards (if the account has not used them). */
  monthlyWithinCloudWatchFreeTier: number;
}

/** DynamoDB read units of one at-rest round: reads that find nothing are billed their minimum. */
export function atRestReadUnitsPerInvocation(dueShardCount: number): number {
  return 2 * dueShardCount * 0.5; // due + earliest-due Query per shard, eventually consistent
}

function kinesisAtRest(options: AtRestOptions, prices: Prices): AtRestLine {
  const onDemand = HOURS_PER_MONTH * prices.kinesisOnDemandStreamHour;
  if (options.kinesisMode === 'on-demand') {
    return {
      component: 'Kinesis (on-demand)',
      usd: onDemand,
      driver: `${HOURS_PER_MONTH} stream-hours x $${prices.kinesisOnDemandStreamHour}; no data billed`,
    };
  }
  const usd = options.shardCount * HOURS_PER_MONTH * prices.kinesisShardHour;
  return {
    component: 'Kinesis (provisioned)',
    usd,
    driver: `${options.shardCount} shard x ${HOURS_PER_MONTH} h x $${prices.kinesisShardHour}; no PUT units (on-demand: $${onDemand.toFixed(2)})`,
  };
}

function tickerAtRest(options: AtRestOptions, prices: Prices): AtRestLine[] {
  const invocations = SECONDS_PER_MONTH / STANDING_RESOURCES.tickerScheduleSeconds;
  const { tickerInvocationMs, logBytesPerInvocation } = AT_REST_ASSUMPTIONS;
  const lambda = lambdaMonthly(invocations, tickerInvocationMs.value, options.tickerMemoryMb, prices);
  const readUnits = invocations * atRestReadUnitsPerInvocation(options.dueShardCount);
  const logGb = (invocations * logBytesPerInvocation.value) / 2 ** 30;
  return [
    {
      component: 'Lambda ticker (arm64)',
      usd: lambda.usd,
      driver: `${fmt(invocations)} invocations (every ${STANDING_RESOURCES.tickerScheduleSeconds} s), each one round and an early end (${tickerInvocationMs.value} ms, assumed), ${options.tickerMemoryMb} MB: ${fmt(lambda.gbSeconds)} GB-s; the exporter is not invoked without stream records`,
    },
    {
      component: 'DynamoDB ticker reads',
      usd: (readUnits / 1e6) * prices.dynamodbReadRequestUnitsMillion,
      driver: `${atRestReadUnitsPerInvocation(options.dueShardCount)} RRU per invocation (2 x ${options.dueShardCount} empty index queries): ${fmt(readUnits / 1e6)} M RRU; table empty (TTL), no writes`,
    },
    {
      component: 'CloudWatch Logs',
      usd: logGb * prices.cloudwatchLogsIngestGb,
      driver: `${fmt(invocations)} x ${logBytesPerInvocation.value} B (assumed) = ${fmt(logGb)} GB`,
    },
  ];
}

function standingAtRest(prices: Prices): AtRestLine[] {
  const { kmsKeys, secrets, alarms, dashboards, tickerScheduleSeconds } = STANDING_RESOURCES;
  const kmsRequests =
    (SECONDS_PER_MONTH / tickerScheduleSeconds) * AT_REST_ASSUMPTIONS.kmsRequestsPerInvocation.value;
  return [
    {
      component: 'KMS',
      usd: kmsKeys * prices.kmsKeyMonth + (kmsRequests / 1e4) * prices.kmsRequestsTenThousand,
      driver: `${kmsKeys} customer managed keys (flow data: stream and table; alarm topic) x $${prices.kmsKeyMonth} (first year; +$1 each at the first and second yearly rotation) + ${fmt(kmsRequests)} requests (upper bound)`,
    },
    {
      component: 'Secrets Manager',
      usd: secrets * prices.secretsManagerSecretMonth,
      driver: `${secrets} secret; no API call at rest (read by the first insert only)`,
    },
    {
      component: 'CloudWatch alarms',
      usd: alarms * prices.cloudwatchAlarmMonth,
      driver: `${alarms} standard alarms x $${prices.cloudwatchAlarmMonth}`,
    },
    {
      component: 'CloudWatch dashboard',
      usd: dashboards * prices.cloudwatchDashboardMonth,
      driver: `${dashboards} dashboards: the operations dashboard is opt-in (context dashboard=true: +$${prices.cloudwatchDashboardMonth})`,
    },
    {
      component: 'CloudWatch custom metrics',
      usd: 0,
      driver: `an idle round publishes none (billed per hour with data; with zeros: 11 x $${prices.cloudwatchCustomMetricMonth})`,
    },
    {
      component: 'Lambda correlator, EventBridge rule, SQS',
      usd: 0,
      driver:
        'not invoked without records (the event source mapping polls for free); scheduled rules are not billed; an idle queue makes no request',
    },
    {
      component: 'ClickHouse Cloud compute',
      usd: 0,
      driver: `ASSUMPTION: automatic idling on. Flowline sends no request at rest (no ping, no schema check before the first insert), so the service idles after its idle timeout and compute is not billed (always on: $${prices.clickhouseScaleMonth} Scale 2 x 8 GiB)`,
    },
  ];
}

export function atRestModel(
  options: AtRestOptions = DEFAULT_AT_REST,
  prices: Prices = LIST_PRICES,
): AtRestReport {
  const lines = [kinesisAtRest(options, prices), ...tickerAtRest(options, prices), ...standingAtRest(prices)];
  const monthly = lines.reduce((sum, line) => sum + line.usd, 0);
  const freeTier =
    Math.min(STANDING_RESOURCES.alarms, 10) * prices.cloudwatchAlarmMonth +
    Math.min(STANDING_RESOURCES.dashboards, 3) * prices.cloudwatchDashboardMonth;
  return { options, lines, monthly, monthlyWithinCloudWatchFreeTier: monthly - freeTier };
}

const dollars = (n: number) => `$${n.toFixed(2)}`;

/** The at-rest table as Markdown (`flowline cost --connections 0`, docs/cost.md). */
export function renderAtRestTable(report: AtRestReport): string {
  const out = [
    'At rest: zero flow records. Prices: us-east-1 list, cost/prices.json, no free tier; ClickHouse storage excluded.',
    '',
    '| Component | $/month | What drives it |',
    '| --- | ---: | --- |',
    ...report.lines.map((line) => `| ${line.component} | ${dollars(line.usd)} | ${line.driver} |`),
    `| **At-rest month** | **${dollars(report.monthly)}** | excluding ClickHouse storage (the rows already kept) |`,
    `| Within CloudWatch's always-free tier | ${dollars(report.monthlyWithinCloudWatchFreeTier)} | if the account's 10 free alarms and 3 free dashboards are not used elsewhere |`,
  ];
  return out.join('\n');
}
