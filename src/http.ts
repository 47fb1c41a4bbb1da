/**
 * Serving a store over HTTP, Server-Sent Events and WebSocket, on its own entry point,
 * `composable-effect/http` (it needs `@effect/platform`): `import { StoreHttp } from "composable-effect/http"`.
 *
 * @since 0.1.0
 */

/**
 * The HTTP, SSE and WebSocket routes of a store.
 *
 * @since 0.1.0
 */
export * as StoreHttp from "./StoreHttp.js"
