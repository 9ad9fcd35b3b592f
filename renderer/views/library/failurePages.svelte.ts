// The files indexing could not read, a page at a time.
import type { ApiInput, ApiOutput, Failure } from '../../../app/api/contract.js';

export type ListFailures = (input: ApiInput<'listFailures'>) => Promise<ApiOutput<'listFailures'>>;

export class FailurePages {
  items = $state.raw<Failure[]>([]);
  total = $state(0);
  offset = $state(0);
  loading = $state(false);
  readonly pageSize: number;
  readonly #list: ListFailures;
  #ticket = 0;

  get hasPrevious(): boolean {
    return this.offset > 0;
  }

  get hasNext(): boolean {
    return this.offset + this.pageSize < this.total;
  }

  constructor(list: ListFailures, pageSize = 50) {
    this.#list = list;
    this.pageSize = pageSize;
  }

  async load(offset = this.offset): Promise<void> {
    const ticket = ++this.#ticket;
    this.loading = true;
    try {
      const page = await this.#list({ offset: Math.max(0, offset), limit: this.pageSize });
      if (ticket !== this.#ticket) return;
      // Failures fixed since (the file was re-indexed) can leave us past the end: step back.
      if (page.items.length === 0 && offset > 0 && page.total > 0) {
        await this.load(Math.floor((page.total - 1) / this.pageSize) * this.pageSize);
        return;
      }
      this.items = page.items;
      this.total = page.total;
      this.offset = Math.max(0, offset);
    } catch {
      // The reporting client has told the user; keep showing the last page.
    } finally {
      if (ticket === this.#ticket) this.loading = false;
    }
  }

  next(): Promise<void> {
    return this.hasNext ? this.load(this.offset + this.pageSize) : Promise.resolve();
  }

  previous(): Promise<void> {
    return this.hasPrevious ? this.load(Math.max(0, this.offset - this.pageSize)) : Promise.resolve();
  }
}
