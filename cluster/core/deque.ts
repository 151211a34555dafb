/**
 * A FIFO queue with O(1) amortised push and shift (an array with a moving head, compacted when the
 * dead prefix dominates). Used for send queues that hold up to hundreds of thousands of frames.
 */
export class Deque<Item> {
  #items: Item[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: Item): void {
    this.#items.push(item);
  }

  peek(): Item | undefined {
    return this.#items[this.#head];
  }

  shift(): Item | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#head += 1;
    if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes and returns every item, oldest first. */
  drain(): Item[] {
    const items = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return items;
  }

  /** Removes the items for which `remove` is true and returns them, oldest first. */
  removeWhere(remove: (item: Item) => boolean): Item[] {
    const kept: Item[] = [];
    const removed: Item[] = [];
    for (let index = this.#head; index < this.#items.length; index += 1) {
      const item = this.#items[index]!;
      if (remove(item)) removed.push(item);
      else kept.push(item);
    }
    this.#items = kept;
    this.#head = 0;
    return removed;
  }
}
