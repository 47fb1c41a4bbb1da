import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import type { Predicate } from "effect/Predicate"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Persistence, PersistenceError } from "../Persistence.js"
import type * as Store from "../Store.js"
import { type RestoreError, type ShutdownTimeoutError, StoreShutdownError, WaitTimeoutError } from "../StoreError.js"
import type * as StoreHost from "../StoreHost.js"
import { Committer } from "./committer.js"
import { type Codec, journaledBy, jsonEncoder, restore } from "./journal.js"
import { overflows } from "./hub.js"
import { makeImpl, type StoreImpl } from "./store.js"
import type { TaskNode } from "./task.js"
import { requireDuration, requireOneOf, requirePositive } from "./validate.js"

type HostError = StoreShutdownError | RestoreError | PersistenceError

/** The defaults a host's options fall back to. @internal */
export const hostDefaults = {
  idleTimeout: Duration.minutes(5),
  snapshotActions: 100,
  snapshotInterval: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(10)
}

/** Host metrics: one series per host name. @internal */
export const hostMetrics = {
  resident: Metric.gauge("store_host.resident", { description: "Stores resident in memory" }),
  activated: Metric.counter("store_host.activated", { description: "Stores activated (created or restored)", incremental: true }),
  passivated: Metric.counter("store_host.passivated", { description: "Stores passivated (idle, evicted or shut down)", incremental: true }),
  restoreFailures: Metric.counter("store_host.restore_failures", { description: "Activations refused: the stored state did not restore", incremental: true })
}

/** A resident store's bookkeeping. */
class Entry<S, A> {
  phase: "activating" | "resident" | "passivating" = "activating"
  store: StoreImpl<S, A, any> | undefined = undefined
  scope: Scope.CloseableScope | undefined = undefined
  /**
   * While activating: settled when activation ends (a failed one leaves the map, so the next get tries
   * again). Dropped once resident, where nothing waits on it any more.
   */
  ready: Deferred.Deferred<StoreImpl<S, A, any>, HostError> | undefined = Deferred.unsafeMake(FiberId.none)
  /** Set while passivating: settled when the entry has left the map (or, if passivation failed, stayed). */
  gone: Deferred.Deferred<void> | undefined = undefined
  /** Scopes holding the store resident (`get`, `subscribe`, `changes`, a wait). */
  leases = 0
  /** Used since the last sweep looked. */
  active = true
  /** When a sweep last found it in use, in clock millis. */
  idleSince = 0
  /** The last journal number given, and what the last snapshot covers. */
  seq = 0
  /** Reductions since the last snapshot, and when it was taken. */
  sinceSnapshot = 0
  snapshotAt = 0
  /** While the `restored` action is sent: its reduction is not journaled. */
  skipRestored = false
  /**
   * The request keys (see `sendOnce`) reduced lately, oldest first, with when: a request delivered again
   * is recognised by its key. Made on the first keyed send or restore that has any.
   */
  keys: Map<string, number> | undefined = undefined
  /** Keyed sends under way, by the task of their reduction: how the journal knows an action's key. */
  pending: Map<TaskNode, Sending> | undefined = undefined
  /** Names this activation: positions (see `reduced`) of two activations are not comparable. */
  readonly epoch = Math.random().toString(36).slice(2, 10)
  /** Actions reduced since activation (with persistence): an action's position in this activation. */
  reduced = 0

  remember(key: string, at: number): void {
    const keys = this.keys ??= new Map()
    keys.set(key, at)
    if (keys.size > KEYS_KEPT) keys.delete(keys.keys().next().value!)
  }
}

/** A keyed send under way: its key, and the position its reduction took (`-1` until reduced). */
interface Sending {
  readonly key: string
  position: number
}

/** Where an action is in a store's reduce order: the activation and the count of actions reduced. @internal */
export interface Position {
  readonly epoch: string
  readonly position: number
}

