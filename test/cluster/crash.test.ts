/**
 * Issue 18's delivery guarantee on one machine: a real runner process killed with SIGKILL, and a runner
 * started again on its SQLite file. Every acknowledged send is reduced exactly once: none lost (the
 * cluster stored it before acknowledging it; the store committed it before answering), none doubled
 * (a request delivered again is recognised by its id, which the store journaled with it).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { StoreEntity } from "../../src/cluster.js"
import { runUntilKilled } from "../setup/crash-child.js"
import { Notes, runner, sent, tempDatabase } from "./fixture.js"

/** Runs the child on `filename` until it is killed: by us after `acksBeforeKill` acks, or by itself. */
const runChild = (filename: string, mode: "stream" | "after-commit", acksBeforeKill?: number) =>
  runUntilKilled("test/cluster/crash-child.ts", [filename, mode], { acksBeforeKill, timeout: "90 seconds" })

/** Sends stored in the cluster's mailbox and not yet answered: those the new runner still has to deliver. */
const unanswered = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM cluster_messages WHERE tag = 'Send' AND processed = 0`).pipe(
    Effect.map((rows) => Number(rows[0]!.n))
  )

/** On a new runner: waits until every stored send is answered, then reads the stores. */
const afterRestart = (filename: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const notes = yield* StoreEntity.client(Notes, { timeout: "60 seconds" })
    // Reading a store activates it, which is what makes its shard's mailbox be read.
    yield* Effect.forEach(ids, (id) => notes(id).state, { discard: true })
    for (let i = 0; i < 600 && (yield* unanswered) > 0; i++) yield* Effect.sleep("100 millis")
    expect(yield* unanswered).toBe(0)
    return yield* Effect.forEach(ids, (id) => Effect.map(notes(id).state, sent))
  }).pipe(Effect.scoped, Effect.provide(runner(filename)))

describe("StoreEntity across a crash (a real child process, SIGKILL)", () => {
  it.live("a send whose commit succeeded, killed before the cluster recorded its answer, is delivered again and reduced once", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      yield* runChild(file, "after-commit")
      const [k] = yield* afterRestart(file, ["k"])
      expect(k).toEqual(["before", "crash-here"])
    }).pipe(Effect.scoped), 120_000)

  it.live("killed in the middle of a stream of sends: every acknowledged send is reduced exactly once, in order", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabase
      const acked = yield* runChild(file, "stream", 400)
      const ids = ["s0", "s1", "s2", "s3"]
      const restored = yield* afterRestart(file, ids)
      for (const [i, id] of ids.entries()) {
        const notes = restored[i]!.map(Number)
        // Each once, in the order sent (a store's sends come from one fiber, one at a time).
        expect(notes).toEqual(notes.map((_, n) => n))
        // Every acknowledged one; at most one more (stored in the mailbox, not yet answered when killed).
        const acks = acked.get(id) ?? []
        expect(notes.length - acks.length).toBeGreaterThanOrEqual(0)
        expect(notes.length - acks.length).toBeLessThanOrEqual(1)
      }
    }).pipe(Effect.scoped), 120_000)
})
