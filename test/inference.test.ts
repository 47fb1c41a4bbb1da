/**
 * Type inference of the Fx constructors in a typed reducer: these compile only if mixed action variants
 * (Data.TaggedEnum constructors) flow through Fx.parallel / attempt / attemptStream without annotations.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Stream } from "effect"
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
