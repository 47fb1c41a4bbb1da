import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Fx from "../Fx.js"
import type { CancelHandle } from "./cancel.js"
import { isFx } from "./fx.js"
import { BatchRun, Dropped, type Produced, type Run } from "./run.js"
import { cleanupOf } from "./source.js"
import type { Runner } from "./runner.js"

/** A push source as a stream: the registration's cleanup runs when the stream ends or is interrupted. */
const sourceStream = <A, R>(fx: Fx.Subscribe<A, R>): Stream.Stream<A, never, R> =>
  Stream.asyncPush<A, never, R>((emit) =>
    Effect.acquireRelease(
      fx.register(Object.assign((action: A) => void emit.single(action), { end: () => void emit.end() })),
      (registration) => Effect.sync(() => cleanupOf(registration)?.())
    ), { bufferSize: fx.bufferSize, strategy: fx.overflow })

/** The failure that ends a stream at its time limit; caught right away and turned into `onTimeout`. */
class TimedOut {
  readonly _tag = "TimedOut"
}
const timedOut = new TimedOut()

/**
 * Turns an `Fx` into the `Stream` of the actions it produces, for the combinators that work on items
 * (`Fx.batch`, `Fx.rateLimit`, `Fx.idleTimeout`). Items are not fed back one by one inside these, so
 * `Fx.sequential` steps here run one after another without waiting for fed-back effects.
 *
 * @internal
 */
export class StreamOf<A, R> {
  constructor(private readonly runner: Runner<A, R>) {}

  of(fx: Fx.Fx<A, R>, run: Run<A>): Stream.Stream<Produced<A>, never, R> {
    if (!isFx(fx)) return Stream.execute(this.runner.skipMalformed(fx, run))
    const produced = (action: A): Produced<A> => ({ action, run })
    switch (fx._tag) {
      case "None":
        return Stream.empty
      case "Send":
        return Stream.fromIterable(fx.actions.map(produced))
      case "Future":
        return Stream.filterMap(Stream.fromEffect(fx.effect), Option.map(produced))
      case "Stream":
        return Stream.map(fx.stream, produced)
      case "Subscribe":
        // Inside an item combinator the source feeds the combinator's stream (its buffer is the stream's).
        return Stream.map(sourceStream(fx), produced)
      case "Delay":
        return Stream.fromEffect(Effect.as(Effect.sleep(fx.duration), produced(fx.action)))
      case "Parallel":
        return Stream.mergeAll(fx.fxs.map((branch) => this.of(branch, run)), { concurrency: "unbounded" })
      case "Sequential":
        // A step here waits for no fed-back effect, but a cancel in it must still be known as a step's.
        return Stream.flatMap(Stream.fromIterable(fx.fxs), (step) => this.of(step, run.withTask(this.runner.stepTask(run))))
      case "Cancel":
        return Stream.execute(Effect.sync(() => this.runner.cancel(fx.id, run.task)))
      case "Cancellable":
      case "Debounce":
        return Stream.suspend(() =>
          this.under(this.runner.handleFor(fx, run), this.runner.delayOf(fx), fx.fx, run)
        )
      case "Throttle":
        return Stream.suspend(() => {
          const decision = this.runner.decide(fx)
          return decision._tag === "Run"
            ? this.of(fx.fx, run)
            : decision._tag === "Later"
            ? this.under(decision.handle, decision.delay, fx.fx, run)
            : Stream.empty
        })
      case "Timeout":
        return this.timeout(fx, run)
      case "Batch":
        return Stream.groupedWithin(this.of(fx.fx as Fx.Fx<any, R>, run), fx.size, fx.within).pipe(
          Stream.filterMap((group) => this.group(group, fx, run))
        )
      case "RateLimit":
        return this.rateLimit(fx, run)
      default:
        return Stream.execute(this.runner.skipMalformed(fx, run))
    }
  }

  /**
   * One group of `Fx.batch` as an action. Items of a cancelled inner effect are left out, and a group left
   * empty becomes no action; items cancelled later (while the group waits, behind a rate limit) are left
   * out then, by the group's {@link BatchRun}.
   */
  private group(group: Chunk.Chunk<Produced<unknown>>, fx: Fx.Batch<A, R>, run: Run<A>): Option.Option<Produced<A>> {
    const items: Array<Produced<unknown>> = []
    for (const item of group) {
      const action = item.run.current(item.action)
      if (action !== Dropped) items.push(action === item.action ? item : { action, run: item.run })
    }
    if (items.length === 0) return Option.none()
    return Option.some({ action: fx.toAction(items.map((item) => item.action)), run: new BatchRun(run, items, fx.toAction) })
  }

  /** The stream of `inner` under a cancellation handle: it ends when the handle is cancelled. */
  private under(
    handle: CancelHandle,
    delay: Effect.Effect<void> | undefined,
    inner: Fx.Fx<A, R>,
    run: Run<A>
  ): Stream.Stream<Produced<A>, never, R> {
    if (handle.cancelled) return Stream.empty
    const items = this.of(inner, run.under(handle))
    return (delay === undefined ? items : Stream.concat(Stream.execute(delay), items)).pipe(
      Stream.interruptWhen(handle.cancelled$),
      Stream.ensuring(Effect.sync(() => handle.release()))
    )
  }

  private timeout(fx: Fx.Timeout<A, R>, run: Run<A>): Stream.Stream<Produced<A>, never, R> {
    const items = this.of(fx.fx, run)
    const limited: Stream.Stream<Produced<A>, TimedOut, R> = fx.mode === "deadline"
      ? Stream.interruptWhen(items, Effect.zipRight(Effect.sleep(fx.duration), Effect.fail(timedOut)))
      : Stream.timeoutFail(items, () => timedOut, fx.duration)
    return Stream.catchAll(limited, () =>
      Stream.suspend(() => {
        this.runner.markTimedOut(fx, run)
        return Option.isSome(fx.onTimeout) ? Stream.succeed({ action: fx.onTimeout.value, run }) : Stream.empty
      }))
  }

  /** Per-item rate limiting: chunks are split first, because `Stream.throttle` counts chunks. */
  private rateLimit(fx: Fx.RateLimit<A, R>, run: Run<A>): Stream.Stream<Produced<A>, never, R> {
    return Stream.suspend(() => {
      let pulled = 0
      let passed = 0
      let reported = 0
      const reportDropped = () => {
        const dropped = pulled - passed - reported
        if (dropped > 0) {
          reported += dropped
          this.runner.host.metrics.streamItemsDropped(dropped)
        }
      }
      return this.of(fx.fx, run).pipe(
        Stream.rechunk(1),
        Stream.tap(() => Effect.sync(() => pulled++)),
        Stream.throttle({
          cost: Chunk.size,
          units: fx.units,
          duration: fx.per,
          burst: fx.burst,
          strategy: fx.strategy
        }),
        Stream.tap(() =>
          Effect.sync(() => {
            passed++
            reportDropped()
          })
        ),
        Stream.ensuring(Effect.sync(reportDropped))
      )
    })
  }
}
