// Information element registry keyed on (enterprise number, element id): IDs are only unique per
// enterprise (Antrea 136 is tcpState, IANA 136 is flowEndReason). IANA elements real exporters send
// (Antrea, softflowd, pmacct, nProbe-style), RFC 5103 reverse elements, and Antrea's registry (go-ipfix
// registry_antrea.csv) under 56506, also accepted under 56505 and the legacy 55829.
import { Enterprise, type IeType, type InformationElement } from './types.ts';

const TYPE_CODES: Record<string, IeType> = {
  o: 'octetArray',
  u8: 'unsigned8',
  u16: 'unsigned16',
  u32: 'unsigned32',
  u64: 'unsigned64',
  s8: 'signed8',
  s16: 'signed16',
  s32: 'signed32',
  s64: 'signed64',
  f32: 'float32',
  f64: 'float64',
  b: 'boolean',
  mac: 'macAddress',
  str: 'string',
  ts: 'dateTimeSeconds',
  tms: 'dateTimeMilliseconds',
  tus: 'dateTimeMicroseconds',
  tns: 'dateTimeNanoseconds',
  v4: 'ipv4Address',
  v6: 'ipv6Address',
  bl: 'basicList',
  stl: 'subTemplateList',
  stml: 'subTemplateMultiList',
};

