// Lookups keyed by photo id for the grouping passes over a whole library. Photo ids are SQLite
// rowids, nearly dense from 1, so a flat array indexed by id does what a Map does without the
// Map's cost: at 100k photos each Map held a few MB and, while growing, left several times that
// for the collector, which set the process's memory peak during grouping. Sparse or negative ids
// (possible from callers other than the library) fall back to a Map.

/** Whether ids this spread out still fit a flat array without wasting more than they save. */
function compact(count: number, min: number, max: number): boolean {
  return min >= 0 && Number.isSafeInteger(max) && max < 4 * count + 65_536;
}

function range(ids: ArrayLike<number>): { min: number; max: number; integers: boolean } {
  let min = Infinity;
  let max = -Infinity;
  let integers = true;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id)) integers = false;
    if (id < min) min = id;
    if (id > max) max = id;
  }
  return { min, max, integers };
}

/** id → a small non-negative integer (a slot or a row), −1 when absent. */
export class IdSlots {
  private readonly flat: Int32Array | undefined;
  private readonly map: Map<number, number> | undefined;

  /** Slot i for ids[i]; a repeated id gets its last slot, as a Map's set would. */
  constructor(ids: ArrayLike<number>) {
    const { min, max, integers } = range(ids);
    if (ids.length > 0 && integers && compact(ids.length, min, max)) {
      this.flat = new Int32Array(max + 1).fill(-1);
      for (let i = 0; i < ids.length; i++) this.flat[ids[i]] = i;
    } else {
      this.map = new Map();
      for (let i = 0; i < ids.length; i++) this.map.set(ids[i], i);
    }
  }

  get(id: number): number {
    if (this.flat) return id >= 0 && id < this.flat.length && Number.isInteger(id) ? this.flat[id] : -1;
    return this.map!.get(id) ?? -1;
  }
}

/**
 * Objects with a numeric `id`, found by it; each also has a slot, its position in `items`, for
 * per-object state kept in typed arrays of `items.length`. A repeated id: the last one counts.
 */
export class ById<T extends { id: number }> {
  private readonly slots: IdSlots;
  readonly items: readonly T[];

  constructor(items: Iterable<T>) {
    this.items = Array.isArray(items) ? (items as readonly T[]) : [...items];
    const ids = new Float64Array(this.items.length);
    for (let i = 0; i < this.items.length; i++) ids[i] = this.items[i].id;
    this.slots = new IdSlots(ids);
  }

  get(id: number): T | undefined {
    const slot = this.slots.get(id);
    return slot < 0 ? undefined : this.items[slot];
  }

  has(id: number): boolean {
    return this.slots.get(id) >= 0;
  }

  /** The item's slot, −1 when absent. */
  slotOf(id: number): number {
    return this.slots.get(id);
  }

  /** Each distinct id's item once (the one that counts), in order. */
  *unique(): IterableIterator<T> {
    for (let i = 0; i < this.items.length; i++) if (this.slots.get(this.items[i].id) === i) yield this.items[i];
  }
}
