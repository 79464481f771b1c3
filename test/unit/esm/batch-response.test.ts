import { describe, expect, it } from 'vitest';
import { interpretInvokeResult } from '../../../local/esm/batch-response.ts';
import { shardRecords } from './records.ts';

const batch = shardRecords(4);
const seq = (index: number) => batch[index]?.sequenceNumber as string;
const ok = (payload: unknown) => ({ ok: true as const, payload });

describe('interpretInvokeResult with ReportBatchItemFailures', () => {
  it.each([
    ['null', null],
    ['empty string', ''],
    ['empty list', []],
    ['empty object', {}],
    ['empty failures', { batchItemFailures: [] }],
    ['null failures', { batchItemFailures: null }],
    ['wrong top-level key', { failures: [{ itemIdentifier: 'x' }] }],
  ])('treats %s as success (AWS-validated cases)', (_name, payload) => {
    expect(interpretInvokeResult(ok(payload), batch, true)).toEqual({ kind: 'success' });
  });

  it('checkpoints at the lowest failed sequence number, compared as a number not as text', () => {
    const failures = [{ itemIdentifier: seq(3) }, { itemIdentifier: seq(1) }, { itemIdentifier: seq(2) }];
    expect(interpretInvokeResult(ok({ batchItemFailures: failures }), batch, true)).toEqual({
      kind: 'partial',
      failedSequence: BigInt(seq(1)),
    });
  });

  it.each([
    ['an empty identifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a null identifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['a numeric identifier', { batchItemFailures: [{ itemIdentifier: 123 }] }],
    ['a bad key name', { batchItemFailures: [{ id: 'x' }] }],
    ['an identifier not in the batch', { batchItemFailures: [{ itemIdentifier: '42' }] }],
    ['a non-list', { batchItemFailures: 'all' }],
  ])('fails the whole batch on %s', (_name, payload) => {
    expect(interpretInvokeResult(ok(payload), batch, true).kind).toBe('invalid-response');
  });

  it('reports a function error', () => {
    const result = { ok: false as const, errorType: 'TypeError', errorMessage: 'boom' };
    expect(interpretInvokeResult(result, batch, true)).toEqual({
      kind: 'function-error',
      errorType: 'TypeError',
      errorMessage: 'boom',
    });
  });

  it('ignores batchItemFailures when the mapping does not report them', () => {
    const payload = { batchItemFailures: [{ itemIdentifier: seq(0) }] };
    expect(interpretInvokeResult(ok(payload), batch, false)).toEqual({ kind: 'success' });
  });
});
