/**
 * IPFIX (RFC 7011) decoding library of the collector edge. Layers, as goflow2: readers (bytes ->
 * messages), the decoder (messages -> records, with the template cache), the normaliser
 * (collector-edge/normalise.ts: records -> FlowRecord).
 *
 * Decoding (never throws on input; every problem is a typed, counted DecodeError):
 *
 *   const decoder = createIpfixDecoder({ clock?, udpTemplateLifetimeMs?, maxHeldSets?, maxHoldMs?,
 *     templateBudget?: { maxTemplates?, maxBytes?, compileFieldsPerSecond? }, onTemplateEvicted? });
 *   const session = { id: 'udp|10.0.0.5:40000|10.0.0.9:4739', exporterAddress: '10.0.0.5', transport: 'udp' };
 *   const result = decoder.decodeMessage(datagram, session, { receivedAtMs?, tag? });
 *   for (const set of result.dataSets)          // set: templateId, observationDomainId, exportTime,
 *     for (const record of set.records) ...     //   sequenceNumber, firstRecordIndex, options, delayed
 *   result.errors                               // DecodeError { reason, offset, detail, ... }
 *   decoder.stats(); decoder.sequenceStats();   // counters, per-reason error counts, lost/reordered
 *   decoder.expireHeld(); decoder.closeSession(id); decoder.dropAllHeld();
 *
 * Records are plain objects keyed by IE name (reverse IEs `reverseXxx`, unknown IEs "enterprise:id" with
 * a hex value); integers are numbers up to 2^53 and bigints above; addresses are canonical text.
 * Templates are kept per (session id, observation domain, template id) under one budget for all sessions
 * (template-store.ts: count, estimated bytes, least recently used eviction, compiled on first use within a
 * compile rate); UDP templates expire after udpTemplateLifetimeMs; data sets that arrive before their
 * template (or its compile budget) are held (holding-area.ts: bounded count, bytes and time) and returned
 * with `delayed: true` from the decodeMessage call that brings the template (or a later one). Parsing of
 * headers, sets and template records: message-parser.ts.
 *
 * TCP / raw streams: `new IpfixStreamFramer()`, `framer.push(chunk) -> { messages, errors }`, then
 * decodeMessage for each message. Capture files: readCaptureFile / detectFormat (readers/).
 *
 * Encoding (simulator, tests, benchmarks): `new IpfixEncoder({ observationDomainId })`,
 * `defineTemplate(id, [field('sourceIPv4Address'), field('sourcePodName'), ...])`,
 * `templateMessage(exportTime)`, `dataMessages(id, records, exportTime)`; or `encodeMessage(header, sets)`.
 */
export {
  type CompiledTemplate,
  compileTemplate,
  type FieldSpecifier,
  generateDecoderSource,
  resolveFields,
  type TemplateField,
} from './compile.ts';
export {
  createIpfixDecoder,
  type DecodedDataSet,
  type DecodeOptions,
  type DecodeResult,
  type DecoderStats,
  type IpfixDecoder,
  type IpfixDecoderOptions,
  type MessageHeader,
  type SequenceStats,
  type TemplateBudget,
  type TemplateInfo,
  type TransportSession,
} from './decoder.ts';
export {
  type EncodableValue,
  type EncoderField,
  type EncoderTemplate,
  encodeMessage,
  encodeValue,
  field,
  IpfixEncoder,
  type MessageOptions,
  type SetSpec,
} from './encoder.ts';
export { type FramedMessage, type FramerOutput, IpfixStreamFramer } from './framer.ts';
export {
  ANTREA_ENTERPRISES,
  defaultRegistry,
  IeRegistry,
  reverseName,
  unknownElementName,
} from './registry.ts';
export {
  type DecodeError,
  DecodeErrorReason,
  Enterprise,
  type IeType,
  type InformationElement,
  type IpfixRecord,
  type IpfixValue,
  VARIABLE_LENGTH,
} from './types.ts';
