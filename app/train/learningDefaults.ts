// Training settings used when the command line names none, shared by `sightline train` and the
// bench. They were chosen on inner folds of Paris6k-mini's training landmarks (louvre held out
// entirely, each other landmark in turn as validation), never on an evaluated fold; the sweep is
// in docs/design-notes.md.
import { DEFAULT_MINING } from './tripletMining.js';

export const DEFAULT_LEARNING = {
  /** Shift + FC on frozen features: cheap steps, so many of them. */
  whitening: { epochs: 10, batchSize: 16, learningRate: 1e-4, margin: 0.1, remineEvery: 10, mining: DEFAULT_MINING, form: 'full' },
  /** The `diagonal` form rescales PCA components only: D numbers, so a larger step. */
  diagonalWhitening: { epochs: 10, batchSize: 16, learningRate: 1e-2, margin: 0.1, remineEvery: 10, mining: DEFAULT_MINING, form: 'diagonal' },
  /** Backbone units + whitening: each step runs the trained part for every photo in the batch. */
  triplet: { epochs: 2, batchSize: 8, learningRate: 1e-4, margin: 0.1, remineEvery: 10, mining: DEFAULT_MINING, form: 'full' },
} as const;
