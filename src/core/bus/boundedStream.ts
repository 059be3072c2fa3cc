import { GraphQLError } from 'graphql';

/** How a subscription ends when its client falls `capacity` events behind. */
export const overflowError = (capacity: number) =>
  new GraphQLError(
    `Subscription ended: more than ${capacity} events were waiting for this client, which is not reading fast enough.`,
    { extensions: { code: 'SUBSCRIPTION_OVERFLOW', capacity } },
  );

/**
 * A push-to-pull bridge with a hard cap: producers push without waiting, the consumer (one subscription)
 * pulls. When the consumer falls `capacity` items behind, the stream fails instead of growing, so a stuck
 * client costs at most `capacity` references and never slows the producer or other subscribers.
 */
export class BoundedStream<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((error: unknown) => void) | null = null;
  private failure: unknown = null;
  private done = false;

  /**
   * @param overflow `fail` ends the stream with SUBSCRIPTION_OVERFLOW; `dropOldest` keeps the newest items,
   * for streams whose items supersede each other (snapshots).
   */
  constructor(
    private readonly capacity: number,
    private readonly onClose: () => void,
    private readonly overflow: 'fail' | 'dropOldest' = 'fail',
  ) {}

  get closed(): boolean {
    return this.done;
  }

  push(item: T): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failWaiting = null;
      resolve({ value: item, done: false });
      return;
    }
    if (this.items.length - this.head >= this.capacity) {
      if (this.overflow === 'dropOldest') {
        this.items.splice(0, this.head + 1);
        this.head = 0;
      } else {
        this.fail(overflowError(this.capacity));
        return;
      }
    }
    this.items.push(item);
  }

  /** Ends the stream after what is queued has been consumed (server shutdown). */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.onClose();
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.items.length = 0;
    this.head = 0;
    // A consumer already waiting gets the error, not the plain end that end() would give it.
    const reject = this.failWaiting;
    this.waiting = null;
    this.failWaiting = null;
    if (reject) reject(error);
    else this.failure = error;
    this.end();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head] as T;
      this.head += 1;
      // Compact now and then so a long-lived stream does not keep a growing array.
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== null) {
      const error = this.failure;
      this.failure = null;
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.head = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    this.fail(error);
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
