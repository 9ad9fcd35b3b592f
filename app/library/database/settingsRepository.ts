// SQL for `settings`: a small key → text store for library-scoped preferences (current model id,
// whitening choice…). Values are opaque strings; encoding structured values is the caller's choice.
import type Sqlite from 'better-sqlite3';
import type { Database } from './libraryDatabase.js';

export class SettingsRepository {
  private readonly one: Sqlite.Statement<[string], string>;
  private readonly upsert: Sqlite.Statement<[string, string]>;
  private readonly del: Sqlite.Statement<[string]>;

  constructor(db: Database) {
    this.one = db.prepare<[string], string>(`SELECT value FROM settings WHERE key = ?`).pluck();
    this.upsert = db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
    this.del = db.prepare(`DELETE FROM settings WHERE key = ?`);
  }

  get(key: string): string | undefined {
    return this.one.get(key);
  }

  set(key: string, value: string): void {
    this.upsert.run(key, value);
  }

  /** Returns whether the key existed. */
  delete(key: string): boolean {
    return this.del.run(key).changes > 0;
  }
}
