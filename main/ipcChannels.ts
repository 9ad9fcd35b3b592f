// IPC channels the Electron shell adds beside app/api's contract. Kept free of imports: the preload
// bundles this file, and every byte it pulls in runs in the renderer's process.

/** The native folder picker: the renderer invokes it with no arguments and gets a path or null. */
export const PICK_FOLDER_CHANNEL = 'sightline:pick-folder';
