import type { ExecutionResult } from 'graphql';
import { BoundedStream } from './boundedStream.js';

type SubscriptionResult = AsyncIterable<ExecutionResult> | ExecutionResult;

interface Group {
  members: Set<BoundedStream<ExecutionResult>>;
  source: AsyncIterator<ExecutionResult>;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * Runs identical subscriptions once. Panels on a wall of dashboards send the same operation with the same
 * variables under the same key: rather than executing GraphQL for each of them on every event, the first one's
 * execution is shared and each result object is handed to every member, each through its own bounded buffer
 * (a slow member is ended on its own, as before).
 */
export class SharedSubscriptions {
  private readonly groups = new Map<string, Promise<Group | SubscriptionResult>>();
  /** The same groups once started, so a group that ends is forgotten at once, not a microtask later. */
  private readonly started = new Map<string, Group>();

  constructor(private readonly bufferSize: number) {}

  async subscribe(key: string, start: () => Promise<SubscriptionResult> | SubscriptionResult): Promise<SubscriptionResult> {
    let pending = this.groups.get(key);
    if (!pending) {
      pending = Promise.resolve(start()).then((result) => (isAsyncIterable(result) ? this.open(key, result) : result));
      this.groups.set(key, pending);
      // A start that answers with errors (or throws) is not shared: the next subscriber tries afresh.
      pending.then(
        (outcome) => {
          if (!('members' in (outcome as object))) this.groups.delete(key);
        },
        () => this.groups.delete(key),
      );
    }
    const outcome = await pending;
    if (!('members' in (outcome as object))) return outcome as SubscriptionResult;
    const group = outcome as Group;
    // Ended while this subscriber waited: start a fresh one instead of joining a finished stream.
    if (this.started.get(key) !== group) return this.subscribe(key, start);
    return this.join(key, group);
  }

  private open(key: string, iterable: AsyncIterable<ExecutionResult>): Group {
    const group: Group = { members: new Set(), source: iterable[Symbol.asyncIterator]() };
    this.started.set(key, group);
    void this.pump(key, group);
    return group;
  }

  private join(key: string, group: Group): AsyncIterableIterator<ExecutionResult> {
    const stream: BoundedStream<ExecutionResult> = new BoundedStream<ExecutionResult>(this.bufferSize, () => {
      group.members.delete(stream);
      if (group.members.size === 0) this.close(key, group);
    });
    group.members.add(stream);
    return stream;
  }

  private forget(key: string, group: Group): void {
    // The key may already belong to a newer group.
    if (this.started.get(key) !== group) return;
    this.started.delete(key);
    this.groups.delete(key);
  }

  private close(key: string, group: Group): void {
    this.forget(key, group);
    void group.source.return?.();
  }

  private async pump(key: string, group: Group): Promise<void> {
    try {
      for (;;) {
        const next = await group.source.next();
        if (next.done) break;
        for (const member of group.members) member.push(next.value);
      }
      for (const member of [...group.members]) member.end();
    } catch (error) {
      for (const member of [...group.members]) member.fail(error);
    } finally {
      this.forget(key, group);
    }
  }
}
