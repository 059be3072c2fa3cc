import type { ExecutionResult } from 'graphql';
import { BoundedStream, overflowError } from '../core/bus/boundedStream.js';

type SubscriptionResult = AsyncIterable<ExecutionResult> | ExecutionResult;

/**
 * Takes one result of a shared subscription, serialised as JSON (`{"data":…}`) once for all subscribers, and
 * sends it to one subscriber. Answers false when that subscriber already has `capacity` results waiting, so
 * the subscription must end.
 */
export type DeliverSerialized = (payload: Buffer, capacity: number) => boolean;

/**
 * A member is, to graphql-ws, the subscription's async iterator: one that yields nothing (results go straight
 * to the transport) and ends when the subscription does, so that graphql-ws sends `complete` or `error` after
 * every result, and a client's `complete` (return) leaves the group.
 */
type Member = BoundedStream<ExecutionResult>;

interface Group {
  /** Each member with how its results reach its subscriber. */
  members: Map<Member, DeliverSerialized>;
  source: AsyncIterator<ExecutionResult>;
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/** The payload graphql-ws sends for a result (its errors as their JSON form, after the data), serialised. */
function serializeResult(result: ExecutionResult): Buffer {
  const { errors, ...rest } = result;
  return Buffer.from(JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest), 'utf8');
}

/**
 * Runs identical subscriptions once and serialises each result once. Panels on a wall of dashboards send the
 * same operation with the same variables under the same key: rather than executing GraphQL and serialising
 * JSON for each of them on every event, the first one's execution is shared, each result is serialised once,
 * and the bytes go to every member's transport, which frames them per subscriber. A member whose transport
 * cannot take more (`capacity` results waiting) is ended on its own with SUBSCRIPTION_OVERFLOW.
 */
export class SharedSubscriptions {
  private readonly groups = new Map<string, Promise<Group | SubscriptionResult>>();
  /** The same groups once started, so a group that ends is forgotten at once, not a microtask later. */
  private readonly started = new Map<string, Group>();

  constructor(private readonly capacity: number) {}

  async subscribe(
    key: string,
    start: () => Promise<SubscriptionResult> | SubscriptionResult,
    deliver: DeliverSerialized,
  ): Promise<SubscriptionResult> {
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
    if (this.started.get(key) !== group) return this.subscribe(key, start, deliver);
    const member: Member = new BoundedStream<ExecutionResult>(0, () => {
      group.members.delete(member);
      if (group.members.size === 0) this.close(key, group);
    });
    group.members.set(member, deliver);
    return member;
  }

  private open(key: string, iterable: AsyncIterable<ExecutionResult>): Group {
    const group: Group = { members: new Map(), source: iterable[Symbol.asyncIterator]() };
    this.started.set(key, group);
    void this.pump(key, group);
    return group;
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
        if (group.members.size === 0) continue;
        const payload = serializeResult(next.value);
        for (const [member, deliver] of group.members) {
          if (!deliver(payload, this.capacity)) member.fail(overflowError(this.capacity));
        }
      }
      for (const member of [...group.members.keys()]) member.end();
    } catch (error) {
      for (const member of [...group.members.keys()]) member.fail(error);
    } finally {
      this.forget(key, group);
    }
  }
}
