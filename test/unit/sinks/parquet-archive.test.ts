// The archive's Parquet encoding reads back to the exported rows, column by column, and the object key
// depends only on the batch (token, export hour), so a replayed batch lands on the same object.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOWLINE_INSERT_COLUMNS } from '../../../clickhouse/columns.ts';
import {
  ARCHIVE_COLUMNS,
  archiveKey,
  decodeParquet,
  encodeParquet,
} from '../../../functions/sinks/parquet-archive.ts';
import { aggregatedFlowArbitrary, exportedRow } from '../../fixtures/exported-rows.ts';

/** A Parquet value back in the row's own form (DateTime seconds, exportedAt text, numbers). */
function rowValueOfParquet(column: string, value: unknown): string | number {
  if (value instanceof Date) {
    if (column === 'exportedAt') return value.toISOString().replace('T', ' ').replace('Z', '');
    return value.getTime() / 1000;
  }
  return typeof value === 'bigint' ? Number(value) : (value as string | number);
}

describe('Parquet archive', () => {
  it('has the insert columns first, then the per-Node counters and proxy SNAT', () => {
    expect(ARCHIVE_COLUMNS.slice(0, FLOWLINE_INSERT_COLUMNS.length).map(([c]) => c)).toEqual([
      ...FLOWLINE_INSERT_COLUMNS,
    ]);
    expect(ARCHIVE_COLUMNS).toHaveLength(FLOWLINE_INSERT_COLUMNS.length + 18);
  });

  it('reads back to the same rows, every column (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(aggregatedFlowArbitrary, { minLength: 1, maxLength: 30 }), async (flows) => {
        const rows = flows.map((f, i) => exportedRow(f, i + 1, 1_800_000_000_123));
        const back = await decodeParquet(await encodeParquet(rows));
        expect(back).toHaveLength(rows.length);
        for (const [i, row] of rows.entries()) {
          for (const [column] of ARCHIVE_COLUMNS) {
            expect(rowValueOfParquet(column, back[i]![column]), column).toEqual(
              (row as Record<string, unknown>)[column],
            );
          }
        }
      }),
      { numRuns: 15 },
    );
  });

  it('names objects by export hour (UTC) and batch token only', () => {
    const row = exportedRow(
      fc.sample(aggregatedFlowArbitrary, 1)[0]!,
      1,
      Date.UTC(2027, 0, 2, 3, 59, 59, 999),
    );
    const key = archiveKey('flows/', { token: 'flowline-1-abc', rows: [row] });
    expect(key).toBe('flows/date=2027-01-02/hour=03/flowline-1-abc.parquet');
    expect(archiveKey('flows/', { token: 'flowline-1-abc', rows: [{ ...row }] })).toBe(key);
  });
});
