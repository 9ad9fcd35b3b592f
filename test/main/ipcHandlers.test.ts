import { describe, expect, it, vi } from 'vitest';
import { ApiError, type SightlineApiHandlers } from '../../app/api/contract.js';
import { APP_INDEX_URL, APP_ORIGIN } from '../../main/appProtocol.js';
import { createApiCallHandler, createPickFolderHandler, forwardingHandlers, senderRejection, type IpcInvokeEvent, type TrustedWindow } from '../../main/ipcHandlers.js';

const WINDOW_ID = 7;
const trusted: TrustedWindow = { webContentsId: WINDOW_ID, origin: APP_ORIGIN };

function event(overrides: { id?: number; url?: string; parent?: object | null; frame?: null } = {}): IpcInvokeEvent {
  const frame = overrides.frame === null ? null : { url: overrides.url ?? APP_INDEX_URL, parent: overrides.parent ?? null };
  return { sender: { id: overrides.id ?? WINDOW_ID }, senderFrame: frame };
}

/** A core that records what reaches it. */
function recordingCore() {
  const reached: { method: string; input: unknown }[] = [];
  const core = forwardingHandlers(async (method, input) => {
    reached.push({ method, input });
    if (method === 'getPhoto') throw new ApiError('not_found', 'no photo 99');
    return { echoed: method };
  });
  return { core, reached };
}

describe('senderRejection', () => {
  it('accepts the top frame of our window showing the renderer, on any of its pages', () => {
    expect(senderRejection(event(), trusted)).toBeNull();
    expect(senderRejection(event({ url: `${APP_ORIGIN}/` }), trusted)).toBeNull();
    expect(senderRejection(event({ url: `${APP_INDEX_URL}#/duplicates` }), trusted)).toBeNull();
  });

  it.each([
    ['another window', event({ id: WINDOW_ID + 1 }), /did not come from the Sightline window/],
    ['a subframe', event({ parent: { url: APP_INDEX_URL } }), /subframe/],
    ['a frame that is gone', event({ frame: null }), /gone/],
    ['a web page', event({ url: 'https://example.com/index.html' }), /not the Sightline renderer/],
    ['a local file', event({ url: 'file:///work/main/dist/renderer/index.html' }), /not the Sightline renderer/],
    ['the media scheme', event({ url: 'sightline-media://thumb/1' }), /not the Sightline renderer/],
    ['another host on our scheme', event({ url: 'sightline-app://evil/index.html' }), /not the Sightline renderer/],
    ['our origin with credentials', event({ url: 'sightline-app://user:pw@renderer/index.html' }), /not the Sightline renderer/],
    ['a lookalike scheme', event({ url: 'sightline-app-x://renderer/index.html' }), /not the Sightline renderer/],
    ['an unparsable URL', event({ url: 'not a url' }), /not the Sightline renderer/],
  ])('refuses %s', (_name, e, reason) => {
    expect(senderRejection(e, trusted)).toMatch(reason);
  });

  it('refuses everyone while no window is open', () => {
    expect(senderRejection(event(), null)).toMatch(/no Sightline window/);
  });

  it('treats a senderFrame getter that throws as a frame that is gone', () => {
    const e = { sender: { id: WINDOW_ID }, get senderFrame(): never { throw new Error('Render frame was disposed'); } };
    expect(senderRejection(e, trusted)).toMatch(/gone/);
  });
});

describe('the API call handler', () => {
  const handler = (core: SightlineApiHandlers, window: TrustedWindow | null = trusted) => createApiCallHandler({ trustedWindow: () => window, core });

  it.each([
    ['a wrong origin', event({ url: 'https://example.com/' })],
    ['a subframe', event({ parent: {} })],
    ['another window', event({ id: 99 })],
  ])('answers forbidden to %s, and the core never hears of it', async (_name, e) => {
    const { core, reached } = recordingCore();
    const response = await handler(core)(e, 'getStatus', {});
    expect(response).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(reached).toEqual([]);
  });

  it('answers not_found to a method the contract does not have', async () => {
    const { core, reached } = recordingCore();
    for (const method of ['deleteEverything', '__proto__', 'constructor', 'toString', 42, null]) {
      expect(await handler(core)(event(), method, {})).toMatchObject({ ok: false, error: { code: 'not_found' } });
    }
    expect(reached).toEqual([]);
  });

  it.each([
    ['an extra field', 'getStatus', { extra: 1 }],
    ['a path where an id goes', 'getPhoto', { photoId: '../../etc/passwd' }],
    ['a negative id', 'getPhoto', { photoId: -1 }],
    ['a fractional id', 'removeFolder', { folderId: 1.5 }],
    ['an empty path', 'addFolder', { path: '' }],
    ['a non-object', 'listPhotos', 'everything'],
    ['a keeper outside the group', 'decideDuplicates', { action: 'trash_others', members: [1, 2], keeper: 3 }],
    ['trash without a keeper', 'decideDuplicates', { action: 'trash_others', members: [1, 2] }],
    ['an upload id that is not hex', 'search', { query: { kind: 'upload', uploadId: '../x' } }],
  ])('answers bad_request to %s', async (_name, method, input) => {
    const { core, reached } = recordingCore();
    const response = await handler(core)(event(), method, input);
    expect(response).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(reached).toEqual([]);
  });

  it('hands a good payload to the core with the defaults applied', async () => {
    const { core, reached } = recordingCore();
    expect(await handler(core)(event(), 'listPhotos', { limit: 10 })).toEqual({ ok: true, value: { echoed: 'listPhotos' } });
    expect(reached).toEqual([{ method: 'listPhotos', input: { offset: 0, limit: 10, sort: 'date', direction: 'desc' } }]);
  });

  it('passes on the code of an ApiError the core answers with', async () => {
    const { core } = recordingCore();
    expect(await handler(core)(event(), 'getPhoto', { photoId: 99 })).toEqual({ ok: false, error: { code: 'not_found', message: 'no photo 99' } });
  });
});

describe('the folder picker handler', () => {
  it('opens the dialog for our window and returns its answer', async () => {
    const showFolderDialog = vi.fn(async () => '/home/me/Pictures');
    const pick = createPickFolderHandler({ trustedWindow: () => trusted, showFolderDialog });
    await expect(pick(event())).resolves.toBe('/home/me/Pictures');
    expect(showFolderDialog).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['a wrong origin', event({ url: 'https://example.com/' })],
    ['a subframe', event({ parent: {} })],
    ['another window', event({ id: 3 })],
  ])('refuses %s without opening a dialog', async (_name, e) => {
    const showFolderDialog = vi.fn(async () => '/');
    const pick = createPickFolderHandler({ trustedWindow: () => trusted, showFolderDialog });
    await expect(pick(e)).rejects.toMatchObject({ code: 'forbidden' });
    expect(showFolderDialog).not.toHaveBeenCalled();
  });
});
