import { SqliteClient } from "@effect/sql-sqlite-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { StoreHost } from "../../src/index.js"
import { PersistenceSql } from "../../src/sql.js"
import { runUntilKilled } from "../setup/crash-child.js"
import { Action, initialState, makeReducer, State } from "./fixture.js"

/**
 * Issue 17's crash safety: a real child process, killed with SIGKILL in the middle of a stream of sends.
 * Restored from the SQLite file it wrote, each store holds the actions acknowledged to it, in order and
 * each once: all of them with `sync`; with `group`, all but possibly the last ones, never a hole.
 */
const runAndKill = (filename: string, durability: "sync" | "group", acksBeforeKill: number) =>
  runUntilKilled("test/host/crash-child.ts", [filename, durability], { acksBeforeKill, timeout: "60 seconds" })

/** What a new host restores from `filename`: each store's journaled notes (echoes are effects' results). */
const restore = (filename: string, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const host = yield* StoreHost.make({
      name: "crash",
      initialState,
      reducer: makeReducer(yield* Ref.make(0)),
      persistence: { state: State, actions: Action }
    })
    const restored = new Map<string, Array<number>>()
    for (const id of ids) {
      const state = yield* host.state(id)
      restored.set(id, state.notes.filter((note) => !note.startsWith("echo:")).map(Number))
    }
    return restored
  }).pipe(Effect.scoped, Effect.provide(PersistenceSql.layer().pipe(Layer.provide(SqliteClient.layer({ filename })))))

const crashed = (durability: "sync" | "group", acksBeforeKill: number) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "ce-crash-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
    const filename = join(dir, "crash.db")
    const acked = yield* runAndKill(filename, durability, acksBeforeKill)
    const restored = yield* restore(filename, ["s0", "s1", "s2", "s3"])
    return { acked, restored }
  })

describe("StoreHost: crash safety with SQLite", () => {
  it.live("sync: after SIGKILL, every acknowledged action is restored, in order, once", () =>
    Effect.gen(function*() {
      const { acked, restored } = yield* crashed("sync", 5_000)
      for (const [id, sent] of acked) {
        const got = restored.get(id)!
        // Acknowledged ones first, in order; at most the sends in flight at the kill may follow them.
        expect(got.slice(0, sent.length)).toEqual(sent)
        expect(got).toEqual(got.map((_, i) => i))
      }
    }).pipe(Effect.scoped), 90_000)

  it.live("group: after SIGKILL, each store holds a prefix of what was sent to it: never a hole or a double", () =>
    Effect.gen(function*() {
      // Early, while the senders have had the thread to themselves: no commit could run yet without the bound.
      const { acked, restored } = yield* crashed("group", 2_000)
      let missing = 0
      for (const [id, sent] of acked) {
        const got = restored.get(id)!
        expect(got).toEqual(got.map((_, i) => i))
        missing += Math.max(0, sent.length - got.length)
      }
      // At most what a group send may leave unwritten (host.ts MAX_UNCOMMITTED), however fast they come.
      expect(missing).toBeLessThanOrEqual(1024)
    }).pipe(Effect.scoped), 90_000)
})
