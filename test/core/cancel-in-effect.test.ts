import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schedule, Stream, TestClock } from "effect"
import { Fx, Reducer, Store, TestStore } from "../../src/index.js"
import { Go, Log, logStore, settle } from "./helpers.js"

/**
 * `Fx.cancelNow(id)`: cancelling by id from inside the code of an effect, TCA's `Task.cancel(id:)` (issue 15,
 * "TCA pieces with no equivalent yet").
 */

/** Ticks every second, forever, under "ticker". */
const ticker = Fx.cancellable(
  Fx.stream(Stream.map(Stream.fromSchedule(Schedule.spaced("1 second")), (n) => Log(`tick${n}`))),
  "ticker"
)

describe("Fx.cancelNow: cancelling by id from inside an effect (issue 15)", () => {
  it.scoped("an effect's code cancels another effect by id: nothing it produces is reduced after", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      const stopper = Fx.future(Effect.gen(function*() {
        yield* Effect.sleep("2500 millis")
        yield* Fx.cancelNow("ticker")
        return Log("stopped")
      }))
      const task = yield* store.send(Go(Fx.parallel(ticker, stopper)))
      yield* settle
      yield* TestClock.adjust("10 seconds")
      yield* task.finish
      expect(yield* store.state).toEqual(["tick0@1000", "tick1@2000", "stopped@2500"])
    }))

  it.scoped("from an Fx.stream, and from a fiber the effect forks", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      const fromStream = Fx.stream(Stream.fromEffect(Effect.as(Effect.zipRight(Effect.sleep("1500 millis"), Fx.cancelNow("ticker")), Log("s"))))
      const task = yield* store.send(Go(Fx.parallel(ticker, fromStream)))
      yield* settle
      yield* TestClock.adjust("5 seconds")
      yield* task.finish
      expect(yield* store.state).toEqual(["tick0@1000", "s@1500"])

      const forked = Fx.future(Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.zipRight(Effect.sleep("1500 millis"), Fx.cancelNow("ticker")))
        yield* fiber.await
        return Log("f")
      }))
      const again = yield* store.send(Go(Fx.parallel(ticker, forked)))
      yield* settle
      yield* TestClock.adjust("5 seconds")
      yield* again.finish
      expect((yield* store.state).slice(2)).toEqual(["tick0@6000", "f@6500"])
    }))

  it.scoped("it reaches a cancellable waiting for its turn later in a sequence, as Fx.cancel does", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      const waiting = Fx.sequential(Fx.delay("1 second", Log("a")), Fx.cancellable(Fx.delay("1 second", Log("b")), "b"))
      const canceller = Fx.future(Effect.as(Effect.zipRight(Effect.sleep("500 millis"), Fx.cancelNow("b")), Log("c")))
      const task = yield* store.send(Go(Fx.parallel(waiting, canceller)))
      yield* settle
      yield* TestClock.adjust("3 seconds")
      yield* task.finish
      expect(yield* store.state).toEqual(["c@500", "a@1000"])
    }))

  it.scoped("from a step of a sequence it spares what its own effect holds for later steps (cancel, then restart)", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      const reply = (v: string) => Fx.cancellable(Fx.delay("1 second", Log(v)), "reply")
      yield* store.send(Go(reply("old")))
      yield* TestClock.adjust("500 millis")
      const restart = Fx.sequential(Fx.future(Effect.as(Fx.cancelNow("reply"), Log("cancelled"))), reply("new"))
      const task = yield* store.send(Go(restart))
      yield* TestClock.adjust("3 seconds")
      yield* task.finish
      expect(yield* store.state).toEqual(["cancelled@500", "new@1500"])
    }))

  it.scoped("cancelling the effect it runs in stops the rest of its code; what it would produce is never reduced", () =>
    Effect.gen(function*() {
      const store = yield* logStore
      let after = false
      const self = Fx.cancellable(
        Fx.future(Effect.gen(function*() {
          yield* Effect.sleep("1 second")
          yield* Fx.cancelNow("self")
          after = true
          return Log("never")
        })),
        "self"
      )
      const task = yield* store.send(Go(self))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* task.finish
      expect([yield* store.state, after]).toEqual([[], false])
    }))

  it.scoped("an effect of a child reducer names an id as its own reducer does: that child's effect only", () =>
    Effect.gen(function*() {
      type Row = { readonly id: string; readonly log: ReadonlyArray<string> }
      type RowAction = "Start" | "Stop" | { readonly _tag: "Tick"; readonly v: string }
      type App = { readonly rows: ReadonlyArray<Row>; readonly log: ReadonlyArray<string> }
      type AppAction =
        | { readonly _tag: "Row"; readonly id: string; readonly action: RowAction }
        | { readonly _tag: "Start" }
        | { readonly _tag: "StopParent" }
        | { readonly _tag: "Tick"; readonly v: string }
      const ticks = <A>(v: (n: number) => A) => Stream.map(Stream.fromSchedule(Schedule.spaced("1 second")), v)
      const row = Reducer.make((state: Row, action: RowAction): readonly [Row, Fx.Fx<RowAction>] =>
        action === "Start"
          ? [state, Fx.cancellable(Fx.stream(ticks((n) => ({ _tag: "Tick", v: `${state.id}${n}` }) as const)), "download")]
          : action === "Stop"
          // From a stream, 1.5 s later: the row's own "download", not the other row's nor the parent's.
          ? [state, Fx.stream(Stream.fromEffect(Effect.zipRight(Effect.sleep("1500 millis"), Fx.cancelNow("download"))).pipe(Stream.drain))]
          : [{ ...state, log: [...state.log, action.v] }, Fx.none]
      )
      const parent = Reducer.make((state: App, action: AppAction): readonly [App, Fx.Fx<AppAction>] =>
        action._tag === "Start"
          ? [state, Fx.cancellable(Fx.stream(ticks((n) => ({ _tag: "Tick", v: `p${n}` }) as const)), "download")]
          : action._tag === "Tick"
          ? [{ ...state, log: [...state.log, action.v] }, Fx.none]
          : action._tag === "StopParent"
          ? [state, Fx.future(Effect.zipRight(Fx.cancelNow("download"), Effect.never))]
          : [state, Fx.none]
      )
      const app = Reducer.forEach(parent, row, {
        state: Reducer.field<App, "rows">("rows"),
        action: Reducer.taggedElement<AppAction, "Row">("Row")
      })
      const store = yield* Store.make({
        initialState: { rows: [{ id: "a", log: [] }, { id: "b", log: [] }], log: [] } as App,
        reducer: app
      })
      yield* store.send({ _tag: "Start" })
      yield* store.send({ _tag: "Row", id: "a", action: "Start" })
      yield* store.send({ _tag: "Row", id: "b", action: "Start" })
      yield* settle
      yield* store.send({ _tag: "Row", id: "a", action: "Stop" })
      yield* settle
      yield* TestClock.adjust("3500 millis")
      const state = yield* store.state
      expect(state.rows.map((r) => r.log)).toEqual([["a0"], ["b0", "b1", "b2"]])
      expect(state.log).toEqual(["p0", "p1", "p2"])

      // In the parent's own effect, the same id is the parent's.
      yield* store.send({ _tag: "StopParent" })
      yield* settle
      yield* TestClock.adjust("2 seconds")
      const later = yield* store.state
      expect(later.rows.map((r) => r.log)).toEqual([["a0"], ["b0", "b1", "b2", "b3", "b4"]])
      expect(later.log).toEqual(["p0", "p1", "p2"])
    }))

  it.scoped("nested children (a forEach inside an ifLet) name their ids as their own reducer does, also in Fx.batch items", () =>
    Effect.gen(function*() {
      type Row = { readonly id: string; readonly ticks: number }
      type RowAction = "Start" | "Stop" | "Tick"
      type Detail = { readonly rows: ReadonlyArray<Row> }
      type DetailAction = { readonly _tag: "Row"; readonly id: string; readonly action: RowAction }
      type App = { readonly detail: Detail | undefined }
      type AppAction = { readonly _tag: "Detail"; readonly action: DetailAction }
      const row = Reducer.make((state: Row, action: RowAction): readonly [Row, Fx.Fx<RowAction>] =>
        action === "Start"
          ? [state, Fx.cancellable(Fx.stream(Stream.as(Stream.fromSchedule(Schedule.spaced("1 second")), "Tick" as const)), "download")]
          : action === "Stop"
          ? [state, Fx.batch(Fx.future(Effect.zipRight(Fx.cancelNow("download"), Effect.never)), { size: 10, within: "1 hour", toAction: () => "Tick" as const })]
          : [{ ...state, ticks: state.ticks + 1 }, Fx.none]
      )
      const detail = Reducer.forEach(Reducer.fromState((s: Detail, _: DetailAction) => s), row, {
        state: Reducer.field<Detail, "rows">("rows"),
        action: Reducer.taggedElement<DetailAction, "Row">("Row")
      })
      const app = Reducer.ifLet(Reducer.fromState((s: App, _: AppAction) => s), detail, {
        state: Reducer.field<App, "detail">("detail"),
        action: Reducer.tagged<AppAction, "Detail">("Detail")
      })
      const store = yield* Store.make({ initialState: { detail: { rows: [{ id: "a", ticks: 0 }, { id: "b", ticks: 0 }] } } as App, reducer: app })
      const to = (id: string, action: RowAction): AppAction => ({ _tag: "Detail", action: { _tag: "Row", id, action } })
      yield* store.send(to("a", "Start"))
      yield* store.send(to("b", "Start"))
      yield* settle
      yield* TestClock.adjust("1500 millis")
      yield* store.send(to("a", "Stop"))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      expect((yield* store.state).detail?.rows.map((r) => r.ticks)).toEqual([1, 3])
    }))

  it.scoped("in a TestStore: what the cancelled effect produced before is received, nothing after, finish passes", () =>
    Effect.gen(function*() {
      type S = { readonly ticks: number; readonly stopped: boolean }
      type A = "Start" | "Tick" | "Stopped"
      const reducer = Reducer.make((s: S, a: A): readonly [S, Fx.Fx<A>] =>
        a === "Start"
          ? [s, Fx.parallel(
            Fx.cancellable(Fx.stream(Stream.as(Stream.fromSchedule(Schedule.spaced("1 second")), "Tick" as const)), "ticker"),
            Fx.future(Effect.as(Effect.zipRight(Effect.sleep("2500 millis"), Fx.cancelNow("ticker")), "Stopped" as const))
          )]
          : a === "Tick"
          ? [{ ...s, ticks: s.ticks + 1 }, Fx.none]
          : [{ ...s, stopped: true }, Fx.none]
      )
      const store = yield* TestStore.make({ initialState: { ticks: 0, stopped: false } as S, reducer })
      yield* store.send("Start")
      yield* TestClock.adjust("10 seconds")
      yield* store.receive("Tick", (s) => ({ ...s, ticks: 1 }))
      yield* store.receive("Tick", (s) => ({ ...s, ticks: 2 }))
      yield* store.receive("Stopped", (s) => ({ ...s, stopped: true }))
      yield* store.finish()
    }))

  it.effect("outside the effects of a store it dies with a message that says so, rather than doing nothing", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Fx.cancelNow("reply"))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      const message = Exit.isFailure(exit) ? Cause.pretty(exit.cause) : ""
      expect(message).toContain(`Fx.cancelNow("reply") ran outside the effects of a store`)
      expect(message).toContain("return Fx.cancel(id) instead")
    }))
})
