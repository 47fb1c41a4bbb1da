import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** A fan-out that took less than this goes again at once: there is no intake worth protecting from it. */
const NEGLIGIBLE_NANOS = 1_000_000n

/** The rest of the process gets this many times the time a fan-out took before the next one starts. */
const INTAKE_SHARE = 2n

/**
 * Runs `flush` (and the effect it returns, such as logging what failed) in a fiber of the scope after each `wake()`, coalescing wakes that arrive while it runs or
 * waits: what was published meanwhile goes out in the next flush, to every client in one write.
 *
 * A flush to a thousand sockets takes milliseconds; running one per published item would leave no time
 * for the sends that publish them. So after a flush that took `t`, the next waits `2t`: fan-out uses at
 * most a third of the thread, the rest stays with intake, and batches grow with the load instead of the
 * backlog. A cheap flush (a few clients) is not delayed at all.
 *
 * @internal
 */
export const makeFlusher = (flush: () => Effect.Effect<void>): Effect.Effect<{ readonly wake: () => void }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = yield* Effect.makeLatch(false)
    const once = Effect.gen(function*() {
      yield* pending.await
      yield* pending.close
      const started = yield* Clock.currentTimeNanos
      yield* flush()
      const took = (yield* Clock.currentTimeNanos) - started
      if (took >= NEGLIGIBLE_NANOS) yield* Effect.sleep(Duration.nanos(took * INTAKE_SHARE))
    })
    yield* Effect.forkScoped(Effect.forever(once))
    return { wake: () => pending.unsafeOpen() }
  })
