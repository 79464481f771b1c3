// The archive in Antrea's S3 uploader format: peer-cases X-2's lines exactly (IPv4 and IPv6), the object
// body (gzip or not) and the object names (Antrea's shape, fixed per batch token).
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildFlowRow } from '../../../functions/exporter/rows.ts';
import { EnvConfigError } from '../../../functions/flow-store/config.ts';
import {
  ANTREA_CSV_FIELD_COUNT,
  antreaCsvKey,
  antreaCsvLine,
  encodeAntreaCsv,
} from '../../../functions/sinks/antrea-csv.ts';
import { sinksConfigFromEnv } from '../../../functions/sinks/config.ts';
import { type ExportedRow, exportedRowOf } from '../../../functions/sinks/exported-row.ts';
import { antreaTestFlow } from '../../fixtures/antrea-test-flow.ts';

const UUID = '7c8a2b1e-5d4f-4e3a-9b2c-1d0e9f8a7b6c';
const EXPORTED_AT_MS = 1_637_707_020_456;
const NOW = '1637707020';

function rowOf(isIPv4: boolean, overrides = {}): ExportedRow {
  const flow = antreaTestFlow(isIPv4, overrides);
  return exportedRowOf(
    flow,
    buildFlowRow(flow, { clusterUUID: UUID, exportSeq: 1, exportedAtMs: EXPORTED_AT_MS }),
  );
}

// peer-cases X-2 (s3uploader_test.go), <uuid> and <now> filled in.
const X2_IPV4 = `1637706961,1637706973,1637706974,1637706975,3,10.10.0.79,10.10.0.80,44752,5201,6,823188,30472817041,241333,8982624938,471111,24500996,136211,7083284,perftest-a,antrea-test,k8s-node-control-plane,perftest-b,antrea-test-b,k8s-node-control-plane-b,10.10.1.10,10.10.2.10,5202,perftest,test-flow-aggregator-networkpolicy-ingress-allow,antrea-test-ns,test-flow-aggregator-networkpolicy-rule,2,1,test-flow-aggregator-networkpolicy-egress-allow,antrea-test-ns-e,test-flow-aggregator-networkpolicy-rule-e,1,3,TIME_WAIT,2,'{"antrea-e2e":"perftest-a","app":"iperf"}','{"antrea-e2e":"perftest-b","app":"iperf"}',15902813472,12381344,15902813473,15902813474,12381345,12381346,${UUID},${NOW},test-egress,172.18.0.1,test-egress-node`;
const X2_IPV6 = `1637706961,1637706973,1637706974,1637706975,3,2001:0:3238:dfe1:63::fefb,2001:0:3238:dfe1:63::fefc,44752,5201,6,823188,30472817041,241333,8982624938,471111,24500996,136211,7083284,perftest-a,antrea-test,k8s-node-control-plane,perftest-b,antrea-test-b,k8s-node-control-plane-b,2001:0:3238:dfe1:64::a,2001:0:3238:dfe1:65::a,5202,perftest,test-flow-aggregator-networkpolicy-ingress-allow,antrea-test-ns,test-flow-aggregator-networkpolicy-rule,2,1,test-flow-aggregator-networkpolicy-egress-allow,antrea-test-ns-e,test-flow-aggregator-networkpolicy-rule-e,1,3,TIME_WAIT,2,'{"antrea-e2e":"perftest-a","app":"iperf"}','{"antrea-e2e":"perftest-b","app":"iperf"}',15902813472,12381344,15902813473,15902813474,12381345,12381346,${UUID},${NOW},test-egress,2001:0:3238:dfe1::ac12:1,test-egress-node`;

describe("Antrea's S3 uploader CSV", () => {
  it('X-2: the IPv4 and IPv6 lines, field for field; the write-time column is the export time', () => {
    expect(antreaCsvLine(rowOf(true))).toBe(X2_IPV4);
    expect(antreaCsvLine(rowOf(false))).toBe(X2_IPV6);
    expect(ANTREA_CSV_FIELD_COUNT).toBe(53);
  });

  it("labels Antrea has none for are '' (single quotes around nothing); unset addresses empty", () => {
    const fields = antreaCsvLine(
      rowOf(true, { sourcePodLabels: '', destinationPodLabels: '', destinationClusterIP: '', egressIP: '' }),
    ).split(',');
    expect(fields[40]).toBe("''");
    expect(fields[41]).toBe("''");
    expect(fields[24]).toBe('');
    expect(fields.at(-2)).toBe('');
  });

  it('a line break an exporter put in a name cannot start a forged line', () => {
    const hostile = rowOf(true, { sourcePodName: 'a\n1,2,3\r\nb' });
    const text = encodeAntreaCsv([hostile, rowOf(false)], false).toString('utf8');
    expect(text.split('\n')).toHaveLength(3); // two lines and the final newline
    expect(antreaCsvLine(hostile).split(',')[18]).toBe('a 1');
  });

  it('one line per row, each ending in a newline, gzipped unless asked not to', () => {
    const rows = [rowOf(true), rowOf(false)];
    const plain = `${X2_IPV4}\n${X2_IPV6}\n`;
    expect(encodeAntreaCsv(rows, false).toString('utf8')).toBe(plain);
    expect(gunzipSync(encodeAntreaCsv(rows, true)).toString('utf8')).toBe(plain);
  });

  it("object names have Antrea's shape, fixed by the batch token", () => {
    const batch = (token: string) => ({ token, rows: [rowOf(true)] });
    const key = antreaCsvKey('flows/', batch('flowline-2-abc'), true);
    expect(key).toMatch(/^flows\/records-[a-z0-9]{12}\.csv\.gz$/);
    expect(antreaCsvKey('flows/', batch('flowline-2-abc'), true)).toBe(key);
    expect(antreaCsvKey('flows/', batch('flowline-2-abd'), true)).not.toBe(key);
    expect(antreaCsvKey('', batch('flowline-2-abc'), false)).toMatch(/^records-[a-z0-9]{12}\.csv$/);
  });
});

describe('sinksConfigFromEnv: ARCHIVE_FORMAT, ARCHIVE_GZIP', () => {
  const BUCKET = { ARCHIVE_BUCKET: 'b' };
  it('Parquet by default; csv gzipped unless ARCHIVE_GZIP=false', () => {
    expect(sinksConfigFromEnv(BUCKET).archive).toMatchObject({ format: 'parquet', gzip: true });
    expect(sinksConfigFromEnv({ ...BUCKET, ARCHIVE_FORMAT: 'CSV' }).archive).toMatchObject({
      format: 'csv',
      gzip: true,
    });
    expect(
      sinksConfigFromEnv({ ...BUCKET, ARCHIVE_FORMAT: 'csv', ARCHIVE_GZIP: 'false' }).archive,
    ).toMatchObject({ format: 'csv', gzip: false });
  });

  it.each([
    [{ ARCHIVE_FORMAT: 'orc' }, /ARCHIVE_FORMAT=orc: expected parquet or csv/],
    [{ ARCHIVE_GZIP: 'yes' }, /ARCHIVE_GZIP=yes: expected true or false/],
  ])('refuses %j', (env, message) => {
    expect(() => sinksConfigFromEnv({ ...BUCKET, ...env })).toThrow(EnvConfigError);
    expect(() => sinksConfigFromEnv({ ...BUCKET, ...env })).toThrow(message);
  });
});
