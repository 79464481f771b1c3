import { describe, expect, it } from 'vitest';
import {
  createIpfixDecoder,
  field,
  IpfixEncoder,
  type TransportSession,
} from '../../../collector-edge/ipfix/index.ts';
import { normaliseDataSet, normaliseRecord } from '../../../collector-edge/normalise.ts';
import { emptyFlowRecord } from '../../../core/flow-record.ts';
import { seededRandom } from '../../../core/random.ts';
import { ANTREA_AGENT_IPV4_FIELDS, antreaRecord } from '../../../workloads/antrea-template.ts';

const session: TransportSession = { id: 'tcp|a', exporterAddress: '127.0.0.9', transport: 'tcp' };
const context = {
  exporterAddress: '127.0.0.9',
  observationDomainId: 1,
  exportTime: 10,
  sequenceNumber: 5,
  receivedAtMs: 99,
};

describe('normalise', () => {
  it('maps Antrea fields by name, with the preprocessor rules', () => {
    const r = normaliseRecord(
      {
        sourceIPv4Address: '10.0.0.1',
        destinationIPv4Address: '10.0.0.2',
        sourceTransportPort: 1234,
        destinationTransportPort: 5678,
        protocolIdentifier: 6,
        flowEndReason: 2,
        tcpState: 'ESTABLISHED',
        packetTotalCount: 800,
        reverseOctetDeltaCount: 2n ** 40n,
        destinationClusterIPv4: '0.0.0.0',
        destinationServiceIPv4: '10.96.0.10',
        proxySnatIPv4: '0.0.0.0',
        egressIP: 'not-an-ip',
        sourcePodName: 'pod1',
        '56506:999': 'ab',
      },
      context,
    );
    expect(r).toEqual({
      ...emptyFlowRecord(),
      ...context,
      sourceIP: '10.0.0.1',
      destinationIP: '10.0.0.2',
      sourceTransportPort: 1234,
      destinationTransportPort: 5678,
      protocolIdentifier: 6,
      flowEndReason: 2,
      tcpState: 'ESTABLISHED',
      packetTotalCount: 800,
      reverseOctetDeltaCount: 2 ** 40,
      destinationClusterIP: '',
      destinationServiceIP: '10.96.0.10',
      proxySnatIP: '',
      egressIP: '',
      sourcePodName: 'pod1',
    });
  });

  it('IPv6 addresses, textual egressIP canonicalised, all-zeros IPv6 ClusterIP -> ""', () => {
    const r = normaliseRecord(
      {
        sourceIPv6Address: '2001:0:3238:dfe1:63::fefb',
        destinationIPv6Address: '2001:0:3238:dfe1:63::fefc',
        destinationClusterIPv6: '::',
        proxySnatIPv6: 'fd00::5',
        egressIP: 'FD00:0::1',
      },
      context,
    );
    expect(r).toMatchObject({
      sourceIP: '2001:0:3238:dfe1:63::fefb',
      destinationIP: '2001:0:3238:dfe1:63::fefc',
      destinationClusterIP: '',
      proxySnatIP: 'fd00::5',
      egressIP: 'fd00::1',
    });
  });

  it('data sets: sequence number + record index, exporter and receive time; options sets give no flows', () => {
    const encoder = new IpfixEncoder({ observationDomainId: 4, initialSequence: 100 });
    encoder.defineTemplate(256, ANTREA_AGENT_IPV4_FIELDS);
    encoder.defineTemplate(300, [field('meteringProcessId'), field('exportedMessageTotalCount')], 1);
    const decoder = createIpfixDecoder({ clock: () => 1234 });
    decoder.decodeMessage(encoder.templateMessage(7), session);
    const random = seededRandom(1);
    const sources = [antreaRecord(random, 0), antreaRecord(random, 1), antreaRecord(random, 2)];
    const [message] = encoder.dataMessages(256, sources, 7);
    const set = decoder.decodeMessage(message!, session).dataSets[0]!;
    const flows = normaliseDataSet(set);
    expect(flows.map((f) => f.sequenceNumber)).toEqual([100, 101, 102]);
    expect(flows[1]).toMatchObject({
      exporterAddress: '127.0.0.9',
      observationDomainId: 4,
      exportTime: 7,
      receivedAtMs: 1234,
      sourceIP: sources[1]!.sourceIPv4Address,
      sourcePodName: sources[1]!.sourcePodName,
      tcpState: sources[1]!.tcpState,
      reverseOctetDeltaCount: sources[1]!.reverseOctetDeltaCount,
    });
    const [options] = encoder.dataMessages(300, [{ meteringProcessId: 1, exportedMessageTotalCount: 2 }], 7);
    expect(normaliseDataSet(decoder.decodeMessage(options!, session).dataSets[0]!)).toEqual([]);
  });
});
