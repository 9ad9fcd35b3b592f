// Tells the library which paths changed in its folders, late enough to be useful: a camera import
// or a copy from a phone writes hundreds of files over seconds, each in many chunks, and a photo
// read mid-copy would be indexed as truncated. So events are coalesced (one report per burst, not
// one per write), and a created or updated file is reported only once its size and mtime have
// stopped changing for `settleMs`. Deletions need no settling and are reported with the burst.
//
// Reports are paths only, not event types: by the time the library looks, a "created" file may be
// gone again, so the library re-examines each reported path (rescans it if it is a folder).
import path from 'node:path';
import fs from 'node:fs/promises';
import watcher from '@parcel/watcher';

export interface WatchOptions {
  /** Quiet time after the last event before a burst is examined (default 1000 ms). */
  debounceMs?: number;
  /** How long a file's size and mtime must stay unchanged before it is reported (default 1000 ms). */
  settleMs?: number;
  /** Absolute folders whose changes are ignored (our own data dir, if it is inside a library folder). */
  skipDirs?: string[];
  /** Watcher failures (a folder that cannot be watched, an overflowing event queue) and errors thrown by onChanges. */
  onError?: (error: Error, folder?: string) => void;
}

export interface FolderWatch {
  /** Settles once every folder is being watched (or has failed, via onError). Events before it may be missed. */
  ready: Promise<void>;
  close(): Promise<void>;
}

interface Settling {
  size: number;
  mtimeMs: number;
  stableSince: number;
}

export function watchFolders(folders: string[], onChanges: (paths: string[]) => void, opts: WatchOptions = {}): FolderWatch {
  const debounceMs = opts.debounceMs ?? 1000;
  const settleMs = opts.settleMs ?? 1000;
  // Poll often enough to notice a settled file promptly without statting a big import constantly.
  const pollMs = Math.min(500, Math.max(25, Math.round(settleMs / 4)));
  // A copy that never pauses must still be reported now and then.
  const maxWaitMs = Math.max(5 * debounceMs, 5000);
  const roots = folders.map((f) => path.resolve(f));
  const skipDirs = (opts.skipDirs ?? []).map((d) => path.resolve(d));
  const reportError = (e: unknown, folder?: string) => opts.onError?.(e instanceof Error ? e : new Error(String(e)), folder);

  const dirty = new Map<string, watcher.EventType>();
  const settling = new Map<string, Settling>();
  let firstDirtyAt = 0;
  let debounceTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;
  let closed = false;

  const ignored = (root: string, p: string) => {
    if (skipDirs.some((d) => p === d || p.startsWith(d + path.sep))) return true;
    // Hidden relative to the watched folder: the folder itself may well live under a dot-dir.
    const rel = path.relative(root, p);
    return rel.split(path.sep).some((segment) => segment.startsWith('.'));
  };

  const deliver = (paths: Iterable<string>) => {
    const list = [...new Set(paths)].sort();
    if (list.length === 0 || closed) return;
    try {
      onChanges(list);
    } catch (e) {
      reportError(e);
    }
  };

  const flush = () => {
    debounceTimer = undefined;
    if (closed) return;
    const deleted: string[] = [];
    const now = Date.now();
    for (const [p, type] of dirty) {
      if (type === 'delete') {
        settling.delete(p);
        deleted.push(p);
      } else {
        // size -1: the first poll only records what it sees, so even a finished file waits settleMs.
        settling.set(p, { size: -1, mtimeMs: -1, stableSince: now });
      }
    }
    dirty.clear();
    deliver(deleted);
    schedulePoll();
  };

  const schedulePoll = () => {
    if (pollTimer || polling || closed || settling.size === 0) return;
    pollTimer = setTimeout(() => void poll(), pollMs);
  };

  const poll = async () => {
    pollTimer = undefined;
    polling = true;
    try {
      const now = Date.now();
      const ready: string[] = [];
      await Promise.all([...settling].map(async ([p, s]) => {
        let st: Awaited<ReturnType<typeof fs.stat>>;
        try {
          st = await fs.stat(p);
        } catch {
          // Gone (or unreadable) again: the library finds out which when it looks.
          ready.push(p);
          return;
        }
        if (st.isDirectory()) {
          ready.push(p);
        } else if (st.size !== s.size || st.mtimeMs !== s.mtimeMs) {
          s.size = st.size;
          s.mtimeMs = st.mtimeMs;
          s.stableSince = now;
        } else if (now - s.stableSince >= settleMs) {
          ready.push(p);
        }
      }));
      // A path that saw a new event while we were statting starts over; the rest are done.
      const done = ready.filter((p) => settling.has(p) && !dirty.has(p));
      for (const p of done) settling.delete(p);
      deliver(done);
    } finally {
      polling = false;
      schedulePoll();
    }
  };

  const onEvents = (root: string) => (err: Error | null, events: watcher.Event[]) => {
    if (closed) return;
    if (err) reportError(err, root);
    const now = Date.now();
    let any = false;
    for (const ev of events) {
      if (ignored(root, ev.path)) continue;
      if (dirty.size === 0) firstDirtyAt = now;
      dirty.set(ev.path, ev.type);
      // Writing again resets the settle clock.
      const s = settling.get(ev.path);
      if (s) s.stableSince = now;
      any = true;
    }
    if (!any) return;
    if (debounceTimer) clearTimeout(debounceTimer);
    debounceTimer = setTimeout(flush, now - firstDirtyAt >= maxWaitMs ? 0 : debounceMs);
  };

  const subscriptions: watcher.AsyncSubscription[] = [];
  const ready = Promise.all(roots.map(async (root) => {
    try {
      // Skipped folders inside this root are not watched at all, so our own thumbnail writes cost nothing.
      const ignore = skipDirs.filter((d) => d.startsWith(root + path.sep));
      subscriptions.push(await watcher.subscribe(root, onEvents(root), { ignore }));
    } catch (e) {
      reportError(e, root);
    }
  })).then(() => undefined);

  return {
    ready,
    async close() {
      closed = true;
      if (debounceTimer) clearTimeout(debounceTimer);
      if (pollTimer) clearTimeout(pollTimer);
      await ready;
      await Promise.all(subscriptions.splice(0).map((s) => s.unsubscribe().catch((e) => reportError(e))));
    },
  };
}
