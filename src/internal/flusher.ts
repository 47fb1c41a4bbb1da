import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** A fan-out that took less than this goes again at once: there is no intake worth protecting from it. */
const NEGLIGIBLE_NANOS = 1_000_000n

/** A flush that took this long wrote to enough clients for its deferred socket writes to matter. */
const SETTLE_NANOS = 200_000n

/** The rest of the process gets this many times the time a fan-out took before the next one starts. */
const INTAKE_SHARE = 3n

/**
 * Runs `flush` (and the effect it returns, such as logging what failed) in a fiber of the scope after
 * each `wake()`, coalescing wakes that arrive while it runs or waits: what was published meanwhile goes
 * out in the next flush, to every client in one write.
 *
 * A flush to a thousand sockets takes milliseconds; running one per published item would leave no time
 * for the sends that publish them. So after a flush that took `t`, the next waits `3t`: fan-out uses at
 * most a quarter of the thread, the rest stays with intake, and batches grow with the load instead of the
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
      let took = (yield* Clock.currentTimeNanos) - started
      // Node corks a response's writes until its next tick: the socket writes a big flush set off happen
      // after it returns (measured: 5 ms in the flush, 40 ms of writes after it, for 1,000 clients). Count
      // them: the time until the next turn of the event loop (which may include some intake too, so the
      // wait errs long, never short).
      if (took >= SETTLE_NANOS) {
        yield* Effect.sleep(Duration.zero)
        took = (yield* Clock.currentTimeNanos) - started
      }
      if (took >= NEGLIGIBLE_NANOS) yield* Effect.sleep(Duration.nanos(took * INTAKE_SHARE))
    })
    yield* Effect.forkScoped(Effect.forever(once))
    return { wake: () => pending.unsafeOpen() }
  })
