// The cost model's arithmetic, checked against figures computed by hand (each step is in the comments).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { costBench } from '../../bench/cost.bench.ts';
import type { BenchRow } from '../../bench/types.ts';
import {
  atRestModel,
  atRestReadUnitsPerInvocation,
  DEFAULT_AT_REST,
  renderAtRestTable,
} from '../../cost/at-rest-model.ts';
import {
  type Cluster,
  correlatorUnitsPerFlowMinute,
  correlatorWritesPerFlowMinute,
  costModel,
  dynamodbModeAdvice,
  FALLBACK_ASSUMED,
  FALLBACK_MEASURED,
  FROM_DEPLOYED_SETTING,
  flowLayoutAdvice,
  flowRecordsPerSecond,
  INPUT_NAMES,
  inputsFromRows,
  kinesisMonthly,
  LIST_PRICES,
  lambdaMonthly,
  type MeasuredInputs,
  provisionedShards,
} from '../../cost/model.ts';

const MONTH_SECONDS = 30 * 24 * 3600; // 2,592,000

describe('list prices', () => {
  it('are the reference figures (us-east-1)', () => {
    expect(LIST_PRICES.kinesisPutPayloadUnitsMillion).toBe(0.014);
    expect(LIST_PRICES.dynamodbWriteRequestUnitsMillion).toBe(0.625);
    expect(LIST_PRICES.lambdaArm64GbSecond).toBe(0.0000133334);
    expect(LIST_PRICES.clickhouseScaleMonth).toBe(436.95);
  });
});

describe('flow record rate', () => {
  it('counts inter-Node connections twice, every activeFlowExportTimeout', () => {
    // 100,000 connections x (0.2 intra x 1 + 0.8 inter x 2 = 1.8) / 5 s = 36,000 records/s
    const cluster = { connections: 100_000, interNodeFraction: 0.8, activeFlowExportTimeoutSeconds: 5 };
    expect(flowRecordsPerSecond(cluster as Cluster)).toBeCloseTo(36_000, 6);
    // the reference's W1: same cluster with a 60 s timeout = 3,000 records/s
    expect(flowRecordsPerSecond({ ...cluster, activeFlowExportTimeoutSeconds: 60 } as Cluster)).toBeCloseTo(
      3000,
      6,
    );
  });
});

describe('Kinesis', () => {
  it('provisioned: the reference W1 naive figure (3,000 records/s of 250 B, 1 PUT unit each)', () => {
    // shards: max(3,000/1,000, 750,000 B/1 MB) = 3 / 0.75 target = 4 shards
    expect(provisionedShards(3000, 750_000)).toBe(4);
    // 4 x 720 h x $0.015 = $43.20; 7.776e9 PUT units x $0.014/1e6 = $108.864; total $152.064 (reference: $153)
    const cost = kinesisMonthly('provisioned', 3000 * MONTH_SECONDS, 250, LIST_PRICES);
    expect(cost.usd).toBeCloseTo(152.064, 6);
  });

  it('provisioned: a 30 KB record is 2 PUT units, and the bytes limit binds', () => {
    // 100 records/s x 30,000 B = 3 MB/s -> 3 / 0.75 = 4 shards; 2 units each
    // 4 x 720 x 0.015 = 43.2; 100 x 2,592,000 x 2 = 518.4 M units x 0.014 = 7.2576
    const cost = kinesisMonthly('provisioned', 100 * MONTH_SECONDS, 30_000, LIST_PRICES);
    expect(cost.usd).toBeCloseTo(50.4576, 6);
  });

  it('on-demand rounds every record up to 1 KB, in and out', () => {
    // 1,000 records of 1,500 B bill as 2 KB each: 2,048,000 B = 0.0019073486328125 GiB
    // 720 h x $0.04 = $28.80 + 0.0019073486328125 x ($0.08 + $0.04) = $0.000228881836
    const cost = kinesisMonthly('on-demand', 1000, 1500, LIST_PRICES);
    expect(cost.usd).toBeCloseTo(28.800228881836, 9);
  });
});

describe('Lambda', () => {
  it('bills requests and GB-seconds', () => {
    // 1e6 x 0.5 s x 1 GB = 500,000 GB-s x $0.0000133334 = $6.6667; + 1e6 requests x $0.20/1e6 = $0.20
    const cost = lambdaMonthly(1_000_000, 500, 1024, LIST_PRICES);
    expect(cost.gbSeconds).toBe(500_000);
    expect(cost.usd).toBeCloseTo(6.8667, 6);
  });
});

