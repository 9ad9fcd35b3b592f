// Wraps the API client so that every failed call reaches the error toasts, whichever view made it.
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
  duplicateGroups: 'Could not load duplicate groups',
  decideDuplicates: 'Could not apply the decision',
  undoDecision: 'Could not undo the decision',
  places: 'Could not load places',
};

export function describeFailure(method: ApiMethod, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `${ACTIONS[method]}: ${message}`;
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
        report(describeFailure(method, e));
        throw e;
      }
    },
  };
}
