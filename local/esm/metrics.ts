// Counters of one event source mapping, named after the CloudWatch metrics Lambda publishes where one exists.

export interface EsmMetricsSnapshot {
  /** GetRecords calls and the records they returned. */
  readonly getRecordsCalls: number;
  readonly recordsRead: number;
  /** Kinesis errors while polling (throttling, expired iterators, network), each retried. */
  readonly pollErrors: number;
  /** Batches interrupted by an emulator-side error (failure destination or checkpoint write); retried. */
  readonly processingErrors: number;
  /** Function invocations and the records they carried (a retried record counts again). */
  readonly invocations: number;
  readonly recordsInvoked: number;
  readonly batchesSucceeded: number;
  readonly functionErrors: number;
  readonly partialFailures: number;
  readonly invalidResponses: number;
  /** Invocations that repeated records after a failure (bisected halves included). */
  readonly retries: number;
  readonly bisects: number;
  /** Records whose processing finished: succeeded, discarded, or filtered out. */
  readonly recordsCompleted: number;
  /** Records that matched none of the mapping's filters: never invoked (Lambda's FilteredOutEventCount). */
  readonly recordsFilteredOut: number;
  readonly recordsDiscardedRetriesExhausted: number;
  readonly recordsDiscardedRecordAge: number;
  /** On-failure records written, and discarded batches that had no destination configured. */
  readonly failureRecordsSent: number;
  readonly discardedWithoutDestination: number;
  /** Age of the last record of the last batch read (Lambda's IteratorAge), and the maximum seen. */
  readonly iteratorAgeMs: number;
  readonly maxIteratorAgeMs: number;
}

type Counter = Exclude<keyof EsmMetricsSnapshot, 'iteratorAgeMs' | 'maxIteratorAgeMs'>;

export class EsmMetrics {
  readonly #counters = new Map<Counter, number>();
  #iteratorAgeMs = 0;
  #maxIteratorAgeMs = 0;

  add(counter: Counter, amount = 1): void {
    this.#counters.set(counter, (this.#counters.get(counter) ?? 0) + amount);
  }

  observeIteratorAge(ageMs: number): void {
    this.#iteratorAgeMs = Math.max(0, ageMs);
    this.#maxIteratorAgeMs = Math.max(this.#maxIteratorAgeMs, this.#iteratorAgeMs);
  }

  snapshot(): EsmMetricsSnapshot {
    const get = (counter: Counter): number => this.#counters.get(counter) ?? 0;
    return {
      getRecordsCalls: get('getRecordsCalls'),
      recordsRead: get('recordsRead'),
      pollErrors: get('pollErrors'),
      processingErrors: get('processingErrors'),
      invocations: get('invocations'),
      recordsInvoked: get('recordsInvoked'),
      batchesSucceeded: get('batchesSucceeded'),
      functionErrors: get('functionErrors'),
      partialFailures: get('partialFailures'),
      invalidResponses: get('invalidResponses'),
      retries: get('retries'),
      bisects: get('bisects'),
      recordsCompleted: get('recordsCompleted'),
      recordsFilteredOut: get('recordsFilteredOut'),
      recordsDiscardedRetriesExhausted: get('recordsDiscardedRetriesExhausted'),
      recordsDiscardedRecordAge: get('recordsDiscardedRecordAge'),
      failureRecordsSent: get('failureRecordsSent'),
      discardedWithoutDestination: get('discardedWithoutDestination'),
      iteratorAgeMs: this.#iteratorAgeMs,
      maxIteratorAgeMs: this.#maxIteratorAgeMs,
    };
  }
}