/** How many request keys a store remembers, and how old a key its snapshots still carry. */
const KEYS_KEPT = 4096
const KEY_WINDOW_MILLIS = 5 * 60_000

/** What a host needs to persist: its codec and settings. */
interface Persisting<S, A> {
  readonly codec: Codec<S, A>
  readonly committer: Committer
  readonly sync: boolean
  readonly snapshotActions: number
  readonly snapshotInterval: number
  readonly restored: A | undefined
}

const MAX_ID_LENGTH = 512

/**
 * With `durability: "group"`, a send waits once more than this many journal entries and snapshots are
 * unwritten, so a crash loses at most this many acknowledged rows however fast the sends come.
 */
const MAX_UNCOMMITTED = 1024

const requireId = (where: string, id: string): string => {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new RangeError(`${where}: a store id must be a non-empty string of at most ${MAX_ID_LENGTH} characters`)
  }
  return id
}

/** @internal */
export class HostImpl<S, A, R> implements StoreHost.StoreHost<S, A> {
  private readonly entries = new Map<string, Entry<S, A>>()
  private closed = false
  private readonly resident: Metric.Metric.Gauge<number>
  private readonly activated: Metric.Metric.Counter<number>
  private readonly passivated: Metric.Metric.Counter<number>
  private readonly restoreFailures: Metric.Metric.Counter<number>
  private readonly lru: boolean

  constructor(
    private readonly options: StoreHost.Options<S, A, R>,
    private readonly runtime: Runtime.Runtime<R>,
    private readonly persisting: Persisting<S, A> | undefined,
    private readonly persistence: Persistence["Type"] | undefined,
    private readonly idleTimeout: number,
    private readonly maxResident: number
  ) {
    const tagged = <M extends Metric.Metric<any, any, any>>(m: M) => Metric.tagged(m, "store_host", options.name) as M
    this.resident = tagged(hostMetrics.resident)
    this.activated = tagged(hostMetrics.activated)
    this.passivated = tagged(hostMetrics.passivated)
    this.restoreFailures = tagged(hostMetrics.restoreFailures)
    this.lru = Number.isFinite(maxResident)
  }

  get name(): string {
    return this.options.name
  }

  // ---------------------------------------------------------------------------
  // public API
  // ---------------------------------------------------------------------------

  get(id: string): Effect.Effect<Store.Store<S, A>, HostError, Scope.Scope> {
    requireId("StoreHost.get", id)
    return Effect.map(
      Effect.acquireRelease(
        Effect.map(this.entryOf(id), (entry) => {
          entry.leases++
          return entry
        }),
        (entry) =>
          Effect.sync(() => {
            entry.leases--
            entry.active = true
          })
      ),
      (entry) => entry.store!
    )
  }

  send(id: string, action: A): Effect.Effect<Store.Task, HostError> {
    requireId("StoreHost.send", id)
    const persisting = this.persisting
    return this.withStore(id, (store) =>
      persisting === undefined
        ? store.send(action)
        : Effect.tap(store.send(action), () =>
          Effect.suspend(() =>
            persisting.sync
              // Acknowledged once committed: everything journaled up to and with this action.
              ? persisting.committer.committed(persisting.committer.last)
              : persisting.committer.room(MAX_UNCOMMITTED)
          )))
  }

  sendAndWaitFor(
    id: string,
    action: A,
    predicate: Predicate<A>,
    options: { readonly timeout: Duration.DurationInput }
  ): Effect.Effect<A, HostError | WaitTimeoutError> {
    requireId("StoreHost.sendAndWaitFor", id)
    requireDuration("StoreHost.sendAndWaitFor", "timeout", options.timeout)
    const persisting = this.persisting
    return Effect.scoped(Effect.flatMap(this.get(id), (store) => {
      // The store's own error is labelled with the host's name (its metrics' label): this one names the store.
      const waited = Effect.mapError(
        store.sendAndWaitFor(action, predicate, options) as Effect.Effect<A, StoreShutdownError | WaitTimeoutError>,
        (error) => error._tag === "WaitTimeoutError" ? new WaitTimeoutError({ ...error, label: `${this.name}/${id}` }) : error
      )
      return persisting === undefined || !persisting.sync
        ? waited
        : Effect.tap(waited, () => Effect.suspend(() => persisting.committer.committed(persisting.committer.last)))
    }))
  }

