import { describe, expect, it } from 'vitest';
import { renderTrainingReport } from '../../app/train/trainingReport.js';
import type { TrainingHistory } from '../../app/train/tripletTrainer.js';

const history: TrainingHistory = {
  losses: Array.from({ length: 12 }, (_, i) => ({ step: i + 1, loss: 0.05 / (i + 1) })),
  mining: [
    { step: 0, trainingMAP: 0.5, minedLoss: 0.06, activeShare: 0.9, validationMAP: 0.4 },
    { step: 6, trainingMAP: 0.75, minedLoss: 0.02, activeShare: 0.5, validationMAP: 0.45 },
    { step: 12, trainingMAP: 0.9, minedLoss: 0.01, activeShare: 0.25, validationMAP: 0.5 },
  ],
  seconds: 3.25,
  totalSteps: 12,
  stepsPerEpoch: 4,
  resumedFrom: 0,
};

describe('the learning-curve page', () => {
  const html = renderTrainingReport(history, { title: 'Run <1> & co', facts: [['model', 'abc "q"'], ['data', '/photos']] });

  it('is one self-contained page: inline SVG, no scripts, nothing fetched', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|<link|src=|href=|url\(/i);
  });

  it('escapes what it shows and states the before/after figures', () => {
    expect(html).toContain('Run &lt;1&gt; &amp; co');
    expect(html).toContain('abc &quot;q&quot;');
    expect(html).toContain('Training mAP 50.0 → 90.0');
    expect(html).toContain('margin-violating triplets 90 % → 25 %');
    expect(html).toContain('12 steps of 12 in 3.3 s');
  });

  it('draws every loss point, the running mean and the mAP series including validation', () => {
    const paths = html.match(/<path d="([^"]+)"/g)!;
    // batch loss, running mean, mined loss, training mAP, validation mAP
    expect(paths).toHaveLength(5);
    expect(paths[0].split(/[ML]/).filter((p) => p.includes(','))).toHaveLength(12);
    expect(html).toContain('validation (held-out classes)');
  });
});
