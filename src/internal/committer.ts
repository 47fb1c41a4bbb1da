import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Persistence from "../Persistence.js"

/** A row waiting to be committed. @internal */
export type Row =
  | { readonly _tag: "Journal"; readonly entry: Persistence.JournalEntry }
  | { readonly _tag: "Snapshot"; readonly snapshot: Persistence.Snapshot }

/** At most this many rows per transaction: a burst is several commits, not one that holds the database. */
const MAX_BATCH = 4096

/** A failed commit is retried this way before its waiters are told; its rows stay first in line. */
const retry = Schedule.exponential("10 millis", 2).pipe(Schedule.intersect(Schedule.recurs(5)))

/** After a commit failed for good, the next try waits this long, so a database that is down is not hammered. */
const PAUSE_AFTER_FAILURE = "1 second"

/**
 * Writes a host's journal entries and snapshots through `Persistence`, in the order they were offered,
 * as group commits: rows offered while a commit runs go together in the next one. There is no timer: a
 * quiet host commits each row at once, a busy one commits as often as the database allows, with batches
 * as large as the rows that arrived meanwhile (Effect's `Queue.takeBetween`).
 *
 * Each row has a ticket (its place in line); `committed(ticket)` waits until every row up to it is written,
 * which is what `durability: "sync"` waits for.
 *
 * @internal
 */
export class Committer {
  private readonly queue: Queue.Queue<Row>
  /** Rows offered so far: the ticket of the last one. */
  private offered = 0
  /** Rows written so far, in order. */
  private written = 0
  /** Rows of a batch whose commit failed, retried ahead of the queue. */
  private carried: Array<Row> = []
  /** Waiters for a ticket, in ticket order (tickets only grow). */
  /**
   * Settled after each commit (written or failed) and replaced: every waiter shares it, and looks again
   * at `written` when it is (one Deferred per commit, not one per waiting send).
   */
  private round = Deferred.unsafeMake<Outcome>(FiberId.none)

  private constructor(private readonly persistence: Persistence.Persistence["Type"], queue: Queue.Queue<Row>) {
    this.queue = queue
  }

  /** A committer writing until its scope closes; closing writes what is queued first. */
  static make(persistence: Persistence.Persistence["Type"]): Effect.Effect<Committer, never, Scope.Scope> {
    return Effect.gen(function*() {
      const committer = new Committer(persistence, yield* Queue.unbounded<Row>())
      yield* Effect.forever(committer.commitNext).pipe(
        // Stopped with rows unwritten (the flush below could not finish): nobody waits for them forever.
        Effect.onInterrupt(() => Effect.sync(() => committer.settle(Cause.interrupt(FiberId.none), Number.POSITIVE_INFINITY))),
        Effect.forkScoped
      )
      // Whatever was offered before the scope closed is written before it is closed.
      yield* Effect.addFinalizer(() => committer.flush)
      return committer
    })
  }

  /** Queues `row` (synchronously, from inside a reduction); its ticket is then `last`. */
  offer(row: Row): void {
    this.queue.unsafeOffer(row)
    this.offered++
  }

  /** The ticket of the last row offered: waiting for it waits for everything before it too. */
  get last(): number {
    return this.offered
  }

  /**
   * For a send that does not wait for its commit: waits only while more than `bound` rows are unwritten,
   * until at most `bound` are. Senders that never yield would otherwise keep the committer from running,
   * and a crash could lose any number of acknowledged rows; this bounds it.
   */
  room(bound: number): Effect.Effect<void, Persistence.PersistenceError> {
    return this.offered - this.written <= bound ? Effect.void : this.committed(this.offered - bound)
  }

  /** Succeeds once every row up to `ticket` is written; fails if the commit holding it failed for good. */
  committed(ticket: number): Effect.Effect<void, Persistence.PersistenceError> {
    const wait: Effect.Effect<void, Persistence.PersistenceError> = Effect.suspend(() => {
      if (ticket <= this.written) return Effect.void
      return Effect.flatMap(Deferred.await(this.round), (outcome) =>
        ticket <= this.written
          ? Effect.void
          : outcome.failedThrough >= ticket
          ? Effect.failCause(outcome.cause)
          : wait)
    })
    return wait
  }

  /** Writes everything offered so far (for passivation and shutdown); its failure is the last commit's. */
  get flush(): Effect.Effect<void> {
    return Effect.suspend(() => Effect.ignore(this.committed(this.offered)))
  }

  /** One commit: of the rows a failed one kept, if any, else of the queued ones (waiting for one). */
  private readonly commitNext: Effect.Effect<void> = Effect.suspend(() => {
    if (this.carried.length > 0) {
      // Rows queued meanwhile go with them: their waiters hear of this try too, not only of the next.
      const carried = this.carried
      this.carried = []
      return Effect.flatMap(Queue.takeUpTo(this.queue, Math.max(0, MAX_BATCH - carried.length)), (rows) => this.write([...carried, ...rows]))
    }
    return Effect.flatMap(Queue.takeBetween(this.queue, 1, MAX_BATCH), (rows) => this.write(Array.from(rows)))
  })

  private write(rows: ReadonlyArray<Row>): Effect.Effect<void> {
    // Each attempt runs to its end: whether its rows were written is then known.
    return Effect.uninterruptible(this.persistence.commit(toCommit(rows))).pipe(
      Effect.retry(retry),
      Effect.matchCauseEffect({
        onSuccess: () =>
          Effect.sync(() => {
            this.written += rows.length
            this.settle(Cause.empty, 0)
          }),
        onFailure: (cause) => {
          // The rows stay first in line, written once the database is back; those waiting on them hear of
          // the failure now (a later wait on them succeeds once they are written).
          this.carried = [...rows]
          this.settle(cause, this.written + rows.length)
          return Effect.logError("persistence: a commit failed; its rows are kept and retried", cause).pipe(
            Effect.zipRight(Effect.sleep(PAUSE_AFTER_FAILURE))
          )
        }
      })
    )
  }

  /** Ends this round: its waiters look again (those up to `failedThrough` hear of `cause`). */
  settle(cause: Cause.Cause<Persistence.PersistenceError>, failedThrough: number): void {
    const round = this.round
    this.round = Deferred.unsafeMake(FiberId.none)
    Deferred.unsafeDone(round, Exit.succeed({ cause, failedThrough }))
  }
}

/** How a commit ended, for those waiting on it: nothing failed, or the rows up to a ticket did. */
interface Outcome {
  readonly cause: Cause.Cause<Persistence.PersistenceError>
  readonly failedThrough: number
}

/** One commit of `rows`: the journal in order, and per store only its latest snapshot. */
const toCommit = (rows: ReadonlyArray<Row>): Persistence.Commit => {
  const journal: Array<Persistence.JournalEntry> = []
  const snapshots = new Map<string, Persistence.Snapshot>()
  for (const row of rows) {
    if (row._tag === "Journal") journal.push(row.entry)
    else snapshots.set(`${row.snapshot.host}\u0000${row.snapshot.id}`, row.snapshot)
  }
  return { journal, snapshots: Array.from(snapshots.values()) }
}
