import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Data, Effect, Equal, Fiber, Layer, Metric, Option, pipe, Schedule, Stream, TestClock } from "effect"
import { Fx, Reducer, ReducerTest, Store, StoreMetrics, TestStore } from "../../src/index.js"
import { settle } from "./helpers.js"

/** A language model as a service, swapped by Layers. */
class LanguageModel extends Context.Tag("test/LanguageModel")<LanguageModel, {
  readonly stream: (prompt: string) => Stream.Stream<string>
}>() {}

const Deterministic = Layer.succeed(LanguageModel, {
  stream: (prompt) => Stream.make(...prompt.split("")).pipe(Stream.schedule(Schedule.spaced("10 millis")))
})
const Echo = Layer.succeed(LanguageModel, { stream: (prompt) => Stream.make(`echo:${prompt}`) })

// A conversation: asks the model and accumulates its reply.
type ConversationAction = Data.TaggedEnum<{ Ask: { readonly prompt: string }; Token: { readonly text: string } }>
const ConversationAction = Data.taggedEnum<ConversationAction>()
interface Conversation {
  readonly id: string
  readonly reply: string
}
const conversation = Reducer.make((state: Conversation, action: ConversationAction) =>
  action._tag === "Ask"
    ? [state, Fx.stream(Stream.unwrap(Effect.map(LanguageModel, (m) => m.stream(action.prompt))).pipe(Stream.map((text) => ConversationAction.Token({ text }))))]
    : [{ ...state, reply: state.reply + action.text }, Fx.none]
)

// The app: a list of conversations (forEach) and an optional detail (ifLet) that reuses the same feature.
type AppAction =
  | { readonly _tag: "Open"; readonly id: string }
  | { readonly _tag: "Delete"; readonly id: string }
  | { readonly _tag: "Conversation"; readonly id: string; readonly action: ConversationAction }
  | { readonly _tag: "ShowDetail" }
  | { readonly _tag: "HideDetail" }
  | { readonly _tag: "Detail"; readonly action: ConversationAction }
interface App {
  readonly conversations: ReadonlyArray<Conversation>
  readonly detail: Conversation | undefined
  readonly log: ReadonlyArray<string>
}
const initialApp: App = { conversations: [], detail: undefined, log: [] }

const appCore = Reducer.make((app: App, action: AppAction) => {
  switch (action._tag) {
    case "Open":
      return [{ ...app, conversations: [...app.conversations, { id: action.id, reply: "" }] }, Fx.none]
    case "Delete":
      return [{ ...app, conversations: app.conversations.filter((c) => c.id !== action.id) }, Fx.none]
    case "ShowDetail":
      return [{ ...app, detail: { id: "detail", reply: "" } }, Fx.none]
    case "HideDetail":
      return [{ ...app, detail: undefined }, Fx.none]
    case "Detail":
      // The parent runs after the child: it sees the child's new state.
      return [{ ...app, log: [...app.log, `parent saw ${app.detail?.reply ?? "-"}`] }, Fx.none]
    default:
      return [app, Fx.none]
  }
})

const app = pipe(
  appCore,
  Reducer.forEach(conversation, {
    state: Reducer.field<App, "conversations">("conversations"),
    action: Reducer.taggedElement<AppAction, "Conversation">("Conversation")
  }),
  Reducer.ifLet(conversation, { state: Reducer.field<App, "detail">("detail"), action: Reducer.tagged<AppAction, "Detail">("Detail") })
)

const ask = (id: string, prompt: string): AppAction => ({ _tag: "Conversation", id, action: ConversationAction.Ask({ prompt }) })
const unhandled = (combinator: string) =>
  (label = "store") =>
    Effect.map(Metric.value(StoreMetrics.forStore(StoreMetrics.actionsUnhandled, label, { combinator })), (s) => s.count)

