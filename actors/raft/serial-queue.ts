/**
 * Runs asynchronous tasks one at a time, in the order they were queued. The replica puts every
 * operation on its LevelDB state through one queue, so that an apply, a snapshot restore, a snapshot
 * export and a read never interleave.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  /** Tasks queued or running. */
  get pending(): number {
    return this.#pending;
  }

  /** Queues `task`; resolves or rejects with its outcome. A failed task does not stop later ones. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.#pending += 1;
    const result = this.#tail.then(task).finally(() => {
      this.#pending -= 1;
    });
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    await this.#tail;
  }
}
