// The library's photos in the grid's order, fetched a page at a time as rows scroll into view, so
// 100k photos cost only the pages the user looks at. After the library changes, pages already
// shown stay on screen until their fresh copy arrives, so the grid never blinks empty.
import type { ApiInput, ApiOutput, PhotoSummary } from '../../../app/api/contract.js';
import type { PhotoSequence } from '../../state/navigation.svelte.js';

export type PhotoSort = 'date' | 'folder';
export type SortDirection = 'asc' | 'desc';
export type ListPhotos = (input: ApiInput<'listPhotos'>) => Promise<ApiOutput<'listPhotos'>>;

interface Page {
  items: PhotoSummary[];
  /** The reload generation it was fetched in; older pages are shown but fetched again. */
  generation: number;
}

/** Pages refetched on reload without waiting for a row to ask: those looked at most recently. */
const RECENT_PAGES = 6;

export class PhotoPages {
  total = $state(0);
  /** False until the first page of the current order answered. */
  ready = $state(false);
  failed = $state<string | null>(null);
  sort = $state<PhotoSort>('date');
  direction = $state<SortDirection>('desc');

  #pages = $state.raw<ReadonlyMap<number, Page>>(new Map());
  #inFlight = new Map<number, { generation: number; request: Promise<void> }>();
  #generation = 0;
  #recent: number[] = [];
  readonly #list: ListPhotos;
  readonly pageSize: number;

  constructor(list: ListPhotos, pageSize = 500) {
    this.#list = list;
    this.pageSize = pageSize;
  }

  /** The photo at a position, if its page is here (reactive: rows redraw when it arrives). */
  at(index: number): PhotoSummary | undefined {
    return this.#pages.get(Math.floor(index / this.pageSize))?.items[index % this.pageSize];
  }

  /** Fetches what is missing or stale among positions [start, end). */
  ensure(start: number, end: number): void {
    const first = Math.max(0, Math.floor(start / this.pageSize));
    const last = Math.floor(Math.max(start, end - 1) / this.pageSize);
    for (let p = first; p <= last; p++) {
      this.#touch(p);
      const page = this.#pages.get(p);
      if (!page || page.generation < this.#generation) void this.#load(p);
    }
  }

  /** The library changed: fetch again what is on screen, keeping it shown meanwhile. */
  reload(): Promise<void> {
    this.#generation += 1;
    const pages = this.#recent.length ? [...this.#recent] : [0];
    return Promise.all(pages.map((p) => this.#load(p))).then(() => undefined);
  }

  setOrder(sort: PhotoSort, direction: SortDirection): Promise<void> {
    if (sort === this.sort && direction === this.direction && this.ready) return Promise.resolve();
    this.sort = sort;
    this.direction = direction;
    // The old order's pages mean nothing in the new one.
    this.#generation += 1;
    this.#pages = new Map();
    this.#inFlight.clear();
    this.#recent = [];
    this.ready = false;
    return this.#load(0);
  }

  async idAt(index: number): Promise<number | null> {
    if (index < 0) return null;
    const p = Math.floor(index / this.pageSize);
    const page = this.#pages.get(p);
    if (!page) await this.#load(p).catch(() => undefined);
    return this.at(index)?.id ?? null;
  }

  /** Where a photo is in the current order, among the pages loaded; -1 if not found there. */
  indexOf(photoId: number): number {
    for (const [p, page] of this.#pages) {
      const i = page.items.findIndex((item) => item.id === photoId);
      if (i >= 0) return p * this.pageSize + i;
    }
    return -1;
  }

  sequence(): PhotoSequence {
    return { length: this.total, idAt: (i) => this.idAt(i) };
  }

  #touch(page: number): void {
    const at = this.#recent.indexOf(page);
    if (at >= 0) this.#recent.splice(at, 1);
    this.#recent.push(page);
    if (this.#recent.length > RECENT_PAGES) this.#recent.shift();
  }

  #load(page: number): Promise<void> {
    const generation = this.#generation;
    const pending = this.#inFlight.get(page);
    if (pending && pending.generation === generation) return pending.request;
    const request: Promise<void> = this.#fetch(page, generation).finally(() => {
      if (this.#inFlight.get(page)?.request === request) this.#inFlight.delete(page);
    });
    this.#inFlight.set(page, { generation, request });
    return request;
  }

  async #fetch(page: number, generation: number): Promise<void> {
    const order = { sort: this.sort, direction: this.direction };
    try {
      const answer = await this.#list({ offset: page * this.pageSize, limit: this.pageSize, ...order });
      // An answer for an order the user has since left is dropped.
      if (order.sort !== this.sort || order.direction !== this.direction) return;
      // A slower answer from before a reload must not replace a fresher one.
      if ((this.#pages.get(page)?.generation ?? -1) > generation) return;
      const pages = new Map(this.#pages);
      pages.set(page, { items: answer.items, generation });
      // Pages past the new end are gone from the library.
      for (const p of pages.keys()) if (p * this.pageSize >= answer.total && p > 0) pages.delete(p);
      this.#pages = pages;
      this.total = answer.total;
      this.ready = true;
      this.failed = null;
    } catch (e) {
      this.failed = e instanceof Error ? e.message : String(e);
    }
  }
}