describe("composition", () => {
  it.scoped("Reducer.scope runs the child on its part of the state and maps its effects into parent actions", () =>
    Effect.gen(function*() {
      type Parent = { readonly child: Conversation; readonly other: number }
      type ParentAction = { readonly _tag: "Child"; readonly action: ConversationAction } | { readonly _tag: "Other" }
      const parent = Reducer.scope(conversation, {
        state: Reducer.field<Parent, "child">("child"),
        action: Reducer.tagged<ParentAction, "Child">("Child")
      })
      const store = yield* TestStore.make({ initialState: { child: { id: "c", reply: "" }, other: 0 }, reducer: parent })
      yield* store.send({ _tag: "Child", action: ConversationAction.Ask({ prompt: "hi" }) })
      yield* store.receive({ _tag: "Child", action: ConversationAction.Token({ text: "echo:hi" }) }, (s) => ({
        ...s,
        child: { id: "c", reply: "echo:hi" }
      }))
      yield* store.send({ _tag: "Other" })
    }).pipe(Effect.provide(Echo)))

  it("Reducer.combine runs reducers in the order given, each seeing the previous one's state", () => {
    const log = (name: string) => Reducer.fromState((s: ReadonlyArray<string>, _: "go") => [...s, `${name} saw ${s.length}`])
    const [state] = Reducer.combine(log("first"), log("second"), log("third"))([], "go")
    expect(state).toEqual(["first saw 0", "second saw 1", "third saw 2"])
  })

  it.scoped("forEach: each element's effects are cancelled when it is removed; the others keep running", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: initialApp, reducer: app })
      yield* store.send({ _tag: "Open", id: "a" })
      yield* store.send({ _tag: "Open", id: "b" })
      yield* store.send(ask("a", "xyz"))
      yield* store.send(ask("b", "klm"))
      yield* settle
      yield* TestClock.adjust("10 millis")
      yield* store.send({ _tag: "Delete", id: "a" })
      yield* TestClock.adjust("100 millis")
      expect((yield* store.state).conversations).toEqual([{ id: "b", reply: "klm" }])
    }).pipe(Effect.provide(Deterministic)))

  it.scoped("forEach works over a ReadonlyMap and a record too", () =>
    Effect.gen(function*() {
      type ByMap = { readonly rows: ReadonlyMap<string, Conversation> }
      const overMap = Reducer.forEach(Reducer.fromState((s: ByMap, _: AppAction) => s), conversation, {
        state: Reducer.field<ByMap, "rows">("rows"),
        action: Reducer.taggedElement<AppAction, "Conversation">("Conversation")
      })
      const mapStore = yield* Store.make({ initialState: { rows: new Map([["m", { id: "m", reply: "" }]]) }, reducer: overMap })
      yield* Effect.flatMap(mapStore.send(ask("m", "hi")), (t) => t.finish)
      expect((yield* mapStore.state).rows.get("m")?.reply).toBe("echo:hi")

      type ByRecord = { readonly rows: Readonly<Record<string, Conversation>> }
      const overRecord = Reducer.forEach(Reducer.fromState((s: ByRecord, _: AppAction) => s), conversation, {
        state: Reducer.field<ByRecord, "rows">("rows"),
        action: Reducer.taggedElement<AppAction, "Conversation">("Conversation")
      })
      const recordStore = yield* Store.make({ initialState: { rows: { r: { id: "r", reply: "" } } }, reducer: overRecord })
      yield* Effect.flatMap(recordStore.send(ask("r", "yo")), (t) => t.finish)
      expect((yield* recordStore.state).rows["r"]?.reply).toBe("echo:yo")
    }).pipe(Effect.provide(Echo)))

  it.scoped("forEach compares array ids with Effect equality: a rebuilt Data id finds its element and its removal cancels", () =>
    Effect.gen(function*() {
      type Key = { readonly user: string; readonly n: number }
      const key = (user: string, n: number): Key => Data.struct({ user, n })
      interface Row {
        readonly id: Key
        readonly reply: string
      }
      type Action =
        | { readonly _tag: "Row"; readonly id: Key; readonly action: ConversationAction }
        | { readonly _tag: "Remove"; readonly id: Key }
      const rowReducer = Reducer.make((row: Row, action: ConversationAction) => {
        const [next, fx] = conversation({ id: "", reply: row.reply }, action)
        return [{ ...row, reply: next.reply }, fx]
      })
      const list = Reducer.forEach(
        Reducer.fromState((rows: ReadonlyArray<Row>, action: Action) =>
          action._tag === "Remove" ? rows.filter((r) => !Equal.equals(r.id, action.id)) : rows
        ),
        rowReducer,
        { state: { get: (rows) => rows, set: (_, rows) => rows as ReadonlyArray<Row> }, action: Reducer.taggedElement<Action, "Row">("Row") }
      )
      const store = yield* Store.make({ initialState: [{ id: key("ann", 1), reply: "" }] as ReadonlyArray<Row>, reducer: list })
      // Each action carries a new Data value, equal to the element's id but not the same reference.
      yield* store.send({ _tag: "Row", id: key("ann", 1), action: ConversationAction.Ask({ prompt: "abc" }) })
      yield* settle
      yield* TestClock.adjust("10 millis")
      expect((yield* store.state)[0].reply).toBe("a")
      // Removed by an equal id: its stream is cancelled, so no token arrives for a missing element.
      const before = yield* unhandled("forEach")()
      yield* store.send({ _tag: "Remove", id: key("ann", 1) })
      yield* TestClock.adjust("100 millis")
      expect(yield* store.state).toEqual([])
      expect(yield* unhandled("forEach")()).toBe(before)
    }).pipe(Effect.provide(Deterministic)))

  it.scoped("forEach reports an action for a missing id instead of dropping it silently, tagged with the store", () =>
    Effect.gen(function*() {
      const label = `unhandled-${Math.random()}`
      const store = yield* Store.make({ initialState: initialApp, reducer: app, label })
      yield* Effect.flatMap(store.send(ask("ghost", "hi")), (t) => t.finish)
      expect(yield* unhandled("forEach")(label)).toBe(1)
      expect(yield* store.state).toEqual(initialApp)
    }).pipe(Effect.provide(Echo)))

  it.scoped("ifLet: the child runs before the parent, its effects stop when it goes away, and a late action is reported", () =>
    Effect.gen(function*() {
      const before = yield* unhandled("ifLet")()
      const store = yield* Store.make({ initialState: initialApp, reducer: app })
      yield* store.send({ _tag: "ShowDetail" })
      yield* store.send({ _tag: "Detail", action: ConversationAction.Token({ text: "x" }) })
      expect((yield* store.state).log).toEqual(["parent saw x"])
      yield* store.send({ _tag: "Detail", action: ConversationAction.Ask({ prompt: "abcd" }) })
      yield* settle
      yield* TestClock.adjust("20 millis")
      expect((yield* store.state).detail?.reply).toBe("xab")
      yield* store.send({ _tag: "HideDetail" })
      yield* TestClock.adjust("100 millis")
      expect((yield* store.state).detail).toBeUndefined()
      const late = yield* store.send({ _tag: "Detail", action: ConversationAction.Token({ text: "late" }) })
      yield* late.finish
      expect(yield* unhandled("ifLet")()).toBe(before + 1)
    }).pipe(Effect.provide(Deterministic)))

  it.scoped("a TestStore fails on a child action ifLet or forEach could not route, where a store only reports it", () =>
    Effect.gen(function*() {
      const store = yield* TestStore.make({ initialState: initialApp, reducer: app })
      const absent = yield* Effect.flip(store.send({ _tag: "Detail", action: ConversationAction.Token({ text: "x" }) }))
      expect(absent.reason).toBe("UnhandledChildAction")
      expect(absent.message).toContain("Reducer.ifLet: a child action arrived while the child state is absent")
      const missing = yield* Effect.flip(store.send(ask("ghost", "hi")))
      expect([missing.reason, missing.message.includes(`Reducer.forEach: no element with id "ghost"`)]).toEqual([
        "UnhandledChildAction",
        true
      ])
      // Reported once: the next step passes. (The parent still saw the Detail action.)
      yield* store.send({ _tag: "Open", id: "a" }, {
        conversations: [{ id: "a", reply: "" }],
        detail: undefined,
        log: ["parent saw -"]
      })
      yield* store.finish()
    }).pipe(Effect.provide(Echo)))

  it.scoped("a TestStore fails the step during which a child action could not be routed", () =>
    Effect.gen(function*() {
      type Parent = { readonly child: number | undefined }
      type ParentAction = { readonly _tag: "Poke" } | { readonly _tag: "Child"; readonly action: "inc" }
      const parent = pipe(
        Reducer.make((s: Parent, a: ParentAction): readonly [Parent, Fx.Fx<ParentAction>] =>
          [s, a._tag === "Poke" ? Fx.send<ParentAction>({ _tag: "Child", action: "inc" }) : Fx.none]
        ),
        Reducer.ifLet(Reducer.fromState((n: number, _: "inc") => n + 1), {
          state: Reducer.field<Parent, "child">("child"),
          action: Reducer.tagged<ParentAction, "Child">("Child")
        })
      )
      const store = yield* TestStore.make({ initialState: { child: undefined } as Parent, reducer: parent })
      // The fed-back child action is reduced (and found unroutable) within the send, as in a store.
      const error = yield* Effect.flip(store.send({ _tag: "Poke" }))
      expect(error.reason).toBe("UnhandledChildAction")
      expect(error.message).toContain(`Reducer.ifLet: a child action arrived while the child state is absent: "inc"`)
      // It was reduced (and recorded) all the same, as in a store.
      expect(yield* store.received).toEqual([{ _tag: "Child", action: "inc" }])
      yield* store.skipReceivedActions()
    }))

  it("a child's cancellation ids read as where they live: forEach#n[key]/id", () => {
    type Row = { readonly id: string }
    type ListAction = { readonly _tag: "Row"; readonly id: string; readonly action: "go" }
    const list = pipe(
      Reducer.fromState((s: { readonly rows: ReadonlyArray<Row> }, _: ListAction) => s),
      Reducer.forEach(Reducer.make((row: Row, _: "go") => [row, Fx.cancellable(Fx.stream(Stream.never), "download")]), {
        state: Reducer.field<{ readonly rows: ReadonlyArray<Row> }, "rows">("rows"),
        action: Reducer.taggedElement<ListAction, "Row">("Row")
      })
    )
    const { summary } = ReducerTest.reduce(list, { rows: [{ id: "a" }] }, { _tag: "Row", id: "a", action: "go" })
    const [element, child] = summary.cancellationIds.map(String)
    expect(element).toMatch(/^forEach#\d+\[a\]$/)
    expect(child).toBe(`${element}/download`)
    expect(JSON.stringify(summary.cancellationIds)).toBe(JSON.stringify([element, child]))
  })

  it.scoped("three levels deep: effects are mapped all the way up", () =>
    Effect.gen(function*() {
      type Level2 = { readonly conversation: Conversation }
      type Level2Action = { readonly _tag: "Conversation"; readonly action: ConversationAction }
      type Level1 = { readonly level2: Level2 }
      type Level1Action = { readonly _tag: "Level2"; readonly action: Level2Action }
      type Root = { readonly level1: Level1 }
      type RootAction = { readonly _tag: "Level1"; readonly action: Level1Action }
      const level2 = Reducer.scope(conversation, { state: Reducer.field<Level2, "conversation">("conversation"), action: Reducer.tagged<Level2Action, "Conversation">("Conversation") })
      const level1 = Reducer.scope(level2, { state: Reducer.field<Level1, "level2">("level2"), action: Reducer.tagged<Level1Action, "Level2">("Level2") })
      const root = Reducer.scope(level1, { state: Reducer.field<Root, "level1">("level1"), action: Reducer.tagged<RootAction, "Level1">("Level1") })
      const wrap = (action: ConversationAction): RootAction => ({ _tag: "Level1", action: { _tag: "Level2", action: { _tag: "Conversation", action } } })
      const store = yield* TestStore.make({ initialState: { level1: { level2: { conversation: { id: "deep", reply: "" } } } }, reducer: root })
      yield* store.send(wrap(ConversationAction.Ask({ prompt: "hey" })))
      yield* store.receive(wrap(ConversationAction.Token({ text: "echo:hey" })), { level1: { level2: { conversation: { id: "deep", reply: "echo:hey" } } } })
    }).pipe(Effect.provide(Echo)))

  it.scoped("store views: changes emit only when the child state changes, send embeds child actions, views nest", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: initialApp, reducer: app })
      yield* store.send({ _tag: "Open", id: "a" })
      const list = store.scope({
        state: (s: App) => Data.array(s.conversations.map((c) => Data.struct(c))),
        action: (a: AppAction) => a
      })
      const first = list.scope({
        state: (rows) => Option.getOrUndefined(Option.map(Option.fromNullable(rows[0]), (c) => c.reply)),
        action: (a: ConversationAction): AppAction => ({ _tag: "Conversation", id: "a", action: a })
      })
      const changes = yield* Effect.fork(Stream.runCollect(Stream.take(first.changes, 3)))
      yield* settle
      yield* store.send({ _tag: "ShowDetail" }) // changes the app, not the first conversation: no emission
      yield* first.send(ConversationAction.Token({ text: "1" }))
      yield* store.send({ _tag: "HideDetail" }) // no emission
      yield* first.send(ConversationAction.Token({ text: "2" }))
      expect(Chunk.toReadonlyArray(yield* Fiber.join(changes))).toEqual(["", "1", "12"])
      expect(yield* first.state).toBe("12")
    }).pipe(Effect.provide(Echo)))
})

