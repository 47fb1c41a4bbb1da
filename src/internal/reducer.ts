import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Fx from "../Fx.js"
import type * as Reducer from "../Reducer.js"
import { diff, show } from "./diff.js"
import { currentStoreLabel } from "./label.js"

/** @internal */
export const onChange = <S, A, R, V, R2>(
  self: Reducer.Reducer<S, A, R>,
  select: (state: S) => V,
  f: (oldValue: V, newValue: V) => Reducer.Reducer<S, A, R2>
): Reducer.Reducer<S, A, R | R2> =>
(state, action) => {
  const [next, fx] = self(state, action)
  const oldValue = select(state)
  const newValue = select(next)
  if (Equal.equals(oldValue, newValue)) return [next, fx]
  // As TCA's onChange: the reducer `f` builds runs after `self`, on the state `self` produced, for the
  // same action; both effects run.
  const [final, changed] = f(oldValue, newValue)(next, action)
  return [final, Fx.merge<A, R | R2>([fx, changed])]
}

/** @internal */
export const logChanges = <S, A, R>(
  self: Reducer.Reducer<S, A, R>,
  options?: Reducer.LogChangesOptions
): Reducer.Reducer<S, A, R> => {
  const level = LogLevel.fromLiteral(options?.level ?? "Debug")
  const label = options?.label
  const prefix = label === undefined ? "" : `${label}: `
  const annotations = (store: string) => label === undefined ? { store } : { store, label }
  return (state, action) => {
    const [next, fx] = self(state, action)
    // The reducer stays pure: the log is an effect the store runs in its own fiber, with the application's
    // Logger. The message (a diff of two whole states) is built there, and only when the level is enabled,
    // so a wrapper left in at "Debug" costs nothing where debug logs are off.
    const log = Effect.whenLogLevel(
      Effect.flatMap(FiberRef.get(currentStoreLabel), (store) => {
        const changes = diff(state, next)
        const message = changes.length === 0
          ? `${prefix}received action ${show(action)}\n  (no state changes)`
          : `${prefix}received action ${show(action)} (- before, + after)\n${changes.join("\n")}`
        return Effect.logWithLevel(level, message).pipe(Effect.annotateLogs(annotations(store)))
      }),
      level
    )
    // The log fiber is forked when the store starts this action's effects, so logs come in the order the
    // actions were reduced (an action fed back is reduced, and its log forked, after this one's).
    return [next, Fx.merge<A, R>([Fx.futureOption(Effect.as(log, Option.none())), fx])]
  }
}