describe('costModel', () => {
  const cluster: Cluster = {
    nodes: 10,
    connections: 1000,
    interNodeFraction: 0.5,
    activeFlowExportTimeoutSeconds: 5,
    activeFlowRecordTimeoutSeconds: 60,
    commitIntervalSeconds: 8,
    correlatorWindowSeconds: 20,
    kinesisMode: 'provisioned',
    dynamodbMode: 'on-demand',
    dynamodbTargetUtilisation: 0.7,
    flowLayout: 'per-flow',
    retentionDays: 30,
  };
  const measured: MeasuredInputs = {
    flowRecordsPerPutUnit: 200,
    flowRecordsPerKinesisRecord: 200,
    wireBytesPerFlowRecord: 100,
    naiveBytesPerFlowRecord: 600,
    // 4.5 WRU per live flow per minute: 1,000 flows x 4.5 / 60 s = 75 WU/s (0.25 per record at 300/s)
    correlatorWriteUnitsPerFlowMinuteAt5sExport: 4.5,
    correlatorReadUnitsPerFlowMinuteAt5sExport: 0,
    correlatorWriteUnitsPerFlowMinuteAt60sExport: 2,
    correlatorReadUnitsPerFlowMinuteAt60sExport: 1,
    bucketWriteUnitsPerFlowMinuteAt5sExport: 0.6,
    bucketReadUnitsPerFlowMinuteAt5sExport: 1.6,
    bucketWriteUnitsPerFlowMinuteAt60sExport: 0.4,
    bucketReadUnitsPerFlowMinuteAt60sExport: 1,
    correlatorFlowRecordsPerInvocation: 10_000,
    correlatorMsPerInvocation: 500,
    correlatorMemoryMb: 1024,
    naiveWriteUnitsPerFlowRecord: 1,
    naiveMsPerFlowRecord: 5,
    exportReadUnitsPerRow: 0.01,
    exportWriteUnitsPerRow: 0.02,
    exporterMsPerRow: 0.1,
    exporterMemoryMb: 512,
    rowsPerFlowPerInterval: 1,
    clickhouseMaxRowsPerInsert: 3000,
    clickhouseCompressedBytesPerRow: 40,
  };
  // 1,000 x 1.5 / 5 s = 300 records/s; x 2,592,000 s = 777,600,000 records per month
  const report = costModel(cluster, measured, LIST_PRICES);
  const line = (prefix: string) => report.lines.find((l) => l.component.startsWith(prefix))!;

  it('derives the rates', () => {
    expect(report.flowRecordsPerSecond).toBeCloseTo(300, 9);
    expect(report.flowRecordsPerMonth).toBeCloseTo(777_600_000, 3);
    expect(report.rowsPerSecond).toBeCloseTo(1000 / 60, 9); // one row per flow per 60 s
  });

  it('prices Kinesis', () => {
    // Flowline: 1.5 records/s, 30,000 B/s -> 1 shard = 720 x 0.015 = 10.8; 777.6 M / 200 = 3.888 M units
    // x 0.014 = 0.054432 -> 10.854432. Naive: 300 records/s, 180 kB/s -> 0.3 / 0.75 -> 1 shard = 10.8;
    // 777.6 M units x 0.014 = 10.8864 -> 21.6864
    expect(line('Kinesis').flowline).toBeCloseTo(10.854432, 6);
    expect(line('Kinesis').naive).toBeCloseTo(21.6864, 6);
  });

  it('prices the correlator Lambda', () => {
    // Flowline: 777.6 M / 10,000 = 77,760 invocations x 0.5 s x 1 GB = 38,880 GB-s
    //   0.07776 M x $0.20 = 0.015552 + 38,880 x 0.0000133334 = 0.518402592 -> 0.533954592
    // Naive: 777.6 M / 100 = 7.776 M invocations x (100 x 5 ms = 0.5 s) x 1 GB = 3,888,000 GB-s
    //   7.776 x 0.20 = 1.5552 + 3,888,000 x 0.0000133334 = 51.8402592 -> 53.3954592
    expect(line('Lambda correlator').flowline).toBeCloseTo(0.533954592, 8);
    expect(line('Lambda correlator').naive).toBeCloseTo(53.3954592, 6);
  });

  it('prices DynamoDB writes per live flow per minute (Flowline) and per flow record (naive)', () => {
    // Flowline: 43.2 M flow-minutes x 4.5 = 194.4 M WRU x $0.625 = 121.5; naive: 777.6 M WRU x 0.625 = 486
    expect(line('DynamoDB correlator').flowline).toBeCloseTo(121.5, 6);
    expect(line('DynamoDB correlator').naive).toBeCloseTo(486, 6);
  });

  it("scales the correlator's units by the windows a flow's records reach, from the measured point of its regime", () => {
    const at = (activeFlowExportTimeoutSeconds: number) =>
      correlatorUnitsPerFlowMinute({ ...cluster, activeFlowExportTimeoutSeconds }, measured);
    // within the 20 s window every window is reached: the 5 s point as measured
    expect(at(5)).toMatchObject({ point: 5, writes: 3, write: 4.5, read: 0 });
    expect(at(20)).toMatchObject({ point: 5, writes: 3, write: 4.5 });
    // 60 s: the 60 s point as measured; 1 x (1 + 0.5 x (1 - 20/60)) = 4/3 writes
    expect(at(60).point).toBe(60);
    expect(at(60).writes).toBeCloseTo(4 / 3, 12);
    expect(at(60).write).toBeCloseTo(2, 12);
    expect(at(60).read).toBeCloseTo(1, 12);
    // 120 s: 0.5 x (1 + 0.5 x (1 - 1/6)) = 0.7083 writes, scaled from the 60 s point
    expect(at(120).write).toBeCloseTo((2 * (0.5 * (1 + 0.5 * (5 / 6)))) / (4 / 3), 12);
    // a 60 s window: one write a minute instead of three, from the 5 s point measured at the 20 s window
    const wide = correlatorUnitsPerFlowMinute({ ...cluster, correlatorWindowSeconds: 60 }, measured);
    expect(wide).toMatchObject({ point: 5, writes: 1 });
    expect(wide.write).toBeCloseTo(4.5 / 3, 12);
    // the month at 60 s prices the 60 s point: 43.2 M flow-minutes x 2 WRU x 0.625 + 43.2 M x 1 RRU x 0.125
    const sparse = costModel({ ...cluster, activeFlowExportTimeoutSeconds: 60 }, measured, LIST_PRICES);
    const correlator = sparse.lines.find((l) => l.component.startsWith('DynamoDB correlator'))!;
    expect(correlator.flowline).toBeCloseTo(43.2 * 2 * 0.625 + 43.2 * 0.125, 6);
    expect(correlator.flowlineDetail).toContain('measured at 60 s');
  });

  it('prices the bucketed layout from its own measured points, and says what each layout costs', () => {
    const buckets = costModel({ ...cluster, flowLayout: 'buckets' }, measured, LIST_PRICES);
    const correlator = buckets.lines.find((l) => l.component.startsWith('DynamoDB correlator'))!;
    // 43.2 M flow-minutes x 0.6 WRU x $0.625 + 43.2 M x 1.6 RRU x $0.125
    expect(correlator.flowline).toBeCloseTo(43.2 * 0.6 * 0.625 + 43.2 * 1.6 * 0.125, 6);
    expect(correlator.flowlineDetail).toContain('buckets of flows');
    const sparse = correlatorUnitsPerFlowMinute(
      { ...cluster, flowLayout: 'buckets', activeFlowExportTimeoutSeconds: 60 },
      measured,
    );
    expect(sparse).toMatchObject({ point: 60, write: 0.4, read: 1 });
    const layouts = flowLayoutAdvice(cluster, measured, LIST_PRICES);
    expect(layouts['per-flow'].flowline).toBeCloseTo(report.monthly.flowline, 6);
    expect(layouts.buckets.flowline).toBeCloseTo(buckets.monthly.flowline, 6);
    expect(layouts.buckets.ratio).toBeCloseTo(buckets.monthly.naive / buckets.monthly.flowline, 9);
    expect(layouts.buckets.ratio).toBeGreaterThan(layouts['per-flow'].ratio);
  });

  it('prices provisioned DynamoDB at the steady load over the auto scaling target, billed by the hour', () => {
    const provisioned = costModel({ ...cluster, dynamodbMode: 'provisioned' }, measured, LIST_PRICES);
    const correlator = provisioned.lines.find((l) => l.component.startsWith('DynamoDB correlator'))!;
    // 194.4 M WRU / 2,592,000 s = 75 WU/s / 0.7 = 107.14 WCU x 720 h x $0.00065 = 50.143
    expect(correlator.flowline).toBeCloseTo((75 / 0.7) * 720 * 0.00065, 6);
    expect(correlator.component).toBe('DynamoDB correlator writes (provisioned, auto scaling at 70 %)');
    // Export: 0.864 M WRU -> 0.3333 WU/s, 0.432 M RRU -> 0.16667 RU/s, each over 0.7
    const exported = provisioned.lines.find((l) => l.component.startsWith('DynamoDB ticker and exporter'))!;
    expect(exported.flowline).toBeCloseTo(
      ((0.333333 / 0.7) * 0.00065 + (0.1666667 / 0.7) * 0.00013) * 720,
      5,
    );
    const advice = dynamodbModeAdvice(cluster, measured, LIST_PRICES);
    expect(advice.onDemand).toBeCloseTo(report.monthly.flowline, 6);
    expect(advice.provisioned).toBeCloseTo(provisioned.monthly.flowline, 6);
    expect(advice.provisioned).toBeLessThan(advice.onDemand);
  });

  it('prices the exporter and ClickHouse the same for both designs', () => {
    // 16.667 rows/s x 2,592,000 = 43.2 M rows; a stream batch gathers 5 s = 83.33 rows: 518,400
    //   invocations x 8.333 ms at 0.5 GB -> 2,160 GB-s: 0.5184 x 0.20 = 0.10368 + 0.028800144
    expect(line('Lambda exporter').flowline).toBeCloseTo(0.132480144, 8);
    // 0.864 M WRU x 0.625 = 0.54 + 0.432 M RRU x 0.125 = 0.054 -> 0.594
    expect(line('DynamoDB ticker and exporter').flowline).toBeCloseTo(0.594, 6);
    // 16.667 rows/s x 30 d x 86,400 s x 40 B = 1.728e9 B = 0.001728 TB x $25.30 = 0.0437184
    expect(line('ClickHouse Cloud storage').flowline).toBeCloseTo(0.0437184, 8);
    expect(line('ClickHouse Cloud compute').naive).toBe(436.95);
    for (const name of ['Lambda exporter', 'DynamoDB ticker and exporter', 'ClickHouse']) {
      expect(line(name).naive).toBe(line(name).flowline);
    }
  });

  it('totals, per million records and the ratio', () => {
    // 10.854432 + 0.533954592 + 121.5 + 0.132480144 + 0.594 + 436.95 + 0.0437184 = 570.608585136
    // 21.6864 + 53.3954592 + 486 + 0.132480144 + 0.594 + 436.95 + 0.0437184 = 998.802057744
    expect(report.monthly.flowline).toBeCloseTo(570.608585136, 6);
    expect(report.monthly.naive).toBeCloseTo(998.802057744, 6);
    expect(report.perMillionFlowRecords.flowline).toBeCloseTo(570.608585136 / 777.6, 9);
    expect(report.ratio).toBeCloseTo(998.802057744 / 570.608585136, 9);
  });

  it('counts ClickHouse inserts: one per stream batch vs one per row', () => {
    // a 5 s batching window gathers 83.33 rows: 0.2 inserts/s; naive: 16.667/s
    expect(report.clickhouseInsertsPerSecond.flowline).toBeCloseTo(0.2, 9);
    expect(report.clickhouseInsertsPerSecond.naive).toBeCloseTo(1000 / 60, 9);
    // a batch size of 50 rows caps each insert: 16.667 / 50 = 0.333/s
    const capped = costModel(cluster, { ...measured, clickhouseMaxRowsPerInsert: 50 }, LIST_PRICES);
    expect(capped.clickhouseInsertsPerSecond.flowline).toBeCloseTo(1 / 3, 9);
  });

  it('on-demand Kinesis pays the 1 KB rounding per naive record', () => {
    // naive: 777.6 M records x 1 KiB = 796,262,400 KiB = 741.58 GiB x $0.12 = 88.99 + 720 x 0.04 = 28.8
    const onDemand = costModel({ ...cluster, kinesisMode: 'on-demand' }, measured, LIST_PRICES);
    const kinesis = onDemand.lines.find((l) => l.component.startsWith('Kinesis'))!;
    expect(kinesis.naive).toBeCloseTo(28.8 + ((777_600_000 * 1024) / 2 ** 30) * 0.12, 6);
    // Flowline: 3.888 M records of 20,000 B -> 20 KiB each = 77,760,000 KiB = 74.158 GiB x 0.12 + 28.8
    expect(kinesis.flowline).toBeCloseTo(28.8 + ((3_888_000 * 20 * 1024) / 2 ** 30) * 0.12, 6);
  });
});