  state(id: string): Effect.Effect<S, HostError> {
    requireId("StoreHost.state", id)
    return this.withStore(id, (store) => store.state)
  }

  subscribe(id: string, options?: Store.SubscribeOptions): Effect.Effect<Stream.Stream<A>, HostError, Scope.Scope> {
    requireId("StoreHost.subscribe", id)
    return Effect.flatMap(this.get(id), (store) => store.subscribe(options))
  }

  changes(id: string): Stream.Stream<S, HostError> {
    requireId("StoreHost.changes", id)
    return Stream.unwrapScoped(Effect.map(this.get(id), (store) => store.changes))
  }

  get residentIds(): Effect.Effect<ReadonlyArray<string>> {
    return Effect.sync(() => Array.from(this.entries.keys()))
  }

  get ids(): Effect.Effect<ReadonlyArray<string>, PersistenceError> {
    const persistence = this.persistence
    return Effect.suspend(() => {
      const resident = Array.from(this.entries.keys())
      if (persistence === undefined) return Effect.succeed(resident)
      return Effect.map(persistence.list(this.name), (stored) => Array.from(new Set([...stored, ...resident])))
    })
  }

  passivate(id: string): Effect.Effect<boolean, PersistenceError> {
    requireId("StoreHost.passivate", id)
    return Effect.suspend((): Effect.Effect<boolean, PersistenceError> => {
      const entry = this.entries.get(id)
      if (entry === undefined) return Effect.succeed(false)
      if (entry.phase === "activating") return Effect.flatMap(Effect.exit(Deferred.await(entry.ready!)), () => this.passivate(id))
      if (entry.phase === "passivating") return Effect.as(Deferred.await(entry.gone!), !this.entries.has(id))
      // Leased or with effects running: in use, and a lease is a promise to stay resident.
      if (!this.isIdle(entry)) return Effect.succeed(false)
      return Effect.as(this.passivateEntry(id, entry), true)
    })
  }

  shutdown(options?: { readonly timeout?: Duration.DurationInput }): Effect.Effect<void, ShutdownTimeoutError> {
    const timeout = options?.timeout ?? this.options.shutdownTimeout ?? hostDefaults.shutdownTimeout
    requireDuration("StoreHost.shutdown", "timeout", timeout)
    return Effect.gen(this, function*() {
      // Once: a second call (the scope's, after an explicit one) waits for the first.
      if (this.shutdownDone !== undefined) return yield* Deferred.await(this.shutdownDone)
      const done = this.shutdownDone = Deferred.unsafeMake<void, ShutdownTimeoutError>(FiberId.none)
      return yield* Effect.exit(this.drainAll(timeout)).pipe(Effect.tap((exit) => Deferred.done(done, exit)), Effect.flatten)
    }).pipe(Effect.withSpan("store_host.shutdown", { attributes: { "store_host.name": this.name } }))
  }

  private shutdownDone: Deferred.Deferred<void, ShutdownTimeoutError> | undefined = undefined

  // ---------------------------------------------------------------------------
  // for StoreEntity: one owner per store at a time, requests delivered at least once
  // ---------------------------------------------------------------------------

  /** The store for `id`, leased (held resident) until the scope closes, as the library's own type. */
  lease(id: string): Effect.Effect<StoreImpl<S, A, any>, HostError, Scope.Scope> {
    return this.get(id) as Effect.Effect<StoreImpl<S, A, any>, HostError, Scope.Scope>
  }

