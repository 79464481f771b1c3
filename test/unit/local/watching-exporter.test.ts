// Local mode learns of the first rows from the exporter's own report, at the moment its insert returns.
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { watchingExporter } from '../../../local/runner/components.ts';

const context = {} as Context;
const noCallback = () => {};

describe('watchingExporter', () => {
  it('passes the report through and calls onRows only for an invocation that inserted rows', async () => {
    const seen: number[] = [];
    const reports = [{ rowsInserted: 0 }, { rowsInserted: 74 }, undefined];
    let call = 0;
    const handler = watchingExporter(
      async () => reports[call++],
      (rows) => seen.push(rows),
    );
    for (const report of reports) expect(await handler({}, context, noCallback)).toBe(report);
    expect(seen).toEqual([74]);
  });

  it('a failed invocation calls nothing and fails as it did', async () => {
    const seen: number[] = [];
    const handler = watchingExporter(
      async () => {
        throw new Error('ClickHouse down');
      },
      (rows) => seen.push(rows),
    );
    await expect(handler({}, context, noCallback)).rejects.toThrow('ClickHouse down');
    expect(seen).toEqual([]);
  });
});
