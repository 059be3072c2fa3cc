/**
 * A bounded first-in first-out buffer: pushing into a full buffer drops the oldest entry, so the caller's push is
 * O(1) and memory stays flat however long the service is away.
 */
export class DroppingQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Adds `item`; returns the entry dropped to make room, if any. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.size === this.capacity) {
      dropped = this.shift();
    }
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size += 1;
    return dropped;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size -= 1;
    return item;
  }

  /** Takes up to `count` entries from the front. */
  take(count: number): T[] {
    const taken: T[] = [];
    while (taken.length < count && this.size > 0) taken.push(this.shift() as T);
    return taken;
  }
}
