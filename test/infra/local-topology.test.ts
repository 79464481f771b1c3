// Local mode reads its resources from the synthesized template (local/runner/template.ts): with context
// tickerCount it must find every ticker, in TICKER_INDEX order, and tell their environments apart; and it
// must find the exporter with its mapping on the flow table's stream, filter included.
import { describe, expect, it } from 'vitest';
import type { CloudFormationTemplate } from '../../local/esm/settings.ts';
import { createTableInputOf } from '../../local/runner/provision.ts';
import {
  mergedFunctionEnvironment,
  readLocalTopology,
  tickerOwnEnvironment,
} from '../../local/runner/template.ts';
import { synthFlowline } from './synth.ts';

const LOCAL = {
  clickhouseUrl: 'http://127.0.0.1:8123',
  clickhouseUser: 'flowline',
  clickhousePassword: 'secret',
  clusterUUID: '5c8a4f0e-2b7d-4e61-9a3c-1f0e2d3c4b5a',
};

function topologyOf(tickerCount: number) {
  const { template } = synthFlowline({ tickerCount });
  return readLocalTopology(template.toJSON() as CloudFormationTemplate);
}

describe('local topology', () => {
  it('finds the one ticker of the default stack, on its one-minute schedule', () => {
    const topology = topologyOf(1);
    expect(topology.tickers).toHaveLength(1);
    expect(topology.tickers[0].entry).toBe('functions/ticker/handler.ts');
    expect(topology.tickers[0].environment.TICKER_COUNT).toBe('1');
    expect(topology.tickerScheduleSeconds).toBe(60);
    expect(tickerOwnEnvironment(topology, 0)).toEqual({ TICKER_INDEX: '0' });
  });

  it('finds every ticker of tickerCount 3 in TICKER_INDEX order; only TICKER_INDEX tells them apart', () => {
    const topology = topologyOf(3);
    expect(topology.tickers.map((fn) => fn.environment.TICKER_INDEX)).toEqual(['0', '1', '2']);
    expect(new Set(topology.tickers.map((fn) => fn.logicalId)).size).toBe(3);

    const merged = mergedFunctionEnvironment(topology, LOCAL);
    expect(merged.TICKER_COUNT).toBe('3');
    expect(merged.TICKER_INDEX).toBeUndefined();
    expect(tickerOwnEnvironment(topology, 2)).toEqual({ TICKER_INDEX: '2' });
    expect(() => tickerOwnEnvironment(topology, 3)).toThrow(/no ticker 3/);
  });

  it('refuses a template whose tickers do not run 0..N-1', () => {
    const { template } = synthFlowline({ tickerCount: 2 });
    const json = template.toJSON() as CloudFormationTemplate;
    for (const resource of Object.values(json.Resources ?? {})) {
      const variables = (resource.Properties?.Environment as { Variables?: Record<string, unknown> })
        ?.Variables;
      if (variables?.TICKER_INDEX === '1') variables.TICKER_INDEX = '0';
    }
    expect(() => readLocalTopology(json)).toThrow(/TICKER_INDEX 0 of TICKER_COUNT 2/);
  });

  it("finds the exporter and its mapping on the flow table's stream, with the template's settings and filter", () => {
    const topology = topologyOf(1);
    expect(topology.exporter.entry).toBe('functions/exporter/handler.ts');
    expect(topology.exporterMapping.function.logicalId).toBe(topology.exporter.logicalId);
    expect(topology.exporterMapping.table).toMatchObject({
      logicalId: topology.table.logicalId,
      streamViewType: 'NEW_IMAGE',
    });
    expect(topology.exporterMapping.settings).toEqual({
      batchSize: 3000,
      maximumBatchingWindowSeconds: 5,
      parallelizationFactor: 1,
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: -1,
      maximumRecordAgeSeconds: -1,
      reportBatchItemFailures: false,
      startingPosition: 'TRIM_HORIZON',
      enabled: true,
      filterPatterns: ['{"dynamodb":{"NewImage":{"rows":{"B":[{"exists":true}]}}}}'],
    });
    expect(topology.exporterMapping.onFailure?.type).toBe('AWS::SQS::Queue');
    // Local mode creates the table with the stream the mapping reads.
    expect(createTableInputOf(topology.table).StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: 'NEW_IMAGE',
    });
  });

  it('merges the functions\u2019 environments: ClickHouse is local mode\u2019s, and only the exporter had it', () => {
    const topology = topologyOf(1);
    const merged = mergedFunctionEnvironment(topology, LOCAL);
    expect(merged).toMatchObject({
      TABLE_NAME: topology.table.name,
      CLICKHOUSE_URL: LOCAL.clickhouseUrl,
      CLICKHOUSE_USER: LOCAL.clickhouseUser,
      CLICKHOUSE_PASSWORD: LOCAL.clickhousePassword,
      CLUSTER_UUID: LOCAL.clusterUUID,
      INDEX_SLACK_SECONDS: '1200',
      RUN_FOR_SECONDS: '40',
    });
    expect(merged).not.toHaveProperty('CLICKHOUSE_SECRET_ID');
    expect(merged).not.toHaveProperty('FLUSHER_FUNCTION_NAME');
  });
});
