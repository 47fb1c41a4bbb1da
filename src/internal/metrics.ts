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
  | "subscribe"
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

// Metrics are defined by their keys, so a label's tagged hooks can be resolved once (see StoreMetrics).
const counterKey = (name: string, description: string) => MetricKey.counter(name, { description, incremental: true })

const keys = {
  effectsExecuted: counterKey("store.effects.executed", "Effects started, tagged by type"),
  effectDefects: counterKey("store.effects.defects", "Effects that died with a defect (caught and reported)"),
  effectsCancelled: counterKey("store.effects.cancelled", "Effects cancelled by id, cancel-in-flight or debounce"),
  effectsTimedOut: counterKey("store.effects.timed_out", "Effects ended by Fx.timeout or Fx.idleTimeout"),
  streamItemsProcessed: counterKey("store.stream_items.processed", "Items pulled from stream effects"),
  streamItemsDropped: counterKey("store.stream_items.dropped", "Items dropped by Fx.rateLimit \"enforce\" or by a full Fx.subscribe buffer"),
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

type Counter = MetricHook.MetricHook.Counter<number>
type Histogram = MetricHook.MetricHook.Histogram

/**
 * The metrics of every store with one label, shared by them (see {@link StoreMetrics.forLabel}): the
 * same label is the same series, so stores of one feature need one set of handles between them.
 */
const byLabel = new Map<string, StoreMetrics>()

/**
 * One label's view of the metrics: every update carries the `store` label (and `type` for executed
 * effects). Each tagged hook is resolved from Effect's registry on its first update and kept, so an update
 * is a field read after that, and a series exists only once something was counted in it: a store that
 * never starts a stream holds no stream hooks.
 *
 * @internal
 */
export class StoreMetrics {
  /**
   * The metrics of the stores labelled `label`, made on first use and kept: the registry keeps every
   * series it has made for the life of the process anyway, and this holds one small object per label.
   */
  static forLabel(label: string): StoreMetrics {
    let metrics = byLabel.get(label)
    if (metrics === undefined) byLabel.set(label, metrics = new StoreMetrics(label))
    return metrics
  }

  private readonly store: MetricLabel.MetricLabel
  private readonly executedBy: { [K in EffectType]?: Counter } = {}
  private executedNoneHook: Counter | undefined
  private actions: Counter | undefined
  private reducerSeconds: Histogram | undefined
  private items: Counter | undefined
  private itemsPerStream: Histogram | undefined
  private reducerDefects: Counter | undefined
  private effectDefects: Counter | undefined
  private effectsCancelled: Counter | undefined
  private effectsTimedOut: Counter | undefined
  private itemsDropped: Counter | undefined
  private broadcastDropped: Counter | undefined
  private shutdowns: Counter | undefined
  private shutdownsCompleted: Counter | undefined
  private shutdownsTimedOut: Counter | undefined
  private rejectedActions: Counter | undefined
  /** Reductions since the last timed one, across the label's stores: the sample is the label's. */
  private untimed = 0

  private constructor(label: string) {
    this.store = MetricLabel.make("store", label)
  }

  private counter(key: MetricKey.MetricKey.Counter<number>, extra?: MetricLabel.MetricLabel): Counter {
    return Metric.globalMetricRegistry.getCounter(
      MetricKey.taggedWithLabels(key, extra === undefined ? [this.store] : [this.store, extra])
    )
  }

  private histogram(key: MetricKey.MetricKey.Histogram): Histogram {
    return Metric.globalMetricRegistry.getHistogram(MetricKey.taggedWithLabels(key, [this.store]))
  }

  executed(type: EffectType): void {
    if (type === "none") return this.executedNone()
    ;(this.executedBy[type] ??= this.counter(keys.effectsExecuted, MetricLabel.make("type", type))).update(1)
  }
  /** `Fx.none`, counted on every send of a store that starts no effect: a field, not a keyed lookup. */
  executedNone(): void {
    ;(this.executedNoneHook ??= this.counter(keys.effectsExecuted, MetricLabel.make("type", "none"))).update(1)
  }
  /** Whether to time this reduction: timing every one would cost more than a trivial reducer. */
  timeNext(): boolean {
    if (++this.untimed < REDUCER_TIMING_SAMPLE) return false
    this.untimed = 0
    return true
  }
  reduced(): void {
    ;(this.actions ??= this.counter(keys.actionsTotal)).update(1)
  }
  reducerTook(seconds: number): void {
    ;(this.reducerSeconds ??= this.histogram(keys.reducerDuration)).update(seconds)
  }
  reducerDefect(): void {
    ;(this.reducerDefects ??= this.counter(keys.reducerDefects)).update(1)
  }
  effectDefect(): void {
    ;(this.effectDefects ??= this.counter(keys.effectDefects)).update(1)
  }
  streamItem(): void {
    ;(this.items ??= this.counter(keys.streamItemsProcessed)).update(1)
  }
  streamEnded(items: number): void {
    ;(this.itemsPerStream ??= this.histogram(keys.streamItemsTotal)).update(items)
  }
  readonly onCancelled = (count: number): void => {
    ;(this.effectsCancelled ??= this.counter(keys.effectsCancelled)).update(count)
  }
  timedOut(): void {
    ;(this.effectsTimedOut ??= this.counter(keys.effectsTimedOut)).update(1)
  }
  streamItemsDropped(count: number): void {
    ;(this.itemsDropped ??= this.counter(keys.streamItemsDropped)).update(count)
  }
  readonly onBroadcastDropped = (): void => {
    ;(this.broadcastDropped ??= this.counter(keys.broadcastDropped)).update(1)
  }
  shutdownInitiated(): void {
    ;(this.shutdowns ??= this.counter(keys.shutdownInitiated)).update(1)
  }
  shutdownCompleted(): void {
    ;(this.shutdownsCompleted ??= this.counter(keys.shutdownCompleted)).update(1)
  }
  shutdownTimedOut(): void {
    ;(this.shutdownsTimedOut ??= this.counter(keys.shutdownTimeout)).update(1)
  }
  rejectedAction(): void {
    ;(this.rejectedActions ??= this.counter(keys.shutdownRejectedActions)).update(1)
  }
}
