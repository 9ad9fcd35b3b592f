// The preload: the whole of what the renderer sees of Electron is the SightlineBridge put on
// `window.sightline` here. Sandboxed preloads cannot load modules, so start.mjs bundles this into
// one CommonJS file whose only require is 'electron'.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
// Constants from the zod-free module and types only from the contract: the bundle stays a few KB.
import type { ApiEvent, ApiMethod, ApiResponse, SightlineBridge } from '../app/api/contract.js';
import { BRIDGE_GLOBAL, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, MEDIA_KINDS, MEDIA_PROTOCOL, type MediaKind } from '../app/api/transportConstants.js';
import { PICK_FOLDER_CHANNEL } from './ipcChannels.js';

const bridge: SightlineBridge = {
  call: (method: ApiMethod, input: unknown) => ipcRenderer.invoke(IPC_CALL_CHANNEL, method, input) as Promise<ApiResponse>,
  onEvent(listener: (event: ApiEvent) => void) {
    // The listener gets the event only: IpcRendererEvent would hand the page ipcRenderer itself.
    const relay = (_ipcEvent: IpcRendererEvent, event: ApiEvent) => listener(event);
    ipcRenderer.on(IPC_EVENT_CHANNEL, relay);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, relay);
    };
  },
  pickFolder: () => ipcRenderer.invoke(PICK_FOLDER_CHANNEL) as Promise<string | null>,
  mediaUrl(kind: MediaKind, photoId: number) {
    if (!MEDIA_KINDS.includes(kind) || !Number.isSafeInteger(photoId) || photoId <= 0) {
      throw new TypeError(`no media URL for ${String(kind)} ${String(photoId)}`);
    }
    return `${MEDIA_PROTOCOL}://${kind}/${photoId}`;
  },
};

contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, bridge);
