import { Machine } from "@effect/experimental"
import { configureStore, createSlice } from "@reduxjs/toolkit"
import { Effect, Exit, Request, Stream } from "effect"
import { legacy_createStore } from "redux"
import { combineEpics, createEpicMiddleware, ofType } from "redux-observable"
import { applyMiddleware } from "redux"
import { asapScheduler, map, mergeMap, type Observable, range } from "rxjs"
import { assign, createActor, createMachine } from "xstate"
import { rate } from "./harness.js"
import { type CounterAction, inc } from "./subjects.js"

const SENDS = 1_000_000

/** Plain Redux `dispatch`, the classic `switch` reducer. */
export const reduxDispatchPerSec = () => {
  const store = legacy_createStore((n: number = 0, action: CounterAction | { type: string }) =>
    action.type === "inc" ? n + 1 : n
  )
  return rate("redux dispatch", SENDS, () => {
    for (let i = 0; i < SENDS; i++) store.dispatch(inc)
  })
}

/**
 * Redux Toolkit: a `createSlice` counter in `configureStore`, with the development-only immutability and
 * serializability checks off, as in a production build.
 */
export const rtkDispatchPerSec = () => {
  const slice = createSlice({ name: "counter", initialState: 0, reducers: { inc: (n) => n + 1 } })
  const store = configureStore({
    reducer: slice.reducer,
    middleware: (defaults) => defaults({ immutableCheck: false, serializableCheck: false })
  })
  const action = slice.actions.inc()
  return rate("rtk dispatch", SENDS, () => {
    for (let i = 0; i < SENDS; i++) store.dispatch(action)
  })
}

/** XState 5: a machine with an `assign` action, `actor.send`. */
export const xstateSendPerSec = () => {
  const sends = 200_000
  const machine = createMachine({
    context: { count: 0 },
    on: { inc: { actions: assign({ count: ({ context }) => context.count + 1 }) } }
  })
  const actor = createActor(machine).start()
  return rate("xstate send", sends, () => {
    for (let i = 0; i < sends; i++) actor.send(inc)
  })
}

class Increment extends Request.TaggedClass("Increment")<void, never, {}> {}

/** `@effect/experimental` Machine: one procedure per request, `actor.send` from one Effect program. */
export const machineSendPerSec = () => {
  // 20,000 sends a sample: at about 15k/s, 100,000 made this key a minute of the bench's 5.
  const sends = 20_000
  const counter = Machine.makeWith<number>()((_, previous) =>
    Machine.procedures.make(previous ?? 0).pipe(
      Machine.procedures.add<Increment>()("Increment", ({ state }) => Effect.succeed([undefined, state + 1] as const))
    )
  )
  const request = new Increment()
  const program = Effect.gen(function*() {
    const actor = yield* Machine.boot(counter)
    return () =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < sends; i++) yield* actor.send(request)
      }))
  })
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const run = yield* program
    return yield* Effect.promise(() => rate("machine send", sends, run))
  })))
}

const STREAM_ITEMS = 1_000_000

/** `Stream.runForEach` over the same items with an `Effect.sync` callback: the floor of the stack. */
export const rawStreamPerSec = () => {
  let sum = 0
  const program = Stream.runForEach(Stream.range(1, STREAM_ITEMS), (n) => Effect.sync(() => sum += n))
  return rate("raw stream", STREAM_ITEMS, () => Effect.runPromise(program), { samples: 5, warmup: 1 })
}

/**
 * redux-observable: an epic turns one `start` action into 1M `item` actions dispatched into a Redux store.
 * Its best idiomatic form is a source on `asapScheduler`: a synchronous `range` re-enters `dispatch` from
 * inside the epic and redux-observable queues every item, which grows quadratically (10k items: ~40k/s,
 * 100k: ~4k/s on the reference machine), while a scheduled source stays linear.
 */
export const rxjsEpicItemsPerSec = () => {
  type Action = { type: "start" } | { type: "item"; n: number }
  const epic = (action$: Observable<Action>) =>
    action$.pipe(
      ofType("start"),
      mergeMap(() => range(1, STREAM_ITEMS, asapScheduler).pipe(map((n): Action => ({ type: "item", n }))))
    )
  let finished: (() => void) | undefined
  const epicMiddleware = createEpicMiddleware<Action, Action, number>()
  const store = legacy_createStore(
    (sum: number = 0, action: Action | { type: string }) => {
      if (action.type !== "item") return sum
      const n = (action as { n: number }).n
      if (n === STREAM_ITEMS) finished?.()
      return sum + n
    },
    applyMiddleware(epicMiddleware)
  )
  epicMiddleware.run(combineEpics(epic))
  return rate("rxjs epic", STREAM_ITEMS, () =>
    new Promise<void>((resolve) => {
      finished = resolve
      store.dispatch({ type: "start" })
    }), { samples: 5, warmup: 1 })
}

/**
 * `effect_yield_per_sec`: the floor under `send_per_sec`: `yield* Exit.void` in one `Effect.gen` loop, the
 * generator step every `yield* store.send(action)` takes before the store does anything.
 */
export const effectYieldPerSec = () => {
  const program = Effect.gen(function*() {
    for (let i = 0; i < SENDS; i++) yield* Exit.void
  })
  return rate("effect yield", SENDS, () => Effect.runPromise(program))
}
