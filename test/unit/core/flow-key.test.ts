import { describe, expect, it } from 'vitest';
import { flowKeyOf, isSourceNodeFromExternalFlow, parseFlowKey } from '../../../core/flow-key.ts';
import { emptyFlowRecord, type FlowRecord, FlowType } from '../../../core/flow-record.ts';

const record = (fields: Partial<FlowRecord>): FlowRecord => ({ ...emptyFlowRecord(), ...fields });

describe('flow key', () => {
  it('is the 5-tuple in canonical text (peer case H-2)', () => {
    const v4 = record({
      sourceIP: '10.0.0.1',
      destinationIP: '10.0.0.2',
      protocolIdentifier: 6,
      sourceTransportPort: 1234,
      destinationTransportPort: 5678,
    });
    expect(flowKeyOf(v4)).toBe('10.0.0.1|10.0.0.2|6|1234|5678');
    expect(parseFlowKey(flowKeyOf(v4))).toEqual({
      sourceIP: '10.0.0.1',
      destinationIP: '10.0.0.2',
      protocolIdentifier: 6,
      sourceTransportPort: 1234,
      destinationTransportPort: 5678,
    });
  });

  it('keys both halves of an inter-Node from-external flow on the SNAT address (peer cases H-3, H-4)', () => {
    const ingressNode = record({
      flowType: FlowType.FromExternal,
      sourceIP: '172.18.0.1',
      destinationIP: '10.244.1.3',
      protocolIdentifier: 6,
      sourceTransportPort: 38746,
      destinationTransportPort: 80,
      proxySnatIP: '10.244.2.1',
      proxySnatPort: 52391,
    });
    const destinationNode = record({
      flowType: FlowType.InterNode,
      destinationPodName: 'nginx-deployment-HASH',
      destinationPodNamespace: 'some-namespace',
      sourceIP: '10.244.2.1',
      destinationIP: '10.244.1.3',
      protocolIdentifier: 6,
      sourceTransportPort: 52391,
      destinationTransportPort: 80,
    });
    expect(isSourceNodeFromExternalFlow(ingressNode)).toBe(true);
    expect(isSourceNodeFromExternalFlow(destinationNode)).toBe(false);
    expect(flowKeyOf(ingressNode)).toBe('10.244.2.1|10.244.1.3|6|52391|80');
    expect(flowKeyOf(destinationNode)).toBe(flowKeyOf(ingressNode));
    expect(isSourceNodeFromExternalFlow(record({ flowType: FlowType.ToExternal }))).toBe(false);
    expect(
      isSourceNodeFromExternalFlow(
        record({ flowType: FlowType.FromExternal, destinationPodName: 'pod', proxySnatIP: '10.244.2.1' }),
      ),
    ).toBe(false);
  });

  it('rejects malformed keys', () => {
    expect(parseFlowKey('a|b|c')).toBeUndefined();
    expect(parseFlowKey('a|b|x|1|2')).toBeUndefined();
  });
});
