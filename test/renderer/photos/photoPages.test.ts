import { describe, expect, it } from 'vitest';
import type { ApiInput, PhotoPage, PhotoSummary } from '../../../app/api/contract.js';
import { PhotoPages } from '../../../renderer/views/photos/photoPages.svelte.js';
import { held, settle } from '../shell/scriptedApi.js';

function photo(id: number): PhotoSummary {
  return { id, width: 400, height: 300, takenAt: null, path: `/p/${id}.jpg`, name: `${id}.jpg`, status: 'indexed' };
}

/** A library of `total` photos with ids 1..total, listed in the order asked. */
function library(total: () => number, calls: ApiInput<'listPhotos'>[] = []) {
  return async (input: ApiInput<'listPhotos'>): Promise<PhotoPage> => {
    calls.push(input);
    const n = total();
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    if (input.direction === 'desc') ids.reverse();
    const offset = input.offset ?? 0;
    return { total: n, offset, items: ids.slice(offset, offset + (input.limit ?? 500)).map(photo) };
  };
}

describe('PhotoPages', () => {
  it('fetches only the pages the visible rows need, once each', async () => {
    const calls: ApiInput<'listPhotos'>[] = [];
    const pages = new PhotoPages(library(() => 100_000, calls), 500);
    await pages.setOrder('date', 'asc');
    expect(pages.total).toBe(100_000);
    pages.ensure(40_000, 40_050);
    pages.ensure(40_010, 40_060);
    await settle();
    expect(calls.map((c) => c.offset)).toEqual([0, 40_000]);
    expect(pages.at(40_001)?.id).toBe(40_002);
    expect(pages.at(60_000)).toBeUndefined();
  });

  it('keeps showing the old photos while a reload is in flight, then shows the new ones', async () => {
    let total = 3;
    const pages = new PhotoPages(library(() => total), 500);
    await pages.setOrder('date', 'asc');
    pages.ensure(0, 3);
    total = 5;
    const reloading = pages.reload();
    expect(pages.at(2)?.id).toBe(3);
    await reloading;
    expect(pages.total).toBe(5);
    expect(pages.at(4)?.id).toBe(5);
  });

  it('drops the pages of the old order when the order changes, and ignores late answers for it', async () => {
    const slow = held<PhotoPage>();
    let first = true;
    const pages = new PhotoPages(async (input) => {
      if (first) {
        first = false;
        return slow.promise;
      }
      return library(() => 10)(input);
    }, 500);
    const stale = pages.setOrder('date', 'desc');
    await pages.setOrder('folder', 'asc');
    slow.resolve({ total: 99, offset: 0, items: [photo(99)] });
    await stale;
    expect(pages.total).toBe(10);
    expect(pages.at(0)?.id).toBe(1);
  });

  it('gives the viewer the photo at any position, fetching its page on demand', async () => {
    const pages = new PhotoPages(library(() => 2000), 500);
    await pages.setOrder('date', 'asc');
    expect(await pages.idAt(1234)).toBe(1235);
    expect(await pages.idAt(5000)).toBeNull();
    expect(pages.indexOf(1235)).toBe(1234);
    const sequence = pages.sequence();
    expect(sequence.length).toBe(2000);
    expect(await sequence.idAt(0)).toBe(1);
  });

  it('forgets pages past the end when the library shrinks', async () => {
    let total = 1200;
    const pages = new PhotoPages(library(() => total), 500);
    await pages.setOrder('date', 'asc');
    pages.ensure(1000, 1100);
    await settle();
    expect(pages.at(1100)?.id).toBe(1101);
    total = 400;
    await pages.reload();
    expect(pages.total).toBe(400);
    expect(pages.at(1100)).toBeUndefined();
  });

  it('says why a page could not be loaded', async () => {
    const pages = new PhotoPages(async () => {
      throw new Error('database is locked');
    });
    await pages.setOrder('date', 'desc');
    expect(pages.failed).toBe('database is locked');
    expect(pages.ready).toBe(false);
  });
});
