// Learning states as the core reports them, shared by the API contract and Learn view tests.
import type { LearningState } from '../../app/api/contract.js';

/** Nothing learned yet and nothing running: the state of a fresh library. */
export const idleLearning: LearningState = {
  state: 'idle',
  progress: null,
  lastRun: null,
  current: 'no whitening (plain R-MAC)',
  undo: null,
  requirements: { minPlaces: 4, minPhotosPerPlace: 2, heldOutShare: 0.25 },
};
