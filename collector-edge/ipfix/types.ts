// Shared IPFIX types: abstract data types (RFC 7011 6.1 / RFC 7012), information elements, decoded values
// and the typed decode errors. No I/O here.

/** IANA abstract data types the decoder understands; anything else decodes as octetArray (hex). */
export type IeType =
  | 'octetArray'
  | 'unsigned8'
  | 'unsigned16'
  | 'unsigned32'
  | 'unsigned64'
  | 'signed8'
  | 'signed16'
  | 'signed32'
  | 'signed64'
  | 'float32'
  | 'float64'
  | 'boolean'
  | 'macAddress'
  | 'string'
  | 'dateTimeSeconds'
  | 'dateTimeMilliseconds'
  | 'dateTimeMicroseconds'
  | 'dateTimeNanoseconds'
  | 'ipv4Address'
  | 'ipv6Address'
  | 'basicList'
  | 'subTemplateList'
  | 'subTemplateMultiList';

export interface InformationElement {
  enterprise: number;
  id: number;
  name: string;
  type: IeType;
}

/** Private enterprise numbers that matter here. */
export const Enterprise = {
  Iana: 0,
  /** RFC 5103 reverse information elements. */
  Reverse: 29305,
  /** Antrea as sent by go-ipfix and seen in real traffic. */
  Antrea: 56506,
  /** Antrea's number in its public documentation. */
  AntreaDocumented: 56505,
  /** Antrea before go-ipfix v0.2.3. */
  AntreaLegacy: 55829,
} as const;

/** The length a template gives a variable-length field (RFC 7011 7). */
export const VARIABLE_LENGTH = 0xffff;

/**
 * A decoded field value. Integers are numbers up to 2^53 and bigints above; addresses are canonical text;
 * octetArray, unknown IEs and lists are lower-case hex; dateTimeSeconds are seconds, dateTimeMilliseconds
 * milliseconds, dateTimeMicroseconds microseconds (number) and dateTimeNanoseconds nanoseconds (bigint),
 * all since the Unix epoch. Booleans are true/false (1/2 on the wire); any other byte stays a number.
 */
export type IpfixValue = number | bigint | string | boolean;

/** One decoded data record: IE name -> value; unknown IEs under "enterprise:id". */
export type IpfixRecord = Record<string, IpfixValue>;

/** Why a message, set or record could not be (fully) decoded. */
export const DecodeErrorReason = {
  /** Fewer than 16 bytes: no complete message header. */
  MessageHeaderTruncated: 'messageHeaderTruncated',
  /** Version is not 10 (NetFlow v9, v5, garbage). */
  UnsupportedVersion: 'unsupportedVersion',
  /** Header length below 16. */
  MessageLengthInvalid: 'messageLengthInvalid',
  /** Header length larger than the bytes received; the bytes present are decoded as far as possible. */
  MessageTruncated: 'messageTruncated',
  /** Bytes after the header's length (ignored). */
  TrailingBytes: 'trailingBytes',
  /** Fewer than 4 bytes left for a set header. */
  SetHeaderTruncated: 'setHeaderTruncated',
  /** Set length below 4 (a zero-length set): the rest of the message cannot be delimited. */
  SetLengthInvalid: 'setLengthInvalid',
  /** Set length runs past the end of the message. */
  SetLengthOverrun: 'setLengthOverrun',
  /** Set id 0, 1 or 4..255. */
  SetIdReserved: 'setIdReserved',
  /** Template record header or field specifiers run past the set ("field count does not fit"). */
  TemplateRecordTruncated: 'templateRecordTruncated',
  /** Template id below 256 (other than a withdraw-all). */
  TemplateIdInvalid: 'templateIdInvalid',
  /** A field specifier with length 0, or a template of more than 512 fields. */
  TemplateFieldInvalid: 'templateFieldInvalid',
  /** Options template with scope field count 0 or above the field count. */
  OptionsTemplateScopeInvalid: 'optionsTemplateScopeInvalid',
  /** A data record (usually a variable-length field) runs past the end of its set. */
  RecordOverrun: 'recordOverrun',
  /** A data set whose template never arrived in time (or the holding area was full): dropped. */
  TemplateMissing: 'templateMissing',
  /** Raw stream or TCP stream: bytes skipped to find the next message header. */
  StreamResync: 'streamResync',
  /** Capture file problems (pcap/pcapng/link/IP/TCP), reported by the readers. */
  CaptureMalformed: 'captureMalformed',
} as const;
export type DecodeErrorReason = (typeof DecodeErrorReason)[keyof typeof DecodeErrorReason];

export interface DecodeError {
  reason: DecodeErrorReason;
  /** Byte offset within the message (or stream / file for reader errors). */
  offset: number;
  detail: string;
  sessionId?: string;
  observationDomainId?: number;
  setId?: number;
  templateId?: number;
  /** The caller's tag of the message the error belongs to (see DecodeOptions.tag). */
  tag?: unknown;
}
