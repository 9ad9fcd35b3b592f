import { describe, expect, it } from 'vitest';
import { ById, IdSlots } from '../../app/search/idIndex.js';

describe('IdSlots', () => {
  it('maps each id to its position and anything else to −1, for dense and for sparse ids alike', () => {
    for (const ids of [[3, 1, 2], [5, 10_000_000_000, 7], [-4, 0, 9], [1.5, 2, 3]]) {
      const slots = new IdSlots(ids);
      ids.forEach((id, i) => expect(slots.get(id)).toBe(i));
      for (const absent of [4, -1, 0.5, 123_456, Number.NaN]) if (!ids.includes(absent)) expect(slots.get(absent)).toBe(-1);
    }
  });

  it('gives a repeated id its last position, as a Map would', () => {
    expect(new IdSlots([4, 9, 4]).get(4)).toBe(2);
    expect(new IdSlots([4, 1e15, 4]).get(4)).toBe(2);
  });

  it('is empty for no ids', () => {
    expect(new IdSlots([]).get(0)).toBe(-1);
  });
});

describe('ById', () => {
  it('finds items by id, gives their slots, and lists each id once with the item that counts', () => {
    const items = [{ id: 2, v: 'a' }, { id: 5, v: 'b' }, { id: 2, v: 'c' }];
    const byId = new ById(items);
    expect(byId.get(2)?.v).toBe('c');
    expect(byId.get(5)?.v).toBe('b');
    expect(byId.get(3)).toBeUndefined();
    expect(byId.has(5)).toBe(true);
    expect(byId.slotOf(5)).toBe(1);
    expect(byId.slotOf(7)).toBe(-1);
    expect([...byId.unique()].map((x) => x.v)).toEqual(['b', 'c']);
  });

  it('accepts any iterable', () => {
    const byId = new ById(new Set([{ id: 1 }, { id: 8 }]));
    expect(byId.slotOf(8)).toBe(1);
    expect(byId.items).toHaveLength(2);
  });
});
