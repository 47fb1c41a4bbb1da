import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"

/** One reduction in this many is timed for `store.reducer.duration`. @internal */
export const REDUCER_TIMING_SAMPLE = 16

/** @internal */
export type EffectType =
  | "none"
  | "send"
  | "future"
  | "stream"
  | "delay"
  | "parallel"
  | "sequential"
  | "cancellable"
  | "cancel"
  | "timeout"
  | "batch"
  | "rate_limit"
  | "debounce"
  | "throttle"

const effectTypes: ReadonlyArray<EffectType> = [
  "none",
  "send",
  "future",
  "stream",
  "delay",
  "parallel",
  "sequential",
  "cancellable",
  "cancel",
  "timeout",
  "batch",
  "rate_limit",
  "debounce",
  "throttle"
]

// Metrics are defined by their keys, so a store can resolve its own tagged hooks once (see StoreMetrics).
const counterKey = (name: string, description: string) => MetricKey.counter(name, { description, incremental: true })

const keys = {
  effectsExecuted: counterKey("store.effects.executed", "Effects started, tagged by type"),
  effectDefects: counterKey("store.effects.defects", "Effects that died with a defect (caught and reported)"),
  effectsCancelled: counterKey("store.effects.cancelled", "Effects cancelled by id, cancel-in-flight or debounce"),
  effectsTimedOut: counterKey("store.effects.timed_out", "Effects ended by Fx.timeout or Fx.idleTimeout"),
  streamItemsProcessed: counterKey("store.stream_items.processed", "Items pulled from stream effects"),
  streamItemsDropped: counterKey("store.stream_items.dropped", "Items dropped by Fx.rateLimit \"enforce\""),
  streamItemsTotal: MetricKey.histogram(
    "store.stream_items.total",
    MetricBoundaries.exponential({ start: 1, factor: 4, count: 12 }),
    "Items per finished stream effect"
  ),
  actionsTotal: counterKey("store.actions.total", "Actions reduced (sent and fed back)"),
  reducerDefects: counterKey("store.reducer.defects", "Reducer calls that threw or returned effects that could not start (state kept, reported)"),
  reducerDuration: MetricKey.histogram(
    "store.reducer.duration",
    MetricBoundaries.exponential({ start: 1e-7, factor: 4, count: 14 }),
    `Seconds spent in the reducer per action, sampled: one reduction in ${REDUCER_TIMING_SAMPLE} is timed`
  ),
  broadcastDropped: counterKey("store.broadcast.dropped", "Broadcast items a slow subscriber lost"),
  shutdownInitiated: counterKey("store.shutdown.initiated", "Shutdowns started"),
  shutdownCompleted: counterKey("store.shutdown.completed", "Shutdowns where every effect ended in time"),
  shutdownTimeout: counterKey("store.shutdown.timeout", "Shutdowns that had to interrupt effects"),
  shutdownRejectedActions: counterKey("store.shutdown.rejected_actions", "Sends refused after shutdown")
}

/** @internal */
export const effectsExecuted = Metric.fromMetricKey(keys.effectsExecuted)
/** @internal */
export const effectDefects = Metric.fromMetricKey(keys.effectDefects)
/** @internal */
export const effectsCancelled = Metric.fromMetricKey(keys.effectsCancelled)
/** @internal */
export const effectsTimedOut = Metric.fromMetricKey(keys.effectsTimedOut)
/** @internal */
export const streamItemsProcessed = Metric.fromMetricKey(keys.streamItemsProcessed)
/** @internal */
export const streamItemsDropped = Metric.fromMetricKey(keys.streamItemsDropped)
/** @internal */
export const streamItemsTotal = Metric.fromMetricKey(keys.streamItemsTotal)
/** @internal */
export const actionsTotal = Metric.fromMetricKey(keys.actionsTotal)
/** @internal */
export const reducerDefects = Metric.fromMetricKey(keys.reducerDefects)
/** @internal */
export const reducerDuration = Metric.fromMetricKey(keys.reducerDuration)
/** @internal */
export const broadcastDropped = Metric.fromMetricKey(keys.broadcastDropped)
/** @internal */
export const shutdownInitiated = Metric.fromMetricKey(keys.shutdownInitiated)
/** @internal */
export const shutdownCompleted = Metric.fromMetricKey(keys.shutdownCompleted)
/** @internal */
export const shutdownTimeout = Metric.fromMetricKey(keys.shutdownTimeout)
/** @internal */
export const shutdownRejectedActions = Metric.fromMetricKey(keys.shutdownRejectedActions)

