import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorToasts } from '../../../renderer/state/errorToasts.svelte.js';

describe('ErrorToasts', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('shows a failure until its time is up', () => {
    const toasts = new ErrorToasts(1000);
    toasts.push('Search failed: no such photo');
    expect(toasts.items.map((t) => t.message)).toEqual(['Search failed: no such photo']);
    vi.advanceTimersByTime(999);
    expect(toasts.items).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(toasts.items).toHaveLength(0);
  });

  it('merges a view repeating what the client already reported, keeping the fuller message', () => {
    const toasts = new ErrorToasts(1000);
    toasts.push('no such photo');
    toasts.push('Search failed: no such photo');
    expect(toasts.items).toHaveLength(1);
    expect(toasts.items[0]).toMatchObject({ message: 'Search failed: no such photo', count: 2 });
  });

  it('keeps at most four, dropping the oldest', () => {
    const toasts = new ErrorToasts(1000);
    for (const m of ['a1', 'b2', 'c3', 'd4', 'e5']) toasts.push(m);
    expect(toasts.items.map((t) => t.message)).toEqual(['b2', 'c3', 'd4', 'e5']);
  });

  it('stays while held and goes after release', () => {
    const toasts = new ErrorToasts(1000);
    toasts.push('x');
    const id = toasts.items[0].id;
    toasts.hold(id);
    vi.advanceTimersByTime(5000);
    expect(toasts.items).toHaveLength(1);
    toasts.release(id);
    vi.advanceTimersByTime(1000);
    expect(toasts.items).toHaveLength(0);
  });

  it('never shows an empty message', () => {
    const toasts = new ErrorToasts();
    toasts.push('   ');
    expect(toasts.items[0].message).toBe('Something went wrong.');
    toasts.dismiss(toasts.items[0].id);
    expect(toasts.items).toHaveLength(0);
  });
});
