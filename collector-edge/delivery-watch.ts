// Whether deliveries to Kinesis have stalled: records wait and nothing has been acknowledged for longer
// than the threshold (a missing stream, lost credentials, a network partition). /readyz turns unready and
// flowline_kinesis_delivery_stalled says why; the spool keeps everything meanwhile.
import type { KinesisSink } from './producer.ts';

export class DeliveryWatch {
  private lastProgressMs: number;

  constructor(
    private readonly stallMs: number,
    nowMs: number,
  ) {
    this.lastProgressMs = nowMs;
  }

  /** Kinesis acknowledged at least one record. */
  delivered(nowMs: number): void {
    this.lastProgressMs = nowMs;
  }

  /** How long `pending` records have waited without any delivery (0 when nothing waits). */
  waitingMs(pending: number, nowMs: number): number {
    if (pending === 0) {
      this.lastProgressMs = nowMs; // nothing to deliver is not a stall
      return 0;
    }
    return Math.max(0, nowMs - this.lastProgressMs);
  }

  stalled(pending: number, nowMs: number): boolean {
    return this.waitingMs(pending, nowMs) > this.stallMs;
  }
}

/** The sink, telling `onDelivered` whenever a PutRecords call got at least one record acknowledged. */
export function watchDeliveries(sink: KinesisSink, onDelivered: () => void): KinesisSink {
  return {
    listShards: () => sink.listShards(),
    putRecords: async (entries) => {
      const results = await sink.putRecords(entries);
      if (results.some((result) => result.ok)) onDelivered();
      return results;
    },
  };
}
