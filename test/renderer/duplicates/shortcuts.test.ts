import { describe, expect, it } from 'vitest';
import { duplicatesCommandFor, duplicatesShortcuts, type KeyPress } from '../../../renderer/views/duplicates/shortcuts.js';
import { formatBytes, formatResolution, formatSharpness, memberHighlights, shortPath } from '../../../renderer/views/duplicates/memberFacts.js';
import type { DuplicateMember } from '../../../app/api/contract.js';

function press(key: string, modifiers: Partial<KeyPress> = {}): KeyPress {
  return { key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...modifiers };
}

describe('duplicatesCommandFor', () => {
  it('maps the list keys of the brief', () => {
    expect(duplicatesCommandFor(press('j'), 'list')).toBe('next-group');
    expect(duplicatesCommandFor(press('ArrowDown'), 'list')).toBe('next-group');
    expect(duplicatesCommandFor(press('k'), 'list')).toBe('previous-group');
    expect(duplicatesCommandFor(press('ArrowUp'), 'list')).toBe('previous-group');
    expect(duplicatesCommandFor(press('Enter'), 'list')).toBe('open-compare');
    expect(duplicatesCommandFor(press('K', { shiftKey: true }), 'list')).toBe('keep-all');
    expect(duplicatesCommandFor(press('T', { shiftKey: true }), 'list')).toBe('trash-others');
    expect(duplicatesCommandFor(press('t'), 'list')).toBe('trash-others');
    expect(duplicatesCommandFor(press('n'), 'list')).toBe('not-duplicates');
    expect(duplicatesCommandFor(press('u'), 'list')).toBe('undo');
    expect(duplicatesCommandFor(press('z', { ctrlKey: true }), 'list')).toBe('undo');
    expect(duplicatesCommandFor(press('z', { metaKey: true }), 'compare')).toBe('undo');
    expect(duplicatesCommandFor(press('2'), 'list')).toBe('tier-near');
  });

  it('leaves browser shortcuts and redo alone', () => {
    expect(duplicatesCommandFor(press('r', { ctrlKey: true }), 'list')).toBeNull();
    expect(duplicatesCommandFor(press('Z', { ctrlKey: true, shiftKey: true }), 'list')).toBeNull();
    expect(duplicatesCommandFor(press('ArrowLeft', { altKey: true }), 'list')).toBeNull();
    expect(duplicatesCommandFor(press('x'), 'list')).toBeNull();
  });

  it('switches photos in the comparison and closes it with Escape', () => {
    expect(duplicatesCommandFor(press('Escape'), 'compare')).toBe('close-compare');
    expect(duplicatesCommandFor(press('ArrowRight'), 'compare')).toBe('compare-right-next');
    expect(duplicatesCommandFor(press('ArrowLeft', { shiftKey: true }), 'compare')).toBe('compare-left-previous');
    expect(duplicatesCommandFor(press('s'), 'compare')).toBe('compare-swap');
    expect(duplicatesCommandFor(press(' '), 'compare')).toBe('compare-keep-right');
    expect(duplicatesCommandFor(press('K', { shiftKey: true }), 'compare')).toBe('keep-all');
    // Group navigation waits until the comparison is closed.
    expect(duplicatesCommandFor(press('j'), 'compare')).toBeNull();
  });

  it('lists every key of the brief in the help', () => {
    const keys = duplicatesShortcuts.map((s) => s.keys).join(' | ');
    for (const key of ['J', 'K', '↓', '↑', 'Enter', 'Shift+K', 'T', 'N', 'Ctrl+Z', 'U', 'Escape']) expect(keys).toContain(key);
  });

  it("says what the keys do in the exact tier, where the choice is the copy to keep", () => {
    const help = (keys: string) => duplicatesShortcuts.find((s) => s.keys === keys)!.action;
    expect(help('← / →')).toMatch(/Exact: the copy to keep/);
    expect(help('Shift+K')).toMatch(/Exact: keep all copies/);
    expect(help('T')).toMatch(/Exact: keep the picked copy, trash the other copies/);
    expect(help('N')).not.toMatch(/^Not duplicates$/);
    expect(duplicatesCommandFor(press('ArrowRight'), 'list')).toBe('next-keeper');
    expect(duplicatesCommandFor(press('ArrowLeft'), 'list')).toBe('previous-keeper');
  });
});

describe('member facts', () => {
  const base: DuplicateMember = { photoId: 1, score: 1, path: '/a.jpg', name: 'a.jpg', width: 4000, height: 3000, size: 2_400_000, format: 'jpeg', sharpness: 12.34, takenAt: null };

  it('formats sizes the way people read them', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(48_200)).toBe('48 kB');
    expect(formatBytes(2_400_000)).toBe('2.4 MB');
    expect(formatResolution(4000, 3000)).toBe('4000 × 3000 · 12 MP');
    expect(formatResolution(640, 480)).toBe('640 × 480 · 0.3 MP');
    expect(formatResolution(null, 10)).toBe('Unknown size');
    expect(formatSharpness(null)).toBe('Not measured');
    expect(formatSharpness(12.34)).toBe('12.3');
    expect(shortPath('/tmp/lib/base_images/x.jpg')).toBe('base_images/x.jpg');
    expect(shortPath('C:\\Photos\\2024\\x.jpg')).toBe('2024\\x.jpg');
    expect(shortPath('/x.jpg')).toBe('/x.jpg');
    expect(shortPath('x.jpg')).toBe('x.jpg');
  });

  it('highlights the best member of each fact, and no one when all are equal', () => {
    const highlights = memberHighlights({
      members: [base, { ...base, photoId: 2, width: 300, height: 300, size: 3_000_000 }, { ...base, photoId: 3, sharpness: null }],
    });
    expect(highlights.map((h) => h.resolution)).toEqual([true, false, true]);
    expect(highlights.map((h) => h.size)).toEqual([false, true, false]);
    expect(highlights.map((h) => h.sharpness)).toEqual([false, false, false]);
  });
});
