import { Deferred, Effect, Option, Ref, Schema } from "effect"
import { Fx, Persistence, Reducer } from "../../src/index.js"

/**
 * A small keyed feature: a list of notes. `Add` is journaled; `Echo` is not (an effect's result, kept by
 * snapshots only); `Slow` runs an effect until `Stop`; `Restored` says the store came back.
 */
export const Action = Schema.Union(
  Persistence.persisted(Schema.TaggedStruct("Add", { note: Schema.String })),
  Schema.TaggedStruct("Echo", { note: Schema.String }),
  Persistence.persisted(Schema.TaggedStruct("Ping", {})),
  Schema.TaggedStruct("Slow", {}),
  Schema.TaggedStruct("Stop", {}),
  Schema.TaggedStruct("Restored", {})
)
export type Action = typeof Action.Type

export const State = Schema.Struct({ notes: Schema.Array(Schema.String), restored: Schema.Number })
export type State = typeof State.Type

export const initialState = (): State => ({ notes: [], restored: 0 })

/** Counts the effects that really ran: replaying the journal must never start one. */
export const makeReducer = (effectsRun: Ref.Ref<number>) =>
  Reducer.make((state: State, action: Action) => {
    switch (action._tag) {
      case "Add":
        return [
          { ...state, notes: [...state.notes, action.note] },
          Fx.future(Effect.as(Ref.update(effectsRun, (n) => n + 1), { _tag: "Echo", note: `echo:${action.note}` } as const))
        ]
      case "Echo":
        return [{ ...state, notes: [...state.notes, action.note] }, Fx.none]
      case "Ping":
        return [state, Fx.none]
      case "Slow":
        return [state, Fx.cancellable(Fx.future(Effect.never), "slow")]
      case "Stop":
        return [state, Fx.cancel("slow")]
      case "Restored":
        return [{ ...state, restored: state.restored + 1 }, Fx.none]
    }
  })

/**
 * `Persistence.layerMemory`, with a gate in front of its commits: while `gate` is closed (a pending
 * Deferred is set), commits wait; `failing` makes them fail. For tests of durability and failure.
 */
export class Gate {
  constructor(
    readonly gate: Ref.Ref<Option.Option<Deferred.Deferred<void>>>,
    readonly failing: Ref.Ref<boolean>,
    readonly commits: Ref.Ref<number>
  ) {}
  static make = Effect.map(
    Effect.all([Ref.make(Option.none<Deferred.Deferred<void>>()), Ref.make(false), Ref.make(0)]),
    ([gate, failing, commits]) => new Gate(gate, failing, commits)
  )
  get close(): Effect.Effect<void> {
    return Effect.flatMap(Deferred.make<void>(), (d) => Ref.set(this.gate, Option.some(d)))
  }
  get open(): Effect.Effect<void> {
    return Effect.flatMap(
      Ref.getAndSet(this.gate, Option.none()),
      Option.match({ onNone: () => Effect.void, onSome: (d) => Effect.asVoid(Deferred.succeed(d, undefined)) })
    )
  }

  /** `inner`, with its commits passing through this gate. */
  backend(inner: Persistence.Persistence["Type"]): Persistence.Persistence["Type"] {
    return {
      ...inner,
      commit: (commit) =>
        Effect.gen(this, function*() {
          const gate = yield* Ref.get(this.gate)
          if (Option.isSome(gate)) yield* Deferred.await(gate.value)
          if (yield* Ref.get(this.failing)) return yield* new Persistence.PersistenceError({ operation: "commit", cause: "down" })
          yield* Ref.update(this.commits, (n) => n + 1)
          return yield* inner.commit(commit)
        })
    }
  }
}

/** A fresh in-memory backend, to share between hosts (a restart is a new host on the same backend). */
export const memoryBackend = Effect.provide(Persistence.Persistence, Persistence.layerMemory)