// IANA "IPFIX Information Elements" registry, the part exporters use: "id name type".
const IANA = `
1 octetDeltaCount u64|2 packetDeltaCount u64|3 deltaFlowCount u64|4 protocolIdentifier u8|5 ipClassOfService u8
6 tcpControlBits u16|7 sourceTransportPort u16|8 sourceIPv4Address v4|9 sourceIPv4PrefixLength u8
10 ingressInterface u32|11 destinationTransportPort u16|12 destinationIPv4Address v4
13 destinationIPv4PrefixLength u8|14 egressInterface u32|15 ipNextHopIPv4Address v4|16 bgpSourceAsNumber u32
17 bgpDestinationAsNumber u32|18 bgpNextHopIPv4Address v4|19 postMCastPacketDeltaCount u64
20 postMCastOctetDeltaCount u64|21 flowEndSysUpTime u32|22 flowStartSysUpTime u32|23 postOctetDeltaCount u64
24 postPacketDeltaCount u64|25 minimumIpTotalLength u64|26 maximumIpTotalLength u64|27 sourceIPv6Address v6
28 destinationIPv6Address v6|29 sourceIPv6PrefixLength u8|30 destinationIPv6PrefixLength u8
31 flowLabelIPv6 u32|32 icmpTypeCodeIPv4 u16|33 igmpType u8|34 samplingInterval u32|35 samplingAlgorithm u8
36 flowActiveTimeout u16|37 flowIdleTimeout u16|38 engineType u8|39 engineId u8
40 exportedOctetTotalCount u64|41 exportedMessageTotalCount u64|42 exportedFlowRecordTotalCount u64
43 ipv4RouterSc v4|44 sourceIPv4Prefix v4|45 destinationIPv4Prefix v4|46 mplsTopLabelType u8
47 mplsTopLabelIPv4Address v4|48 samplerId u8|49 samplerMode u8|50 samplerRandomInterval u32|51 classId u8
52 minimumTTL u8|53 maximumTTL u8|54 fragmentIdentification u32|55 postIpClassOfService u8
56 sourceMacAddress mac|57 postDestinationMacAddress mac|58 vlanId u16|59 postVlanId u16|60 ipVersion u8
61 flowDirection u8|62 ipNextHopIPv6Address v6|63 bgpNextHopIPv6Address v6|64 ipv6ExtensionHeaders u32
70 mplsTopLabelStackSection o|71 mplsLabelStackSection2 o|72 mplsLabelStackSection3 o
73 mplsLabelStackSection4 o|74 mplsLabelStackSection5 o|75 mplsLabelStackSection6 o
76 mplsLabelStackSection7 o|77 mplsLabelStackSection8 o|78 mplsLabelStackSection9 o
79 mplsLabelStackSection10 o|80 destinationMacAddress mac|81 postSourceMacAddress mac|82 interfaceName str
83 interfaceDescription str|84 samplerName str|85 octetTotalCount u64|86 packetTotalCount u64
87 flagsAndSamplerId u32|88 fragmentOffset u16|89 forwardingStatus u32|90 mplsVpnRouteDistinguisher o
91 mplsTopLabelPrefixLength u8|92 srcTrafficIndex u32|93 dstTrafficIndex u32|94 applicationDescription str
95 applicationId o|96 applicationName str|98 postIpDiffServCodePoint u8|99 multicastReplicationFactor u32
100 className str|101 classificationEngineId u8|102 layer2packetSectionOffset u16
103 layer2packetSectionSize u16|104 layer2packetSectionData o|128 bgpNextAdjacentAsNumber u32
129 bgpPrevAdjacentAsNumber u32|130 exporterIPv4Address v4|131 exporterIPv6Address v6
132 droppedOctetDeltaCount u64|133 droppedPacketDeltaCount u64|134 droppedOctetTotalCount u64
135 droppedPacketTotalCount u64|136 flowEndReason u8|137 commonPropertiesId u64|138 observationPointId u64
139 icmpTypeCodeIPv6 u16|140 mplsTopLabelIPv6Address v6|141 lineCardId u32|142 portId u32
143 meteringProcessId u32|144 exportingProcessId u32|145 templateId u16|146 wlanChannelId u8
147 wlanSSID str|148 flowId u64|149 observationDomainId u32|150 flowStartSeconds ts|151 flowEndSeconds ts
152 flowStartMilliseconds tms|153 flowEndMilliseconds tms|154 flowStartMicroseconds tus
155 flowEndMicroseconds tus|156 flowStartNanoseconds tns|157 flowEndNanoseconds tns
158 flowStartDeltaMicroseconds u32|159 flowEndDeltaMicroseconds u32|160 systemInitTimeMilliseconds tms
161 flowDurationMilliseconds u32|162 flowDurationMicroseconds u32|163 observedFlowTotalCount u64
164 ignoredPacketTotalCount u64|165 ignoredOctetTotalCount u64|166 notSentFlowTotalCount u64
167 notSentPacketTotalCount u64|168 notSentOctetTotalCount u64|169 destinationIPv6Prefix v6
170 sourceIPv6Prefix v6|171 postOctetTotalCount u64|172 postPacketTotalCount u64|173 flowKeyIndicator u64
174 postMCastPacketTotalCount u64|175 postMCastOctetTotalCount u64|176 icmpTypeIPv4 u8|177 icmpCodeIPv4 u8
178 icmpTypeIPv6 u8|179 icmpCodeIPv6 u8|180 udpSourcePort u16|181 udpDestinationPort u16
182 tcpSourcePort u16|183 tcpDestinationPort u16|184 tcpSequenceNumber u32|185 tcpAcknowledgementNumber u32
186 tcpWindowSize u16|187 tcpUrgentPointer u16|188 tcpHeaderLength u8|189 ipHeaderLength u8
190 totalLengthIPv4 u16|191 payloadLengthIPv6 u16|192 ipTTL u8|193 nextHeaderIPv6 u8
194 mplsPayloadLength u32|195 ipDiffServCodePoint u8|196 ipPrecedence u8|197 fragmentFlags u8
198 octetDeltaSumOfSquares u64|199 octetTotalSumOfSquares u64|200 mplsTopLabelTTL u8
201 mplsLabelStackLength u32|202 mplsLabelStackDepth u32|203 mplsTopLabelExp u8|204 ipPayloadLength u32
205 udpMessageLength u16|206 isMulticast u8|207 ipv4IHL u8|208 ipv4Options u32|209 tcpOptions u64
210 paddingOctets o|211 collectorIPv4Address v4|212 collectorIPv6Address v6|213 exportInterface u32
214 exportProtocolVersion u8|215 exportTransportProtocol u8|216 collectorTransportPort u16
217 exporterTransportPort u16|218 tcpSynTotalCount u64|219 tcpFinTotalCount u64|220 tcpRstTotalCount u64
221 tcpPshTotalCount u64|222 tcpAckTotalCount u64|223 tcpUrgTotalCount u64|224 ipTotalLength u64
225 postNATSourceIPv4Address v4|226 postNATDestinationIPv4Address v4|227 postNAPTSourceTransportPort u16
228 postNAPTDestinationTransportPort u16|229 natOriginatingAddressRealm u8|230 natEvent u8
231 initiatorOctets u64|232 responderOctets u64|233 firewallEvent u8|234 ingressVRFID u32|235 egressVRFID u32
236 VRFname str|237 postMplsTopLabelExp u8|238 tcpWindowScale u16|239 biflowDirection u8
240 ethernetHeaderLength u8|241 ethernetPayloadLength u16|242 ethernetTotalLength u16|243 dot1qVlanId u16
244 dot1qPriority u8|245 dot1qCustomerVlanId u16|246 dot1qCustomerPriority u8|247 metroEvcId str
248 metroEvcType u8|249 pseudoWireId u32|250 pseudoWireType u16|251 pseudoWireControlWord u32
252 ingressPhysicalInterface u32|253 egressPhysicalInterface u32|254 postDot1qVlanId u16
255 postDot1qCustomerVlanId u16|256 ethernetType u16|257 postIpPrecedence u8
258 collectionTimeMilliseconds tms|259 exportSctpStreamId u16|260 maxExportSeconds ts
261 maxFlowEndSeconds ts|262 messageMD5Checksum o|263 messageScope u8|264 minExportSeconds ts
265 minFlowStartSeconds ts|266 opaqueOctets o|267 sessionScope u8|268 maxFlowEndMicroseconds tus
269 maxFlowEndMilliseconds tms|270 maxFlowEndNanoseconds tns|271 minFlowStartMicroseconds tus
272 minFlowStartMilliseconds tms|273 minFlowStartNanoseconds tns|274 collectorCertificate o
275 exporterCertificate o|276 dataRecordsReliability b|277 observationPointType u8
278 newConnectionDeltaCount u32|279 connectionSumDurationSeconds u64|280 connectionTransactionId u64
281 postNATSourceIPv6Address v6|282 postNATDestinationIPv6Address v6|283 natPoolId u32|284 natPoolName str
285 anonymizationFlags u16|286 anonymizationTechnique u16|287 informationElementIndex u16
288 p2pTechnology str|289 tunnelTechnology str|290 encryptedTechnology str|291 basicList bl
292 subTemplateList stl|293 subTemplateMultiList stml|294 bgpValidityState u8|295 IPSecSPI u32|296 greKey u32
297 natType u8|298 initiatorPackets u64|299 responderPackets u64|300 observationDomainName str
301 selectionSequenceId u64|302 selectorId u64|303 informationElementId u16|304 selectorAlgorithm u16
305 samplingPacketInterval u32|306 samplingPacketSpace u32|307 samplingTimeInterval u32
308 samplingTimeSpace u32|309 samplingSize u32|310 samplingPopulation u32|311 samplingProbability f64
312 dataLinkFrameSize u16|313 ipHeaderPacketSection o|314 ipPayloadPacketSection o
315 dataLinkFrameSection o|316 mplsLabelStackSection o|317 mplsPayloadPacketSection o
318 selectorIdTotalPktsObserved u64|319 selectorIdTotalPktsSelected u64|320 absoluteError f64
321 relativeError f64|322 observationTimeSeconds ts|323 observationTimeMilliseconds tms
324 observationTimeMicroseconds tus|325 observationTimeNanoseconds tns|326 digestHashValue u64
327 hashIPPayloadOffset u64|328 hashIPPayloadSize u64|329 hashOutputRangeMin u64|330 hashOutputRangeMax u64
331 hashSelectedRangeMin u64|332 hashSelectedRangeMax u64|333 hashDigestOutput b|334 hashInitialiserValue u64
335 selectorName str|336 upperCILimit f64|337 lowerCILimit f64|338 confidenceLevel f64
339 informationElementDataType u8|340 informationElementDescription str|341 informationElementName str
342 informationElementRangeBegin u64|343 informationElementRangeEnd u64|344 informationElementSemantics u8
345 informationElementUnits u16|346 privateEnterpriseNumber u32|361 portRangeStart u16|362 portRangeEnd u16
363 portRangeStepSize u16|364 portRangeNumPorts u16|365 staMacAddress mac|366 staIPv4Address v4
367 wtpMacAddress mac|368 ingressInterfaceType u32|369 egressInterfaceType u32|372 paddingOctets2 o
403 originalExporterIPv4Address v4|404 originalExporterIPv6Address v6|405 originalObservationDomainId u32
`;

