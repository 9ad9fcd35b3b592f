import { describe, expect, it } from 'vitest';
import type { MatchHeatmap, RegionOverlay, SearchResult } from '../../../app/api/contract.js';
import { SearchSession, queryOf } from '../../../renderer/views/search/searchSession.svelte.js';
import { held, scriptedApi } from '../shell/scriptedApi.js';

const eiffel = { id: 7, name: 'eiffel.jpg', width: 1024, height: 768 };

function result(scores: number[]): SearchResult {
  return {
    query: { kind: 'photo', photoId: 7 },
    hits: scores.map((score, i) => ({ photoId: 100 + i, score, path: `/p/${i}.jpg`, name: `${i}.jpg`, width: 800, height: 600 })),
    ms: 12,
  };
}

const heatmap: MatchHeatmap = {
  score: 0.8,
  query: { width: 1024, height: 768, regions: [{ box: { x: 0, y: 0, width: 512, height: 512 }, heat: 0.5 }] },
  result: { width: 800, height: 600, regions: [{ box: { x: 0, y: 0, width: 400, height: 400 }, heat: 0.5 }] },
  pairs: [{ query: 0, result: 0, contribution: 0.3 }],
};

function overlay(photoId: number): RegionOverlay {
  return { kind: 'grid', label: `grid of ${photoId}`, width: 10, height: 10, regions: [{ box: { x: 0, y: 0, width: 5, height: 5 }, weight: 0.4, objectness: null }] };
}

describe('SearchSession', () => {
  it('searches with a box of a photo and shows every hit until the threshold is raised', async () => {
    const api = scriptedApi({ search: () => result([0.91, 0.62, 0.4, 0.1]) });
    const session = new SearchSession(api.client);
    const box = { x: 10, y: 20, width: 300, height: 200 };
    await session.searchPhoto(eiffel, box);
    expect(api.inputsOf('search')).toEqual([{ query: { kind: 'photo', photoId: 7, box }, top: 100 }]);
    expect(session.scoreRange).toEqual({ min: 0.1, max: 0.91 });
    expect(session.visibleHits).toHaveLength(4);
    session.setThreshold(0.5);
    expect(session.visibleHits.map((h) => h.score)).toEqual([0.91, 0.62]);
  });

  it('fetches the heatmap of the selected hit against the same query, keeping only the latest', async () => {
    const first = held<MatchHeatmap>();
    const api = scriptedApi({
      search: () => result([0.9, 0.8]),
      matchHeatmap: (input) => (input.resultPhotoId === 100 ? first.promise : { ...heatmap, score: 0.7 }),
    });
    const session = new SearchSession(api.client);
    await session.searchPhoto(eiffel);
    const slow = session.select(100);
    await session.select(101);
    first.resolve(heatmap);
    await slow;
    expect(session.selectedId).toBe(101);
    expect(session.heatmap?.score).toBe(0.7);
    expect(session.heatmapLoading).toBe(false);
    expect(api.inputsOf('matchHeatmap')[1]).toEqual({ query: { kind: 'photo', photoId: 7 }, resultPhotoId: 101, pairs: 8 });
  });

  it('loads the region overlays of the query photo and the selected hit once each', async () => {
    const api = scriptedApi({ search: () => result([0.9]), matchHeatmap: () => heatmap, regionOverlay: (i) => overlay(i.photoId) });
    const session = new SearchSession(api.client);
    await session.searchPhoto(eiffel);
    await session.select(100);
    session.setShowRegions(true);
    await new Promise((r) => setTimeout(r, 0));
    session.setShowRegions(false);
    session.setShowRegions(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(session.overlayFor(7)?.label).toBe('grid of 7');
    expect(session.overlayFor(100)?.label).toBe('grid of 100');
    expect(api.inputsOf('regionOverlay')).toHaveLength(2);
  });

  it('sends a dropped image as base64, then searches with its upload id', async () => {
    const bytes = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    const api = scriptedApi({
      uploadImage: () => ({ uploadId: 'a'.repeat(32), width: 640, height: 480 }),
      search: () => result([0.5]),
    });
    const session = new SearchSession(api.client);
    await session.searchUpload(new File([bytes], 'tower.jpg', { type: 'image/jpeg' }));
    expect(api.inputsOf('uploadImage')).toEqual([{ name: 'tower.jpg', dataBase64: Buffer.from(bytes).toString('base64') }]);
    expect(api.inputsOf('search')[0]).toMatchObject({ query: { kind: 'upload', uploadId: 'a'.repeat(32) } });
    expect(session.source).toMatchObject({ kind: 'upload', name: 'tower.jpg', width: 640, height: 480 });
    expect(session.source?.kind === 'upload' && session.source.objectUrl.startsWith('blob:')).toBe(true);
    session.dispose();
  });

  it('refuses files that are not images before sending anything', async () => {
    const api = scriptedApi({});
    const session = new SearchSession(api.client);
    await expect(session.searchUpload(new File(['hello'], 'notes.txt', { type: 'text/plain' }))).rejects.toThrow('notes.txt is not an image');
    await expect(session.searchUpload(new File([], 'empty.jpg', { type: 'image/jpeg' }))).rejects.toThrow('empty');
    expect(api.calls).toHaveLength(0);
  });

  it('drops the answer of a search the user has replaced', async () => {
    const slow = held<SearchResult>();
    let n = 0;
    const api = scriptedApi({ search: () => (n++ === 0 ? slow.promise : result([0.3])) });
    const session = new SearchSession(api.client);
    const old = session.searchPhoto(eiffel);
    await session.searchPhoto({ ...eiffel, id: 8 });
    slow.resolve(result([0.99, 0.98]));
    await old;
    expect(session.hits.map((h) => h.score)).toEqual([0.3]);
    expect(session.searching).toBe(false);
  });

  it('describes a photo query with or without its box', () => {
    expect(queryOf({ kind: 'photo', photoId: 3, name: 'x', width: 1, height: 1 })).toEqual({ kind: 'photo', photoId: 3 });
    expect(queryOf({ kind: 'upload', uploadId: 'u', name: 'x', width: 1, height: 1, objectUrl: 'blob:x' })).toEqual({ kind: 'upload', uploadId: 'u' });
  });
});
