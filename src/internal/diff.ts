import * as Equal from "effect/Equal"
import { isDeepStrictEqual } from "node:util"

/**
 * Structural equality for states and actions: Effect `Equal` values (Data, HashMap, Option, ...) that are
 * `Equal.equals` are equal; otherwise plain objects, `Data` values and instances of the same class compare
 * field by field, arrays item by item, Maps and Sets deeply.
 *
 * @internal
 */
export const equals = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Equal.isEqual(a) && Equal.isEqual(b) && Equal.equals(a, b)) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equals(x, b[i]))
  if (a instanceof Map || a instanceof Set || b instanceof Map || b instanceof Set) return isDeepStrictEqual(a, b)
  // Values whose content is not in their own fields: Node's deep equality knows how to compare them.
  if (isBuiltinValue(a) || isBuiltinValue(b)) return isDeepStrictEqual(a, b)
  // Plain objects, Data values (whose own equality stops at plain arrays inside them) and class instances
  // of the same kind compare field by field.
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null && Object.getPrototypeOf(a) === Object.getPrototypeOf(b)) {
    const keys = Object.keys(a)
    // An instance with no visible fields (e.g. only `#private` ones) is opaque: equal only to itself.
    if (keys.length === 0 && !isPlainObject(a) && !Equal.isEqual(a)) return false
    return keys.length === Object.keys(b).length &&
      keys.every((key) => key in b && equals((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
  }
  return isDeepStrictEqual(a, b)
}

const isBuiltinValue = (u: unknown): boolean =>
  u instanceof Date || u instanceof RegExp || u instanceof Number || u instanceof String || u instanceof Boolean ||
  u instanceof URL || ArrayBuffer.isView(u) || u instanceof ArrayBuffer

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && (Object.getPrototypeOf(u) === Object.prototype || Object.getPrototypeOf(u) === null)

/** A short, stable rendering of a value for messages. @internal */
export const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u === "bigint") return `${u}n`
  if (typeof u === "function") return "<function>"
  try {
    const json = JSON.stringify(u, (_key, value) =>
      typeof value === "bigint" ? `${value}n` : value instanceof Map ? { Map: [...value] } : value instanceof Set ? { Set: [...value] } : value)
    return json === undefined ? String(u) : json
  } catch {
    return String(u)
  }
}

const entriesOf = (u: unknown): ReadonlyArray<readonly [string, unknown]> | undefined => {
  if (Array.isArray(u)) return u.map((v, i) => [`[${i}]`, v] as const)
  if (u instanceof Map) return [...u].map(([k, v]) => [`.get(${show(k)})`, v] as const)
  if (isPlainObject(u) || (typeof u === "object" && u !== null && !(u instanceof Set) && Equal.isEqual(u))) {
    return Object.keys(u as object).map((k) => [`.${k}`, (u as Record<string, unknown>)[k]] as const)
  }
  return undefined
}

/**
 * A readable structural diff: one `-` (expected) / `+` (actual) pair per differing leaf, with its path.
 *
 * @internal
 */
export const diff = (expected: unknown, actual: unknown, path = "state"): Array<string> => {
  if (equals(expected, actual)) return []
  const left = entriesOf(expected)
  const right = entriesOf(actual)
  const sameKind = left !== undefined && right !== undefined &&
    Array.isArray(expected) === Array.isArray(actual) && (expected instanceof Map) === (actual instanceof Map)
  if (!sameKind) return [`  ${path}`, `-   ${show(expected)}`, `+   ${show(actual)}`]
  const lines: Array<string> = []
  const rightByKey = new Map(right)
  const leftByKey = new Map(left)
  for (const [key, value] of left) {
    if (!rightByKey.has(key)) lines.push(`  ${path}${key}`, `-   ${show(value)}`, `+   (missing)`)
    else lines.push(...diff(value, rightByKey.get(key), `${path}${key}`))
  }
  for (const [key, value] of right) {
    if (!leftByKey.has(key)) lines.push(`  ${path}${key}`, `-   (missing)`, `+   ${show(value)}`)
  }
  return lines.length > 0 ? lines : [`  ${path}`, `-   ${show(expected)}`, `+   ${show(actual)}`]
}
