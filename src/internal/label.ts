import * as FiberRef from "effect/FiberRef"

/**
 * The label of the store whose fiber runs the current effect, set for every effect a store runs. Lets
 * effects built by reducers (which do not know their store) tag what they report with it.
 *
 * @internal
 */
export const currentStoreLabel: FiberRef.FiberRef<string> = FiberRef.unsafeMake("store")
