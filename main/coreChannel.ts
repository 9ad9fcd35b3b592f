// The messages between Electron's main process and the core's utility process, and both ends of
// them. The core (indexing, inference, SQLite) runs in its own process so the window never waits
// on it; the main process keeps what only it can do — windows, dialogs, the OS trash. Both ends
// take plain post/receive functions, so tests drive them over a worker_threads MessageChannel.
import { ApiError, type ApiEvent, type ApiMethod, type ApiResponse, type MediaKind, type SightlineApiHandlers } from '../app/api/contract.js';
import { dispatchApiCall } from '../app/api/apiDispatcher.js';
import type { MediaBytes } from '../app/api/sightlineService.js';
import type { OsTrash } from '../app/library/photoTrash.js';

export type MainToCore =
  | { type: 'call'; id: number; method: ApiMethod; input: unknown }
  | { type: 'media'; id: number; kind: MediaKind; photoId: number }
  | { type: 'trashDone'; id: number; error: string | null }
  | { type: 'shutdown' };

export type CoreToMain =
  | { type: 'ready' }
  | { type: 'openFailed'; message: string }
  | { type: 'result'; id: number; response: ApiResponse }
  | { type: 'media'; id: number; media: MediaBytes | null; error: string | null }
  | { type: 'event'; event: ApiEvent }
  | { type: 'trash'; id: number; path: string }
  | { type: 'closed' };

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

export interface CoreConnectionHooks {
  /** The OS trash, which only the main process can reach (shell.trashItem). */
  moveToTrash(path: string): Promise<void>;
  onEvent(event: ApiEvent): void;
  /** The core opened its library, or could not (then every call answers 'unavailable' with why). */
  onOpened?(problem: string | null): void;
}

/** The main process's end: one per core process. */
export class CoreConnection {
  private nextId = 1;
  private readonly calls = new Map<number, Pending<ApiResponse>>();
  private readonly media = new Map<number, Pending<MediaBytes | null>>();
  private downReason: string | null = null;
  private closedResolve!: () => void;
  /** Settles when the core says it closed its library (after a shutdown request). */
  readonly closed = new Promise<void>((resolve) => (this.closedResolve = resolve));

  constructor(
    private readonly post: (message: MainToCore) => void,
    private readonly hooks: CoreConnectionHooks,
  ) {}

  /** Resolves with the call's value, or rejects with the ApiError the core answered. */
  async call(method: ApiMethod, input: unknown): Promise<unknown> {
    const response = await this.request(this.calls, (id) => ({ type: 'call', id, method, input }));
    if (response.ok) return response.value;
    throw new ApiError(response.error.code, response.error.message);
  }

  readMedia(kind: MediaKind, photoId: number): Promise<MediaBytes | null> {
    return this.request(this.media, (id) => ({ type: 'media', id, kind, photoId }));
  }

  /** Asks the core to close its library and exit; `closed` settles once it has. */
  shutdown(): void {
    if (!this.downReason) this.post({ type: 'shutdown' });
  }

  /** Feed it every message the core process posts. */
  receive(message: unknown): void {
    const m = message as CoreToMain;
    switch (m?.type) {
      case 'result':
        this.settle(this.calls, m.id, m.response);
        break;
      case 'media':
        if (m.error !== null) this.fail(this.media, m.id, new ApiError('internal', m.error));
        else this.settle(this.media, m.id, m.media);
        break;
      case 'event':
        this.hooks.onEvent(m.event);
        break;
      case 'trash':
        this.hooks.moveToTrash(m.path).then(
          () => this.post({ type: 'trashDone', id: m.id, error: null }),
          (e: unknown) => this.post({ type: 'trashDone', id: m.id, error: e instanceof Error ? e.message : String(e) }),
        );
        break;
      case 'ready':
        this.hooks.onOpened?.(null);
        break;
      case 'openFailed':
        this.hooks.onOpened?.(m.message);
        break;
      case 'closed':
        this.closedResolve();
        break;
      default:
        // A message we do not know is a version skew between bundles; drop it rather than crash.
        break;
    }
  }

  /** The process is gone: everything in flight, and everything after, fails with `reason`. */
  disconnect(reason: string): void {
    if (this.downReason) return;
    this.downReason = reason;
    const error = new ApiError('unavailable', reason);
    for (const p of [...this.calls.values(), ...this.media.values()]) p.reject(error);
    this.calls.clear();
    this.media.clear();
    this.closedResolve();
  }

