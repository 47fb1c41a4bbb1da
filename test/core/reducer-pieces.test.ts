/**
 * The TCA pieces of issue 15 that are reducers: `Reducer.ifTag` (TCA's `ifCaseLet`), `Reducer.onChange`
 * (TCA's `onChange(of:)`) and `Reducer.logChanges` (TCA's `_printChanges`), each run in a real store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, HashMap, Logger, LogLevel, pipe, TestClock } from "effect"
import { Fx, Reducer, ReducerTest, Store, StoreMetrics } from "../../src/index.js"
import { counter, settle, uniqueLabel } from "./helpers.js"

/** Every log line written while `effect` runs, with its level, message and annotations. */
interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}
const capturingLogs = <A, E, R>(effect: (lines: ReadonlyArray<Line>) => Effect.Effect<A, E, R>) => {
  const lines: Array<Line> = []
  const logger = Logger.make<unknown, void>(({ annotations, logLevel, message }) => {
    const parts = Array.isArray(message) ? message : [message]
    lines.push({ level: logLevel.label, message: parts.map(String).join(" "), annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
  })
  return effect(lines).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

// -----------------------------------------------------------------------------
// ifTag
// -----------------------------------------------------------------------------

// A screen that loads, then shows items with a timer of its own ("tick" a second after "start").
type Loaded = { readonly _tag: "Loaded"; readonly id: string; readonly log: ReadonlyArray<string> }
type Screen = { readonly _tag: "Loading" } | Loaded
type LoadedAction = "start" | "stop" | "tick"
type AppAction =
  | { readonly _tag: "Loaded"; readonly action: LoadedAction }
  | { readonly _tag: "Show"; readonly id: string }
  | { readonly _tag: "Reload" }
interface App {
  readonly screen: Screen
  readonly parentSaw: ReadonlyArray<string>
}

const loaded = Reducer.make((s: Loaded, a: LoadedAction): readonly [Loaded, Fx.Fx<LoadedAction>] => {
  switch (a) {
    case "start":
      return [{ ...s, log: [...s.log, "start"] }, Fx.cancellable(Fx.delay("1 second", "tick" as LoadedAction), "timer")]
    case "stop":
      return [{ ...s, log: [...s.log, "stop"] }, Fx.cancel("timer")]
    case "tick":
      return [{ ...s, log: [...s.log, "tick"] }, Fx.none]
  }
})

const appCore = Reducer.make((s: App, a: AppAction): readonly [App, Fx.Fx<AppAction>] => {
  switch (a._tag) {
    case "Show":
      return [{ ...s, screen: { _tag: "Loaded", id: a.id, log: [] } }, Fx.none]
    case "Reload":
      return [{ ...s, screen: { _tag: "Loading" } }, Fx.none]
    case "Loaded":
      // The parent runs after the child, so it sees the child's new state.
      return [{ ...s, parentSaw: [...s.parentSaw, s.screen._tag === "Loaded" ? s.screen.log.join(",") : s.screen._tag] }, Fx.none]
  }
})

const screenOf = (identity?: (loaded: Loaded) => unknown) =>
  pipe(
    appCore,
    Reducer.ifTag(loaded, {
      state: Reducer.field<App, "screen">("screen"),
      tag: "Loaded",
      action: Reducer.tagged<AppAction, "Loaded">("Loaded"),
      identity
    })
  )
const app = screenOf()
const showing = (id: string): App => ({ screen: { _tag: "Loaded", id, log: [] }, parentSaw: [] })
const toLoaded = (action: LoadedAction): AppAction => ({ _tag: "Loaded", action })
const logOf = (s: App) => s.screen._tag === "Loaded" ? s.screen.log : s.screen._tag

describe("Reducer.ifTag", () => {
  it.scoped("runs the child on its case, before the parent, and feeds the child's effects back as parent actions", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: showing("a"), reducer: app })
      yield* store.send(toLoaded("start"))
      yield* settle
      yield* TestClock.adjust("1 second")
      const state = yield* store.state
      expect(logOf(state)).toEqual(["start", "tick"])
      // The parent saw the child's state after each child action ("tick" came back as Loaded("tick")).
      expect(state.parentSaw).toEqual(["start", "start,tick"])
    }))

  it.scoped("leaving the case cancels the child's running effects: no tick reaches the next case", () =>
    Effect.gen(function*() {
      const label = uniqueLabel("ifTag-cancel")
      const store = yield* Store.make({ initialState: showing("a"), reducer: app, label })
      const task = yield* store.send(toLoaded("start"))
      yield* store.send({ _tag: "Reload" })
      yield* settle
      expect(yield* task.isRunning).toBe(false)
      yield* TestClock.adjust("1 second")
      expect((yield* store.state).screen).toEqual({ _tag: "Loading" })
      // Cancelled, not delivered and reported: the tick never arrived in the wrong case.
      expect(yield* counter(StoreMetrics.actionsUnhandled, label, { combinator: "ifTag" })).toBe(0)
    }))

  it.scoped("a case value replaced by another of the same case: the same child, unless identity says otherwise", () =>
    Effect.gen(function*() {
      const run = (identity?: (loaded: Loaded) => unknown) =>
        Effect.gen(function*() {
          const store = yield* Store.make({ initialState: showing("a"), reducer: screenOf(identity) })
          yield* store.send(toLoaded("start"))
          yield* store.send({ _tag: "Show", id: "b" }) // Loaded a -> Loaded b, never through another case
          yield* settle
          yield* TestClock.adjust("1 second")
          return logOf(yield* store.state)
        })
      expect(yield* run((l) => l.id)).toEqual([])
      expect(yield* run()).toEqual(["tick"])
    }))

  it.scoped("a child action in another case is reported as ifLet reports an absent child: a warning and the metric", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const label = uniqueLabel("ifTag-unhandled")
        const store = yield* Store.make({ initialState: { screen: { _tag: "Loading" }, parentSaw: [] } as App, reducer: app, label })
        yield* Effect.flatMap(store.send(toLoaded("start")), (t) => t.finish)
        expect(yield* counter(StoreMetrics.actionsUnhandled, label, { combinator: "ifTag" })).toBe(1)
        // The child did not run (nothing started, no state of its own); the parent still saw the action.
        expect(yield* store.state).toEqual({ screen: { _tag: "Loading" }, parentSaw: ["Loading"] })
        const warning = lines.find((line) => line.level === "WARN")
        expect(warning?.message).toBe(
          `Reducer.ifTag: a child action for case "Loaded" arrived while the state is in case "Loading"; the action was not reduced by the child`
        )
        expect(warning?.annotations).toEqual({ action: `"start"`, store: label })
      })
    ))

  it.scoped("a union that may be undefined: an absent value is another case", () =>
    Effect.gen(function*() {
      type Sheet = { readonly _tag: "Edit"; readonly text: string } | { readonly _tag: "Alert" } | undefined
      type Action = { readonly _tag: "Edit"; readonly action: string } | { readonly _tag: "Dismiss" }
      const sheet = pipe(
        Reducer.fromState((s: { readonly sheet: Sheet }, a: Action) => a._tag === "Dismiss" ? { sheet: undefined } : s),
        Reducer.ifTag(Reducer.make((e: { readonly _tag: "Edit"; readonly text: string }, a: string) => [{ ...e, text: e.text + a }, Fx.none]), {
          state: Reducer.field<{ readonly sheet: Sheet }, "sheet">("sheet"),
          tag: "Edit",
          action: Reducer.tagged<Action, "Edit">("Edit")
        })
      )
      const [typed] = sheet({ sheet: { _tag: "Edit", text: "a" } }, { _tag: "Edit", action: "b" })
      expect(typed).toEqual({ sheet: { _tag: "Edit", text: "ab" } })
      const label = uniqueLabel("ifTag-absent")
      const store = yield* Store.make({ initialState: { sheet: undefined } as { readonly sheet: Sheet }, reducer: sheet, label })
      yield* Effect.flatMap(store.send({ _tag: "Edit", action: "x" }), (t) => t.finish)
      expect(yield* counter(StoreMetrics.actionsUnhandled, label, { combinator: "ifTag" })).toBe(1)
      expect(yield* store.state).toEqual({ sheet: undefined })
    }))

  it("the child's cancellation ids are its own and read as where they live: ifTag#n/timer", () => {
    const { summary } = ReducerTest.reduce(app, showing("a"), toLoaded("start"))
    const [scope, timer] = summary.cancellationIds.map(String)
    expect(scope).toMatch(/^ifTag#\d+$/)
    expect(timer).toBe(`${scope}/timer`)
    // And the parent dismissing the case cancels exactly that scope.
    expect(ReducerTest.reduce(app, showing("a"), { _tag: "Reload" }).summary.cancels.map(String)).toEqual([scope])
  })

  it("is typed from the lens and the tag: the child must take that case's value", () => {
    const options = {
      state: Reducer.field<App, "screen">("screen"),
      tag: "Loaded" as const,
      action: Reducer.tagged<AppAction, "Loaded">("Loaded")
    }
    const typed: Reducer.Reducer<App, AppAction> = Reducer.ifTag(appCore, loaded, options)
    // @ts-expect-error a child of the Loading case cannot run on the Loaded case
    Reducer.ifTag(appCore, Reducer.fromState((s: { readonly _tag: "Loading" }, _: LoadedAction) => s), options)
    // @ts-expect-error the tag must be one of the union's
    Reducer.ifTag(appCore, loaded, { ...options, tag: "Missing" })
    expect(typeof typed).toBe("function")
  })
})

