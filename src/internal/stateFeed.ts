import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Store from "../Store.js"
import { makeFlusher } from "./flusher.js"
import { follow } from "./follow.js"
import { bytes, type SseClient } from "./sseClient.js"
import { StoreImpl } from "./store.js"

/**
 * The store's state for `GET /changes` clients, conflated: each state is encoded once, when it is about to
 * be written, and a client whose response is still busy gets the newest state once it has room, never the
 * ones in between. So every frame a client reads is a whole, current snapshot, and a slow client costs
 * one pending flag, not a queue of states.
 *
 * @internal
 */
export class StateFeed<S> {
  /** Bumped by every new state; each client remembers the version it was last given. */
  private version = 0
  private frame: Uint8Array | undefined
  private readonly clients = new Map<SseClient, number>()
  private wake: () => void = () => undefined
  private ended = false

  private constructor(private current: S, private readonly encode: (state: S) => string) {}

  /** `encode` turns a state into its whole SSE frame. */
  static make<S, A>(store: Store.Store<S, A>, encode: (state: S) => string): Effect.Effect<StateFeed<S>, never, Scope.Scope> {
    return Effect.gen(function*() {
      const feed = new StateFeed(yield* store.state, encode)
      feed.wake = (yield* makeFlusher(() => Effect.sync(() => feed.flush()))).wake
      if (store instanceof StoreImpl) {
        // The broadcast comes after the state is set: reading it there sees each reduction's state.
        yield* store.actions.listen(() => feed.next(store.stateNow as S), () => feed.end())
      } else {
        yield* follow(store.changes, (state) => feed.next(state), () => feed.end())
      }
      return feed
    })
  }

  private next(state: S): void {
    if (state === this.current) return
    this.current = state
    this.version++
    this.frame = undefined
    if (this.clients.size > 0) this.wake()
  }

  private latest(): Uint8Array {
    return this.frame ??= bytes(this.encode(this.current))
  }

  /** Gives `client` the newest state if it has not had it and has room for it. */
  private catchUp(client: SseClient): void {
    const had = this.clients.get(client)
    if (had === undefined || had === this.version || !client.hasRoom) return
    client.write(this.latest(), 1)
    this.clients.set(client, this.version)
  }

  private flush(): void {
    for (const client of this.clients.keys()) this.catchUp(client)
  }

  /**
   * Adds a client: writes `before`, the current state and `after` to it, then newer states as they come.
   * Its {@link SseClient}'s `onRoom` must call {@link caughtUp}.
   */
  add(client: SseClient, before: string, after: string): void {
    if (this.ended) return client.end()
    client.write(bytes(before + this.encode(this.current) + after), 1)
    this.clients.set(client, this.version)
    client.once("close", () => this.clients.delete(client))
  }

  /** For a client's `onRoom`: the newest state, if it missed it while busy. */
  readonly caughtUp = (client: SseClient): void => this.catchUp(client)

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.flush()
    for (const client of this.clients.keys()) client.end()
    this.clients.clear()
  }
}
