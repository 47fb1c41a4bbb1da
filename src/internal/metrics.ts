import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

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

const counter = (name: string, description: string) =>
  Metric.counter(name, { description, incremental: true })

/** @internal */
export const effectsExecuted = counter("store.effects.executed", "Effects started, tagged by type")
/** @internal */
export const effectDefects = counter("store.effects.defects", "Effects that died with a defect (caught and reported)")
/** @internal */
export const streamItemsProcessed = counter("store.stream_items.processed", "Items pulled from stream effects")
/** @internal */
export const streamItemsTotal = Metric.histogram(
  "store.stream_items.total",
  MetricBoundaries.exponential({ start: 1, factor: 4, count: 12 }),
  "Items per finished stream effect"
)
/** @internal */
export const effectsCancelled = counter("store.effects.cancelled", "Effects cancelled by id, cancel-in-flight or debounce")
/** @internal */
export const effectsTimedOut = counter("store.effects.timed_out", "Effects ended by Fx.timeout or Fx.idleTimeout")
/** @internal */
export const streamItemsDropped = counter("store.stream_items.dropped", "Items dropped by Fx.rateLimit \"enforce\"")
/** @internal */
export const actionsTotal = counter("store.actions.total", "Actions reduced (sent and fed back)")
/** @internal */
export const reducerDefects = counter("store.reducer.defects", "Reducer calls that threw (state kept, reported)")
/** @internal */
export const reducerDuration = Metric.histogram(
  "store.reducer.duration",
  MetricBoundaries.exponential({ start: 1e-7, factor: 4, count: 14 }),
  "Seconds spent in the reducer per action"
)
/** @internal */
export const broadcastDropped = counter("store.broadcast.dropped", "Broadcast items a slow subscriber lost")
/** @internal */
export const shutdownInitiated = counter("store.shutdown.initiated", "Shutdowns started")
/** @internal */
export const shutdownCompleted = counter("store.shutdown.completed", "Shutdowns where every effect ended in time")
/** @internal */
export const shutdownTimeout = counter("store.shutdown.timeout", "Shutdowns that had to interrupt effects")
/** @internal */
export const shutdownRejectedActions = counter("store.shutdown.rejected_actions", "Sends refused after shutdown")

/**
 * One store's view of the metrics: every update carries the `store` label (and `type` for executed
 * effects). The tag arrays are built once, so Effect's metric hook cache makes each update a map lookup.
 *
 * @internal
 */
export class StoreMetrics {
  private readonly tags: ReadonlyArray<MetricLabel.MetricLabel>
  private readonly typeTags: Record<EffectType, ReadonlyArray<MetricLabel.MetricLabel>>

  constructor(label: string) {
    const store = MetricLabel.make("store", label)
    this.tags = [store]
    this.typeTags = Object.fromEntries(
      effectTypes.map((type) => [type, [store, MetricLabel.make("type", type)]])
    ) as unknown as Record<EffectType, ReadonlyArray<MetricLabel.MetricLabel>>
  }

  executed(type: EffectType): void {
    effectsExecuted.unsafeUpdate(1, this.typeTags[type])
  }
  reduced(seconds: number): void {
    actionsTotal.unsafeUpdate(1, this.tags)
    reducerDuration.unsafeUpdate(seconds, this.tags)
  }
  reducerDefect(): void {
    reducerDefects.unsafeUpdate(1, this.tags)
  }
  effectDefect(): void {
    effectDefects.unsafeUpdate(1, this.tags)
  }
  streamItem(): void {
    streamItemsProcessed.unsafeUpdate(1, this.tags)
  }
  streamEnded(items: number): void {
    streamItemsTotal.unsafeUpdate(items, this.tags)
  }
  readonly onCancelled = (count: number): void => {
    effectsCancelled.unsafeUpdate(count, this.tags)
  }
  timedOut(): void {
    effectsTimedOut.unsafeUpdate(1, this.tags)
  }
  streamItemsDropped(count: number): void {
    streamItemsDropped.unsafeUpdate(count, this.tags)
  }
  readonly onBroadcastDropped = (): void => {
    broadcastDropped.unsafeUpdate(1, this.tags)
  }
  shutdownInitiated(): void {
    shutdownInitiated.unsafeUpdate(1, this.tags)
  }
  shutdownCompleted(): void {
    shutdownCompleted.unsafeUpdate(1, this.tags)
  }
  shutdownTimedOut(): void {
    shutdownTimeout.unsafeUpdate(1, this.tags)
  }
  rejectedAction(): void {
    shutdownRejectedActions.unsafeUpdate(1, this.tags)
  }
}
