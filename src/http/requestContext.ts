import { AsyncLocalStorage } from 'node:async_hooks';

/** Carries the request id to code that has no context argument (error masking, logging). */
export const requestScope = new AsyncLocalStorage<{ requestId: string }>();
