// When a learned whitening replaces the one in use: only when it ranks the held-out places
// better, by a margin. Switching re-describes every photo of the library, and a held-out set of a
// few places moves by a point between two equally good whitenings, so a tie is not a reason.
import type { RankingQuality } from './heldOutRanking.js';

/** Held-out mAP the learned whitening must gain over the one in use (0.5 points). */
export const MIN_MAP_GAIN = 0.005;

/**
 * The margin in use: SIGHTLINE_LEARN_MIN_GAIN (a share, −1 to 1) when set, else MIN_MAP_GAIN. A
 * negative margin switches even to a worse whitening; the end-to-end tests use it to reach Undo.
 */
export function defaultMinGain(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SIGHTLINE_LEARN_MIN_GAIN;
  if (raw === undefined || raw === '') return MIN_MAP_GAIN;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < -1 || value > 1) throw new Error(`SIGHTLINE_LEARN_MIN_GAIN must be a number from -1 to 1 (a share of mAP), got "${raw}"`);
  return value;
}

export interface SwitchDecision {
  switch: boolean;
  /** One sentence for the user. */
  reason: string;
}

export function percent(value: number): string {
  return `${(100 * value).toFixed(1)} %`;
}

function signedPoints(share: number): string {
  return `${share >= 0 ? '+' : '−'}${(100 * Math.abs(share)).toFixed(1)} points`;
}

export function decideSwitch(current: RankingQuality, learned: RankingQuality, options: { minGain?: number; dryRun?: boolean } = {}): SwitchDecision {
  const minGain = options.minGain ?? defaultMinGain();
  if (!Number.isFinite(current.mAP) || !Number.isFinite(learned.mAP) || learned.queries === 0) {
    return { switch: false, reason: 'Kept the current whitening: the held-out places gave no query to measure with.' };
  }
  const gain = learned.mAP - current.mAP;
  const points = signedPoints(gain);
  const better = gain >= minGain;
  if (options.dryRun) {
    return {
      switch: false,
      reason: better
        ? `Evaluated only: the learned whitening would have replaced the current one (held-out mAP ${percent(current.mAP)} → ${percent(learned.mAP)}, ${points}).`
        : `Evaluated only: the learned whitening would not have replaced the current one (held-out mAP ${percent(current.mAP)} now, ${percent(learned.mAP)} learned).`,
    };
  }
  if (better && gain > 0) return { switch: true, reason: `Switched to the learned whitening: it ranks the held-out places better (mAP ${percent(current.mAP)} → ${percent(learned.mAP)}, ${points}).` };
  if (better) return { switch: true, reason: `Switched to the learned whitening although it gains nothing (mAP ${percent(current.mAP)} → ${percent(learned.mAP)}, ${points}): the required gain is set to ${signedPoints(minGain)}.` };
  return {
    switch: false,
    reason: gain > 0
      ? `Kept the current whitening: the learned one gains only ${points} of held-out mAP (${percent(current.mAP)} → ${percent(learned.mAP)}); it must gain at least ${(100 * minGain).toFixed(1)} to be worth re-describing every photo.`
      : `Kept the current whitening: the learned one ranks the held-out places no better (mAP ${percent(learned.mAP)} learned, ${percent(current.mAP)} now).`,
  };
}
