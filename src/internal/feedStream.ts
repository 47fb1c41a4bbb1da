import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import { Dropped, type Produced, type Run } from "./run.js"
import type { Host } from "./runner.js"

/** Per-item span events beyond this many are only counted, so a long stream's span stays small. */
const MAX_ITEM_EVENTS = 64

/**
 * Runs a stream effect, feeding each item back before the next one: a chunk the stream has already
 * produced is fed item by item in one synchronous loop (each item is reduced, with its effects started,
 * before the next), and the next chunk is pulled only after the whole chunk has been reduced. The loop
 * stops as soon as the effect is cancelled, and pauses while a backpressuring subscriber is full.
 *
 * @internal
 */
export const feedStream = <A, R, X extends A | Produced<A>>(
  host: Host<A>,
  stream: Stream.Stream<X, never, R>,
  /**
   * Whether items are `Produced` by an item combinator (`Fx.batch`, `Fx.rateLimit`, `Fx.idleTimeout`):
   * each is fed back only while the run that produced it is alive, and under that run, so the TestStore
   * forgets it if that run is cancelled while it holds it, however the combinators regrouped the items.
   * `false` when items are the actions (`Fx.stream`, the hot path: nothing to look up per item).
   */
  produced: boolean,
  run: Run<A>,
  span: Tracer.Span | undefined
): Effect.Effect<void, never, R> =>
  // The store forks effects' fibers while reducing, and a fiber starts running at once: yield first, so
  // that the first pull happens after the reduction (each item is then reduced as soon as it is fed,
  // before the next pull), and a cancel reduced next still finds the stream not started. The end is
  // recorded even for a stream cancelled before then.
  Effect.scoped(Effect.suspend(() => {
    const feed = new Feed<A, X>(host, produced, run, span)
    return Effect.zipRight(recordEnd(feed), Effect.zipRight(Effect.yieldNow(), drain(feed, stream)))
  }))

/**
 * What one running stream effect feeds, and how many items it has fed. Its own object, so that what an
 * idle stream keeps on its fiber's stack (the continuation that feeds the next chunk, the finalizer that
 * records the end) holds this and nothing else: closures sharing one scope would keep the effects that
 * started the stream alive for as long as it runs.
 */
class Feed<A, X extends A | Produced<A>> {
  items = 0
  constructor(
    readonly host: Host<A>,
    readonly produced: boolean,
    readonly run: Run<A>,
    readonly span: Tracer.Span | undefined
  ) {}

  /** Feeds `chunk` from `from` on; what to wait for before the next pull (room in a full subscriber). */
  from(chunk: ReadonlyArray<X>, from: number): Effect.Effect<void> {
    const { host, run, span } = this
    for (let i = from; i < chunk.length; i++) {
      if (!run.alive) return Effect.void
      const item = this.produced ? chunk[i] as Produced<A> : undefined
      const action = item === undefined ? chunk[i] as A : item.run.current(item.action)
      if (action === Dropped) continue
      this.items++
      host.metrics.streamItem()
      if (span !== undefined && this.items <= MAX_ITEM_EVENTS) {
        span.event("stream.item", host.clock.unsafeCurrentTimeNanos(), { item: this.items })
      }
      host.dispatch(action, run.task, run.span)
      if (host.actions.mustWait) {
        return Effect.zipRight(host.actions.awaitRoom, Effect.suspend(() => this.from(chunk, i + 1)))
      }
    }
    return Effect.void
  }

  ended(): void {
    this.span?.attribute("stream.items", this.items)
    this.host.metrics.streamEnded(this.items)
  }
}

// Recorded when the pull's scope closes (ended, failed or interrupted): a finalizer on a scope that
// exists anyway holds less per idle stream than an `Effect.ensuring` frame, which keeps the effect tree it
// wraps alive for as long as the stream runs.
const recordEnd = (feed: Feed<any, any>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, Effect.sync(() => feed.ended())))

// A pull loop, not `Stream.runForEachChunk`: that pipes the stream into a sink, which keeps several
// channel executors per running stream (about 22 KB in all while idle, and about 240 µs of CPU to
// interrupt); pulling drives one executor: about half the memory and a third of the CPU.
const drain = <A, X extends A | Produced<A>, R>(
  feed: Feed<A, X>,
  stream: Stream.Stream<X, never, R>
): Effect.Effect<void, never, R | Scope.Scope> => Effect.flatMap(Stream.toPull(stream), (pull) => pullAll(feed, pull))

const pullAll = <A, X extends A | Produced<A>, R>(
  feed: Feed<A, X>,
  pull: Effect.Effect<Chunk.Chunk<X>, Option.Option<never>, R>
): Effect.Effect<void, never, R> => {
  const loop: Effect.Effect<never, Option.Option<never>, R> = Effect.flatMap(
    pull,
    (chunk) => Effect.zipRight(feed.from(Chunk.toReadonlyArray(chunk), 0), loop)
  )
  // The stream cannot fail (`E` is `never`), so the only failure is `None`: the stream ended.
  return Effect.catchAll(loop, ended)
}

const ended = () => Effect.void
