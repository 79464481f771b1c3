// How Lambda reads a stream function's result (reference §2.3, AWS ReportBatchItemFailures contract).
import type { ShardRecord } from './shard-record.ts';

export type BatchOutcome =
  | { readonly kind: 'success' }
  /** Checkpoint before `failedSequence`: it and every later record of the batch are retried. */
  | { readonly kind: 'partial'; readonly failedSequence: bigint }
  /** The response named identifiers Lambda cannot use: the whole batch counts as failed. */
  | { readonly kind: 'invalid-response'; readonly reason: string }
  /** The function threw, timed out or could not run. */
  | { readonly kind: 'function-error'; readonly errorType: string; readonly errorMessage: string };

export type InvokeResult =
  | { readonly ok: true; readonly payload: unknown }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string };

/**
 * Success: a null, empty or non-object payload, or `batchItemFailures` missing, null or empty.
 * Partial: every itemIdentifier is a sequence number of this batch; checkpoint at the lowest.
 * Anything else in `batchItemFailures` (empty, null, non-string, unknown identifier, bad key) fails the batch.
 * Without ReportBatchItemFailures the payload is ignored and only a function error fails the batch.
 */
export function interpretInvokeResult(
  result: InvokeResult,
  batch: readonly ShardRecord[],
  reportBatchItemFailures: boolean,
): BatchOutcome {
  if (!result.ok) {
    return { kind: 'function-error', errorType: result.errorType, errorMessage: result.errorMessage };
  }
  if (!reportBatchItemFailures) return { kind: 'success' };
  const payload = result.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { kind: 'success' };
  const failures = (payload as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) {
    return { kind: 'invalid-response', reason: 'batchItemFailures is not a list' };
  }
  if (failures.length === 0) return { kind: 'success' };
  const inBatch = new Set(batch.map((record) => record.sequenceNumber));
  let lowest: bigint | undefined;
  for (const failure of failures) {
    const identifier =
      failure !== null && typeof failure === 'object'
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof identifier !== 'string' || identifier === '') {
      return { kind: 'invalid-response', reason: `itemIdentifier ${JSON.stringify(identifier ?? null)}` };
    }
    if (!inBatch.has(identifier)) {
      return { kind: 'invalid-response', reason: `itemIdentifier ${identifier} is not in the batch` };
    }
    const sequence = BigInt(identifier);
    if (lowest === undefined || sequence < lowest) lowest = sequence;
  }
  return { kind: 'partial', failedSequence: lowest as bigint };
}
