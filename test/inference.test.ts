/**
 * Type inference of the Fx constructors in a typed reducer: these compile only if mixed action variants
 * (Data.TaggedEnum constructors) flow through Fx.parallel / attempt / attemptStream without annotations.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Data, Effect, Stream } from "effect"
import { Fx, Reducer, ReducerTest, Store } from "../src/index.js"

type Action = Data.TaggedEnum<{ Go: {}; Tok: { readonly text: string }; Err: { readonly e: string }; End: {} }>
const Action = Data.taggedEnum<Action>()

const reducer = Reducer.make((count: number, action: Action) =>
  action._tag === "Go"
    ? [
      count,
      Fx.parallel(
        Fx.attemptStream(Stream.make("a"), {
          onItem: (text) => Action.Tok({ text }),
          onFailure: (e) => Action.Err({ e: String(e) }),
          onEnd: () => Action.End()
        }),
        Fx.attempt(Effect.succeed("x"), { onSuccess: (text) => Action.Tok({ text }), onFailure: () => Action.End() }),
        Fx.delay("1 second", Action.End()),
        Fx.stream(Stream.make(Action.Go())).pipe(Fx.cancellable("x")),
        Fx.sequential(Fx.send(Action.Go()), Fx.timeout(Fx.stream(Stream.never), "1 second", { onTimeout: Action.End() }))
      )
    ]
    : [count + 1, Fx.none]
)

// The state type is the `state` parameter's: a returned array literal (`Action[]`) must not become it, or
// this store with a read-only initial state would not compile (`npm run typecheck` checks it).
type FormAction = "Submit" | "Validate" | "Save"
const form = Reducer.make((log: ReadonlyArray<FormAction>, action: FormAction) =>
  [[...log, action], action === "Submit" ? Fx.send<FormAction>("Validate", "Save") : Fx.none]
)
export const formStore = Store.make({ initialState: [] as ReadonlyArray<FormAction>, reducer: form })

// `Reducer.combine` infers each reducer on its own: a `Reducer.scope` written inline, first (TCA's
// child-first order), takes its parent types from its lenses; then all must share state and action types.
interface Child {
  readonly n: number
}
interface App {
  readonly left: Child
}
type AppAction = { readonly _tag: "Left"; readonly action: "inc" } | { readonly _tag: "Reset" }
const child = Reducer.fromState((s: Child, _: "inc") => ({ n: s.n + 1 }))
const core = Reducer.make((s: App, a: AppAction) => [a._tag === "Reset" ? { left: { n: 0 } } : s, Fx.none])
const app = Reducer.combine(
  Reducer.scope(child, { state: Reducer.field<App, "left">("left"), action: Reducer.tagged<AppAction, "Left">("Left") }),
  core
)
export const appTyped: Reducer.Reducer<App, AppAction> = app
const needsDb = Reducer.make((s: App, _: AppAction) => [s, Fx.none as Fx.Fx<AppAction, "Db">])
const needsHttp = Reducer.make((s: App, _: AppAction) => [s, Fx.none as Fx.Fx<AppAction, "Http">])
const both = Reducer.combine(needsDb, core, needsHttp)
export const bothTyped: Reducer.Reducer<App, AppAction, "Db" | "Http"> = both
// @ts-expect-error the combined reducer needs "Http" too
export const bothNarrow: Reducer.Reducer<App, AppAction, "Db"> = both
// A lambda after the first reducer is typed from it: its parameters are the App state and action.
export const withLambda = Reducer.combine(core, (s, a) => [a._tag === "Reset" ? { ...s, left: { n: s.left.n } } : s, Fx.none])
// @ts-expect-error the lambda's state is App, which has no such field
export const lambdaTypo = Reducer.combine(core, (s, _a) => [s.noSuchField, Fx.none])
// @ts-expect-error the state types differ
export const mismatched = Reducer.combine(core, Reducer.fromState((n: number, _: AppAction) => n))
// @ts-expect-error the action types differ
export const otherActions = Reducer.combine(core, Reducer.fromState((s: App, _: "other") => s))

// Reducer.make<S, A>()(...): the types stated once, the services R inferred from the returned Fx, and
// actions built inside an Effect keep their literal tags without annotations.
class SearchClient extends Context.Tag("test/SearchClient")<SearchClient, Effect.Effect<number>>() {}
type SearchAction = { readonly _tag: "Search" } | { readonly _tag: "Found"; readonly n: number }
const search = Reducer.make<number, SearchAction>()((total, action) =>
  action._tag === "Search"
    ? [total, Fx.future(Effect.map(Effect.flatten(SearchClient), (n) => ({ _tag: "Found", n })))]
    : [action.n, Fx.none]
)
export const searchTyped: Reducer.Reducer<number, SearchAction, SearchClient> = search
// @ts-expect-error R is inferred: the reducer needs SearchClient
export const searchNarrow: Reducer.Reducer<number, SearchAction> = search
// With the types but without `()`, R could only be `never`: it does not compile, instead of failing later.
// @ts-expect-error use Reducer.make<S, A>()(...) to state the types
export const explicitWithoutCall = Reducer.make<number, SearchAction>((total) => [total, Fx.none])
// Object-literal states keep their literal fields in the curried form.
interface Job {
  readonly status: "idle" | "running"
}
export const job = Reducer.make<Job, "start" | "stop">()((_s, a) => [{ status: a === "start" ? "running" : "idle" }, Fx.none])

// Annotated parameters: actions given straight to Fx.send / Fx.delay keep their literal tags.
type DialogAction = { readonly _tag: "Open" } | { readonly _tag: "Close" } | { readonly _tag: "Ping"; readonly n: number }
export const dialog = Reducer.make((_open: boolean, action: DialogAction) =>
  action._tag === "Open"
    ? [true, Fx.parallel(Fx.send({ _tag: "Ping", n: 1 }, { _tag: "Close" }), Fx.delay("1 second", { _tag: "Close" }))]
    : [false, Fx.none]
)
export const dialogTyped: Reducer.Reducer<boolean, DialogAction> = dialog
// @ts-expect-error a tag the action type does not have is still refused
export const dialogTypo = Reducer.make((open: boolean, _: DialogAction) => [open, Fx.send({ _tag: "Clsoe" })])

// A wrong prism given to forEach is reported at the prism, not at the state lens.
interface Todo {
  readonly id: string
  readonly done: boolean
}
type TodosAction = { readonly _tag: "Todo"; readonly id: string; readonly action: "toggle" } | { readonly _tag: "Other"; readonly action: "toggle" }
const todos = Reducer.fromState((s: { readonly todos: ReadonlyArray<Todo> }, _: TodosAction) => s)
const todo = Reducer.fromState((t: Todo, _: "toggle") => ({ ...t, done: !t.done }))
export const todosOk = Reducer.forEach(todos, todo, {
  state: Reducer.field<{ readonly todos: ReadonlyArray<Todo> }, "todos">("todos"),
  action: Reducer.taggedElement<TodosAction, "Todo">("Todo")
})
export const todosWrongPrism = Reducer.forEach(todos, todo, {
  state: Reducer.field<{ readonly todos: ReadonlyArray<Todo> }, "todos">("todos"),
  // @ts-expect-error tagged is a Prism, forEach needs an ElementPrism (taggedElement): the error is here
  action: Reducer.tagged<TodosAction, "Other">("Other")
})

// Reducer.fromState takes the state type from the parameter only: a returned spread with a mapped array
// (mutable) must not become it, or a store of the read-only state would not compile.
interface Board {
  readonly cells: ReadonlyArray<{ readonly id: string; readonly on: boolean }>
}
const board = Reducer.fromState((s: Board, _: "flip") => ({ ...s, cells: s.cells.map((c) => ({ ...c, on: !c.on })) }))
export const boardTyped: Reducer.Reducer<Board, "flip"> = board

describe("inference", () => {
  it("a typed reducer returns mixed variants through every constructor", () => {
    const { summary } = ReducerTest.reduce(reducer, 0, Action.Go())
    expect(summary.parallelBranches).toBe(5)
    expect(summary.kinds).toEqual([
      "Parallel",
      "Stream",
      "Future",
      "Delay",
      "Cancellable",
      "Stream",
      "Sequential",
      "Send",
      "Timeout",
      "Stream"
    ])
  })
})