  /**
   * Sends `action`, carried by the request `key`, unless an action of that key was reduced already; either
   * way it succeeds only once the action's journal entry (and everything before it) is committed, whatever
   * the durability. A cluster records a request's answer, and stops delivering it again, only then: a
   * request delivered again after a crash is either not committed (so not restored: it is reduced now) or
   * committed with its key (restored with it: it is not reduced twice).
   */
  sendOnce(id: string, action: A, key: string): Effect.Effect<Position, HostError> {
    requireId("StoreHost.sendOnce", id)
    const persisting = this.persisting
    const committed = persisting === undefined
      ? Effect.void
      : Effect.suspend(() => persisting.committer.committed(persisting.committer.last))
    return this.withStore(id, (store, entry) => {
      // Reduced already (here, or before a restore): its position is not known; the current one is after it.
      if (entry.keys?.has(key)) return Effect.as(committed, { epoch: entry.epoch, position: entry.reduced })
      const task = store.newTask(action)
      const sending: Sending = { key, position: -1 }
      const pending = entry.pending ??= new Map()
      pending.set(task, sending)
      return store.sendViaRunLoop(action, task).pipe(
        Effect.ensuring(Effect.sync(() => pending.delete(task))),
        Effect.zipRight(committed),
        // Read once reduced: a send queued behind a reduction under way gets its position then.
        Effect.map(() => ({ epoch: entry.epoch, position: sending.position }))
      )
    })
  }

  /** The position of the last action `id`'s resident store reduced, if it is resident. */
  positionOf(id: string): Position | undefined {
    const entry = this.entries.get(id)
    return entry === undefined || entry.phase !== "resident" ? undefined : { epoch: entry.epoch, position: entry.reduced }
  }

  /** How many effects `id`'s resident store is running (0 if it is not resident). */
  runningEffects(id: string): number {
    const entry = this.entries.get(id)
    return entry?.phase === "resident" ? entry.store!.runningEffectCount : 0
  }

  /**
   * Passivates the store for `id` whether or not it is in use: its running effects get `timeout` to end,
   * its last snapshot is written, and it is closed even if that write fails (what it acknowledged through
   * `sendOnce` is committed already). A cluster calls this when the store's entity moves to another
   * runner, which must find everything written and nothing still running here.
   */
  release(id: string, timeout: Duration.DurationInput): Effect.Effect<void> {
    return Effect.suspend((): Effect.Effect<void> => {
      const entry = this.entries.get(id)
      if (entry === undefined) return Effect.void
      if (entry.phase === "activating") return Effect.zipRight(Effect.exit(Deferred.await(entry.ready!)), this.release(id, timeout))
      if (entry.phase === "passivating") return Effect.zipRight(Deferred.await(entry.gone!), this.release(id, timeout))
      return Effect.zipRight(
        Effect.ignore(entry.store!.shutdown({ timeout })),
        Effect.catchAll(this.passivateEntry(id, entry), () => this.dropEntry(id, entry))
      )
    })
  }

  private drainAll(timeout: Duration.DurationInput): Effect.Effect<void, ShutdownTimeoutError> {
    return Effect.gen(this, function*() {
      this.closed = true
      // Activations under way finish (or fail) first, so each resident store is drained once; within the
      // timeout: a load that hangs must not hold the shutdown (that store is left to the scope).
      const activating = Array.from(this.entries.values()).flatMap((entry) => entry.ready === undefined ? [] : [entry.ready])
      yield* Effect.timeoutOption(Effect.forEach(activating, (ready) => Effect.exit(Deferred.await(ready)), { discard: true }), timeout)
      const resident = Array.from(this.entries.entries()).filter(([, entry]) => entry.phase === "resident")
      // Every store drains at once, within the one timeout; their final snapshots are written after.
      const drained = yield* Effect.forEach(resident, ([, entry]) => Effect.either(entry.store!.shutdown({ timeout })), {
        concurrency: "unbounded"
      })
      // At once, so their last snapshots share commits instead of waiting one commit each.
      yield* Effect.forEach(resident, ([id, entry]) => Effect.ignore(this.passivateEntry(id, entry)), {
        concurrency: "unbounded",
        discard: true
      })
      const timedOut = drained.find(Either.isLeft)
      if (timedOut !== undefined) return yield* Effect.fail(timedOut.left)
    })
  }

