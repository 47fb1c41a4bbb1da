/**
 * composable-effect: The Composable Architecture on Effect.
 *
 * @since 0.1.0
 */

/**
 * Effects as data: what a reducer returns besides its next state.
 *
 * @since 0.1.0
 */
export * as Fx from "./Fx.js"

/**
 * Pure reducers and their combinators.
 *
 * @since 0.1.0
 */
export * as Reducer from "./Reducer.js"

/**
 * The runtime: reduces actions one at a time and runs their effects.
 *
 * @since 0.1.0
 */
export * as Store from "./Store.js"

/**
 * A host of keyed stores: made on first use, passivated when idle, restored from persistence.
 *
 * @since 0.2.0
 */
export * as StoreHost from "./StoreHost.js"

/**
 * Where a host keeps its stores' journals and snapshots.
 *
 * @since 0.2.0
 */
export * as Persistence from "./Persistence.js"

/**
 * The store's typed errors.
 *
 * @since 0.1.0
 */
export * as StoreError from "./StoreError.js"

/**
 * The metrics every store records.
 *
 * @since 0.1.0
 */
export * as StoreMetrics from "./StoreMetrics.js"

/**
 * The exhaustive test store.
 *
 * @since 0.1.0
 */
export * as TestStore from "./TestStore.js"

/**
 * Reducer-level test helpers: given/when/then, effect inspection, property tests.
 *
 * @since 0.1.0
 */
export * as ReducerTest from "./ReducerTest.js"
