import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Option from "effect/Option"

/** @internal */
export type ThrottleDecision =
  | { readonly _tag: "Run" }
  | { readonly _tag: "Drop" }
  | { readonly _tag: "Later"; readonly after: Duration.Duration; readonly key: unknown }

/**
 * The cancellation key of the effect a `latest` throttle holds until its window ends: its own key, so a
 * newer one replaces it without touching anything registered under `id`; `Fx.cancel(id)` cancels it too.
 *
 * @internal
 */
export const pendingKey = (id: unknown): unknown => Data.tuple("Fx.throttle", id)

const run: ThrottleDecision = { _tag: "Run" }
const drop: ThrottleDecision = { _tag: "Drop" }

/**
 * Throttle windows per id, one store's worth. A window opens when an effect starts and lasts `duration`;
 * the store's `Clock` gives the time, so `TestClock` drives it.
 *
 * @internal
 */
export class ThrottleWindows {
  private readonly windowEnds = MutableHashMap.empty<unknown, number>()
  /** Windows held after the last sweep; a sweep runs when that doubles, so it costs O(1) per decision. */
  private swept = 0

  decide(id: unknown, duration: Duration.DurationInput, latest: boolean, nowMillis: number): ThrottleDecision {
    this.sweep(nowMillis)
    const end = MutableHashMap.get(this.windowEnds, id)
    if (Option.isNone(end) || nowMillis >= end.value) {
      this.open(id, duration, nowMillis)
      return run
    }
    return latest ? { _tag: "Later", after: Duration.millis(end.value - nowMillis), key: pendingKey(id) } : drop
  }

  open(id: unknown, duration: Duration.DurationInput, nowMillis: number): void {
    MutableHashMap.set(this.windowEnds, id, nowMillis + Duration.toMillis(duration))
  }

  /** Forgets ended windows, so per-item ids (`autosave:${docId}`) do not accumulate. */
  private sweep(nowMillis: number): void {
    const size = MutableHashMap.size(this.windowEnds)
    if (size < 64 || size < 2 * this.swept) return
    for (const [id, end] of Array.from(this.windowEnds)) {
      if (nowMillis >= end) MutableHashMap.remove(this.windowEnds, id)
    }
    this.swept = MutableHashMap.size(this.windowEnds)
  }

  /** Windows currently remembered (for tests). */
  get size(): number {
    return MutableHashMap.size(this.windowEnds)
  }
}
