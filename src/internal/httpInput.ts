import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import type * as StoreHttp from "../StoreHttp.js"

/**
 * Reading what clients send: one action from JSON text, resume ids, header values. Everything here is
 * total: hostile input gets a {@link Refusal}, never a throw, and no refusal quotes the input back (a
 * reflected message is how a JSON error turns into an injection).
 */

/** Why an input was refused: the status, the `error` code and a message that never echoes the input. @internal */
export interface Refusal {
  readonly status: number
  readonly error: StoreHttp.ErrorCode
  readonly message: string
}

/** @internal */
export const refusal = (status: number, error: Refusal["error"], message: string): Refusal => ({ status, error, message })

/**
 * The deepest nesting of arrays and objects in `text`, or `Infinity` once it passes `limit` (the scan
 * stops there). Counted on the text, before parsing, so nothing recursive ever sees hostile depth: the
 * Schema decoder and its error formatter recurse once per level and overflow the stack at a few thousand.
 */
const depthOver = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--
  }
  return false
}

/** A path segment shown in a refusal: schema keys and indexes; a key only the input could have made is elided. */
const segment = (key: PropertyKey): string =>
  typeof key === "number" ? `[${key}]` : typeof key === "string" && /^[A-Za-z_$][\w$-]{0,63}$/.test(key) ? `.${key}` : "[…]"

/** What a schema node expects, from its annotations or its own description: never from the input. */
const expected = (ast: AST.AST): string => {
  const described = AST.getDescriptionAnnotation(ast).pipe(
    (o) => o._tag === "Some" ? o : AST.getTitleAnnotation(ast),
    (o) => o._tag === "Some" ? o : AST.getIdentifierAnnotation(ast)
  )
  const text = described._tag === "Some" ? described.value : String(ast)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

/** At most this many problems are listed in one refusal. */
const MAX_PROBLEMS = 5

/** The decode issue as `path: problem` lines, from the schema side only; depth-bounded by the schema. */
const problems = (issue: ParseResult.ParseIssue, path: string, out: Array<string>): void => {
  if (out.length >= MAX_PROBLEMS) return
  const at = path === "" ? "the action" : path.replace(/^\./, "")
  switch (issue._tag) {
    case "Pointer": {
      const keys = Array.isArray(issue.path) ? issue.path : [issue.path as PropertyKey]
      return problems(issue.issue, path + keys.map(segment).join(""), out)
    }
    case "Composite": {
      const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
      for (const inner of issues) problems(inner, path, out)
      return
    }
    case "Refinement":
      if (issue.kind === "From") return problems(issue.issue, path, out)
      // A filter's own words (it returned a string) are the schema author's, passed on as written.
      return void out.push(`${at}: ${issue.issue._tag === "Type" && issue.issue.message !== undefined ? issue.issue.message : `expected ${expected(issue.ast)}`}`)
    case "Transformation":
      return problems(issue.issue, path, out)
    case "Type":
      return void out.push(`${at}: ${issue.message ?? `expected ${expected(issue.ast)}`}`)
    case "Missing":
      return void out.push(`${at}: is missing`)
    case "Unexpected":
      return void out.push(`${at}: is not allowed`)
    case "Forbidden":
      return void out.push(`${at}: cannot be decoded synchronously`)
  }
}

/** @internal */
export const describeIssue = (issue: ParseResult.ParseIssue): string => {
  const out: Array<string> = []
  problems(issue, "", out)
  return out.length === 0 ? "the action does not match its schema" : out.join("; ")
}

const protoKey = new Error("__proto__")
const noProto = (key: string, value: unknown): unknown => {
  if (key === "__proto__") throw protoKey
  return value
}

/**
 * Parses and decodes one action from JSON text; the reducer never sees what fails here.
 *
 * @internal
 */
export const decodeAction = <A, I>(
  schema: Schema.Schema<A, I>,
  maxDepth: number
): (text: string) => Either.Either<A, Refusal> => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all" })
  return (text) => {
    if (depthOver(text, maxDepth)) {
      return Either.left(refusal(400, "InvalidAction", `the action is nested deeper than ${maxDepth} levels`))
    }
    let json: unknown
    try {
      // A `__proto__` key (also spelled with escapes) would become the prototype of a record the schema
      // decodes: refused. Looked for only when the text could hold one, so the common body parses fast.
      json = text.includes("__proto__") || text.includes("\\u") ? JSON.parse(text, noProto) : JSON.parse(text)
    } catch (cause) {
      if (cause === protoKey) return Either.left(refusal(400, "InvalidAction", "the action has a __proto__ key"))
      // JSON.parse's own message quotes the input: say only what is wrong.
      return Either.left(refusal(400, "MalformedJson", "the body is not valid JSON"))
    }
    try {
      return Either.mapLeft(decode(json), (error) => refusal(400, "InvalidAction", describeIssue(error.issue)))
    } catch (cause) {
      // Depth the text scan cannot see (JSON inside a string, decoded by `Schema.parseJson` into a
      // recursive schema) overflows the decoder's stack: the input's fault, not a defect.
      if (cause instanceof RangeError) return Either.left(refusal(400, "InvalidAction", "the action is nested too deeply"))
      throw cause
    }
  }
}

/** An event id a client sent back: its number and, on a host's routes, the epoch of the log that gave it. @internal */
export interface EventId {
  readonly epoch: string | undefined
  readonly n: number
}

/**
 * An SSE resume id: a decimal event id (with `epochs`, as a host's routes give them, `<epoch>-<n>`: an
 * epoch of lowercase hex digits, a dash, a decimal id), `undefined` for none (absent or empty, as
 * `EventSource` sends none before its first event), or `"invalid"` for anything else (`0x2`, `1e1`,
 * `" 3 "`).
 *
 * @internal
 */
export const parseEventId = (value: string | undefined, epochs = false): EventId | undefined | "invalid" => {
  if (value === undefined || value === "") return undefined
  if (!epochs) return /^\d{1,15}$/.test(value) ? { epoch: undefined, n: Number(value) } : "invalid"
  const match = /^([0-9a-f]{1,32})-(\d{1,15})$/.exec(value)
  return match === null ? "invalid" : { epoch: match[1], n: Number(match[2]) }
}

/**
 * An `Idempotency-Key` header: 1 to 255 visible ASCII characters, `undefined` when absent.
 *
 * @internal
 */
export const parseIdempotencyKey = (value: string | undefined): string | undefined | "invalid" =>
  value === undefined ? undefined : /^[\x21-\x7e]{1,255}$/.test(value) ? value : "invalid"
