// Every failure the user should know about ends up here, so no error lives only in the console.

export interface ErrorToast {
  id: number;
  message: string;
  /** How many times the same failure happened while it was on screen. */
  count: number;
}

export class ErrorToasts {
  items = $state<ErrorToast[]>([]);
  #nextId = 1;
  #timers = new Map<number, ReturnType<typeof setTimeout>>();
  readonly #lifetimeMs: number;

  constructor(lifetimeMs = 10_000) {
    this.#lifetimeMs = lifetimeMs;
  }

  push(message: string): void {
    const text = message.trim() || 'Something went wrong.';
    // The same failure again while it is on screen (a retry, a reload, or a message that repeats a
    // shorter one) is counted on the toast already there rather than stacked.
    const same = this.items.find((t) => t.message.includes(text) || text.includes(t.message));
    if (same) {
      same.count += 1;
      if (text.length > same.message.length) same.message = text;
      this.#arm(same.id);
      return;
    }
    const id = this.#nextId++;
    this.items.push({ id, message: text, count: 1 });
    // Keep the stack short: the oldest go first.
    while (this.items.length > 4) this.dismiss(this.items[0].id);
    this.#arm(id);
  }

  dismiss(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    this.items = this.items.filter((t) => t.id !== id);
  }

  /** Keeps a toast up while the pointer is on it. */
  hold(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  release(id: number): void {
    if (this.items.some((t) => t.id === id)) this.#arm(id);
  }

  #arm(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.set(id, setTimeout(() => this.dismiss(id), this.#lifetimeMs));
  }
}
