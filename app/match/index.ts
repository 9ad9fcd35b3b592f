// Local features, matching and geometric verification (DESIGN.md §1.5), and dataset cleaning on top.
export { extractFeatures, encodeLocalFeatures, decodeLocalFeatures, DEFAULT_FEATURE_LONG_SIDE, DEFAULT_MAX_KEYPOINTS, type LocalFeatures, type LocalFeatureOptions } from './localFeatures.js';
export { verifyPair, prepareMatching, DEFAULT_VERIFY_OPTIONS, type PairVerification, type PixelBox, type VerifyOptions } from './geometricVerification.js';
export { MatchPool, MatchWorkerCrashError, type MatchPoolOptions } from './matchPool.js';
export { cleanDataset, listDataset, CleaningJournal, type CleaningReport, type CleanedPhoto, type ClassSummary, type CleaningSettings } from './datasetCleaning.js';
