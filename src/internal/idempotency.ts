import * as Cache from "effect/Cache"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"

/** One key's first request: what it asked, and the outcome every retry of it gets. */
interface Slot<A> {
  request: string | undefined
  readonly outcome: Deferred.Deferred<A>
}

/**
 * `Idempotency-Key` for `POST /actions`: the first request with a key runs, and every retry with the same
 * key and the same request gets that first outcome instead of sending the action again. Keys live in an
 * Effect `Cache` (bounded count, least recently used evicted first, each kept for `timeToLive` from its
 * first use), which also makes concurrent first uses of a key share one run.
 *
 * The run is detached from the request that started it (forked into the router's scope), so a client
 * that gives up and retries gets the outcome of the action it already sent rather than nothing.
 *
 * @internal
 */
export class Idempotency<A> {
  private constructor(
    private readonly slots: Cache.Cache<string, Slot<A>>,
    private readonly runs: FiberSet.FiberSet<void>
  ) {}

  static make<A>(options: { readonly capacity: number; readonly timeToLive: Duration.DurationInput }): Effect.Effect<Idempotency<A>, never, Scope.Scope> {
    return Effect.gen(function*() {
      const slots = yield* Cache.make({
        capacity: options.capacity,
        timeToLive: options.timeToLive,
        lookup: (_key: string) => Effect.map(Deferred.make<A>(), (outcome): Slot<A> => ({ request: undefined, outcome }))
      })
      return new Idempotency(slots, yield* FiberSet.make<void>())
    })
  }

  /**
   * The outcome of `run` for `key`: run now if the key is new, the first run's outcome if `request` (what
   * identifies the request: its body and query) is the one the key was first used with, `reused` if not.
   */
  once(key: string, request: string, run: Effect.Effect<A>, reused: A): Effect.Effect<A> {
    return Effect.gen(this, function*() {
      const slot = yield* this.slots.get(key)
      if (slot.request === undefined) {
        slot.request = request
        yield* FiberSet.run(this.runs, Deferred.complete(slot.outcome, run))
      } else if (slot.request !== request) {
        return reused
      }
      return yield* Deferred.await(slot.outcome)
    })
  }
}
