import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../app/api/contract.js';
import { reportUnlessReported, reportingClient, wasReported } from '../../../renderer/state/reportingClient.js';
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

  it('lets onError tell a failure the client showed from one nobody has shown, so each shows once', async () => {
    const api = scriptedApi({
      duplicateGroups: () => {
        throw new ApiError('unavailable', 'Sightline is not answering');
      },
      places: () => {
        // Not an Error: the client still hands on an Error it can recognise.
        throw 'socket closed';
      },
    });
    const shown: string[] = [];
    const client = reportingClient(api.client, (m) => shown.push(m));
    const onError = reportUnlessReported((m) => shown.push(m));

    const failure = await client.call('duplicateGroups', {}).catch((e: unknown) => e);
    expect(wasReported(failure)).toBe(true);
    onError(failure);
    const odd = await client.call('places', {}).catch((e: unknown) => e);
    expect(odd).toBeInstanceOf(Error);
    onError(odd);
    // A view's own failure, and a message, are shown by onError.
    onError(new TypeError('group.members is undefined'));
    onError('The image of a.jpg could not be loaded.');
    expect(shown).toEqual([
      'Could not load duplicate groups: Sightline is not answering',
      'Could not load places: socket closed',
      'group.members is undefined',
      'The image of a.jpg could not be loaded.',
    ]);
  });

  it('names the exact tier decision when it fails', async () => {
    const api = scriptedApi({
      decideCopies: () => {
        throw new ApiError('conflict', 'Photo 3 has 1 file on disk now');
      },
    });
    const shown: string[] = [];
    const client = reportingClient(api.client, (m) => shown.push(m));
    await expect(client.call('decideCopies', { photoId: 3, action: 'keep_all' })).rejects.toThrow('1 file on disk');
    expect(shown).toEqual(['Could not apply the decision on the copies: Photo 3 has 1 file on disk now']);
  });
});
