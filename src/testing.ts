/**
 * The test toolkit on its own entry point, `composable-effect/testing`. It depends on `effect` only; no
 * test runner is imported.
 *
 * @since 0.1.0
 */

/**
 * The exhaustive test store.
 *
 * @since 0.1.0
 */
export * as TestStore from "./TestStore.js"

/**
 * Reducer-level test helpers.
 *
 * @since 0.1.0
 */
export * as ReducerTest from "./ReducerTest.js"
