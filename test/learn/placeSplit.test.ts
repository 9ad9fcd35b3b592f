// Held-out places for "Learn from my library": whole places on one side, the same split every time.
import { describe, expect, it } from 'vitest';
import { NotEnoughPlacesError, splitByPlace } from '../../app/learn/placeSplit.js';

/** Places of the given sizes with consecutive photo ids. */
function places(...sizes: number[]): Array<{ name: string; photos: number[] }> {
  let next = 1;
  return sizes.map((n, i) => ({ name: `place ${i}`, photos: Array.from({ length: n }, () => next++) }));
}

describe('splitting the verified places', () => {
  const all = places(8, 2, 5, 3, 2, 6, 4, 2, 3, 7, 2, 4);
  const photoCount = all.reduce((n, p) => n + p.photos.length, 0);

  it('puts every place wholly on one side, so no held-out photo is trained on', () => {
    const { training, heldOut } = splitByPlace(all);
    expect(training.length + heldOut.length).toBe(all.length);
    const trained = new Set(training.flatMap((p) => p.photos));
    const held = heldOut.flatMap((p) => p.photos);
    expect(held.length).toBeGreaterThan(0);
    for (const id of held) expect(trained.has(id)).toBe(false);
    expect(new Set([...trained, ...held]).size).toBe(photoCount);
  });

  it('holds out about a quarter of the photos, and at least two places on each side', () => {
    const { training, heldOut } = splitByPlace(all);
    const held = heldOut.reduce((n, p) => n + p.photos.length, 0);
    expect(held).toBeLessThanOrEqual(Math.ceil(0.25 * photoCount));
    expect(held).toBeGreaterThanOrEqual(Math.floor(0.15 * photoCount));
    expect(heldOut.length).toBeGreaterThanOrEqual(2);
    expect(training.length).toBeGreaterThanOrEqual(2);
  });

  it('is deterministic: the same places in any order give the same split; another seed may give another', () => {
    const names = (s: { heldOut: Array<{ name: string }> }) => s.heldOut.map((p) => p.name).sort();
    const first = splitByPlace(all, { seed: 7 });
    const reversed = splitByPlace([...all].reverse(), { seed: 7 });
    const rotated = splitByPlace([...all.slice(5), ...all.slice(0, 5)], { seed: 7 });
    expect(names(reversed)).toEqual(names(first));
    expect(names(rotated)).toEqual(names(first));
    const seeds = new Set([1, 2, 3, 4, 5, 6].map((seed) => names(splitByPlace(all, { seed })).join('|')));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('keeps two places on each side even when one place holds most of the photos', () => {
    const { training, heldOut } = splitByPlace(places(40, 2, 2, 3));
    expect(heldOut.length).toBe(2);
    expect(training.length).toBe(2);
    expect(training.some((p) => p.photos.length === 40)).toBe(true);
  });

  it('refuses fewer than four places, and places that share a photo', () => {
    expect(() => splitByPlace(places(5, 5, 5))).toThrow(NotEnoughPlacesError);
    expect(() => splitByPlace(places(5, 5, 5))).toThrow(/3 verified places found; learning needs at least 4/);
    expect(() => splitByPlace([{ photos: [1, 2] }, { photos: [2, 3] }, { photos: [4, 5] }, { photos: [6, 7] }])).toThrow(/photo 2 is in two places/);
  });
});
