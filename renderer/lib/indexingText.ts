// How indexing progress reads in the UI: its phases and share done (durations and rates: progressText.ts).
import type { IndexProgress } from '../../app/api/contract.js';

export const PHASE_NAMES: Record<IndexProgress['phase'], string> = {
  scan: 'Scanning folders',
  hash: 'Checking files',
  describe: 'Describing photos',
  whiten: 'Fitting whitening',
  done: 'Finishing',
};

/** The fraction done, or null while the total is not known yet. */
export function progressFraction(progress: IndexProgress | null): number | null {
  if (!progress || progress.total <= 0) return null;
  return progress.done / progress.total;
}