  // ---------------------------------------------------------------------------
  // residency
  // ---------------------------------------------------------------------------

  /** Runs `f` with the store for `id`, activating it first if needed. */
  private withStore<B, E>(
    id: string,
    f: (store: StoreImpl<S, A, any>, entry: Entry<S, A>) => Effect.Effect<B, E>
  ): Effect.Effect<B, E | HostError> {
    // Looked up when the effect runs, not when it is made: the store may be passivated in between.
    return Effect.suspend(() => {
      const entry = this.entries.get(id)
      if (entry !== undefined && entry.phase === "resident" && !this.closed) {
        this.touch(id, entry)
        return f(entry.store!, entry)
      }
      return Effect.flatMap(this.entryOf(id), (entry) => f(entry.store!, entry))
    })
  }

  /** The resident entry for `id`: activated now, or by the get already doing it. */
  private entryOf(id: string): Effect.Effect<Entry<S, A>, HostError> {
    return Effect.suspend(() => {
      const entry = this.entries.get(id)
      // Shutting down: resident stores are draining, and none may be leased or made any more.
      if (this.closed) return Effect.fail(new StoreShutdownError({ label: `${this.name}/${id}`, action: undefined }))
      if (entry === undefined) {
        const fresh = new Entry<S, A>()
        this.entries.set(id, fresh)
        // In the host's runtime, not the caller's fiber: an interrupted caller does not strand the others
        // waiting on the same activation, and the store's effects get the host's services.
        const ready = fresh.ready!
        Runtime.runFork(this.runtime)(Effect.flatMap(Effect.exit(this.activate(id, fresh)), (exit) =>
          Effect.sync(() => {
            fresh.ready = undefined
            Deferred.unsafeDone(ready, exit)
          })))
        return Effect.as(Deferred.await(ready), fresh)
      }
      if (entry.phase === "resident") {
        this.touch(id, entry)
        return Effect.succeed(entry)
      }
      if (entry.phase === "activating") return Effect.as(Deferred.await(entry.ready!), entry)
      // Passivating: wait until it is gone (or stayed), then look again.
      return Effect.zipRight(Deferred.await(entry.gone!), this.entryOf(id))
    })
  }

  private touch(id: string, entry: Entry<S, A>): void {
    entry.active = true
    if (this.lru) {
      // Map order is use order: the first idle entry is the least recently used one.
      this.entries.delete(id)
      this.entries.set(id, entry)
    }
  }