// -----------------------------------------------------------------------------
// onChange
// -----------------------------------------------------------------------------

type Search = { readonly query: string; readonly filters: { readonly tag: string }; readonly searches: ReadonlyArray<string> }
type SearchAction =
  | { readonly _tag: "Type"; readonly query: string }
  | { readonly _tag: "Filter"; readonly tag: string }
  | { readonly _tag: "Search" }

const searchCore = Reducer.fromState((s: Search, a: SearchAction): Search => {
  switch (a._tag) {
    case "Type":
      return { ...s, query: a.query }
    case "Filter":
      // A new Data value each time, equal to the old one when the tag is the same.
      return { ...s, filters: Data.struct({ tag: a.tag }) }
    case "Search":
      return { ...s, searches: [...s.searches, `${s.query}#${s.filters.tag}`] }
  }
})
const initialSearch: Search = { query: "", filters: Data.struct({ tag: "all" }), searches: [] }

describe("Reducer.onChange", () => {
  it.scoped("runs when the selected value changed, debouncing a search as TCA's onChange(of:) does", () =>
    Effect.gen(function*() {
      const search = pipe(
        searchCore,
        Reducer.onChange((s) => s.query, () => (state) => [state, Fx.debounce(Fx.send({ _tag: "Search" }), "search", "300 millis")])
      )
      const store = yield* Store.make({ initialState: initialSearch, reducer: search })
      yield* store.send({ _tag: "Type", query: "e" })
      yield* store.send({ _tag: "Type", query: "ef" })
      yield* settle
      yield* TestClock.adjust("300 millis")
      expect((yield* store.state).searches).toEqual(["ef#all"])
      // The same query again is no change: no search starts.
      yield* store.send({ _tag: "Type", query: "ef" })
      yield* settle
      yield* TestClock.adjust("1 second")
      expect((yield* store.state).searches).toEqual(["ef#all"])
    }))

  it("compares with Effect equality: a rebuilt equal Data value is no change", () => {
    const seen: Array<string> = []
    const filtered = Reducer.onChange(searchCore, (s) => s.filters, (old, next) =>
      Reducer.fromState((s: Search) => {
        seen.push(`${old.tag}->${next.tag}`)
        return s
      }))
    const [same] = filtered(initialSearch, { _tag: "Filter", tag: "all" })
    filtered(same, { _tag: "Filter", tag: "open" })
    expect(seen).toEqual(["all->open"])
  })

  it("gets the old and new values; its reducer runs after the base one, on the new state, for the same action, and both effects are kept", () => {
    const calls: Array<unknown> = []
    const reducer = Reducer.onChange(
      Reducer.make((s: Search, a: SearchAction) => [searchCore(s, a)[0], Fx.send<SearchAction>({ _tag: "Filter", tag: "base" })]),
      (s) => s.query,
      (oldValue, newValue) => (state, action) => {
        calls.push({ oldValue, newValue, query: state.query, action })
        return [{ ...state, searches: ["changed"] }, Fx.send({ _tag: "Search" })]
      }
    )
    const outcome = ReducerTest.reduce(reducer, { ...initialSearch, query: "a" }, { _tag: "Type", query: "b" })
    expect(calls).toEqual([{ oldValue: "a", newValue: "b", query: "b", action: { _tag: "Type", query: "b" } }])
    expect(outcome.state.searches).toEqual(["changed"])
    expect(outcome.summary.sent).toEqual([{ _tag: "Filter", tag: "base" }, { _tag: "Search" }])
    // No change: the base reducer's result as it is.
    const unchanged = ReducerTest.reduce(reducer, initialSearch, { _tag: "Filter", tag: "x" })
    expect([calls.length, unchanged.summary.sent]).toEqual([1, [{ _tag: "Filter", tag: "base" }]])
  })
})

