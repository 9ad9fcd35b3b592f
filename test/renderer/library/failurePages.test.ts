import { describe, expect, it } from 'vitest';
import type { Failure } from '../../../app/api/contract.js';
import { FailurePages } from '../../../renderer/views/library/failurePages.svelte.js';

function failures(n: number): Failure[] {
  return Array.from({ length: n }, (_, i) => ({ path: `/p/${i}.jpg`, code: 'decode', message: 'truncated JPEG', at: '2024-01-01T00:00:00Z' }));
}

describe('FailurePages', () => {
  it('pages through the failures', async () => {
    const all = failures(120);
    const pages = new FailurePages(async ({ offset = 0, limit = 200 }) => ({ total: all.length, items: all.slice(offset, offset + limit) }), 50);
    await pages.load(0);
    expect([pages.items.length, pages.hasPrevious, pages.hasNext]).toEqual([50, false, true]);
    await pages.next();
    await pages.next();
    expect([pages.offset, pages.items.length, pages.hasNext]).toEqual([100, 20, false]);
    await pages.previous();
    expect(pages.offset).toBe(50);
  });

  it('steps back to the last page when failures were fixed under it', async () => {
    let all = failures(120);
    const pages = new FailurePages(async ({ offset = 0, limit = 200 }) => ({ total: all.length, items: all.slice(offset, offset + limit) }), 50);
    await pages.load(100);
    all = failures(30);
    await pages.load();
    expect([pages.offset, pages.items.length, pages.total]).toEqual([0, 30, 30]);
  });
});
