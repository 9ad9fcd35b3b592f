// The preload as it ships: the bundle `npm start` builds, run the way a sandboxed preload runs (a
// CommonJS function given a `require` that knows only 'electron'), against a stand-in electron.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_GLOBAL, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type SightlineBridge } from '../../app/api/contract.js';
import { PRELOAD_BUNDLE } from '../../main/bundleLayout.js';
import { PICK_FOLDER_CHANNEL } from '../../main/ipcChannels.js';
import { buildDesktopBundles, requiredModules } from '../../scripts/desktopBuild.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let outDir: string;
let bundle: string;
const exposed = new Map<string, unknown>();
const invoked: unknown[][] = [];
const listeners = new Map<string, Set<(...args: unknown[]) => void>>();

beforeAll(async () => {
  outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sightline-preload-'));
  await buildDesktopBundles(ROOT, outDir);
  bundle = await fs.readFile(path.join(outDir, PRELOAD_BUNDLE), 'utf8');
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
    ipcRenderer: {
      invoke: async (...args: unknown[]) => {
        invoked.push(args);
        return args[0] === PICK_FOLDER_CHANNEL ? '/home/me/Pictures' : { ok: true, value: 'pong' };
      },
      on: (channel: string, listener: (...args: unknown[]) => void) => {
        if (!listeners.has(channel)) listeners.set(channel, new Set());
        listeners.get(channel)!.add(listener);
      },
      removeListener: (channel: string, listener: (...args: unknown[]) => void) => listeners.get(channel)?.delete(listener),
    },
  };
  const sandboxRequire = (name: string) => {
    if (name === 'electron') return electron;
    throw new Error(`a sandboxed preload cannot require ${name}`);
  };
  const module = { exports: {} };
  vm.runInNewContext(`(function (require, module, exports) {${bundle}\n})`, {})(sandboxRequire, module, module.exports);
});

afterAll(async () => {
  await fs.rm(outDir, { recursive: true, force: true });
});

function bridge(): SightlineBridge {
  return exposed.get(BRIDGE_GLOBAL) as SightlineBridge;
}

describe('the preload bundle', () => {
  it('is one CommonJS file that requires electron and nothing else', () => {
    expect(requiredModules(bundle)).toEqual(['electron']);
    expect(bundle).not.toMatch(/^\s*import\s/m);
  });

  it('exposes exactly the SightlineBridge, on window.sightline', () => {
    expect([...exposed.keys()]).toEqual([BRIDGE_GLOBAL]);
    expect(Object.keys(bridge()).sort()).toEqual(['call', 'mediaUrl', 'onEvent', 'pickFolder']);
  });

  it('sends calls and folder picks over their channels', async () => {
    await expect(bridge().call('getStatus', {})).resolves.toEqual({ ok: true, value: 'pong' });
    await expect(bridge().pickFolder()).resolves.toBe('/home/me/Pictures');
    expect(invoked).toEqual([[IPC_CALL_CHANNEL, 'getStatus', {}], [PICK_FOLDER_CHANNEL]]);
  });

  it('delivers events without the IPC event object, until unsubscribed', () => {
    const seen: unknown[] = [];
    const unsubscribe = bridge().onEvent((e) => seen.push(e));
    const emit = (event: unknown) => listeners.get(IPC_EVENT_CHANNEL)?.forEach((l) => l({ sender: 'ipcRenderer itself' }, event));
    emit({ type: 'libraryChanged', reason: 'indexed' });
    unsubscribe();
    emit({ type: 'libraryChanged', reason: 'folders' });
    expect(seen).toEqual([{ type: 'libraryChanged', reason: 'indexed' }]);
    expect(listeners.get(IPC_EVENT_CHANNEL)?.size).toBe(0);
  });

  it('builds media URLs for photo ids only', () => {
    expect(bridge().mediaUrl('thumb', 12)).toBe('sightline-media://thumb/12');
    expect(bridge().mediaUrl('image', 3)).toBe('sightline-media://image/3');
    for (const [kind, id] of [['thumb', 0], ['thumb', -1], ['thumb', 1.5], ['thumb', Number.NaN], ['../etc', 1], ['thumb', '1/../2']] as const) {
      expect(() => bridge().mediaUrl(kind as 'thumb', id as number)).toThrow(/no media URL/);
    }
  });
});
