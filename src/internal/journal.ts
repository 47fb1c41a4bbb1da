import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { PersistedId } from "../Persistence.js"
import type * as Persistence from "../Persistence.js"
import type * as Reducer from "../Reducer.js"
import { RestoreError } from "../StoreError.js"

/** What a host persists with: its Schemas and the version its rows are written with. @internal */
export interface Codec<S, A> {
  readonly host: string
  readonly version: number
  readonly state: Schema.Schema<S, any>
  readonly actions: Schema.Schema<A, any>
  /** Whether a reduced action goes to the journal. */
  readonly journaled: (action: A) => boolean
  readonly encodeState: (state: S) => string | undefined
  readonly encodeAction: (action: A) => string | undefined
}

const marked = (ast: AST.AST): boolean =>
  ast.annotations[PersistedId] === true || (AST.isTransformation(ast) && (marked(ast.to) || marked(ast.from)))

/** The `_tag` a member of an action union declares, if it is a literal. */
const tagOf = (ast: AST.AST): string | undefined => {
  const tag = AST.getPropertySignatures(AST.typeAST(ast)).find((p) => p.name === "_tag")
  return tag !== undefined && AST.isLiteral(tag.type) && typeof tag.type.literal === "string" ? tag.type.literal : undefined
}

/**
 * Which actions the journal keeps: those of the members of `actions` marked with `Persistence.persisted`
 * (by `_tag` when the member declares one, by its Schema otherwise), or every action with `"all"`. A
 * Schema that marks none is refused where the host is made: it would persist nothing but snapshots.
 *
 * @internal
 */
export const journaledBy = <A>(actions: Schema.Schema<A, any>, journal: "marked" | "all" | undefined): (action: A) => boolean => {
  if (journal === "all") return () => true
  // Marked as a whole (a union included): every action is journaled.
  if (marked(actions.ast)) return () => true
  const members = AST.isUnion(actions.ast) ? actions.ast.types : [actions.ast]
  const tags = new Set<string>()
  const others: Array<(u: unknown) => boolean> = []
  for (const member of members) {
    if (!marked(member)) continue
    const tag = tagOf(member)
    if (tag !== undefined) tags.add(tag)
    else others.push(Schema.is(Schema.make(AST.typeAST(member))))
  }
  if (tags.size === 0 && others.length === 0) {
    throw new RangeError(
      "StoreHost.make: persistence.actions marks no action as persisted: mark the members to journal with Persistence.persisted, or pass journal: \"all\""
    )
  }
  return (action) => {
    const tag = typeof action === "object" && action !== null ? (action as { readonly _tag?: unknown })._tag : undefined
    if (typeof tag === "string" && tags.has(tag)) return true
    return others.length > 0 && others.some((is) => is(action))
  }
}

/**
 * An encoder to JSON text with `schema`, made once: `undefined` for a value that does not encode. It runs
 * inside reductions, once per journaled action, so it makes no closure per call.
 *
 * @internal
 */
export const jsonEncoder = <A>(schema: Schema.Schema<A, any>): (value: A) => string | undefined => {
  const encode = Schema.encodeEither(schema)
  return (value) => {
    const encoded = encode(value)
    if (Either.isLeft(encoded)) return undefined
    // JSON.stringify throws on a BigInt or a cycle the Schema let through: the same as not encoding.
    try {
      return JSON.stringify(encoded.right)
    } catch {
      return undefined
    }
  }
}

const decodeJson = <A>(schema: Schema.Schema<A, any>, text: string): Either.Either<A, ParseResult.ParseError | string> => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return Either.left("it is not JSON")
  }
  // The ParseError itself, not its text: the text quotes the stored values, which are users' data.
  return Schema.decodeUnknownEither(schema)(parsed)
}

/**
 * A store restored: its state, the last journal number, whether anything was stored at all, and the
 * request keys of what it reduced last (the snapshot's, then the journal's after it, oldest first).
 *
 * @internal
 */
export interface Restored<S> {
  readonly state: S
  readonly seq: number
  readonly found: boolean
  readonly keys: ReadonlyArray<string>
}

/**
 * The state `stored` describes: the snapshot's state (or `initial`), then each journal entry after it
 * reduced with its effects discarded, as composable-rust replays its event store. Any row that does not
 * decode, or a reducer that throws replaying one, is a `RestoreError` naming the row: never a fresh state.
 *
 * @internal
 */
export const restore = <S, A, R>(
  codec: Codec<S, A>,
  id: string,
  stored: Persistence.Stored,
  initial: () => S,
  reducer: Reducer.Reducer<S, A, R>
): Either.Either<Restored<S>, RestoreError> => {
  const fail = (row: { readonly version: number; readonly seq: number }, reason: string, cause?: unknown) =>
    Either.left(new RestoreError({ host: codec.host, id, version: row.version, seq: row.seq, reason, cause }))
  let state: S
  let seq = 0
  const keys: Array<string> = []
  if (Option.isSome(stored.snapshot)) {
    const snapshot = stored.snapshot.value
    const decoded = decodeJson(codec.state, snapshot.state)
    if (Either.isLeft(decoded)) return fail(snapshot, "the snapshot does not decode with the state Schema", decoded.left)
    state = decoded.right
    seq = snapshot.seq
    if (snapshot.keys !== undefined) keys.push(...snapshot.keys)
  } else {
    state = initial()
  }
  for (const entry of stored.journal) {
    if (entry.seq <= seq) continue
    const decoded = decodeJson(codec.actions, entry.action)
    if (Either.isLeft(decoded)) return fail(entry, "a journal entry does not decode with the action Schema", decoded.left)
    try {
      state = reducer(state, decoded.right)[0]
    } catch (defect) {
      return fail(entry, "the reducer threw replaying a journal entry", defect)
    }
    seq = entry.seq
    if (entry.key !== undefined) keys.push(entry.key)
  }
  return Either.right({ state, seq, found: Option.isSome(stored.snapshot) || stored.journal.length > 0, keys })
}
