import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Status } from '../../../app/api/contract.js';
import { LibraryStatus } from '../../../renderer/state/libraryStatus.svelte.js';
import { held, idle, running, scriptedApi, settle, status } from './scriptedApi.js';

describe('LibraryStatus', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads the status on connect and follows indexing events', async () => {
    const api = scriptedApi({ getStatus: () => status(10) });
    const library = new LibraryStatus(api.client);
    const disconnect = library.connect();
    await settle();
    expect(library.status?.photos.indexed).toBe(10);
    expect(library.isIndexing).toBe(false);

    api.emit({ type: 'indexing', indexing: running(3, 20) });
    expect(library.isIndexing).toBe(true);
    expect(library.indexing?.progress?.done).toBe(3);
    disconnect();
  });

  it('reads the counts again and reloads the views when a run ends', async () => {
    let indexed = 10;
    const api = scriptedApi({ getStatus: () => status(indexed) });
    const library = new LibraryStatus(api.client, 1000);
    library.connect();
    await settle();
    api.emit({ type: 'indexing', indexing: running(19, 20) });
    indexed = 30;
    api.emit({ type: 'indexing', indexing: idle });
    await settle();
    expect(library.status?.photos.indexed).toBe(30);
    const before = library.revision;
    vi.advanceTimersByTime(1000);
    expect(library.revision).toBe(before + 1);
  });

  it('folds a burst of libraryChanged events into one reload per interval', async () => {
    const api = scriptedApi({ getStatus: () => status(1) });
    const library = new LibraryStatus(api.client, 1000);
    library.connect();
    await settle();
    const start = library.revision;
    for (let i = 0; i < 20; i++) api.emit({ type: 'libraryChanged', reason: 'indexed' });
    // The first change after a quiet spell shows at once; the rest of the burst waits its turn.
    vi.advanceTimersByTime(0);
    expect(library.revision).toBe(start + 1);
    api.emit({ type: 'libraryChanged', reason: 'indexed' });
    api.emit({ type: 'libraryChanged', reason: 'indexed' });
    vi.advanceTimersByTime(999);
    expect(library.revision).toBe(start + 1);
    vi.advanceTimersByTime(1);
    expect(library.revision).toBe(start + 2);
  });

  it('does not let a status read that raced an indexing event undo it', async () => {
    const slow = held<Status>();
    const api = scriptedApi({ getStatus: () => slow.promise });
    const library = new LibraryStatus(api.client);
    library.connect();
    api.emit({ type: 'indexing', indexing: running(5, 9) });
    slow.resolve(status(0, idle));
    await settle();
    expect(library.status).not.toBeNull();
    expect(library.indexing?.state).toBe('running');
  });

  it('says why the core cannot be read, and clears it once it can', async () => {
    let up = false;
    const api = scriptedApi({
      getStatus: () => {
        if (!up) throw new Error('Sightline is not answering');
        return status(2);
      },
    });
    const library = new LibraryStatus(api.client, 1000, 5000);
    library.connect();
    await settle();
    expect(library.unavailable).toContain('not answering');
    up = true;
    // No event says the core is back: the status is asked for again on its own.
    await vi.advanceTimersByTimeAsync(5000);
    expect(library.unavailable).toBeNull();
    expect(library.status?.photos.indexed).toBe(2);
  });
});