describe("Reducer.combine typing", () => {
  class Db extends Context.Tag("test/Db")<Db, { readonly load: Effect.Effect<number> }>() {}
  class Log extends Context.Tag("test/Log")<Log, { readonly write: (s: string) => Effect.Effect<void> }>() {}

  it.effect("reducers needing different services combine into one needing both", () =>
    Effect.gen(function*() {
      const load = Reducer.make((n: number, a: "load" | "log") => a === "load" ? [n, Fx.future(Effect.flatMap(Db, (db) => Effect.map(db.load, () => "log" as const)))] : [n, Fx.none])
      const write = Reducer.make((n: number, a: "load" | "log") => a === "log" ? [n + 1, Fx.futureOption(Effect.flatMap(Log, (log) => Effect.as(log.write("x"), Option.none())))] : [n, Fx.none])
      const both: Reducer.Reducer<number, "load" | "log", Db | Log> = Reducer.combine(load, write)
      const store = yield* Store.make({ initialState: 0, reducer: both })
      yield* Effect.flatMap(store.send("load"), (t) => t.finish)
      expect(yield* store.state).toBe(1)
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(Layer.succeed(Db, { load: Effect.succeed(1) }), Layer.succeed(Log, { write: () => Effect.void })))
    ))
})

describe("composition: each child's cancellation ids are its own", () => {
  // A timer feature: start / stop by its own id "timer", which every instance uses.
  type TimerAction = "start" | "stop" | "tick"
  const timer = Reducer.make((log: ReadonlyArray<string>, a: TimerAction): readonly [ReadonlyArray<string>, Fx.Fx<TimerAction>] => {
    switch (a) {
      case "start":
        return [[...log, "start"], Fx.cancellable(Fx.delay("1 second", "tick" as TimerAction), "timer")]
      case "stop":
        return [[...log, "stop"], Fx.cancel("timer")]
      case "tick":
        return [[...log, "tick"], Fx.none]
    }
  })
  interface Row {
    readonly id: string
    readonly log: ReadonlyArray<string>
  }
  type ListAction = { readonly _tag: "Row"; readonly id: string; readonly action: TimerAction } | { readonly _tag: "Remove"; readonly id: string }
  const rowTimer = Reducer.make((row: Row, a: TimerAction) => {
    const [log, fx] = timer(row.log, a)
    return [{ ...row, log }, fx]
  })
  const list = Reducer.forEach(
    Reducer.fromState((rows: ReadonlyArray<Row>, a: ListAction) => (a._tag === "Remove" ? rows.filter((r) => r.id !== a.id) : rows)),
    rowTimer,
    { state: { get: (rows) => rows, set: (_, rows) => rows as ReadonlyArray<Row> }, action: Reducer.taggedElement<ListAction, "Row">("Row") }
  )
  const row = (id: string, action: TimerAction): ListAction => ({ _tag: "Row", id, action })

  it.scoped("forEach: one row's Fx.cancel(\"timer\") stops that row's timer only", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState: [{ id: "a", log: [] }, { id: "b", log: [] }] as ReadonlyArray<Row>, reducer: list })
      yield* store.send(row("a", "start"))
      yield* store.send(row("b", "start"))
      yield* store.send(row("a", "stop"))
      yield* settle
      yield* TestClock.adjust("1 second")
      expect((yield* store.state).map((r) => `${r.id}:${r.log.join(",")}`)).toEqual(["a:start,stop", "b:start,tick"])
    }))

  it.scoped("nested forEach: removing an inner element from one outer element leaves the other's alone", () =>
    Effect.gen(function*() {
      interface Outer {
        readonly id: string
        readonly rows: ReadonlyArray<Row>
      }
      type OuterAction = { readonly _tag: "Outer"; readonly id: string; readonly action: ListAction }
      const outer = Reducer.forEach(
        Reducer.fromState((outers: ReadonlyArray<Outer>, _: OuterAction) => outers),
        Reducer.make((o: Outer, a: ListAction) => {
          const [rows, fx] = list(o.rows, a)
          return [{ ...o, rows }, fx]
        }),
        { state: { get: (os) => os, set: (_, os) => os as ReadonlyArray<Outer> }, action: Reducer.taggedElement<OuterAction, "Outer">("Outer") }
      )
      const inA = (action: ListAction): OuterAction => ({ _tag: "Outer", id: "A", action })
      const inB = (action: ListAction): OuterAction => ({ _tag: "Outer", id: "B", action })
      const store = yield* Store.make({
        initialState: [{ id: "A", rows: [{ id: "x", log: [] }] }, { id: "B", rows: [{ id: "x", log: [] }] }] as ReadonlyArray<Outer>,
        reducer: outer
      })
      yield* store.send(inB(row("x", "start")))
      yield* store.send(inA({ _tag: "Remove", id: "x" }))
      yield* settle
      yield* TestClock.adjust("1 second")
      expect((yield* store.state)[1].rows[0].log).toEqual(["start", "tick"])
    }))

  it.scoped("ifLet with identity: a child replaced by another in one step has its effects cancelled", () =>
    Effect.gen(function*() {
      interface Detail {
        readonly id: string
        readonly log: ReadonlyArray<string>
      }
      type AppAction = { readonly _tag: "Show"; readonly id: string } | { readonly _tag: "Detail"; readonly action: TimerAction }
      const detail = Reducer.make((d: Detail, a: TimerAction) => {
        const [log, fx] = timer(d.log, a)
        return [{ ...d, log }, fx]
      })
      const app = (identity?: (d: Detail) => unknown) =>
        Reducer.ifLet(
          Reducer.fromState((s: { readonly detail: Detail | undefined }, a: AppAction) => (a._tag === "Show" ? { detail: { id: a.id, log: [] } } : s)),
          detail,
          { state: Reducer.field<{ readonly detail: Detail | undefined }, "detail">("detail"), action: Reducer.tagged<AppAction, "Detail">("Detail"), identity }
        )
      const run = (identity?: (d: Detail) => unknown) =>
        Effect.gen(function*() {
          const store = yield* Store.make({ initialState: { detail: { id: "a", log: [] } }, reducer: app(identity) })
          yield* store.send({ _tag: "Detail", action: "start" })
          yield* store.send({ _tag: "Show", id: "b" }) // replaces "a" without passing through undefined
          yield* settle
          yield* TestClock.adjust("1 second")
          return (yield* store.state).detail
        })
      // With identity, a's timer is cancelled with a; b sees nothing of it.
      expect(yield* run((d) => d.id)).toEqual({ id: "b", log: [] })
      // Without it the child is "the same child", and a's tick lands in b (the documented default).
      expect(yield* run()).toEqual({ id: "b", log: ["tick"] })
    }))

  it.scoped("ifLet with identity: a child that changes its own identity ends the effects of the one it was", () =>
    Effect.gen(function*() {
      interface Detail {
        readonly id: string
        readonly log: ReadonlyArray<string>
      }
      type AppAction = { readonly _tag: "Dismiss" } | { readonly _tag: "Detail"; readonly action: TimerAction | "rename" }
      const detail = Reducer.make((d: Detail, a: TimerAction | "rename"): readonly [Detail, Fx.Fx<TimerAction | "rename">] => {
        if (a === "rename") return [{ ...d, id: `${d.id}'` }, Fx.none]
        const [log, fx] = timer(d.log, a)
        return [{ ...d, log }, fx]
      })
      type App = { readonly detail: Detail | undefined }
      const app = Reducer.ifLet(
        Reducer.fromState((s: App, a: AppAction) => (a._tag === "Dismiss" ? { detail: undefined } : s)),
        detail,
        { state: Reducer.field<App, "detail">("detail"), action: Reducer.tagged<AppAction, "Detail">("Detail"), identity: (d) => d.id }
      )
      const store = yield* Store.make({ initialState: { detail: { id: "a", log: [] } } as App, reducer: app })
      const task = yield* store.send({ _tag: "Detail", action: "start" })
      yield* store.send({ _tag: "Detail", action: "rename" })
      yield* settle
      // The timer belonged to "a", which is gone: nothing of it runs on, even after a dismissal.
      expect(yield* task.isRunning).toBe(false)
      yield* store.send({ _tag: "Dismiss" })
      yield* TestClock.adjust("1 second")
      expect(yield* store.state).toEqual({ detail: undefined })
    }))

  it.scoped("forEach over a record with number ids: removing an element cancels its effects", () =>
    Effect.gen(function*() {
      type ById = Readonly<Record<string, ReadonlyArray<string>>>
      type Action = { readonly _tag: "Row"; readonly id: number; readonly action: TimerAction } | { readonly _tag: "Remove"; readonly id: number }
      const byId = Reducer.forEach(
        Reducer.fromState((rows: ById, a: Action) => {
          if (a._tag !== "Remove") return rows
          const { [String(a.id)]: _, ...rest } = rows
          return rest
        }),
        timer,
        { state: { get: (rows) => rows, set: (_, rows) => rows as ById }, action: Reducer.taggedElement<Action, "Row">("Row") }
      )
      const store = yield* Store.make({ initialState: { "1": [] } as ById, reducer: byId })
      const task = yield* store.send({ _tag: "Row", id: 1, action: "start" })
      yield* store.send({ _tag: "Remove", id: 1 })
      yield* settle
      expect(yield* task.isRunning).toBe(false)
    }))
})
