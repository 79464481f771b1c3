// The flow store: one DynamoDB item per flow key, written by the correlator (records in, export periods
// closed) and the ticker (periods of flows no record reaches), read by the exporter through the table's
// stream. This comment is the item design they follow. With FLOW_LAYOUT=buckets (layout.ts) the same
// states live in bucket items of about 32 flows and in names items instead (buckets.ts, bucket-entries.ts);
// the state machine, the idempotency and the export below are the same in both layouts. The pure part (the state, its export schedule, the
// ports) is core/flow-state/, with no AWS import; this folder is its DynamoDB adapter (item encoding,
// closed rows, conditional writes, due index, the sinks' outbox).
//
// ITEM (table FLOWS, env TABLE_NAME; stream NEW_IMAGE)
//   pk            S    flow key "src|dst|proto|sport|dport" (core/flow-key.ts). Partition key, no sort key.
//   v             N    optimistic version: every write sets v = old v + 1 under the condition `v = :old`
//                      (or `attribute_not_exists(pk)` when the writer read no item). Correlator and ticker
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
//   exportSeq     N    exports done so far for this pk (never reset, also not by a new lifetime); a row's
//                      ClickHouse dedup token is pk#createdAtMs#exportSeq.
//   rows          B    the rows THIS write closed (closed-rows.ts: full rows, raw-deflated with the item's
//                      own rec and agg as the preset dictionary, ~60-90 B a row); absent when it closed none.
//                      The next write replaces them: the stream carries each write's image, rows included,
//                      to the exporter once.
//   dueShard      S    GSI partition key, "due#<0..N-1>" = FNV-1a(pk) mod DUE_SHARD_COUNT. Present only
//                      while the flow is open (sparse index: closed flows leave it).
//   nextExportAt  N    GSI sort key, epoch ms: when the ticker must look at the flow at the latest (LAZY
//                      KEY below). Not the exact due time of a live flow.
//   expiresAt     N    TTL attribute, epoch seconds = max(last write, next due time) + FLOW_TTL_SECONDS.
//                      Hygiene only: DynamoDB deletes lazily (up to ~2 days late). Logic treats an item whose
//                      expiresAt < now as absent (isExpired()), never relying on the deletion.
// Typical size 640-890 bytes, with a closed row, long names and Pod labels included => 1 write unit.
//
// GSI DUE_INDEX_NAME "byDueAt": partition dueShard, sort nextExportAt, KEYS_ONLY. The index is written only
// when its key moves. The ticker queries every shard it owns with `dueShard = :s AND nextExportAt <= :now`,
// reads those items (BatchGetItem, eventually consistent) and writes each back conditionally on `v`.
// LAZY KEY (core/flow-state/advance.ts indexKeyOf): a live flow's key is its exact next due time plus a slack
// (INDEX_SLACK_SECONDS, 20 min), kept by the correlator's writes until it is within INDEX_MARGIN_SECONDS
// (2 min) of their time: one index move (2 write units) per flow per 18 minutes instead of one per export.
// A flow that stops receiving records is found by the ticker at most the slack after it fell due: the last
// row of a flow that goes idle without END_OF_FLOW is up to 20 minutes late. Waiting halves, ended flows
// and flows the ticker writes get their exact due time.
//
// STATE MACHINE (times in epoch ms; timeouts from ACTIVE/INACTIVE_TIMEOUT_SECONDS, Antrea HEAD semantics)
//   absent / expired / closed --record--> open   (Antrea addOrUpdateRecordInMap, new entry)
//       readyToSend = !correlationRequired; activeExpireAt = ready ? now : now + active;
//       inactiveExpireAt = now + inactive; createdAt = now; exportSeq, Node marks and lead carried over from
//       a closed item, so a late record of the previous lifetime adds only what was not counted.
//   open --record--> open                        (Antrea update: correlate/aggregate)
//       inactiveExpireAt = now + inactive; activeExpireAt unchanged, except = now when the record made the
//       flow ready (both halves seen); updated = true.
//   open, due at t (processDue() in schedule.ts: Antrea ForAllExpiredFlowRecordsDo for one item, applied AT
//   t, whoever applies it: the correlator before each record for every t <= the record's arrival and after
//   the batch's last record, the ticker for every t <= its clock)
//       waiting half (not ready, never exported) and t >= createdAt + INCOMPLETE_AFTER (3 x active):
//           export flagged incomplete (Antrea would delete it silently); then as a ready flow.
//       ready (or exported incomplete): if updated -> export a row, then reset deltas and throughputs,
//           updated = false, exportSeq += 1; then if inactiveExpireAt <= t -> closed (REMOVE dueShard);
//           else if activeExpireAt <= t -> activeExpireAt = t + active (on Antrea's grid).
//   A ready new flow is due at once: the write that creates it exports its first row.
//   "now" for a record is its collector receive time (FlowRecord.receivedAtMs, Antrea's arrival time at
//   the aggregator), so replays and pipeline delays do not move expiry times; the ticker uses its clock.
//
// IDEMPOTENCY AND ORDER (correlator; functions/correlator/cumulative.ts, docs/exactly-once.md)
//   Counters come from the agents' cumulative totals, not from adding deltas. Per reporting Node (source /
//   destination side) the item keeps a NodeMark: the connection (flowStartSeconds), per counter the
//   interval [low, high] of that Node's cumulative total already counted, and the newest export position
//   (exportTime, sequenceNumber) applied. A record adds only the part of (total - delta, total] not yet
//   counted, plus any gap up to it (records lost upstream), so the sum is the same in any order: a replay
//   (the same position again: DuplicateRecords) or an older record already covered by a newer total
//   (CoveredRecords) adds nothing and writes nothing; a late record with counts not yet counted adds them
//   (LateAppliedRecords) to the current period without touching the newer record's end time, reason or TCP
//   state. The common deltas grow with the larger of the two Nodes' running sums (lead = source minus
//   destination). A record of an earlier connection on a reused 5-tuple that arrives after the Node's newer
//   connection started is dropped and counted (StaleConnectionRecords, alarm).
//   Tests: test/unit/exporter/stream-exactly-once.property.test.ts, test/integration/correlator.test.ts.
//
// EXPORT (functions/exporter/export-batch.ts): the exporter reads the stream, decodes each image's rows and
// inserts a batch's rows with one deduplication token; its intent per batch (pk "exporter#intent#<eventID>")
// makes a retried batch insert the same rows with the same token. Items that are not flows share the table:
// the exporter's intents and the sinks' outbox (pk "flusher#outbox#..."); a flow key always holds '|'.

export * from '../../core/flow-state/schedule.ts';
export * from '../../core/flow-state/state.ts';
export * from './config.ts';
export * from './marshal.ts';
export * from './schema.ts';
export * from './store.ts';
