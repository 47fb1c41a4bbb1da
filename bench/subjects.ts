import { Effect, Exit, Scope } from "effect"
import { Reducer, Store } from "../src/index.js"

/** The counter every subject runs: one action type, no effect. */
export type CounterAction = { readonly type: "inc" }
export const inc: CounterAction = { type: "inc" }

/** A store that lives until `close`, for benchmarks that reuse one across samples. */
export const openStore = <S, A, R>(options: Store.Options<S, A, R>) => {
  const scope = Effect.runSync(Scope.make())
  const store = Effect.runSync(Scope.extend(Store.make(options), scope) as Effect.Effect<Store.Store<S, A>>)
  return { store, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const counterReducer = Reducer.fromState((n: number, _: CounterAction) => n + 1)