  /** Runs in the host's runtime (see `entryOf`), which provides `R`. */
  private activate(id: string, entry: Entry<S, A>): Effect.Effect<StoreImpl<S, A, any>, HostError, R> {
    return Effect.gen(this, function*() {
      yield* this.makeRoom(id)
      const { found, state } = yield* this.restoreState(id, entry)
      // Made outside the activation's span: the store keeps the runtime it was made in, and its effects'
      // spans would all be children of this long-ended one (which it would also keep alive).
      const scope = yield* Scope.make()
      const store = yield* Scope.extend(
        makeImpl<S, A, R>({
          initialState: state,
          reducer: this.options.reducer,
          label: this.name,
          subscriberCapacity: this.options.subscriberCapacity,
          subscriberOverflow: this.options.subscriberOverflow
        }),
        scope
      )
      const persisting = this.persisting
      if (persisting !== undefined) yield* Scope.extend(store.actions.listen((action) => this.journal(id, entry, action)), scope)
      entry.store = store
      entry.scope = scope
      entry.phase = "resident"
      entry.idleSince = yield* Clock.currentTimeMillis
      yield* Metric.increment(this.activated)
      yield* Metric.set(this.resident, this.entries.size)
      // Effects on: the feature decides what to restart (a chat re-asks, an export resumes).
      if (found && persisting?.restored !== undefined) {
        // Never journaled: replayed, it would say the store was restored once more than it was.
        entry.skipRestored = true
        yield* Effect.ignore(store.send(persisting.restored))
        entry.skipRestored = false
      }
      return store
    }).pipe(
      // Any failure, a defect too (an `initialState` that throws): the id is free for the next try.
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => this.entries.get(id) === entry && this.entries.delete(id)))
    )
  }

  /** The state to start `id`'s store with: restored from persistence, or its initial state. */
  private restoreState(id: string, entry: Entry<S, A>): Effect.Effect<{ readonly state: S; readonly found: boolean }, HostError> {
    const persisting = this.persisting
    if (persisting === undefined) return Effect.sync(() => ({ state: this.options.initialState(id), found: false }))
    return Effect.gen(this, function*() {
      const stored = yield* this.persistence!.load({ host: this.name, id })
      const restored = restore(persisting.codec, id, stored, () => this.options.initialState(id), this.options.reducer)
      if (Either.isLeft(restored)) {
        yield* Metric.increment(this.restoreFailures)
        return yield* Effect.fail(restored.left)
      }
      entry.seq = restored.right.seq
      entry.snapshotAt = yield* Clock.currentTimeMillis
      for (const key of restored.right.keys) entry.remember(key, entry.snapshotAt)
      return restored.right
    }).pipe(Effect.withSpan("store_host.activate", { attributes: { "store_host.name": this.name, "store.id": id } }))
  }

  /** With `maxResident` reached: passivates the least recently used idle stores, while any is. */
  private makeRoom(id: string): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      // Each idle store is tried once, least recently used first: one whose last commit fails stays
      // resident, and this activation goes on rather than wait for the database.
      for (const [other, entry] of Array.from(this.entries)) {
        if (this.entries.size <= this.maxResident) return
        if (other !== id && this.isIdle(entry)) yield* Effect.ignore(this.passivateEntry(other, entry))
      }
      // Every resident store is in use: this one is resident beyond the bound until others are idle.
    })
  }

  private isIdle(entry: Entry<S, A>): boolean {
    return entry.phase === "resident" && entry.leases === 0 && entry.store!.runningEffectCount === 0
  }

  /** Writes a last snapshot if the store changed, waits for it to be committed, then closes the store. */
  private passivateEntry(id: string, entry: Entry<S, A>): Effect.Effect<void, PersistenceError> {
    return Effect.gen(this, function*() {
      entry.phase = "passivating"
      const gone = entry.gone = Deferred.unsafeMake<void>(FiberId.none)
      const persisting = this.persisting
      if (persisting !== undefined) {
        const snapshotted = entry.sinceSnapshot === 0 || this.snapshot(id, entry)
        const committed = yield* Effect.exit(
          snapshotted
            ? persisting.committer.committed(persisting.committer.last)
            : Effect.fail(new PersistenceError({ operation: "commit", cause: new Error("the state does not encode with the state Schema") }))
        )
        if (Exit.isFailure(committed)) {
          // Not written: closing now would restore an older state next time. It stays resident.
          entry.phase = "resident"
          entry.gone = undefined
          yield* Deferred.succeed(gone, undefined)
          return yield* committed
        }
      }
      yield* this.dropEntry(id, entry)
      yield* Deferred.succeed(gone, undefined)
    }).pipe(Effect.withSpan("store_host.passivate", { attributes: { "store_host.name": this.name, "store.id": id } }))
  }

  /** Closes a resident store and forgets it. */
  private dropEntry(id: string, entry: Entry<S, A>): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      if (this.entries.get(id) === entry) this.entries.delete(id)
      yield* Scope.close(entry.scope!, Exit.void)
      yield* Metric.increment(this.passivated)
      yield* Metric.set(this.resident, this.entries.size)
    })
  }

  /**
   * Passivates the stores idle for `idleTimeout` and snapshots those changed `snapshotInterval` ago: one
   * pass over the resident stores, made every quarter of the shorter of the two.
   */
  sweep(): Effect.Effect<void> {
    return Effect.gen(this, function*() {
      const now = yield* Clock.currentTimeMillis
      const persisting = this.persisting
      for (const [id, entry] of Array.from(this.entries)) {
        if (entry.phase !== "resident") continue
        if (persisting !== undefined && entry.sinceSnapshot > 0 && now - entry.snapshotAt >= persisting.snapshotInterval) {
          this.snapshot(id, entry)
        }
        if (entry.active || !this.isIdle(entry)) {
          entry.active = false
          entry.idleSince = now
        } else if (now - entry.idleSince >= this.idleTimeout) {
          yield* Effect.ignore(this.passivateEntry(id, entry))
        }
      }
    })
  }

  // ---------------------------------------------------------------------------
  // persistence
  // ---------------------------------------------------------------------------

  /** Told of every action the store reduces, as it does (see `Hub.listen`). */
  private journal(id: string, entry: Entry<S, A>, action: A): void {
    const persisting = this.persisting!
    entry.active = true
    entry.sinceSnapshot++
    entry.reduced++
    const { codec } = persisting
    // The request that carried this action, if it came by `sendOnce`: its own reduction, not one it caused.
    const store = entry.store!
    const sending = entry.pending === undefined || store.publishing === undefined ? undefined : entry.pending.get(store.publishing)
    const key = sending?.key
    if (sending !== undefined) {
      // Only the first: what its effects feed back is published under the same task.
      entry.pending!.delete(store.publishing!)
      sending.position = entry.reduced
      entry.remember(sending.key, store.clock.unsafeCurrentTimeMillis())
    }
    if (entry.skipRestored && action === persisting.restored) {
      entry.skipRestored = false
    } else if (codec.journaled(action)) {
      const text = codec.encodeAction(action)
      if (text === undefined) {
        // The action Schema refuses an action the reducer took: a bug in the feature, reported loudly.
        Runtime.runFork(this.runtime)(Effect.logError(`host "${this.name}", store "${id}": an action does not encode with the action Schema; it was not journaled`))
      } else {
        const seq = ++entry.seq
        persisting.committer.offer({
          _tag: "Journal",
          entry: { host: this.name, id, seq, version: codec.version, action: text, ...(key === undefined ? {} : { key }) }
        })
      }
    }
    if (entry.sinceSnapshot >= persisting.snapshotActions && !this.snapshot(id, entry)) {
      // Not encodable now: tried again after as many actions more, not on every one.
      entry.sinceSnapshot = 1
    }
  }

  /** Queues a snapshot of the store's state; `false` (logged) if the state does not encode, so none was. */
  private snapshot(id: string, entry: Entry<S, A>): boolean {
    const persisting = this.persisting!
    const store = entry.store!
    const text = persisting.codec.encodeState(store.stateNow)
    entry.snapshotAt = store.clock.unsafeCurrentTimeMillis()
    if (text === undefined) {
      // Still owed: passivation refuses to close the store while its state is not written.
      Runtime.runFork(this.runtime)(Effect.logError(`host "${this.name}", store "${id}": the state does not encode with the state Schema; no snapshot was written`))
      return false
    }
    entry.sinceSnapshot = 0
    const keys = recentKeys(entry.keys, entry.snapshotAt)
    persisting.committer.offer({
      _tag: "Snapshot",
      snapshot: { host: this.name, id, seq: entry.seq, version: persisting.codec.version, state: text, ...(keys.length === 0 ? {} : { keys }) }
    })
    return true
  }
}

