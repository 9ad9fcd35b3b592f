// What the main process does with an IPC call before the core sees it: make sure it comes from our
// window's top frame showing our renderer, then validate it against app/api's contract. Written
// against the few fields of Electron's IpcMainInvokeEvent it reads, so it runs in plain Node tests.
import { API_METHOD_NAMES, ApiError, type ApiMethod, type ApiResponse, type SightlineApiHandlers } from '../app/api/contract.js';
import { dispatchApiCall } from '../app/api/apiDispatcher.js';

/** The parts of Electron's WebFrameMain the sender check reads. */
export interface SenderFrame {
  readonly url: string;
  /** null for a window's top frame. */
  readonly parent: object | null;
}

/** The parts of Electron's IpcMainInvokeEvent the sender check reads. */
export interface IpcInvokeEvent {
  readonly sender: { readonly id: number };
  readonly senderFrame: SenderFrame | null;
}

/** The one window allowed to call: its webContents id and the origin its page must have. */
export interface TrustedWindow {
  readonly webContentsId: number;
  readonly origin: string;
}

/** Why this sender may not call, or null when it may. */
export function senderRejection(event: IpcInvokeEvent, trusted: TrustedWindow | null): string | null {
  if (!trusted) return 'no Sightline window is open';
  if (event.sender.id !== trusted.webContentsId) return 'the call did not come from the Sightline window';
  let frame: SenderFrame | null;
  try {
    frame = event.senderFrame;
  } catch {
    frame = null;
  }
  // Electron gives null once the frame navigated away or was destroyed: nothing left to vouch for.
  if (!frame) return 'the calling frame is gone';
  if (frame.parent !== null) return 'the call came from a subframe';
  if (!hasOrigin(frame.url, trusted.origin)) return 'the calling page is not the Sightline renderer';
  return null;
}

// Compared by hand: Node's URL gives 'null' as the origin of a scheme it does not know, while
// Chromium treats ours as standard. scheme://host is what both agree on.
function hasOrigin(url: string, origin: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  return `${parsed.protocol}//${parsed.host}` === origin;
}

function forbidden(reason: string): ApiResponse {
  return { ok: false, error: { code: 'forbidden', message: `refused: ${reason}` } };
}

export interface ApiCallHandlerOptions {
  trustedWindow: () => TrustedWindow | null;
  /** The core behind the call (in the app: handlers that forward to the core's utility process). */
  core: SightlineApiHandlers;
  onInternalError?: (method: string, error: unknown) => void;
}

/** ipcMain.handle(IPC_CALL_CHANNEL, …): every outcome, refusals included, is an ApiResponse. */
export function createApiCallHandler(options: ApiCallHandlerOptions): (event: IpcInvokeEvent, method: unknown, input: unknown) => Promise<ApiResponse> {
  return async (event, method, input) => {
    const rejection = senderRejection(event, options.trustedWindow());
    if (rejection) return forbidden(rejection);
    return dispatchApiCall(options.core, method, input, { onInternalError: options.onInternalError });
  };
}

export interface PickFolderHandlerOptions {
  trustedWindow: () => TrustedWindow | null;
  /** The native dialog, modal to the window: a folder path, or null when the user cancels. */
  showFolderDialog: () => Promise<string | null>;
}

/** ipcMain.handle(PICK_FOLDER_CHANNEL, …): the dialog for our window's page only. */
export function createPickFolderHandler(options: PickFolderHandlerOptions): (event: IpcInvokeEvent) => Promise<string | null> {
  return async (event) => {
    const rejection = senderRejection(event, options.trustedWindow());
    // A thrown error is what invoke() rejects with in the renderer; the bridge promises string | null.
    if (rejection) throw new ApiError('forbidden', `refused: ${rejection}`);
    return options.showFolderDialog();
  };
}

/**
 * Handlers that hand each validated call to `forward` (the core's utility process). The core
 * validates again: it is its own trust boundary, and a call it refuses comes back as an ApiError.
 */
export function forwardingHandlers(forward: (method: ApiMethod, input: unknown) => Promise<unknown>): SightlineApiHandlers {
  const handlers: Partial<Record<ApiMethod, (input: unknown) => Promise<unknown>>> = {};
  for (const method of API_METHOD_NAMES) handlers[method] = (input) => forward(method, input);
  return handlers as SightlineApiHandlers;
}
