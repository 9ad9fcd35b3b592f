// The Learn view's state: the core's learning state, kept current by events; the run's options.
import { describe, expect, it } from 'vitest';
import type { LearningState } from '../../../app/api/contract.js';
import { errorText } from '../../../renderer/state/reportingClient.js';
import { clampEpochs, LearningSession } from '../../../renderer/views/learn/learningSession.svelte.js';
import { learnCommandFor } from '../../../renderer/views/learn/shortcuts.js';
import { formatGain, formatShare, learningFraction } from '../../../renderer/views/learn/learnText.js';
import { idleLearning as idle } from '../../support/learningStates.js';
import { deferred, fakeApiClient } from '../duplicates/fakeApiClient.js';

const running: LearningState = { ...idle, state: 'running', progress: { phase: 'verifying', done: 3, total: 12, rate: 1.5, eta: 6 } };
const failed: LearningState = { ...idle, lastRun: { outcome: 'failed', at: '2026-01-01T00:00:00Z', report: null, error: 'Not enough verified places', notEnoughPlaces: true } };
const switched: LearningState = { ...idle, current: 'learned', undo: { switchedAt: '2026-01-01T00:00:00Z', previous: 'no whitening (plain R-MAC)', heldOutMAP: { before: 0.6, after: 0.7 } } };

describe('LearningSession', () => {
  it('loads the state, starts with the chosen options and follows the events', async () => {
    const fake = fakeApiClient({ learningStatus: () => idle, learnFromLibrary: () => running });
    const session = new LearningSession({ client: fake.client, onError: () => undefined });
    const off = session.connect();
    await Promise.resolve();
    await Promise.resolve();
    expect(session.learning).toEqual(idle);
    expect(session.canStart).toBe(true);
    session.epochs = 2.4;
    session.dryRun = true;
    await session.start();
    expect(fake.callsOf('learnFromLibrary')).toEqual([{ dryRun: true, epochs: 2 }]);
    expect(session.running).toBe(true);
    expect(session.canStart).toBe(false);
    fake.emit({ type: 'learning', learning: failed });
    expect(session.running).toBe(false);
    expect(session.lastRun?.notEnoughPlaces).toBe(true);
    off();
    expect(fake.listenerCount()).toBe(0);
  });

  it('drops an answer that arrives after a newer event', async () => {
    const answer = deferred<LearningState>();
    const fake = fakeApiClient({ learningStatus: () => idle, learnFromLibrary: () => answer.promise });
    const session = new LearningSession({ client: fake.client, onError: () => undefined });
    session.connect();
    await session.load();
    const starting = session.start();
    // A tiny library: the run fails before the call that started it has answered.
    fake.emit({ type: 'learning', learning: failed });
    answer.resolve(running);
    await starting;
    expect(session.learning).toEqual(failed);
  });

  it('reverts, then says what it went back to; failures go to onError', async () => {
    const errors: string[] = [];
    let state = switched;
    const fake = fakeApiClient({ learningStatus: () => state, revertLearning: () => (state = idle), cancelLearning: () => { throw new Error('nope'); } });
    const session = new LearningSession({ client: fake.client, onError: (e) => errors.push(errorText(e)) });
    await session.load();
    expect(session.canUndo).toBe(true);
    await session.revert();
    expect(session.learning?.undo).toBeNull();
    expect(session.notice).toMatch(/^Back to the previous whitening: no whitening \(plain R-MAC\)\. /);
    session.learning = running;
    await session.cancel();
    expect(errors).toEqual(['nope']);
  });

  it('reads figures and keys as the view shows them', () => {
    expect(clampEpochs(0)).toBe(1);
    expect(clampEpochs(1000)).toBe(100);
    expect(clampEpochs(NaN)).toBe(10);
    expect(formatShare(0.8125)).toBe('81.3 %');
    expect(formatShare(null)).toBe('—');
    expect(formatGain(0.6, 0.675)).toBe('+7.5 points');
    expect(formatGain(0.7, 0.6)).toBe('−10.0 points');
    expect(learningFraction(running.progress)).toBe(0.25);
    expect(learningFraction({ ...running.progress!, total: 0 })).toBeNull();
    expect(learnCommandFor({ key: 'S', ctrlKey: false, metaKey: false, altKey: false })).toBe('start');
    expect(learnCommandFor({ key: 'u', ctrlKey: true, metaKey: false, altKey: false })).toBeNull();
  });
});
