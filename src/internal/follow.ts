import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * Calls `each` with every item of `stream`, then `end` once, when the stream ends or the scope closes,
 * whichever comes first. At the scope's close `end` runs at once and the stream is interrupted without
 * waiting for it: a cluster client's stream to a runner that is gone can take long to interrupt, and
 * whoever `end` lets go (a route's SSE clients) would wait with it, as would every finalizer after it.
 *
 * @internal
 */
export const follow = <B>(stream: Stream.Stream<B>, each: (item: B) => void, end: () => void): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const reading = yield* Stream.runForEach(stream, (item) => Effect.sync(() => each(item))).pipe(
      Effect.ensuring(Effect.sync(end)),
      Effect.forkDaemon
    )
    yield* Effect.addFinalizer(() => Effect.zipRight(Effect.sync(end), Fiber.interruptFork(reading)))
  })
