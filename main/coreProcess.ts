// Entry of the core's utility process (utilityProcess.fork of the bundle built from this file):
// opens the library and serves app/api calls and media over process.parentPort. Indexing and
// inference live here, so however long they run, the window's main process stays responsive.
import type {} from 'electron'; // process.parentPort's type (the module itself is not loaded)
import { SightlineService } from '../app/api/sightlineService.js';
import { serveCore } from './coreChannel.js';

// Present only when Electron started this file as a utility process.
const parentPort = process.parentPort as Electron.ParentPort | null | undefined;
if (!parentPort) {
  console.error('coreProcess runs only as an Electron utility process (utilityProcess.fork).');
  process.exit(1);
}

serveCore({
  post: (message) => parentPort.postMessage(message),
  listen: (listener) => parentPort.on('message', (event) => listener(event.data)),
  open: (osTrash) => SightlineService.open({ osTrash }),
  exit: (code) => process.exit(code),
});
