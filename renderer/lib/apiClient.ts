// The renderer's only way into the core: the typed API of app/api/contract.ts over whichever
// transport this window has — the Electron preload's bridge, or HTTP + WebSocket in serve mode.
import {
  API_PREFIX,
  ApiError,
  BRIDGE_GLOBAL,
  EVENTS_PATH,
  MEDIA_PREFIX,
  TOKEN_HEADER,
  TOKEN_META,
  TOKEN_QUERY,
  type ApiEvent,
  type ApiInput,
  type ApiMethod,
  type ApiOutput,
  type ApiResponse,
  type MediaKind,
  type SightlineBridge,
} from '../../app/api/contract.js';

export interface ApiClient {
  call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  mediaUrl(kind: MediaKind, photoId: number): string;
  /** A native folder picker where there is one (Electron); null in the browser. */
  pickFolder: (() => Promise<string | null>) | null;
  readonly transport: 'electron' | 'http';
}

function unwrap<M extends ApiMethod>(response: ApiResponse): ApiOutput<M> {
  if (response.ok) return response.value as ApiOutput<M>;
  throw new ApiError(response.error.code, response.error.message);
}

function bridgeClient(bridge: SightlineBridge): ApiClient {
  return {
    transport: 'electron',
    call: async <M extends ApiMethod>(method: M, input: ApiInput<M>) => unwrap<M>(await bridge.call(method, input)),
    onEvent: (listener) => bridge.onEvent(listener),
    mediaUrl: (kind, id) => bridge.mediaUrl(kind, id),
    pickFolder: () => bridge.pickFolder(),
  };
}

function httpClient(token: string, origin: string): ApiClient {
  const listeners = new Set<(event: ApiEvent) => void>();
  let socket: WebSocket | null = null;
  let retry = 500;
  const connect = () => {
    const url = new URL(EVENTS_PATH, origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set(TOKEN_QUERY, token);
    socket = new WebSocket(url);
    socket.onopen = () => (retry = 500);
    socket.onmessage = (m) => {
      const event = JSON.parse(String(m.data)) as ApiEvent;
      for (const l of listeners) l(event);
    };
    // The server may be restarting; keep trying, backing off to 10 s.
    socket.onclose = () => {
      socket = null;
      if (listeners.size) setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
    };
  };
  return {
    transport: 'http',
    async call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>> {
      let res: Response;
      try {
        res = await fetch(new URL(API_PREFIX + method, origin), {
          method: 'POST',
          headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
          body: JSON.stringify(input ?? {}),
        });
      } catch (e) {
        throw new ApiError('unavailable', `Sightline is not answering (${(e as Error).message}). Is \`sightline serve\` still running?`);
      }
      const body = (await res.json().catch(() => null)) as ApiResponse | null;
      if (!body) throw new ApiError('internal', `the server answered ${res.status} without a readable body`);
      return unwrap<M>(body);
    },
    onEvent(listener) {
      listeners.add(listener);
      if (!socket) connect();
      return () => {
        listeners.delete(listener);
        if (!listeners.size) socket?.close();
      };
    },
    mediaUrl: (kind, id) => `${MEDIA_PREFIX}${kind}/${id}?${TOKEN_QUERY}=${encodeURIComponent(token)}`,
    pickFolder: null,
  };
}

/** The client for this window: Electron's bridge if the preload put one there, else HTTP. */
export function createApiClient(win: Window = window): ApiClient {
  const bridge = (win as unknown as Record<string, SightlineBridge | undefined>)[BRIDGE_GLOBAL];
  if (bridge) return bridgeClient(bridge);
  const token = win.document.querySelector(`meta[name="${TOKEN_META}"]`)?.getAttribute('content');
  if (!token) throw new Error('This page was not served by `sightline serve` (no token), and no Electron bridge is present.');
  return httpClient(token, win.location.origin);
}

export { ApiError };