  get inFlight(): number {
    return this.calls.size + this.media.size;
  }

  private request<T>(table: Map<number, Pending<T>>, build: (id: number) => MainToCore): Promise<T> {
    if (this.downReason) return Promise.reject(new ApiError('unavailable', this.downReason));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      table.set(id, { resolve, reject });
      try {
        this.post(build(id));
      } catch (e) {
        // Input that cannot be cloned never reaches the core; dispatchApiCall has validated it, so
        // this is a bug or a dead port, not the user's fault.
        table.delete(id);
        reject(new ApiError('unavailable', `could not reach the Sightline core: ${e instanceof Error ? e.message : String(e)}`));
      }
    });
  }

  private settle<T>(table: Map<number, Pending<T>>, id: number, value: T): void {
    const pending = table.get(id);
    table.delete(id);
    pending?.resolve(value);
  }

  private fail<T>(table: Map<number, Pending<T>>, id: number, error: Error): void {
    const pending = table.get(id);
    table.delete(id);
    pending?.reject(error);
  }
}

/** What the core process serves: app/api's SightlineService, or a stand-in in tests. */
export interface CoreService extends SightlineApiHandlers {
  onEvent(listener: (event: ApiEvent) => void): () => void;
  readMedia(kind: MediaKind, photoId: number): Promise<MediaBytes | null>;
  close(): Promise<void>;
}

export interface ServeCoreOptions {
  post: (message: CoreToMain) => void;
  /** Registers the listener for the main process's messages (already unwrapped from MessageEvent). */
  listen: (listener: (message: unknown) => void) => void;
  /** Opens the service; it gets an OS trash that goes through the main process. */
  open: (osTrash: OsTrash) => Promise<CoreService>;
  /** After a shutdown request, once the library is closed. */
  exit: (code: number) => void;
  log?: (message: string, error?: unknown) => void;
}

/** The core process's end. Listens at once: calls that arrive while the library opens wait for it. */
export function serveCore(options: ServeCoreOptions): void {
  const { post } = options;
  const log = options.log ?? ((message, error) => console.error(message, error ?? ''));
  const trashRequests = new Map<number, Pending<void>>();
  let nextTrashId = 1;
  const osTrash: OsTrash = {
    moveToTrash: (path) =>
      new Promise<void>((resolve, reject) => {
        const id = nextTrashId++;
        trashRequests.set(id, { resolve, reject });
        post({ type: 'trash', id, path });
      }),
  };

  let openProblem: string | null = null;
  const opening = options.open(osTrash).then(
    (service) => {
      service.onEvent((event) => post({ type: 'event', event }));
      post({ type: 'ready' });
      return service;
    },
    (e: unknown) => {
      openProblem = `the Sightline library could not be opened: ${e instanceof Error ? e.message : String(e)}`;
      log(openProblem, e);
      post({ type: 'openFailed', message: openProblem });
      return null;
    },
  );

  let shuttingDown = false;
  const handle = async (message: MainToCore): Promise<void> => {
    switch (message.type) {
      case 'call': {
        const service = await opening;
        const response: ApiResponse = service
          ? await dispatchApiCall(service, message.method, message.input, { onInternalError: (method, e) => log(`${method} failed:`, e) })
          : { ok: false, error: { code: 'unavailable', message: openProblem ?? 'the Sightline library is not open' } };
        post({ type: 'result', id: message.id, response });
        break;
      }
      case 'media': {
        const service = await opening;
        try {
          const media = service ? await service.readMedia(message.kind, message.photoId) : null;
          post({ type: 'media', id: message.id, media, error: null });
        } catch (e) {
          log(`reading ${message.kind} ${message.photoId} failed:`, e);
          post({ type: 'media', id: message.id, media: null, error: e instanceof Error ? e.message : String(e) });
        }
        break;
      }
      case 'trashDone': {
        const pending = trashRequests.get(message.id);
        trashRequests.delete(message.id);
        if (message.error === null) pending?.resolve();
        else pending?.reject(new Error(message.error));
        break;
      }
      case 'shutdown': {
        if (shuttingDown) return;
        shuttingDown = true;
        const service = await opening;
        try {
          await service?.close();
        } catch (e) {
          log('closing the library failed:', e);
        }
        post({ type: 'closed' });
        options.exit(0);
        break;
      }
    }
  };

  options.listen((message) => {
    handle(message as MainToCore).catch((e: unknown) => log('the core could not handle a message:', e));
  });
}
