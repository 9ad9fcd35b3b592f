import { describe, expect, it } from 'vitest';
import type { ApiEvent } from '../../../app/api/contract.js';
import { INDEXING_RELOAD_MS, RELOAD_PAUSE_MS, ReloadScheduler, type ReloadTimers } from '../../../renderer/views/duplicates/reloadScheduler.js';

/** Timers that run only when the test advances the clock. */
class ManualTimers implements ReloadTimers {
  time = 0;
  #next = 1;
  readonly pending = new Map<number, { at: number; callback: () => void }>();
  now() {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number) {
    const id = this.#next++;
    this.pending.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown) {
    this.pending.delete(handle as number);
  }
  advance(ms: number) {
    this.time += ms;
    for (const [id, timer] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > this.time) continue;
      this.pending.delete(id);
      timer.callback();
    }
  }
}

const changed = (reason: 'indexed' | 'folders' | 'decisions' | 'trash'): ApiEvent => ({ type: 'libraryChanged', reason });
const indexing = (state: 'idle' | 'running'): ApiEvent => ({ type: 'indexing', indexing: { state, progress: null, lastSummary: null, lastError: null } });

function setup() {
  const timers = new ManualTimers();
  let reloads = 0;
  const scheduler = new ReloadScheduler(() => reloads++, timers);
  return { timers, scheduler, reloads: () => reloads };
}

describe('ReloadScheduler', () => {
  it('reloads once per burst of changes', () => {
    const { timers, scheduler, reloads } = setup();
    scheduler.handle(changed('decisions'));
    scheduler.handle(changed('trash'));
    timers.advance(RELOAD_PAUSE_MS - 1);
    expect(reloads()).toBe(0);
    timers.advance(1);
    expect(reloads()).toBe(1);
  });

  it('reloads rarely while indexing runs, and right away when it ends', () => {
    const { timers, scheduler, reloads } = setup();
    scheduler.handle(indexing('running'));
    for (let i = 0; i < 10; i++) {
      scheduler.handle(changed('indexed'));
      timers.advance(1000);
    }
    expect(reloads()).toBe(0);
    timers.advance(INDEXING_RELOAD_MS);
    expect(reloads()).toBe(1);
    scheduler.handle(changed('indexed'));
    scheduler.handle(indexing('idle'));
    timers.advance(0);
    expect(reloads()).toBe(2);
    expect(timers.pending.size).toBe(0);
  });

  it('lets a decision during indexing reload soon', () => {
    const { timers, scheduler, reloads } = setup();
    scheduler.handle(indexing('running'));
    scheduler.handle(changed('indexed'));
    scheduler.handle(changed('decisions'));
    timers.advance(RELOAD_PAUSE_MS);
    expect(reloads()).toBe(1);
  });

  it('stops after dispose', () => {
    const { timers, scheduler, reloads } = setup();
    scheduler.handle(changed('folders'));
    scheduler.dispose();
    timers.advance(INDEXING_RELOAD_MS);
    expect(reloads()).toBe(0);
  });
});
