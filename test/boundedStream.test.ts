import { describe, expect, it } from 'vitest';
import { BoundedStream } from '../src/core/bus/boundedStream.js';

describe('BoundedStream', () => {
  it('hands a consumer that is already waiting the failure, not a plain end', async () => {
    let closed = 0;
    const stream = new BoundedStream<number>(10, () => (closed += 1));
    const waiting = stream.next();
    stream.fail(new Error('source broke'));
    await expect(waiting).rejects.toThrow('source broke');
    expect(closed).toBe(1);
    await expect(stream.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('reports a failure to the next pull when nobody was waiting, then ends', async () => {
    const stream = new BoundedStream<number>(10, () => undefined);
    stream.push(1);
    stream.fail(new Error('gone'));
    // What was queued is dropped with the failure: the client learns it lost events.
    await expect(stream.next()).rejects.toThrow('gone');
    await expect(stream.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('fails with SUBSCRIPTION_OVERFLOW when the consumer falls more than its capacity behind', async () => {
    const stream = new BoundedStream<number>(2, () => undefined);
    stream.push(1);
    stream.push(2);
    stream.push(3);
    const error = await stream.next().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ extensions: { code: 'SUBSCRIPTION_OVERFLOW', capacity: 2 } });
  });

  it('keeps the newest items instead when told to drop the oldest', async () => {
    const stream = new BoundedStream<number>(2, () => undefined, 'dropOldest');
    for (const item of [1, 2, 3, 4]) stream.push(item);
    expect([(await stream.next()).value, (await stream.next()).value]).toEqual([3, 4]);
  });

  it('ends after what is queued when ended, and at once when returned', async () => {
    const ended = new BoundedStream<number>(5, () => undefined);
    ended.push(7);
    ended.end();
    expect(await ended.next()).toEqual({ value: 7, done: false });
    expect(await ended.next()).toEqual({ value: undefined, done: true });
    const returned = new BoundedStream<number>(5, () => undefined);
    returned.push(7);
    await returned.return();
    expect(await returned.next()).toEqual({ value: undefined, done: true });
  });
});
