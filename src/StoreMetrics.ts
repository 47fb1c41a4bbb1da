/**
 * The metrics every store records, as Effect `Metric`s (export them with `@effect/opentelemetry` or read
 * them with `Metric.value`). Each update carries the tag `store` (the store's `label`), and
 * `effectsExecuted` also `type`.
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"
import * as MetricLabel from "effect/MetricLabel"
import * as compose from "./internal/compose.js"
import * as internal from "./internal/metrics.js"

/**
 * `store.effects.executed`: effects started, tagged `type` (none|send|future|stream|delay|parallel|sequential).
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 * import { Metric } from "effect"
 *
 * const streams = Metric.value(StoreMetrics.forStore(StoreMetrics.effectsExecuted, "chat", { type: "stream" }))
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const effectsExecuted = internal.effectsExecuted

/**
 * `store.effects.defects`: effects that died with a defect; each was caught, logged and kept from the store.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const defects = StoreMetrics.forStore(StoreMetrics.effectDefects, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const effectDefects = internal.effectDefects

/**
 * `store.effects.cancelled`: effects cancelled by `Fx.cancel`, cancel-in-flight, or a newer debounce.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const cancelled = StoreMetrics.forStore(StoreMetrics.effectsCancelled, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const effectsCancelled = internal.effectsCancelled

/**
 * `store.effects.timed_out`: effects ended by `Fx.timeout` or `Fx.idleTimeout`.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const timedOut = StoreMetrics.forStore(StoreMetrics.effectsTimedOut, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const effectsTimedOut = internal.effectsTimedOut

/**
 * `store.stream_items.dropped`: items `Fx.rateLimit` with `strategy: "enforce"` dropped, and items a full
 * `Fx.subscribe` buffer dropped while the source waited for room.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const dropped = StoreMetrics.forStore(StoreMetrics.streamItemsDropped, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const streamItemsDropped = internal.streamItemsDropped

/**
 * `store.actions.unhandled`: child actions `Reducer.ifLet` / `Reducer.ifTag` / `Reducer.forEach` could
 * not route (child absent, union in another case, element missing), tagged `store` and `combinator`.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 * import { Metric } from "effect"
 *
 * const unhandled = Metric.value(StoreMetrics.forStore(StoreMetrics.actionsUnhandled, "app", { combinator: "forEach" }))
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const actionsUnhandled = compose.unhandledChildActions

/**
 * `store.stream_items.processed`: items pulled from stream effects (counter).
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const items = StoreMetrics.forStore(StoreMetrics.streamItemsProcessed, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const streamItemsProcessed = internal.streamItemsProcessed

/**
 * `store.stream_items.total`: histogram of items per finished stream effect.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const perStream = StoreMetrics.forStore(StoreMetrics.streamItemsTotal, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const streamItemsTotal = internal.streamItemsTotal

/**
 * `store.actions.total`: actions reduced, sent and fed back alike.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const actions = StoreMetrics.forStore(StoreMetrics.actionsTotal, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const actionsTotal = internal.actionsTotal

/**
 * `store.reducer.duration`: seconds spent in the reducer per action (histogram).
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const duration = StoreMetrics.forStore(StoreMetrics.reducerDuration, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const reducerDuration = internal.reducerDuration

/**
 * `store.reducer.defects`: reducer calls that threw, or whose effects could not be started; the state was
 * kept and the defect logged.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const thrown = StoreMetrics.forStore(StoreMetrics.reducerDefects, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const reducerDefects = internal.reducerDefects

/**
 * `store.broadcast.dropped`: actions (or states) a slow subscriber's full buffer dropped.
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const dropped = StoreMetrics.forStore(StoreMetrics.broadcastDropped, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const broadcastDropped = internal.broadcastDropped

/**
 * `store.shutdown.initiated`, `.completed`, `.timeout` and `.rejected_actions` (sends refused after shutdown).
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 *
 * const timedOut = StoreMetrics.forStore(StoreMetrics.shutdown.timeout, "chat")
 * ```
 * @since 0.1.0
 * @category metrics
 */
export const shutdown = {
  initiated: internal.shutdownInitiated,
  completed: internal.shutdownCompleted,
  timeout: internal.shutdownTimeout,
  rejectedActions: internal.shutdownRejectedActions
} as const

/**
 * A metric as one store records it: tagged with `store` = `label`, then any extra tags (e.g. `type`).
 *
 * @example
 * ```ts
 * import { StoreMetrics } from "composable-effect"
 * import { Effect, Metric } from "effect"
 *
 * const actionsSoFar = Metric.value(StoreMetrics.forStore(StoreMetrics.actionsTotal, "counter")).pipe(
 *   Effect.map((state) => state.count)
 * )
 * ```
 * @since 0.1.0
 * @category combinators
 */
export const forStore = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  label: string,
  extra: Record<string, string> = {}
): Metric.Metric<Type, In, Out> =>
  Metric.taggedWithLabels(metric, [
    MetricLabel.make("store", label),
    ...Object.entries(extra).map(([key, value]) => MetricLabel.make(key, value))
  ])
