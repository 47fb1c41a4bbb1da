/**
 * Keyed stores as `@effect/cluster` entities, on their own entry point, `composable-effect/cluster` (it
 * needs `@effect/cluster` and `@effect/rpc`): `import { StoreEntity } from "composable-effect/cluster"`.
 *
 * @since 0.2.0
 */

/**
 * Stores as cluster entities: declared once, run by every runner, reached by id from any of them.
 *
 * @since 0.2.0
 */
export * as StoreEntity from "./StoreEntity.js"
