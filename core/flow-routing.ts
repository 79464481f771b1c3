// The routing hash of a flow key: what the collector routes a flow's records by (Kinesis shard and lane,
// collector-edge/shard-map.ts and packer.ts) and what the bucketed flow store groups flows by
// (functions/flow-store/buckets.ts). One definition, so a bucket's flows always share a lane: the collector
// computes it from a record's fields without building the key text, the store from the key text. Pure.
import type { FiveTuple } from './flow-key.ts';
import { parseFlowKey } from './flow-key.ts';

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a of `text` from `h`, then the separator. */
export function fnvText(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0x7c, 0x01000193); // '|' between fields, as in the flow key text
}

export function fnvNumber(h: number, value: number): number {
  return Math.imul(h ^ (value >>> 0), 0x01000193);
}

/** The routing hash's first step, on the flow key's source address (cacheable per address). */
export function routingSourceHash(sourceAddress: string): number {
  return fnvText(0x811c9dc5, sourceAddress);
}

/** The routing hash from `h`, the hash of the two addresses (fnvText(routingSourceHash(source), destination)). */
export function routingHashAfter(
  h: number,
  protocol: number,
  sourcePort: number,
  destinationPort: number,
): number {
  h = fnvNumber(h, protocol);
  h = fnvNumber(h, sourcePort);
  h = fnvNumber(h, destinationPort);
  return mix32(h);
}

/** The uint32 routing hash of a flow's five-tuple. */
export function routingHashOfTuple(tuple: FiveTuple): number {
  const pair = fnvText(routingSourceHash(tuple.sourceIP), tuple.destinationIP);
  return routingHashAfter(
    pair,
    tuple.protocolIdentifier,
    tuple.sourceTransportPort,
    tuple.destinationTransportPort,
  );
}

/** The bucket (0..buckets-1) of a flow key; a key that does not parse gets bucket 0. */
export function flowBucketOf(flowKey: string, buckets: number): number {
  const tuple = parseFlowKey(flowKey);
  return tuple === undefined ? 0 : routingHashOfTuple(tuple) % buckets;
}

/**
 * The routing hash the collector sends a bucket's flows with: every flow of the bucket gets the same one, so
 * they share a Kinesis shard and lane (one concurrent correlator batch), spread evenly over buckets.
 */
export function bucketRoutingHash(bucket: number): number {
  return mix32(Math.imul(bucket + 1, 0x9e3779b1));
}