// Antrea's registry (go-ipfix pkg/registry/registry_antrea.csv, HEAD).
const ANTREA = `
100 sourcePodNamespace str|101 sourcePodName str|102 destinationPodNamespace str|103 destinationPodName str
104 sourceNodeName str|105 destinationNodeName str|106 destinationClusterIPv4 v4|107 destinationClusterIPv6 v6
108 destinationServicePort u16|109 destinationServicePortName str|110 ingressNetworkPolicyName str
111 ingressNetworkPolicyNamespace str|112 egressNetworkPolicyName str|113 egressNetworkPolicyNamespace str
114 ingressNetworkPolicyUID str|115 ingressNetworkPolicyType u8|116 ingressNetworkPolicyRulePriority s32
117 egressNetworkPolicyUID str|118 egressNetworkPolicyType u8|119 egressNetworkPolicyRulePriority s32
120 packetTotalCountFromSourceNode u64|121 octetTotalCountFromSourceNode u64
122 packetDeltaCountFromSourceNode u64|123 octetDeltaCountFromSourceNode u64
124 reversePacketTotalCountFromSourceNode u64|125 reverseOctetTotalCountFromSourceNode u64
126 reversePacketDeltaCountFromSourceNode u64|127 reverseOctetDeltaCountFromSourceNode u64
128 packetTotalCountFromDestinationNode u64|129 octetTotalCountFromDestinationNode u64
130 packetDeltaCountFromDestinationNode u64|131 octetDeltaCountFromDestinationNode u64
132 reversePacketTotalCountFromDestinationNode u64|133 reverseOctetTotalCountFromDestinationNode u64
134 reversePacketDeltaCountFromDestinationNode u64|135 reverseOctetDeltaCountFromDestinationNode u64
136 tcpState str|137 flowType u8|138 tcpStatePrevList str|139 ingressNetworkPolicyRuleAction u8
140 egressNetworkPolicyRuleAction u8|141 ingressNetworkPolicyRuleName str|142 egressNetworkPolicyRuleName str
143 sourcePodLabels str|144 destinationPodLabels str|145 throughput u64|146 reverseThroughput u64
147 throughputFromSourceNode u64|148 throughputFromDestinationNode u64|149 reverseThroughputFromSourceNode u64
150 reverseThroughputFromDestinationNode u64|151 flowEndSecondsFromSourceNode ts
152 flowEndSecondsFromDestinationNode ts|153 egressName str|154 egressIP str|155 appProtocolName str
156 httpVals str|157 egressNodeName str|158 clusterId str|159 sourcePodUUID o|160 destinationPodUUID o
161 sourceNodeUUID o|162 destinationNodeUUID o|163 destinationServiceUUID o|164 ingressNetworkPolicyUUID o
165 egressNetworkPolicyUUID o|166 egressUUID o|167 egressNodeUUID o|168 destinationServiceIPv4 v4
169 destinationServiceIPv6 v6|170 proxySnatIPv4 v4|171 proxySnatIPv6 v6|172 proxySnatPort u16
`;