/**
 * The keys a snapshot taken `now` carries: those reduced in the last `KEY_WINDOW_MILLIS`. A request is
 * delivered again only if its answer was not recorded, which the cluster does as soon as it is reduced:
 * an older key is one whose answer was recorded long ago.
 */
const recentKeys = (keys: Map<string, number> | undefined, now: number): Array<string> => {
  const recent: Array<string> = []
  if (keys !== undefined) for (const [key, at] of keys) if (now - at <= KEY_WINDOW_MILLIS) recent.push(key)
  return recent
}

/** @internal */
export const make = <S, A, R, SI, AI>(
  options: StoreHost.Options<S, A, R> & { readonly persistence?: StoreHost.PersistenceOptions<S, A, SI, AI> | undefined }
): Effect.Effect<StoreHost.StoreHost<S, A>, never, any> => {
  const where = "StoreHost.make"
  if (typeof options.name !== "string" || options.name.length === 0) throw new RangeError(`${where}: name must be a non-empty string`)
  const idleTimeout = Duration.toMillis(requireDuration(where, "idleTimeout", options.idleTimeout ?? hostDefaults.idleTimeout))
  const maxResident = options.maxResident === undefined ? Number.POSITIVE_INFINITY : requirePositive(where, "maxResident", options.maxResident, true)
  if (options.shutdownTimeout !== undefined) requireDuration(where, "shutdownTimeout", options.shutdownTimeout)
  // Checked here as `Store.make` would: there, it would throw at every activation instead.
  if (options.subscriberCapacity !== undefined) requirePositive(where, "subscriberCapacity", options.subscriberCapacity, true)
  if (options.subscriberOverflow !== undefined) requireOneOf(where, "subscriberOverflow", options.subscriberOverflow, overflows)
  const p = options.persistence
  if (p !== undefined) {
    if (p.durability !== undefined) requireOneOf(where, "persistence.durability", p.durability, ["group", "sync"])
    if (p.version !== undefined) requirePositive(where, "persistence.version", p.version, true)
    if (p.snapshotEvery?.actions !== undefined) requirePositive(where, "persistence.snapshotEvery.actions", p.snapshotEvery.actions, true)
    if (p.snapshotEvery?.interval !== undefined) requireDuration(where, "persistence.snapshotEvery.interval", p.snapshotEvery.interval)
  }
  const codec: Codec<S, A> | undefined = p === undefined ? undefined : {
    host: options.name,
    version: p.version ?? 1,
    state: p.state,
    actions: p.actions,
    journaled: journaledBy(p.actions, p.journal),
    encodeState: jsonEncoder(p.state),
    encodeAction: jsonEncoder(p.actions)
  }
  return Effect.gen(function*() {
    const runtime = yield* Effect.runtime<R>()
    const persistence = p === undefined ? undefined : yield* Persistence
    const committer = persistence === undefined ? undefined : yield* Committer.make(persistence)
    const snapshotInterval = Duration.toMillis(Duration.decode(p?.snapshotEvery?.interval ?? hostDefaults.snapshotInterval))
    const persisting: Persisting<S, A> | undefined = p === undefined ? undefined : {
      codec: codec!,
      committer: committer!,
      sync: p.durability === "sync",
      snapshotActions: p.snapshotEvery?.actions ?? hostDefaults.snapshotActions,
      snapshotInterval,
      restored: p.restored
    }
    const host = new HostImpl<S, A, R>(options, runtime, persisting, persistence, idleTimeout, maxResident)
    // Drains the stores when the scope closes: after the committer's finalizer is added, so it runs first.
    yield* Effect.addFinalizer(() => Effect.ignore(host.shutdown()))
    const period = Math.min(idleTimeout, persisting === undefined ? Number.POSITIVE_INFINITY : snapshotInterval) / 4
    if (Number.isFinite(period)) {
      yield* Effect.forkScoped(Effect.repeat(host.sweep(), Schedule.spaced(Duration.millis(Math.max(1, period)))))
    }
    return host
  })
}
