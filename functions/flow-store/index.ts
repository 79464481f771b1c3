// The flow store: one DynamoDB item per flow key, shared by the correlator (writes records in) and the
// flusher (exports due flows). This comment is the item design both follow. The pure part (the state, its
// export schedule and the ports the functions depend on) is core/flow-state/, with no AWS import; this
// folder is its DynamoDB adapter (item encoding, conditional writes, due index, manifests).
//
// ITEM (table FLOWS, env TABLE_NAME)
//   pk            S    flow key "src|dst|proto|sport|dport" (core/flow-key.ts). Partition key, no sort key.
//   v             N    optimistic version: every write sets v = old v + 1 under the condition `v = :old`
//                      (or `attribute_not_exists(pk)` when the writer read no item). Correlator and flusher
//                      both follow it, so no write is ever lost between concurrent invocations.
//   rec           B    the merged FlowRecord (AggregatedFlow.record), encoded with the Kinesis wire format
//                      v1 (core/wire.ts, one record): compact (string table) and versioned by its header;
//                      from 256 bytes on, raw-deflated behind a 'Z' byte when that is smaller (marshal.ts
//                      recordAttributeOf), so long names and Pod labels keep the item under 1 KB.
//   agg           L<N> everything else of the state, a list of numbers in the fixed order of AGG_LAYOUT_V2
//                      (marshal.ts): per-Node counters, per-Node flowEndSeconds, throughputs, flags, expiry
//                      times, lifetime, per-Node marks of counted totals, the Nodes' lead. A list of
//                      numbers, not a map, because attribute names count towards the item size and 1 write
//                      unit = 1 KB. Layout 1 (per-Node watermarks) is still read.
//   updated       BOOL Antrea HEAD's updatedSinceLastExport: a record arrived since the last export.
//   exportSeq     N    exports done so far for this pk (never reset, also not by a new lifetime); the
//                      ClickHouse dedup token is exportDedupToken(state) = pk#createdAtMs#exportSeq.
//   dueShard      S    GSI partition key, "due#<0..N-1>" = FNV-1a(pk) mod DUE_SHARD_COUNT. Present only
//                      while the flow is open (sparse index: closed flows leave it).
//   nextExportAt  N    GSI sort key, epoch ms: when the flusher must look at the flow next (see SCHEDULE).
//   expiresAt     N    TTL attribute, epoch seconds = max(last write, nextExportAt) + FLOW_TTL_SECONDS.
//                      Hygiene only: DynamoDB deletes lazily (up to ~2 days late). Logic treats an item whose
//                      expiresAt < now as absent (isExpired()), never relying on the deletion.
// Typical size 450-850 bytes, also with long names and Pod labels => 1 write unit per write
// (ReturnConsumedCapacity is measured by the correlator; bench --only flow-state sizes a long-named item).
//
// GSI DUE_INDEX_NAME "byDue": partition dueShard, sort nextExportAt, projection INCLUDE [exportSeq] (in effect
// KEYS_ONLY). The flusher queries every shard 0..N-1 with `dueShard = :s AND nextExportAt <= :now`, then
// reads the items it got (BatchGetItem, ConsistentRead) and writes each one back conditionally on `v`. The
// index is written only when dueShard/nextExportAt/exportSeq change: at creation, when a waiting half
// becomes ready, and at each export -- never on an ordinary correlator update, so it costs the correlator
// (almost) nothing. Sharding spreads those writes: N >= 2 x peak index writes/s / 1000 (default 16).
//
// STATE MACHINE (times in epoch ms; timeouts from ACTIVE/INACTIVE_TIMEOUT_SECONDS, Antrea HEAD semantics)
//   absent / expired / closed --record--> open   (correlator; Antrea addOrUpdateRecordInMap, new entry)
//       readyToSend = !correlationRequired; activeExpireAt = ready ? now : now + active;
//       inactiveExpireAt = now + inactive; createdAt = now; exportSeq, Node marks and lead carried over from
//       a closed item, so a late record of the previous lifetime adds only what was not counted.
//   open --record--> open                        (correlator; Antrea update: correlate/aggregate)
//       inactiveExpireAt = now + inactive; activeExpireAt unchanged, except = now when the record made the
//       flow ready (both halves seen); updated = true.
//   open, due (nextExportAt <= now)               (flusher; processDue() in schedule.ts, Antrea
//                                                  ForAllExpiredFlowRecordsDo for one item)
//       waiting half (not ready, never exported) and now >= createdAt + INCOMPLETE_AFTER (3 x active):
//           export flagged incomplete (Antrea would delete it silently), count it; then as a ready flow.
//       ready (or exported incomplete): if updated -> export a row, then reset deltas and throughputs,
//           updated = false, exportSeq += 1; then if inactiveExpireAt <= now -> closed (REMOVE dueShard);
//           else if activeExpireAt <= now -> activeExpireAt = now + active.
//   nextExportAt = closed ? absent : waiting half not yet exported ? createdAt + INCOMPLETE_AFTER
//                                   : min(activeExpireAt, inactiveExpireAt)                 (nextExportAtOf)
//   "now" for a record is its collector receive time (FlowRecord.receivedAtMs, Antrea's arrival time at
//   the aggregator), so replays and pipeline delays do not move expiry times; the flusher uses its clock.
//
// IDEMPOTENCY AND ORDER (correlator; functions/correlator/cumulative.ts, docs/exactly-once.md)
//   Counters come from the agents' cumulative totals, not from adding deltas. Per reporting Node (source /
//   destination side) the item keeps a NodeMark: the connection (flowStartSeconds), per counter the
//   interval [low, high] of that Node's cumulative total already counted, and the newest export position
//   (exportTime, sequenceNumber) applied. A record adds only the part of (total - delta, total] not yet
//   counted, plus any gap up to it (records lost upstream), so the sum is the same in any order: a replay
//   (the same position again: DuplicateRecords) or an older record already covered by a newer total
//   (CoveredRecords) adds nothing and writes nothing; a late record with counts not yet counted adds them
//   (LateAppliedRecords) without touching the newer record's end time, reason or TCP state. The common
//   deltas grow with the larger of the two Nodes' running sums (lead = source minus destination). A record
//   of an earlier connection on a reused 5-tuple that arrives after the Node's newer connection started is
//   dropped and counted (StaleConnectionRecords, alarm). Tests: test/unit/correlator/exactly-once.property.

export * from '../../core/flow-state/schedule.ts';
export * from '../../core/flow-state/state.ts';
export * from './config.ts';
export * from './marshal.ts';
export * from './schema.ts';
export * from './store.ts';
