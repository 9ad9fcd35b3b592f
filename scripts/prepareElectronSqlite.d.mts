// Types of prepareElectronSqlite.mjs, a plain script (it runs before anything is built), for the
// TypeScript that imports it: start.mjs's tests and the electron-builder config test.

export declare const NATIVE_DIR: string;
export declare const MANIFEST: string;
export declare const SQLITE_BINDING: string;

export declare function prepareElectronSqlite(options: {
  root: string;
  electronBinary?: string | null;
  force?: boolean;
  log?: (line: string) => void;
}): { binding: string; manifest: string; reused: boolean };
