import { describe, expect, it } from 'vitest';
import { connectedComponents } from '../../app/search/connectedComponents.js';

describe('connectedComponents', () => {
  it('gives every node the smallest index of its component', () => {
    expect(Array.from(connectedComponents(6, [[4, 5], [1, 2], [2, 0]]))).toEqual([0, 0, 0, 3, 4, 4]);
  });
});
