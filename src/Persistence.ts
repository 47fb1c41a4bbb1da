/**
 * Where a `StoreHost` keeps its stores between activations: for each store, a journal of the actions
 * marked persistent (Schema-encoded, numbered in reduce order) and its latest snapshot (the Schema-encoded
 * state, with the journal number it covers). The design follows composable-rust's event store: a store is
 * restored from its snapshot and the journal after it, replayed through the reducer.
 *
 * The service stores text: the host encodes with its Schemas before a commit and decodes after a load, so
 * a backend never sees a feature's types. `layerMemory` keeps everything in memory (tests, demos);
 * `composable-effect/sql` has the `@effect/sql` backend (SQLite, PostgreSQL).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/persistenceMemory.js"

// -------------------------------------------------------------------------------------------------
// models
// -------------------------------------------------------------------------------------------------

/**
 * One store of one host: `host` is the host's name, `id` the store's.
 *
 * @example
 * ```ts
 * import type { Persistence } from "composable-effect"
 *
 * const key: Persistence.StoreKey = { host: "chat", id: "conversation-1" }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface StoreKey {
  readonly host: string
  readonly id: string
}

/**
 * A journal entry: an action as its Schema encoded it (JSON text), its number in the store's reduce order
 * (from 1), and the schema version it was written with.
 *
 * @example
 * ```ts
 * import type { Persistence } from "composable-effect"
 *
 * const entry: Persistence.JournalEntry = { host: "chat", id: "c1", seq: 1, version: 1, action: `{"_tag":"Ask"}` }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface JournalEntry extends StoreKey {
  readonly seq: number
  readonly version: number
  readonly action: string
  /**
   * The id of the request that carried the action, when it came as one (a cluster message, see
   * `StoreEntity`): stored with it, so a request delivered again after a crash is recognised and not
   * reduced twice. At most 64 characters.
   */
  readonly key?: string | undefined
}

/**
 * A snapshot: the state as its Schema encoded it (JSON text), the number of the last journal entry it
 * includes (0 before any), and the schema version it was written with.
 *
 * @example
 * ```ts
 * import type { Persistence } from "composable-effect"
 *
 * const snapshot: Persistence.Snapshot = { host: "chat", id: "c1", seq: 12, version: 1, state: `{"messages":[]}` }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Snapshot extends StoreKey {
  readonly seq: number
  readonly version: number
  readonly state: string
  /**
   * The keys (see `JournalEntry.key`) of the requests reduced shortly before the snapshot, whose journal
   * entries it deletes: a request delivered again after the snapshot is still recognised.
   */
  readonly keys?: ReadonlyArray<string> | undefined
}

/**
 * What is stored for one store: its latest snapshot, if any, and the journal entries after it in order.
 *
 * @example
 * ```ts
 * import type { Persistence } from "composable-effect"
 * import { Option } from "effect"
 *
 * const fresh: Persistence.Stored = { snapshot: Option.none(), journal: [] }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Stored {
  readonly snapshot: Option.Option<Snapshot>
  readonly journal: ReadonlyArray<JournalEntry>
}

/**
 * One commit: journal entries and snapshots (of any stores of any host), written all or nothing. A
 * snapshot replaces the store's previous one unless that covers more, and the journal entries it covers
 * are deleted.
 *
 * @example
 * ```ts
 * import type { Persistence } from "composable-effect"
 *
 * const commit: Persistence.Commit = {
 *   journal: [{ host: "chat", id: "c1", seq: 1, version: 1, action: `{"_tag":"Ask"}` }],
 *   snapshots: []
 * }
 * ```
 * @since 0.2.0
 * @category models
 */
export interface Commit {
  readonly journal: ReadonlyArray<JournalEntry>
  readonly snapshots: ReadonlyArray<Snapshot>
}

// -------------------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------------------

/**
 * The backend failed: a load, a commit or a listing did not happen. `cause` is the backend's own error
 * (an `SqlError`, say); the message names the operation only, never the data.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 *
 * const error = new Persistence.PersistenceError({ operation: "commit", cause: new Error("disk full") })
 * error.message // 'persistence: the commit failed'
 * ```
 * @since 0.2.0
 * @category errors
 */
export class PersistenceError extends Data.TaggedError("PersistenceError")<{
  readonly operation: "load" | "commit" | "list"
  readonly cause: unknown
}> {
  override get message(): string {
    return `persistence: the ${this.operation} failed`
  }
}

// -------------------------------------------------------------------------------------------------
// service
// -------------------------------------------------------------------------------------------------

/**
 * The service a `StoreHost` persists through.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const ids = Effect.flatMap(Persistence.Persistence, (persistence) => persistence.list("chat"))
 * ```
 * @since 0.2.0
 * @category services
 */
export class Persistence extends Context.Tag("composable-effect/Persistence")<Persistence, {
  /** The store's latest snapshot and the journal after it, in `seq` order. */
  readonly load: (key: StoreKey) => Effect.Effect<Stored, PersistenceError>
  /** Writes the commit in one transaction. */
  readonly commit: (commit: Commit) => Effect.Effect<void, PersistenceError>
  /** The ids of a host's stores that have anything stored, in no particular order. */
  readonly list: (host: string) => Effect.Effect<ReadonlyArray<string>, PersistenceError>
}>() {}

// -------------------------------------------------------------------------------------------------
// layers
// -------------------------------------------------------------------------------------------------

/**
 * Keeps everything in this process's memory, for as long as the layer lives: for tests and demos, and
 * the reference the SQL backend is tested against.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(Persistence.Persistence, (p) => p.list("chat")).pipe(
 *   Effect.provide(Persistence.layerMemory)
 * )
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Persistence> = internal.layerMemory(Persistence)

// -------------------------------------------------------------------------------------------------
// annotations
// -------------------------------------------------------------------------------------------------

/**
 * The annotation `persisted` sets.
 *
 * @since 0.2.0
 * @category annotations
 */
export const PersistedId: unique symbol = Symbol.for("composable-effect/Persistence/persisted")

/**
 * Marks a member of an action Schema as journaled: a `StoreHost` with persistence writes every reduced
 * action of that member to the journal, and replays it on restore (with its effects discarded). Members
 * not marked are not journaled; what they did to the state is kept by the next snapshot.
 *
 * @example
 * ```ts
 * import { Persistence } from "composable-effect"
 * import { Schema } from "effect"
 *
 * const Action = Schema.Union(
 *   Persistence.persisted(Schema.TaggedStruct("Ask", { question: Schema.String })),
 *   Schema.TaggedStruct("Token", { text: Schema.String }),
 *   Persistence.persisted(Schema.TaggedStruct("Finished", { reply: Schema.String }))
 * )
 * ```
 * @since 0.2.0
 * @category annotations
 */
export const persisted = <S extends Schema.Annotable.All>(schema: S): Schema.Annotable.Self<S> =>
  (schema.annotations as (annotations: object) => Schema.Annotable.Self<S>)({ [PersistedId]: true })
