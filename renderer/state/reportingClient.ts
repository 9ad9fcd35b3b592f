// Wraps the API client so that every failed call reaches the error toasts, whichever view made it.
// A view that catches such a failure hands it to onError as it was thrown: `reportUnlessReported`
// tells the failures the client already showed from the ones nobody has shown yet, so that each
// failure is shown exactly once.
import type { ApiMethod } from '../../app/api/contract.js';
import type { ApiClient } from '../lib/apiClient.js';

/** What the user was trying to do, per call, to prefix the core's message with. */
const ACTIONS: Record<ApiMethod, string> = {
  getStatus: 'Could not read the library status',
  listFolders: 'Could not list the folders',
  addFolder: 'Could not add the folder',
  removeFolder: 'Could not remove the folder',
  startIndexing: 'Could not start indexing',
  pauseIndexing: 'Could not pause indexing',
  resumeIndexing: 'Could not resume indexing',
  cancelIndexing: 'Could not cancel indexing',
  listFailures: 'Could not list the failed files',
  listPhotos: 'Could not load photos',
  getPhoto: 'Could not load the photo',
  search: 'Search failed',
  uploadImage: 'Could not read the image',
  matchHeatmap: 'Could not compute the match heatmap',
  regionOverlay: 'Could not load the region overlay',
  verifyMatch: 'Could not check where the photos match',
  duplicateGroups: 'Could not load duplicate groups',
  decideDuplicates: 'Could not apply the decision',
  decideCopies: 'Could not apply the decision on the copies',
  undoDecision: 'Could not undo the decision',
  places: 'Could not load places',
  learningStatus: 'Could not read the learning status',
  learnFromLibrary: 'Could not start learning',
  cancelLearning: 'Could not cancel learning',
  revertLearning: 'Could not go back to the previous whitening',
};

/** Errors a reporting client has shown already (errors only: they are what `call` rejects with). */
const reported = new WeakSet<Error>();

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function describeFailure(method: ApiMethod, error: unknown): string {
  return `${ACTIONS[method]}: ${errorText(error)}`;
}

/** Whether a reporting client has already shown this failure to the user. */
export function wasReported(error: unknown): boolean {
  return error instanceof Error && reported.has(error);
}

/**
 * An onError for views that hand over what they caught: it shows what no one has shown yet (a
 * failure of the view's own, or a plain message) and stays quiet about failed calls the client
 * has already reported.
 */
export function reportUnlessReported(report: (message: string) => void): (error: unknown) => void {
  return (error) => {
    if (!wasReported(error)) report(errorText(error));
  };
}

export function reportingClient(client: ApiClient, report: (message: string) => void): ApiClient {
  return {
    transport: client.transport,
    pickFolder: client.pickFolder,
    mediaUrl: (kind, id) => client.mediaUrl(kind, id),
    onEvent: (listener) => client.onEvent(listener),
    async call(method, input) {
      try {
        return await client.call(method, input);
      } catch (e) {
        // Always an Error, so that whoever catches it can tell that it was shown.
        const error = e instanceof Error ? e : new Error(errorText(e));
        report(describeFailure(method, error));
        reported.add(error);
        throw error;
      }
    },
  };
}
