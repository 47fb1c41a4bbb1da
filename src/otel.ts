/**
 * The store's spans and metrics through `@effect/opentelemetry`, on its own entry point,
 * `composable-effect/otel`: `import { Telemetry } from "composable-effect/otel"`.
 *
 * @since 0.1.0
 */

/**
 * OpenTelemetry wiring for stores.
 *
 * @since 0.1.0
 */
export * as Telemetry from "./Telemetry.js"
