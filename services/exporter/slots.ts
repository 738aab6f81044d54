/**
 * Export slots: at most `max` workbooks stream at once, at most `perClient` of them for one
 * client. A request that finds no slot waits (first come, first served, skipping waiters whose
 * client is at its own limit) up to `waitMs` before it is refused, so one person's downloads one
 * after another never meet a 429: the previous download's slot is given back when its response
 * ends, which can be a moment after the client has read the last byte and sent the next request.
 *
 * A refusal says what is actually happening: the client's own exports (`own`) or other clients'
 * (`others`) hold the slots.
 */
export interface SlotRefusal {
  reason: 'own' | 'others';
  /** Exports running now, all clients. */
  running: number;
  /** Exports running now for this client. */
  own: number;
}

export type SlotResult = { release: () => void } | { refused: SlotRefusal };

interface Waiter {
  client: string;
  grant: () => void;
}

export class ExportSlots {
  #running = 0;
  readonly #perClient = new Map<string, number>();
  readonly #waiters: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly perClient: number,
    readonly waitMs: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  runningFor(client: string): number {
    return this.#perClient.get(client) ?? 0;
  }

  /** A slot for `client`, waiting up to `waitMs`; `signal` (the client went away) stops the wait. */
  acquire(client: string, signal?: AbortSignal): Promise<SlotResult> {
    if (this.#free(client) && !this.#waiters.length) return Promise.resolve(this.#take(client));
    return new Promise<SlotResult>((resolve) => {
      const done = (result: SlotResult) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(result);
      };
      const refuse = () => done({ refused: this.#refusal(client) });
      const onAbort = () => refuse();
      const waiter: Waiter = { client, grant: () => done(this.#take(client)) };
      const timer = setTimeout(refuse, this.waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#dispatch();
    });
  }

  #free(client: string): boolean {
    return this.#running < this.max && this.runningFor(client) < this.perClient;
  }

  #refusal(client: string): SlotRefusal {
    const own = this.runningFor(client);
    return { reason: own >= this.perClient ? 'own' : 'others', running: this.#running, own };
  }

  #take(client: string): SlotResult {
    this.#running++;
    this.#perClient.set(client, this.runningFor(client) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#running--;
        const n = this.runningFor(client) - 1;
        if (n > 0) this.#perClient.set(client, n);
        else this.#perClient.delete(client);
        this.#dispatch();
      },
    };
  }

  /** Grants free slots to waiters in arrival order, skipping those whose client is at its limit. */
  #dispatch(): void {
    for (const w of [...this.#waiters]) {
      if (this.#running >= this.max) return;
      if (this.#free(w.client)) w.grant();
    }
  }
}
