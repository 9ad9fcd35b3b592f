// How progress reads in the Library's indexing panel and the Learn view's run panel alike.
import { describe, expect, it } from 'vitest';
import { formatDuration, formatRate, progressFigures } from '../../../renderer/lib/progressText.js';

describe('progress text', () => {
  it('formats durations and rates, with or without what the rate counts', () => {
    expect(formatDuration(0.4)).toBe('under a second');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatDuration(3 * 3600 + 120)).toBe('3 h 2 min');
    expect(formatDuration(-1)).toBe('—');
    expect(formatRate(12.4, 'photos')).toBe('12 photos/s');
    expect(formatRate(1.25, 'photos')).toBe('1.3 photos/s');
    expect(formatRate(12.4)).toBe('12/s');
    expect(formatRate(1.5)).toBe('1.5/s');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(Number.NaN, 'photos')).toBe('—');
  });

  it('gives the four figures under a progress bar, dashes where nothing is known yet', () => {
    expect(progressFigures({ rate: 1.5, eta: 6 }, { count: '3 / 12', unit: 'pairs checked', fraction: 0.25, stretch: 'step', etaTestId: 'learn-eta' })).toEqual([
      { value: '3 / 12', caption: 'pairs checked' },
      { value: '25 %', caption: 'of this step' },
      { value: '1.5/s', caption: 'rate' },
      { value: '6 s', caption: 'left in this step', testId: 'learn-eta' },
    ]);
    expect(progressFigures(null, { count: '…', unit: 'done', fraction: null, rateUnit: 'photos', stretch: 'phase' }).map((f) => [f.value, f.caption])).toEqual([
      ['…', 'done'],
      ['—', 'of this phase'],
      ['—', 'rate'],
      ['—', 'left in this phase'],
    ]);
    expect(progressFigures({ rate: 20, eta: null }, { count: '5 / …', unit: 'files found', fraction: 0.999, rateUnit: 'photos', stretch: 'phase' }).map((f) => f.value)).toEqual(['5 / …', '99 %', '20 photos/s', '—']);
  });
});