// -----------------------------------------------------------------------------
// logChanges
// -----------------------------------------------------------------------------

type Count = { readonly count: number; readonly title: string }
type CountAction = "inc" | "noop" | "incTwice"
const countCore = Reducer.make((s: Count, a: CountAction): readonly [Count, Fx.Fx<CountAction>] => {
  switch (a) {
    case "inc":
      return [{ ...s, count: s.count + 1 }, Fx.none]
    case "noop":
      return [s, Fx.none]
    case "incTwice":
      return [s, Fx.send<CountAction>("inc", "inc")]
  }
})

describe("Reducer.logChanges", () => {
  it.scoped("logs each action and its state diff through the store's Logger, with the label and the store's label", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const label = uniqueLabel("logChanges")
        const store = yield* Store.make({ initialState: { count: 0, title: "t" }, reducer: Reducer.logChanges(countCore, { label: "counter" }), label })
        yield* store.send("inc")
        yield* store.send("noop")
        yield* settle
        expect(lines).toEqual([
          {
            level: "DEBUG",
            message: `counter: received action "inc" (- before, + after)\n  state.count\n-   0\n+   1`,
            annotations: { store: label, label: "counter" }
          },
          { level: "DEBUG", message: `counter: received action "noop"\n  (no state changes)`, annotations: { store: label, label: "counter" } }
        ])
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Debug))
    ))

  it.scoped("keeps the reducer's own state and effects, and logs actions in the order they are reduced", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        const reducer = pipe(countCore, Reducer.logChanges({ level: "Info" }))
        const store = yield* Store.make({ initialState: { count: 0, title: "t" }, reducer })
        yield* Effect.flatMap(store.send("incTwice"), (t) => t.finish)
        expect(yield* store.state).toEqual({ count: 2, title: "t" })
        expect(lines.map((line) => `${line.level} ${line.message.split(" (")[0]!.split("\n")[0]}`)).toEqual([
          `INFO received action "incTwice"`,
          `INFO received action "inc"`,
          `INFO received action "inc"`
        ])
        expect(lines[2]!.message).toContain("-   1\n+   2")
      })
    ))

  it.scoped("below the minimum log level it logs nothing and never builds the message", () =>
    capturingLogs((lines) =>
      Effect.gen(function*() {
        let rendered = 0
        // An action that counts how often it is rendered for a message.
        const action = { _tag: "Inc", toJSON: () => (rendered++, "Inc") }
        const reducer = Reducer.logChanges(Reducer.fromState((n: number, _: typeof action) => n + 1))
        const store = yield* Store.make({ initialState: 0, reducer })
        yield* Effect.flatMap(store.send(action), (t) => t.finish)
        expect([yield* store.state, lines, rendered]).toEqual([1, [], 0])
      })
    ))
})
