import { describe, expect, it } from 'vitest';
import { Navigation, listSequence } from '../../../renderer/state/navigation.svelte.js';

describe('Navigation', () => {
  it('goes back the way the user came: viewer → search → the query photo → the grid', () => {
    const nav = new Navigation();
    nav.go('photos');
    nav.openPhoto(5, listSequence([4, 5, 6]), 1);
    nav.go('search');
    expect(nav.viewer).toBeNull();
    nav.openPhoto(9);
    expect(nav.back()).toBe(true);
    expect([nav.section, nav.viewer]).toEqual(['search', null]);
    expect(nav.back()).toBe(true);
    expect(nav.section).toBe('photos');
    expect(nav.viewer?.photoId).toBe(5);
    expect(nav.back()).toBe(true);
    expect(nav.viewer).toBeNull();
  });

  it('steps through the sequence the viewer was opened from, and stops at its ends', async () => {
    const nav = new Navigation();
    nav.openPhoto(4, listSequence([4, 5, 6]), 0);
    expect(await nav.step(-1)).toBe(false);
    expect(await nav.step(1)).toBe(true);
    expect(await nav.step(1)).toBe(true);
    expect(nav.viewer).toMatchObject({ photoId: 6, index: 2 });
    expect(await nav.step(1)).toBe(false);
  });

  it('lets the latest of two quick steps win', async () => {
    const nav = new Navigation();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    nav.openPhoto(1, { length: 3, idAt: async (i) => (i === 1 ? (await gate, 2) : 3) }, 0);
    const first = nav.step(1);
    const second = nav.step(2);
    expect(await second).toBe(true);
    release();
    expect(await first).toBe(false);
    expect(nav.viewer?.photoId).toBe(3);
  });

  it('closes a viewer with no history behind it', () => {
    const nav = new Navigation();
    nav.viewer = { photoId: 1, index: 0, sequence: listSequence([1]) };
    expect(nav.back()).toBe(true);
    expect(nav.viewer).toBeNull();
    expect(nav.back()).toBe(false);
  });
});
