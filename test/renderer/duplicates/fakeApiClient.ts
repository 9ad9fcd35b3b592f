// A test double of the renderer's ApiClient: answers calls from per-method handlers, records
// them, and lets a test push core events.
import { ApiError, type ApiEvent, type ApiInput, type ApiMethod, type ApiOutput } from '../../../app/api/contract.js';
import type { ApiClient } from '../../../renderer/lib/apiClient.js';

export type FakeHandlers = { [M in ApiMethod]?: (input: ApiInput<M>) => ApiOutput<M> | Promise<ApiOutput<M>> };

export interface RecordedCall {
  method: ApiMethod;
  input: unknown;
}

export interface FakeApiClient {
  client: ApiClient;
  calls: RecordedCall[];
  callsOf(method: ApiMethod): unknown[];
  emit(event: ApiEvent): void;
  listenerCount(): number;
}

export function fakeApiClient(handlers: FakeHandlers): FakeApiClient {
  const listeners = new Set<(event: ApiEvent) => void>();
  const calls: RecordedCall[] = [];
  const client: ApiClient = {
    transport: 'http',
    pickFolder: null,
    mediaUrl: (kind, photoId) => `/media/${kind}/${photoId}`,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      calls.push({ method, input: structuredClone(input) });
      const handler = handlers[method] as ((input: ApiInput<M>) => ApiOutput<M> | Promise<ApiOutput<M>>) | undefined;
      if (!handler) throw new ApiError('not_found', `no such API method: ${method}`);
      return handler(input);
    },
  };
  return {
    client,
    calls,
    callsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.input),
    emit: (event) => {
      for (const listener of listeners) listener(event);
    },
    listenerCount: () => listeners.size,
  };
}

/** A promise the test settles by hand, to hold a call in flight. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
