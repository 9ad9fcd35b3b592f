// How "Learn from my library" reads in the UI: its phases, their counts and its figures.
import type { LearningPhase, LearningProgress } from '../../../app/api/contract.js';

export interface PhaseText {
  phase: LearningPhase;
  /** The step's name in the list of steps. */
  name: string;
  /** What the counter counts, e.g. "pairs checked". */
  unit: string;
}

export const LEARNING_STEPS: readonly PhaseText[] = [
  { phase: 'mining', name: 'Gathering places', unit: 'steps' },
  { phase: 'verifying', name: 'Verifying pairs', unit: 'pairs checked' },
  { phase: 'describing', name: 'Describing photos', unit: 'photos described' },
  { phase: 'training', name: 'Training', unit: 'training steps' },
  { phase: 'evaluating', name: 'Measuring on held-out places', unit: 'whitenings measured' },
  { phase: 'switching', name: 'Switching', unit: 'steps' },
];

export function stepOf(phase: LearningPhase): PhaseText {
  return LEARNING_STEPS.find((s) => s.phase === phase)!;
}

export function stepIndex(phase: LearningPhase): number {
  return LEARNING_STEPS.findIndex((s) => s.phase === phase);
}

/** The fraction of the phase done, or null while its size is not known. */
export function learningFraction(progress: LearningProgress | null): number | null {
  if (!progress || progress.total <= 0) return null;
  return Math.min(1, progress.done / progress.total);
}

/** A share (0–1) as a percentage with one decimal; a dash for nothing measured. */
export function formatShare(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(100 * value).toFixed(1)} %`;
}

/** The change between two shares in percentage points, signed. */
export function formatGain(before: number | null, after: number | null): string {
  if (before === null || after === null) return '';
  const points = 100 * (after - before);
  const rounded = Math.abs(points) < 0.05 ? 0 : points;
  return `${rounded > 0 ? '+' : rounded < 0 ? '−' : '±'}${Math.abs(rounded).toFixed(1)} points`;
}
