import { describe, expect, it } from 'vitest';
import { ApiError, type MatchHeatmap, type MatchVerification, type RegionOverlay, type SearchResult } from '../../../app/api/contract.js';
import { reportingClient } from '../../../renderer/state/reportingClient.js';
import { SearchSession, queryOf, verificationKey } from '../../../renderer/views/search/searchSession.svelte.js';
import { held, scriptedApi, settle } from '../shell/scriptedApi.js';

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

function verified(resultPhotoId: number): MatchVerification {
  return {
    verified: true,
    reason: null,
    matches: 210,
    inliers: 143,
    inlierRatio: 143 / 210,
    model: 'homography',
    queryBox: { x: 10, y: 10, width: 100, height: 200 },
    resultBox: { x: 20, y: 30, width: 90, height: 180 },
    lines: [[12, 14, 25, 35 + resultPhotoId]],
    query: { width: 1024, height: 768 },
    result: { width: 800, height: 600 },
  };
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

  describe('the matched points mode', () => {
    it('verifies nothing until the mode is on, then the selected result against the same query', async () => {
      const api = scriptedApi({ search: () => result([0.9, 0.8]), matchHeatmap: () => heatmap, verifyMatch: (i) => verified(i.resultPhotoId) });
      const session = new SearchSession(api.client);
      const box = { x: 10, y: 20, width: 300, height: 200 };
      await session.searchPhoto(eiffel, box);
      await session.select(100);
      expect(session.detailMode).toBe('heatmap');
      expect(session.verification).toBeNull();
      expect(api.inputsOf('verifyMatch')).toEqual([]);

      session.setDetailMode('points');
      expect(session.verification).toEqual({ state: 'loading' });
      await settle();
      expect(api.inputsOf('verifyMatch')).toEqual([{ query: { kind: 'photo', photoId: 7, box }, resultPhotoId: 100, maxLines: 80 }]);
      expect(session.verification).toEqual({ state: 'done', value: verified(100) });

      // Selecting another result while the mode is on verifies that one; the heatmap is still fetched.
      await session.select(101);
      await settle();
      expect(api.inputsOf('verifyMatch')).toHaveLength(2);
      expect(api.inputsOf('matchHeatmap')).toHaveLength(2);
      expect(session.verification?.state === 'done' && session.verification.value.lines[0][3]).toBe(136);
    });

    it('caches each (query, result) pair: switching modes and results back and forth asks once each', async () => {
      const api = scriptedApi({ search: () => result([0.9, 0.8]), matchHeatmap: () => heatmap, verifyMatch: (i) => verified(i.resultPhotoId) });
      const session = new SearchSession(api.client);
      await session.searchPhoto(eiffel);
      await session.select(100);
      session.toggleDetailMode();
      expect(session.detailMode).toBe('points');
      await settle();
      session.toggleDetailMode();
      expect(session.detailMode).toBe('heatmap');
      // A result selected in the heatmap mode is not verified...
      await session.select(101);
      await settle();
      expect(api.inputsOf('verifyMatch')).toHaveLength(1);
      // ...until the mode comes back on; then the first is still cached.
      session.toggleDetailMode();
      await session.select(100);
      await session.select(101);
      await settle();
      expect(api.inputsOf('verifyMatch').map((i) => (i as { resultPhotoId: number }).resultPhotoId)).toEqual([100, 101]);

      // The same result under another query (a box of the same photo) is another pair.
      await session.searchPhoto(eiffel, { x: 1, y: 2, width: 30, height: 40 });
      await session.select(100);
      await settle();
      expect(api.inputsOf('verifyMatch')).toHaveLength(3);
      expect(session.verifications.has(verificationKey({ kind: 'photo', photoId: 7 }, 100))).toBe(true);
      expect(session.verifications.has(verificationKey({ kind: 'photo', photoId: 7, box: { x: 1, y: 2, width: 30, height: 40 } }, 100))).toBe(true);
    });

    it('asks once for a pair still in flight, and keeps the answer of a result the user moved away from', async () => {
      const slow = held<MatchVerification>();
      const api = scriptedApi({
        search: () => result([0.9, 0.8]),
        matchHeatmap: () => heatmap,
        verifyMatch: (i) => (i.resultPhotoId === 100 ? slow.promise : verified(101)),
      });
      const session = new SearchSession(api.client);
      await session.searchPhoto(eiffel);
      session.setDetailMode('points');
      await session.select(100);
      session.setDetailMode('heatmap');
      session.setDetailMode('points');
      await session.select(101);
      await settle();
      expect(session.verification?.state).toBe('done');
      slow.resolve(verified(100));
      await settle();
      // The late answer lands in its own entry: the selected result's is untouched.
      expect(session.verification?.state === 'done' && session.verification.value.lines[0][3]).toBe(136);
      await session.select(100);
      expect(session.verification?.state === 'done' && session.verification.value.lines[0][3]).toBe(135);
      expect(api.inputsOf('verifyMatch')).toHaveLength(2);
    });

    it('reports a failed verification once, through the reporting client, and asks again only on retry', async () => {
      let fail = true;
      const api = scriptedApi({
        search: () => result([0.9, 0.8]),
        matchHeatmap: () => heatmap,
        verifyMatch: (i) => {
          if (fail) throw new ApiError('internal', 'OpenCV could not be loaded');
          return verified(i.resultPhotoId);
        },
      });
      const shown: string[] = [];
      const session = new SearchSession(reportingClient(api.client, (m) => shown.push(m)));
      await session.searchPhoto(eiffel);
      await session.select(100);
      session.setDetailMode('points');
      await settle();
      expect(session.verification).toEqual({ state: 'failed', message: 'OpenCV could not be loaded' });
      expect(shown).toEqual(['Could not check where the photos match: OpenCV could not be loaded']);

      // Coming back to it (another mode, another result, and back) neither asks nor reports again.
      session.toggleDetailMode();
      session.toggleDetailMode();
      await session.select(101);
      await session.select(100);
      await settle();
      expect(api.inputsOf('verifyMatch').filter((i) => (i as { resultPhotoId: number }).resultPhotoId === 100)).toHaveLength(1);
      // One report per failed call: result 100's once, result 101's (a call of its own) once.
      expect(api.inputsOf('verifyMatch')).toHaveLength(2);
      expect(shown).toHaveLength(2);
      expect(session.verification?.state).toBe('failed');

      fail = false;
      session.retryVerification();
      expect(session.verification).toEqual({ state: 'loading' });
      await settle();
      expect(session.verification).toEqual({ state: 'done', value: verified(100) });
      expect(shown).toHaveLength(2);
    });
  });
});