function parseTable(enterprise: number, table: string): InformationElement[] {
  const out: InformationElement[] = [];
  for (const entry of table.split(/[|\n]/)) {
    const trimmed = entry.trim();
    if (trimmed === '') continue;
    const [id, name, code] = trimmed.split(' ');
    const type = TYPE_CODES[code!];
    if (!type) throw new Error(`registry: unknown type code ${code} for ${name}`);
    out.push({ enterprise, id: Number(id), name: name!, type });
  }
  return out;
}

/** "reverse" + name with its first letter capitalised (RFC 5103 naming, as go-ipfix). */
export function reverseName(name: string): string {
  return `reverse${name[0]!.toUpperCase()}${name.slice(1)}`;
}

/** Enterprise numbers resolved through Antrea's registry. */
export const ANTREA_ENTERPRISES: readonly number[] = [
  Enterprise.Antrea,
  Enterprise.AntreaDocumented,
  Enterprise.AntreaLegacy,
];

export class IeRegistry {
  private readonly byKey = new Map<number, InformationElement>();
  private readonly byName = new Map<string, InformationElement>();

  constructor(elements: Iterable<InformationElement>) {
    for (const element of elements) this.add(element);
  }

  add(element: InformationElement): void {
    this.byKey.set(key(element.enterprise, element.id), element);
    // Names are unique across IANA, reverse and Antrea; the first (canonical) enterprise wins by name.
    if (!this.byName.has(element.name)) this.byName.set(element.name, element);
  }

  /** The element, or undefined when unknown (callers keep unknown fields as hex under "enterprise:id"). */
  lookup(enterprise: number, id: number): InformationElement | undefined {
    return this.byKey.get(key(enterprise, id));
  }

  byElementName(name: string): InformationElement | undefined {
    return this.byName.get(name);
  }
}

function key(enterprise: number, id: number): number {
  // Element ids are 15 bits; enterprise numbers 32 bits: the product stays below 2^53.
  return enterprise * 32768 + id;
}

function buildDefaultElements(): InformationElement[] {
  const iana = parseTable(Enterprise.Iana, IANA);
  const reverse = iana.map((e) => ({ ...e, enterprise: Enterprise.Reverse, name: reverseName(e.name) }));
  const antrea = parseTable(Enterprise.Antrea, ANTREA);
  const aliases = antrea.flatMap((e) =>
    [Enterprise.AntreaDocumented, Enterprise.AntreaLegacy].map((enterprise) => ({ ...e, enterprise })),
  );
  return [...iana, ...reverse, ...antrea, ...aliases];
}

/** The registry every decoder and encoder uses unless given another. */
export const defaultRegistry = new IeRegistry(buildDefaultElements());

/** The name an unknown element is kept under. */
export function unknownElementName(enterprise: number, id: number): string {
  return `${enterprise}:${id}`;
}
