import { describe, expect, it } from 'vitest';
import type { MatchVerification } from '../../../app/api/contract.js';
import { boxOnStage, imageLayout, matchLines, pointOnStage, queryViewOf, sideBySide, stageHeight, verificationSummary } from '../../../renderer/views/search/matchedPoints.js';

const base: MatchVerification = {
  verified: true,
  reason: null,
  matches: 210,
  inliers: 143,
  inlierRatio: 143 / 210,
  model: 'homography',
  queryBox: null,
  resultBox: null,
  lines: [],
  query: { width: 1000, height: 500 },
  result: { width: 400, height: 800 },
};

describe('matched points', () => {
  it('says how many matches agree on which model, or why it is not verified', () => {
    expect(verificationSummary(base)).toBe('Verified: 143 of 210 matches agree on one homography (68 %)');
    expect(verificationSummary({ ...base, model: 'affine', inliers: 20, matches: 40, inlierRatio: 0.5 })).toBe('Verified: 20 of 40 matches agree on one affine transform (50 %)');
    expect(verificationSummary({ ...base, verified: false, reason: '5 inliers (homography), fewer than the 15 needed' })).toBe(
      'Not verified: 5 inliers (homography), fewer than the 15 needed',
    );
  });

  it('zooms a box query on its box with a margin, kept inside the photo', () => {
    expect(queryViewOf({ width: 1000, height: 500 })).toEqual({ x: 0, y: 0, width: 1000, height: 500 });
    // margin = 12 % of the longer side (200 → 24)
    expect(queryViewOf({ width: 1000, height: 500 }, { x: 100, y: 0, width: 100, height: 200 })).toEqual({ x: 76, y: 0, width: 148, height: 224 });
  });

  it('letterboxes each view in its half of the stage, centred', () => {
    const [q, r] = sideBySide({ width: 1016, height: 400 }, 16, [
      { x: 0, y: 0, width: 1000, height: 500 },
      { x: 0, y: 0, width: 400, height: 800 },
    ]);
    // Panes are 500 × 400: the wide query fills the width, the tall result the height.
    expect(q.shown).toEqual({ x: 0, y: 75, width: 500, height: 250 });
    expect(r.shown).toEqual({ x: 516 + 150, y: 0, width: 200, height: 400 });
  });

  it('maps original pixels to the stage through the view, zoom and letterbox included', () => {
    const [q, r] = sideBySide({ width: 1016, height: 400 }, 16, [
      { x: 200, y: 100, width: 200, height: 100 },
      { x: 0, y: 0, width: 400, height: 800 },
    ]);
    // The query view is zoomed ×2.5 (200 px → 500 px) and letterboxed 75 px from the top.
    expect(pointOnStage({ x: 200, y: 100 }, q)).toEqual({ x: 0, y: 75 });
    expect(pointOnStage({ x: 300, y: 150 }, q)).toEqual({ x: 250, y: 200 });
    expect(boxOnStage({ x: 250, y: 120, width: 40, height: 20 }, q)).toEqual({ x: 125, y: 125, width: 100, height: 50 });
    // The result is scaled ×0.5 and starts at 666 px.
    expect(pointOnStage({ x: 400, y: 800 }, r)).toEqual({ x: 866, y: 400 });
    const [line] = matchLines([[300, 150, 200, 400]], q, r);
    expect(line.query).toEqual({ x: 250, y: 200 });
    expect(line.result).toEqual({ x: 766, y: 200 });
    expect(line.colour).toMatch(/^hsl\(/);
  });

  it('colours the lines by where their query end lies, top to bottom, over the whole range of hues', () => {
    const whole = { view: { x: 0, y: 0, width: 100, height: 100 }, shown: { x: 0, y: 0, width: 100, height: 100 } };
    const colours = matchLines(
      [
        [5, 52, 0, 0],
        [5, 50, 0, 0],
        [9, 51, 0, 0],
      ],
      whole,
      whole,
    ).map((l) => l.colour);
    expect(colours).toEqual(['hsl(300 90% 62%)', 'hsl(0 90% 62%)', 'hsl(150 90% 62%)']);
  });

  it('places the image so that only the view shows in its clip box', () => {
    expect(imageLayout({ width: 1000, height: 500 }, { x: 250, y: 100, width: 500, height: 250 })).toEqual({ width: '200%', height: '200%', left: '-50%', top: '-40%' });
  });

  it('makes the stage as tall as the taller view needs, within bounds', () => {
    // Panes 500 wide: a 400 × 800 photo wants 1000 px, capped at 600.
    expect(stageHeight(1016, 16, [{ width: 1000, height: 500 }, { width: 400, height: 800 }], 600)).toBe(600);
    expect(stageHeight(1016, 16, [{ width: 1000, height: 500 }, { width: 800, height: 400 }], 600)).toBe(250);
    expect(stageHeight(1016, 16, [{ width: 4000, height: 500 }, { width: 4000, height: 400 }], 600)).toBe(160);
  });
});
