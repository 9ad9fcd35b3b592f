// A stand-in for the renderer's ApiClient: each method answers from a handler the test gives,
// every call is recorded, and the test can push core events.
import { ApiError, type ApiEvent, type ApiInput, type ApiMethod, type ApiOutput, type IndexingState, type Status } from '../../../app/api/contract.js';
import type { ApiClient } from '../../../renderer/lib/apiClient.js';

export type Handlers = { [M in ApiMethod]?: (input: ApiInput<M>) => ApiOutput<M> | Promise<ApiOutput<M>> };

export interface ScriptedApi {
  client: ApiClient;
  calls: { method: ApiMethod; input: unknown }[];
  inputsOf(method: ApiMethod): unknown[];
  emit(event: ApiEvent): void;
}

export function scriptedApi(handlers: Handlers): ScriptedApi {
  const listeners = new Set<(event: ApiEvent) => void>();
  const calls: { method: ApiMethod; input: unknown }[] = [];
  const client: ApiClient = {
    transport: 'http',
    pickFolder: null,
    mediaUrl: (kind, id) => `/media/${kind}/${id}`,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      calls.push({ method, input });
      const handler = handlers[method] as ((i: ApiInput<M>) => ApiOutput<M> | Promise<ApiOutput<M>>) | undefined;
      if (!handler) throw new ApiError('not_found', `no handler for ${method}`);
      return handler(input);
    },
  };
  return {
    client,
    calls,
    inputsOf: (method) => calls.filter((c) => c.method === method).map((c) => c.input),
    emit: (event) => listeners.forEach((l) => l(event)),
  };
}

/** A promise the test settles by hand, to hold a call in flight. */
export function held<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

export const idle: IndexingState = { state: 'idle', progress: null, lastSummary: null, lastError: null };

export function running(done: number, total: number): IndexingState {
  return { state: 'running', progress: { phase: 'describe', done, total, rate: 2, eta: (total - done) / 2 }, lastSummary: null, lastError: null };
}

export function status(indexed: number, indexing: IndexingState = idle): Status {
  return {
    database: '/tmp/library.db',
    model: { id: 'm', name: 'MobileNetV2', dimension: 512, whitened: true, regions: 'grid', executionProviders: ['cpu'] },
    photos: { pending: 0, indexed, failed: 0, gone: 0 },
    failures: 0,
    folders: [{ id: 1, path: '/photos', addedAt: '2024-01-01T00:00:00Z', lastScanAt: null, status: 'ok', error: null }],
    indexing,
    trash: 'folder',
  };
}
