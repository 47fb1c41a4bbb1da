import * as FiberRef from "effect/FiberRef"

/**
 * The label of the store whose fiber runs the current effect, set for every effect a store runs. Lets
 * effects built by reducers (which do not know their store) tag what they report with it.
 *
 * @internal
 */
export const currentStoreLabel: FiberRef.FiberRef<string> = FiberRef.unsafeMake("store")

/** Told of a child action `Reducer.ifLet` / `Reducer.ifTag` / `Reducer.forEach` could not route. @internal */
export type UnhandledHook = (combinator: string, action: unknown, detail: string) => void

/**
 * The hook of the store whose fiber reports an unrouted child action; a TestStore's store sets one, so a
 * misrouted action fails the test where a store only logs it.
 *
 * @internal
 */
export const currentUnhandledHook: FiberRef.FiberRef<UnhandledHook | undefined> = FiberRef.unsafeMake<UnhandledHook | undefined>(
  undefined
)
