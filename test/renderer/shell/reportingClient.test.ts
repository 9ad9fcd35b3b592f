import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../app/api/contract.js';
import { reportingClient } from '../../../renderer/state/reportingClient.js';
import { scriptedApi, status } from './scriptedApi.js';

describe('reportingClient', () => {
  it('reports every failed call with what the user was doing, and still rejects', async () => {
    const api = scriptedApi({
      addFolder: () => {
        throw new ApiError('bad_request', '/nope does not exist');
      },
    });
    const reported: string[] = [];
    const client = reportingClient(api.client, (m) => reported.push(m));
    await expect(client.call('addFolder', { path: '/nope' })).rejects.toThrow('/nope does not exist');
    expect(reported).toEqual(['Could not add the folder: /nope does not exist']);
  });

  it('passes answers, media URLs and events through untouched', async () => {
    const api = scriptedApi({ getStatus: () => status(3) });
    const reported: string[] = [];
    const client = reportingClient(api.client, (m) => reported.push(m));
    expect((await client.call('getStatus', {})).photos.indexed).toBe(3);
    expect(client.mediaUrl('thumb', 7)).toBe('/media/thumb/7');
    const seen: string[] = [];
    client.onEvent((e) => seen.push(e.type));
    api.emit({ type: 'libraryChanged', reason: 'folders' });
    expect(seen).toEqual(['libraryChanged']);
    expect(reported).toEqual([]);
  });
});
