import * as Data from "effect/Data"

/** A key or id as it reads in logs, spans and test output. */
const label = (u: unknown): string => {
  if (typeof u === "string") return u
  if (typeof u === "object" && u !== null && u.toString !== Object.prototype.toString) return String(u)
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

let instances = 0

/**
 * Where one `ifLet`, `ifTag` or `forEach` keeps a child's effects: its own instance (two of them never
 * share ids) and, for `forEach`, the element's key (for `ifLet` / `ifTag`, the child's identity when
 * given). Compared with Effect equality; reads as `forEach#3[a]`.
 *
 * @internal
 */
export class ChildScope extends Data.Class<{
  readonly combinator: "ifLet" | "ifTag" | "forEach"
  readonly instance: number
  readonly key: unknown
}> {
  /** A fresh instance number, one per `ifLet` / `ifTag` / `forEach` built. */
  static nextInstance(): number {
    return ++instances
  }

  override toString(): string {
    return `${this.combinator}#${this.instance}${this.key === undefined ? "" : `[${label(this.key)}]`}`
  }

  toJSON(): string {
    return this.toString()
  }
}

/**
 * A cancellation id a child used, put under its `ChildScope` so that it means that child only. Compared
 * with Effect equality; reads as `forEach#3[a]/download`.
 *
 * @internal
 */
export class ScopedId extends Data.Class<{ readonly scope: unknown; readonly id: unknown }> {
  override toString(): string {
    return `${label(this.scope)}/${label(this.id)}`
  }

  toJSON(): string {
    return this.toString()
  }
}