describe('correlator writes per live flow per minute', () => {
  const writes = (exportSeconds: number, windowSeconds = 20, interNodeFraction = 0.8) =>
    correlatorWritesPerFlowMinute({ exportSeconds, windowSeconds, interNodeFraction });

  it('is one per window when agents export at least once a window', () => {
    expect(writes(5)).toBe(3);
    expect(writes(20)).toBe(3);
    expect(writes(5, 60)).toBe(1);
  });

  it("counts the second Node of an inter-Node flow unless it shares the first one's window", () => {
    expect(writes(60)).toBeCloseTo(1 + 0.8 * (2 / 3), 12);
    expect(writes(60, 20, 0)).toBe(1);
  });

  it('lies between one and two writes per export, falling as exports grow sparser', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 600 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (window, extra, fraction) => {
          const exportSeconds = window + extra;
          const w = writes(exportSeconds, window, fraction);
          expect(w).toBeGreaterThanOrEqual(60 / exportSeconds - 1e-12);
          expect(w).toBeLessThanOrEqual((2 * 60) / exportSeconds + 1e-12);
          expect(w).toBeLessThanOrEqual(60 / window + 1e-12);
          expect(writes(exportSeconds + 1, window, fraction)).toBeLessThanOrEqual(w + 1e-12);
        },
      ),
    );
  });
});

