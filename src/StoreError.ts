/**
 * The typed errors a `Store` can fail with. Effects themselves never fail (errors become actions); these
 * are the store's own refusals and deadlines.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Data from "effect/Data"

/**
 * `send` was called after `shutdown` began or the store's scope closed. The action was not reduced.
 *
 * @example
 * ```ts
 * import { Store, StoreError } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const sendOrLog = <A>(store: Store.Store<unknown, A>, action: A) =>
 *   store.send(action).pipe(
 *     Effect.catchTag("StoreShutdownError", (error) => Effect.logWarning(error.message))
 *   )
 * ```
 * @since 0.1.0
 * @category errors
 */
export class StoreShutdownError extends Data.TaggedError("StoreShutdownError")<{
  readonly label: string
  readonly action: unknown
}> {
  override get message(): string {
    // No action: a read or a lease of a store (a host's) after it shut down.
    return this.action === undefined
      ? `store "${this.label}" is shut down`
      : `store "${this.label}" is shut down: the action was not reduced`
  }
}

/**
 * `sendAndWaitFor` saw no matching action within its timeout.
 *
 * @example
 * ```ts
 * import { StoreError } from "composable-effect"
 *
 * const error = new StoreError.WaitTimeoutError({ label: "chat", action: "Ask", timeout: "5 seconds" })
 * error.message // 'store "chat": no matching action within 5 seconds'
 * ```
 * @since 0.1.0
 * @category errors
 */
export class WaitTimeoutError extends Data.TaggedError("WaitTimeoutError")<{
  readonly label: string
  readonly action: unknown
  readonly timeout: Duration.DurationInput
}> {
  override get message(): string {
    return `store "${this.label}": no matching action within ${String(this.timeout)}`
  }
}

/**
 * `shutdown` gave in-flight effects its whole timeout and some were still running: they were interrupted.
 *
 * @example
 * ```ts
 * import { StoreError } from "composable-effect"
 *
 * const error = new StoreError.ShutdownTimeoutError({ label: "app", remaining: 2, timeout: "1 second" })
 * error.message // 'store "app": 2 effect(s) still running after 1 second were interrupted'
 * ```
 * @since 0.1.0
 * @category errors
 */
export class ShutdownTimeoutError extends Data.TaggedError("ShutdownTimeoutError")<{
  readonly label: string
  readonly remaining: number
  readonly timeout: Duration.DurationInput
}> {
  override get message(): string {
    return `store "${this.label}": ${this.remaining} effect(s) still running after ${String(this.timeout)} were interrupted`
  }
}

/**
 * A `StoreHost` could not restore a store from what its persistence holds: the snapshot or a journal
 * entry no longer decodes with the host's Schemas, or the reducer threw replaying it. The store is not
 * activated (it never silently starts over); `version` is the schema version the failing row was written
 * with, `seq` its journal number (for a snapshot, the last journal number it covers).
 *
 * @example
 * ```ts
 * import { StoreError } from "composable-effect"
 *
 * const error = new StoreError.RestoreError({ host: "chat", id: "c1", version: 1, seq: 7, reason: "the snapshot does not decode" })
 * error.message // 'host "chat", store "c1": the snapshot does not decode (written with version 1, seq 7)'
 * ```
 * @since 0.2.0
 * @category errors
 */
export class RestoreError extends Data.TaggedError("RestoreError")<{
  readonly host: string
  readonly id: string
  readonly version: number
  readonly seq: number
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `host "${this.host}", store "${this.id}": ${this.reason} (written with version ${this.version}, seq ${this.seq})`
  }
}
