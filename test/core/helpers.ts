import { type Clock, Effect, Metric, Stream } from "effect"
import type * as Scope from "effect/Scope"
import { Fx, Reducer, Store, StoreMetrics } from "../../src/index.js"

/** Advances the scheduler a few turns so forked effects reach their next wait. */
export const settle = Effect.repeatN(Effect.yieldNow(), 20)

/** Records every action the store reduces from now on (no drops); `seen` reads what arrived so far. */
export const record = <S, A>(
  store: Store.Store<S, A>
): Effect.Effect<{ readonly seen: Effect.Effect<ReadonlyArray<A>> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<A> = []
    const stream = yield* store.subscribe({ overflow: "unbounded" })
    yield* Effect.forkScoped(Stream.runForEach(stream, (a) => Effect.sync(() => void seen.push(a))))
    return { seen: Effect.as(settle, seen).pipe(Effect.map((all) => [...all])) }
  })

/** A counter metric's value for one store label (and extra tags). */
export const counter = (metric: Metric.Metric.Counter<number>, label: string, extra: Record<string, string> = {}) =>
  Effect.map(Metric.value(StoreMetrics.forStore(metric, label, extra)), (state) => state.count)

let labels = 0
/** A store label no other test uses: the metric registry is process-global. */
export const uniqueLabel = (name: string) => `${name}-${++labels}-${process.pid}`

/**
 * A reducer for ordering tests: `Go` runs the effect it carries; `Log` records `v@time`, and logging `"A"`
 * starts `Fx.delay("1 second", Log("A-done"))`, an effect of a fed-back action that a sequence must wait for.
 */
export type SeqAction = { readonly _tag: "Go"; readonly fx: Fx.Fx<SeqAction> } | { readonly _tag: "Log"; readonly v: string }
export const Log = (v: string): SeqAction => ({ _tag: "Log", v })
export const Go = (fx: Fx.Fx<SeqAction>): SeqAction => ({ _tag: "Go", fx })
export const sequenceReducer = (clock: Clock.Clock) =>
  Reducer.make((log: ReadonlyArray<string>, action: SeqAction): readonly [ReadonlyArray<string>, Fx.Fx<SeqAction>] =>
    action._tag === "Go"
      ? [log, action.fx]
      : [[...log, `${action.v}@${clock.unsafeCurrentTimeMillis()}`], action.v === "A" ? Fx.delay("1 second", Log("A-done")) : Fx.none]
  )

/** A store of {@link sequenceReducer}: its state is the log of what it reduced, each entry `v@time`. */
export const logStore = Effect.gen(function*() {
  const clock = yield* Effect.clock
  return yield* Store.make({ initialState: [] as ReadonlyArray<string>, reducer: sequenceReducer(clock) })
})