/**
 * One store's view of the metrics: every update carries the `store` label (and `type` for executed
 * effects). The tag arrays are built once, so Effect's metric hook cache makes each update a map lookup.
 *
 * @internal
 */
export class StoreMetrics {
  private readonly executedBy: Record<EffectType, MetricHook.MetricHook.Counter<number>>
  private readonly actions: MetricHook.MetricHook.Counter<number>
  private readonly reducerSeconds: MetricHook.MetricHook.Histogram
  private readonly items: MetricHook.MetricHook.Counter<number>
  private readonly hooks: {
    readonly [K in Exclude<keyof typeof keys, "effectsExecuted" | "streamItemsTotal" | "reducerDuration">]:
      MetricHook.MetricHook.Counter<number>
  }
  private readonly itemsPerStream: MetricHook.MetricHook.Histogram
  private untimed = 0

  constructor(label: string) {
    const store = MetricLabel.make("store", label)
    const counter = (key: MetricKey.MetricKey.Counter<number>, ...extra: Array<MetricLabel.MetricLabel>) =>
      Metric.globalMetricRegistry.getCounter(MetricKey.taggedWithLabels(key, [store, ...extra]))
    const histogram = (key: MetricKey.MetricKey.Histogram) =>
      Metric.globalMetricRegistry.getHistogram(MetricKey.taggedWithLabels(key, [store]))
    this.executedBy = Object.fromEntries(
      effectTypes.map((type) => [type, counter(keys.effectsExecuted, MetricLabel.make("type", type))])
    ) as unknown as Record<EffectType, MetricHook.MetricHook.Counter<number>>
    this.actions = counter(keys.actionsTotal)
    this.items = counter(keys.streamItemsProcessed)
    this.reducerSeconds = histogram(keys.reducerDuration)
    this.itemsPerStream = histogram(keys.streamItemsTotal)
    this.hooks = {
      effectDefects: counter(keys.effectDefects),
      effectsCancelled: counter(keys.effectsCancelled),
      effectsTimedOut: counter(keys.effectsTimedOut),
      streamItemsProcessed: this.items,
      streamItemsDropped: counter(keys.streamItemsDropped),
      actionsTotal: this.actions,
      reducerDefects: counter(keys.reducerDefects),
      broadcastDropped: counter(keys.broadcastDropped),
      shutdownInitiated: counter(keys.shutdownInitiated),
      shutdownCompleted: counter(keys.shutdownCompleted),
      shutdownTimeout: counter(keys.shutdownTimeout),
      shutdownRejectedActions: counter(keys.shutdownRejectedActions)
    }
  }

  executed(type: EffectType): void {
    this.executedBy[type].update(1)
  }
  /** Whether to time this reduction: timing every one would cost more than a trivial reducer. */
  timeNext(): boolean {
    if (++this.untimed < REDUCER_TIMING_SAMPLE) return false
    this.untimed = 0
    return true
  }
  reduced(): void {
    this.actions.update(1)
  }
  reducerTook(seconds: number): void {
    this.reducerSeconds.update(seconds)
  }
  reducerDefect(): void {
    this.hooks.reducerDefects.update(1)
  }
  effectDefect(): void {
    this.hooks.effectDefects.update(1)
  }
  streamItem(): void {
    this.items.update(1)
  }
  streamEnded(items: number): void {
    this.itemsPerStream.update(items)
  }
  readonly onCancelled = (count: number): void => {
    this.hooks.effectsCancelled.update(count)
  }
  timedOut(): void {
    this.hooks.effectsTimedOut.update(1)
  }
  streamItemsDropped(count: number): void {
    this.hooks.streamItemsDropped.update(count)
  }
  readonly onBroadcastDropped = (): void => {
    this.hooks.broadcastDropped.update(1)
  }
  shutdownInitiated(): void {
    this.hooks.shutdownInitiated.update(1)
  }
  shutdownCompleted(): void {
    this.hooks.shutdownCompleted.update(1)
  }
  shutdownTimedOut(): void {
    this.hooks.shutdownTimeout.update(1)
  }
  rejectedAction(): void {
    this.hooks.shutdownRejectedActions.update(1)
  }
}
