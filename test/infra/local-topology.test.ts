// Local mode reads its resources from the synthesized template (local/runner/template.ts): with context
// flusherCount it must find every flusher, in FLUSHER_INDEX order, and tell their environments apart.
import { describe, expect, it } from 'vitest';
import type { CloudFormationTemplate } from '../../local/esm/settings.ts';
import {
  flusherOwnEnvironment,
  mergedFunctionEnvironment,
  readLocalTopology,
} from '../../local/runner/template.ts';
import { synthFlowline } from './synth.ts';

const LOCAL = {
  clickhouseUrl: 'http://127.0.0.1:8123',
  clickhouseUser: 'flowline',
  clickhousePassword: 'secret',
  clusterUUID: '5c8a4f0e-2b7d-4e61-9a3c-1f0e2d3c4b5a',
};

function topologyOf(flusherCount: number) {
  const { template } = synthFlowline({ flusherCount });
  return readLocalTopology(template.toJSON() as CloudFormationTemplate);
}

describe('local topology', () => {
  it('finds the one flusher of the default stack', () => {
    const topology = topologyOf(1);
    expect(topology.flushers).toHaveLength(1);
    expect(topology.flushers[0].environment.FLUSHER_COUNT).toBe('1');
    expect(flusherOwnEnvironment(topology, 0)).toEqual({ FLUSHER_INDEX: '0' });
  });

  it('finds every flusher of flusherCount 3 in FLUSHER_INDEX order; only FLUSHER_INDEX tells them apart', () => {
    const topology = topologyOf(3);
    expect(topology.flushers.map((fn) => fn.environment.FLUSHER_INDEX)).toEqual(['0', '1', '2']);
    expect(new Set(topology.flushers.map((fn) => fn.logicalId)).size).toBe(3);
    expect(topology.flusherScheduleSeconds).toBe(60);

    const merged = mergedFunctionEnvironment(topology, LOCAL);
    expect(merged.FLUSHER_COUNT).toBe('3');
    expect(merged.FLUSHER_INDEX).toBeUndefined();
    expect(flusherOwnEnvironment(topology, 2)).toEqual({ FLUSHER_INDEX: '2' });
    expect(() => flusherOwnEnvironment(topology, 3)).toThrow(/no flusher 3/);
  });

  it('refuses a template whose flushers do not run 0..N-1', () => {
    const { template } = synthFlowline({ flusherCount: 2 });
    const json = template.toJSON() as CloudFormationTemplate;
    for (const resource of Object.values(json.Resources ?? {})) {
      const variables = (resource.Properties?.Environment as { Variables?: Record<string, unknown> })
        ?.Variables;
      if (variables?.FLUSHER_INDEX === '1') variables.FLUSHER_INDEX = '0';
    }
    expect(() => readLocalTopology(json)).toThrow(/FLUSHER_INDEX 0 of FLUSHER_COUNT 2/);
  });
});
