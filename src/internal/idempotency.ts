import * as Cache from "effect/Cache"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"

/** One key's first request: a digest of what it asked (not the body itself), and its outcome. */
interface Slot<A> {
  readonly request: string
  readonly outcome: Deferred.Deferred<A>
}

/**
 * `Idempotency-Key` for `POST /actions`: the first request with a key runs, and every retry with the same
 * key and the same request gets that first outcome instead of sending the action again.
 *
 * A key whose first request is still running lives in `running` (as many as requests in flight), so no
 * eviction or expiry can make its retry run again; once done, it moves to an Effect `Cache` (bounded count,
 * least recently used evicted first, each kept for `timeToLive`). Only a SHA-256 digest of the request is
 * kept, never its body: 10,000 keys cost ~1 MB, whatever the bodies weigh.
 *
 * The run is detached from the request that started it (forked into the router's scope), so a client
 * that gives up and retries gets the outcome of the action it already sent rather than nothing.
 *
 * @internal
 */
export class Idempotency<A> {
  private readonly running = new Map<string, Slot<A>>()

  private constructor(
    private readonly done: Cache.Cache<string, Slot<A>>,
    private readonly runs: FiberSet.FiberSet<void>
  ) {}

  static make<A>(options: { readonly capacity: number; readonly timeToLive: Duration.DurationInput }): Effect.Effect<Idempotency<A>, never, Scope.Scope> {
    return Effect.gen(function*() {
      const done = yield* Cache.make<string, Slot<A>>({
        capacity: options.capacity,
        timeToLive: options.timeToLive,
        // Never looked up: entries are only `set` once their run is done, and read with `getOption`.
        lookup: (_key: string) => Effect.dieMessage("Idempotency: a key is looked up, not computed")
      })
      return new Idempotency(done, yield* FiberSet.make<void>())
    })
  }

  /**
   * The outcome of `run` for `key`: run now if the key is new, the first run's outcome if `request` (what
   * identifies the request: its body and query) is the one the key was first used with, `reused` if not.
   */
  once(key: string, request: string, run: Effect.Effect<A>, reused: A): Effect.Effect<A> {
    return Effect.gen(this, function*() {
      const digest = createHash("sha256").update(request).digest("base64")
      const slot = this.running.get(key) ?? Option.getOrUndefined(yield* this.done.getOptionComplete(key))
      if (slot !== undefined) return slot.request === digest ? yield* Deferred.await(slot.outcome) : reused
      const first: Slot<A> = { request: digest, outcome: yield* Deferred.make<A>() }
      this.running.set(key, first)
      const settle = Effect.suspend(() => {
        this.running.delete(key)
        return this.done.set(key, first)
      })
      yield* FiberSet.run(this.runs, Effect.zipRight(Deferred.complete(first.outcome, run), settle))
      return yield* Deferred.await(first.outcome)
    })
  }
}