describe('inputs from bench rows', () => {
  it('takes the first row carrying a counter and labels fallbacks', () => {
    const rows: BenchRow[] = [
      { group: 'collector', name: 'pack', value: 1, unit: 'x', counters: { flowRecordsPerPutUnit: 230 } },
      {
        group: 'cost',
        name: 'inputs',
        value: 0,
        unit: 'x',
        counters: {
          flowRecordsPerPutUnit: 170,
          flowRecordsPerPutUnitFallback: FALLBACK_MEASURED,
          naiveMsPerFlowRecord: 6,
          naiveMsPerFlowRecordFallback: FALLBACK_ASSUMED,
        },
      },
    ];
    const { inputs, provenance } = inputsFromRows(rows);
    expect(inputs.flowRecordsPerPutUnit).toBe(230);
    expect(provenance.flowRecordsPerPutUnit).toBe('measured: collector / pack');
    expect(inputs.naiveMsPerFlowRecord).toBe(6);
    expect(provenance.naiveMsPerFlowRecord).toMatch(/^assumption: .*6 ms/);
    expect(inputs.correlatorMsPerInvocation).toBeUndefined();
  });
});

describe('cost bench module', () => {
  it('uses the counters of earlier rows and falls back, labelled, for the rest', async () => {
    const previous: BenchRow[] = [
      {
        group: 'correlator',
        name: 'fold',
        value: 1,
        unit: 'records/s',
        counters: { correlatorWriteUnitsPerFlowMinuteAt5sExport: 3.125 },
      },
    ];
    const rows = await costBench.run({ quick: true, previous });
    const inputsRow = rows.find((r) => r.name.startsWith('cost inputs'))!;
    // 1 counter from the earlier row, the rest measured on the cost module's own workload or assumed (labelled)
    expect(inputsRow.name).toMatch(
      /^cost inputs measured in this run \(1 by the other modules, \d+ by the cost module's own workload/,
    );
    const ownWorkload = INPUT_NAMES.filter(
      (n) => inputsRow.counters![`${n}Fallback`] === FALLBACK_MEASURED,
    ).length;
    expect(inputsRow.value).toBe(1 + ownWorkload);
    expect(inputsRow.counters!.correlatorMemoryMbFallback).toBe(FROM_DEPLOYED_SETTING);
    expect(inputsRow.counters!.correlatorWriteUnitsPerFlowMinuteAt5sExport).toBe(3.125);
    expect(inputsRow.counters!.correlatorWriteUnitsPerFlowMinuteAt5sExportFallback).toBeUndefined();
    // the 60 s export point, measured by the flow-state bench alone, is assumed from the schedule here
    expect(inputsRow.counters!.correlatorWriteUnitsPerFlowMinuteAt60sExportFallback).toBe(FALLBACK_ASSUMED);
    // packing was measured on its own workload through the real packer: one 25 KB unit holds many records
    expect(inputsRow.counters!.flowRecordsPerPutUnitFallback).toBe(FALLBACK_MEASURED);
    expect(inputsRow.counters!.flowRecordsPerPutUnit).toBeGreaterThan(20);
    expect(inputsRow.counters!.naiveMsPerFlowRecordFallback).toBe(FALLBACK_ASSUMED);
    for (const name of INPUT_NAMES) expect(Number.isFinite(inputsRow.counters![name])).toBe(true);
    const perMillion = rows.find((r) => r.name.startsWith('Flowline cost per 1M'))!;
    expect(perMillion.value).toBeLessThan(perMillion.baseline!);
    // The at-rest row: the model's month, against the same with an on-demand stream ($18 more).
    const atRest = rows.find((r) => r.name.startsWith('at-rest month'))!;
    expect(atRest).toMatchObject({ target: 15, better: 'lower', unit: '$ / month' });
    expect(atRest.value).toBeCloseTo(atRestModel().monthly, 9);
    expect(atRest.baseline! - atRest.value).toBeCloseTo(18, 6);
  });
});

describe('the at-rest month (zero flow records)', () => {
  const report = atRestModel(DEFAULT_AT_REST, LIST_PRICES);
  const line = (component: string) => report.lines.find((l) => l.component.startsWith(component));

  it('prices one provisioned shard, not an on-demand stream, by default', () => {
    // 1 shard x 720 h x $0.015 = $10.80; on-demand: 720 x $0.04 = $28.80
    expect(line('Kinesis')).toMatchObject({ component: 'Kinesis (provisioned)' });
    expect(line('Kinesis')?.usd).toBeCloseTo(10.8, 6);
    const onDemand = atRestModel({ ...DEFAULT_AT_REST, kinesisMode: 'on-demand' }, LIST_PRICES);
    expect(onDemand.lines[0]?.usd).toBeCloseTo(28.8, 6);
    expect(onDemand.monthly - report.monthly).toBeCloseTo(18, 6);
  });

  it('runs the ticker one round a minute: cents, not the $57 of 55 s every minute', () => {
    // 43,200 invocations x 0.08 s x 1769/1024 GB = 5,970 GB-s x $0.0000133334 = $0.0796 + 0.0432 M x $0.2
    expect(line('Lambda ticker')?.usd).toBeCloseTo(0.0796 + 0.00864, 3);
    // 2 x 16 empty queries x 0.5 RRU = 16 RRU x 43,200 = 0.6912 M x $0.125
    expect(atRestReadUnitsPerInvocation(16)).toBe(16);
    expect(line('DynamoDB ticker reads')?.usd).toBeCloseTo(0.0864, 6);
    // The load model's figure for a ticker that loops 55 s of every minute, for scale:
    const looping = lambdaMonthly(43_200, 57_000, 1769, LIST_PRICES).usd;
    expect(looping).toBeGreaterThan(56);
  });

  it('charges nothing for ClickHouse compute, the correlator or custom metrics, and says why', () => {
    expect(line('ClickHouse Cloud compute')?.usd).toBe(0);
    expect(line('ClickHouse Cloud compute')?.driver).toMatch(/^ASSUMPTION: automatic idling/);
    expect(line('Lambda correlator')?.usd).toBe(0);
    expect(line('CloudWatch custom metrics')?.usd).toBe(0);
    for (const l of report.lines) expect(l.driver.length).toBeGreaterThan(10);
  });

  it('adds up every line; standing resources at list price, and less within the always-free tier', () => {
    const sum = report.lines.reduce((a, l) => a + l.usd, 0);
    expect(report.monthly).toBeCloseTo(sum, 9);
    // KMS 2 x $1 + 43,200 requests x $0.03/10k; secret $0.40; 14 alarms x $0.10; the dashboard is opt-in
    expect(line('KMS')?.usd).toBeCloseTo(2 + 0.1296, 6);
    expect(line('CloudWatch alarms')?.usd).toBeCloseTo(1.4, 6);
    expect(line('CloudWatch dashboard')?.usd).toBe(0);
    expect(report.monthly - report.monthlyWithinCloudWatchFreeTier).toBeCloseTo(1, 6);
    expect(report.monthly).toBeCloseTo(14.93, 2);
    expect(report.monthly).toBeLessThanOrEqual(15); // issue 21's target
    expect(renderAtRestTable(report)).toContain('| **At-rest month** | **$14.93** |');
  });
});
