import * as Duration from "effect/Duration"
import { show } from "./diff.js"

/**
 * Refuses a count that would make a combinator spin or stall forever, or a buffer unbounded (a batch of 0
 * items emits empty groups without end; a rate of 0 units never lets anything through; `NaN` compares
 * false with everything, so a buffer of `NaN` items is never full). Thrown where the value is given: in
 * a reducer (an `Fx` constructor), where the store reports it as a reducer defect and keeps the previous
 * state, or where a store or a subscription is made.
 *
 * @internal
 */
export const requirePositive = (where: string, name: string, value: number, integer: boolean): number => {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${where}: ${name} must be a positive ${integer ? "integer" : "number"}, got ${shown(value)}`)
  }
  return value
}

/**
 * Refuses what is not a duration, as soon as it is given rather than when an effect or a wait first reads
 * it. Effect reads `NaN` (a failed parse, `0 / 0`) as zero, which would turn a bug into "at once"; and it
 * throws on a malformed input (`"soon"`) only where the duration is used, inside the store. Zero, negative
 * (read as zero) and infinite durations are durations.
 *
 * @internal
 */
export const requireDuration = (where: string, name: string, input: Duration.DurationInput): Duration.Duration => {
  const decoded = decodeDuration(input)
  if (decoded === undefined) throw new RangeError(`${where}: ${name} must be a Duration, got ${shown(input)}`)
  return decoded
}

/**
 * A duration that must be positive and finite: a rate's period (`Fx.rateLimit`'s `per`), where zero would
 * let almost nothing through and infinity would never refill.
 *
 * @internal
 */
export const requirePositiveDuration = (
  where: string,
  name: string,
  input: Duration.DurationInput
): Duration.Duration => {
  const decoded = decodeDuration(input)
  if (decoded === undefined || !Duration.isFinite(decoded) || !Duration.greaterThan(decoded, Duration.zero)) {
    throw new RangeError(`${where}: ${name} must be a positive, finite Duration, got ${shown(input)}`)
  }
  return decoded
}

/** A value for a message: `show`, except that numbers read as numbers (`NaN`, not JSON's `null`). */
const shown = (u: unknown): string =>
  typeof u === "number" ? String(u) : Array.isArray(u) ? `[${u.map(shown).join(", ")}]` : show(u)

const decodeDuration = (input: Duration.DurationInput): Duration.Duration | undefined => {
  if (typeof input === "number" ? Number.isNaN(input) : Array.isArray(input) && input.some(Number.isNaN)) {
    return undefined
  }
  try {
    return Duration.decode(input)
  } catch {
    return undefined
  }
}

/**
 * Refuses a value outside a fixed set (an overflow policy decoded from input, or cast past its type), which
 * would otherwise fall through to the most permissive behaviour.
 *
 * @internal
 */
export const requireOneOf = <const T extends string>(
  where: string,
  name: string,
  value: T,
  allowed: ReadonlyArray<T>
): T => {
  if (!allowed.includes(value)) {
    throw new RangeError(`${where}: ${name} must be one of ${allowed.map(show).join(", ")}, got ${shown(value)}`)
  }
  return value
}
