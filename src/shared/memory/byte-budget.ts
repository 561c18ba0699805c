/**
 * Bytes the work of one process may hold at once, shared by every job it runs: four chunks of
 * 1 MiB rows each reading ahead would otherwise hold four times what one needs. A claim waits
 * until it fits beside what is held, in the order claims were made, so a large one is not
 * passed over for ever by small ones. A claim larger than the whole budget waits until nothing
 * is held and then goes alone: one row wider than the budget is still copied.
 */
export class ByteBudget {
  #held = 0;
  #peak = 0;
  readonly #queue: { bytes: number; grant: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit <= 0) throw new RangeError(`a byte budget must be a positive integer, not ${limit}`);
  }

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** The most bytes held at once: over the limit only by a lone claim larger than the budget. */
  get peak(): number {
    return this.#peak;
  }

  /** Holds `bytes` for the caller if they fit now, without waiting: whether it did. */
  tryTake(bytes: number): boolean {
    if (this.#queue.length > 0 || !this.#admits(bytes)) return false;
    this.#hold(bytes);
    return true;
  }

  /** Resolves once `bytes` are held for the caller; give them back with `give`. */
  take(bytes: number): Promise<void> {
    if (this.tryTake(bytes)) return Promise.resolve();
    return new Promise((resolve) => this.#queue.push({ bytes, grant: resolve }));
  }

  give(bytes: number): void {
    if (bytes > this.#held) throw new RangeError(`gave back ${bytes} bytes of a budget holding ${this.#held}`);
    this.#held -= bytes;
    for (let next = this.#queue[0]; next && this.#admits(next.bytes); next = this.#queue[0]) {
      this.#queue.shift();
      this.#hold(next.bytes);
      next.grant();
    }
  }

  #admits(bytes: number): boolean {
    return this.#held === 0 || this.#held + bytes <= this.limit;
  }

  #hold(bytes: number): void {
    this.#held += bytes;
    this.#peak = Math.max(this.#peak, this.#held);
  }
}

/**
 * One job's part of a budget. `close` gives back whatever the job still holds, so a failed or
 * superseded job leaks nothing, and a claim granted after it closed is given back at once.
 */
export class BudgetShare {
  #held = 0;
  #closed = false;

  constructor(readonly budget: ByteBudget) {}

  get held(): number {
    return this.#held;
  }

  /** Holds `bytes` if they fit now, without waiting (a copy of narrow rows never waits): whether it did. */
  tryTake(bytes: number): boolean {
    if (this.#closed || !this.budget.tryTake(bytes)) return false;
    this.#held += bytes;
    return true;
  }

  async take(bytes: number): Promise<void> {
    await this.budget.take(bytes);
    if (this.#closed) {
      this.budget.give(bytes);
      throw new Error('the job stopped while it waited for memory to copy with');
    }
    this.#held += bytes;
  }

  give(bytes: number): void {
    const given = Math.min(bytes, this.#held);
    this.#held -= given;
    this.budget.give(given);
  }

  close(): void {
    this.#closed = true;
    this.give(this.#held);
  }
}
