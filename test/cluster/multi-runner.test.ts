/**
 * Issue 18 across machines, on one: three runner processes (test/cluster/runner-child.ts) on 127.0.0.1,
 * the socket runners of `@effect/platform-node`, with the cluster's message and runner storage and the
 * stores' persistence all on one PostgreSQL database (a throwaway server, test/setup/postgres.ts).
 * Stores spread over the runners and are reached from any of them; a runner killed with SIGKILL in the
 * middle of a stream of sends has its stores resumed on the others from their persisted state, every
 * acknowledged send reduced exactly once, and a subscriber on a surviving runner carries on.
 *
 * One cluster for the file (starting it is most of the time): the tests run in order, and the last one
 * kills a runner. Skipped, with the reason printed, where PostgreSQL's binaries are not installed. On
 * the real clock: the runners' timings are shortened (see runner-child.ts) so a failover takes seconds.
 * `RUNNER_LOG=1` shows the runners' logs.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Postgres from "../setup/postgres.js"
import type { State } from "../host/fixture.js"
import { eventually, pg, type RunnerProcess, startCluster } from "./pg-fixture.js"

const bin = Postgres.binDir()
const skipped = bin === undefined ? `skipped: no PostgreSQL server binaries found; ${Postgres.installHint}` : undefined
if (skipped !== undefined) console.warn(`Multi-runner cluster tests ${skipped}.`)

/** One cluster for the file: the tests run in order, the last one kills a runner. */
class Cluster extends Context.Tag("test/multi-runner/Cluster")<Cluster, Effect.Effect.Success<typeof startCluster>>() {}

/** Sends stored in the cluster's message storage and not answered yet. */
const unanswered = (server: Postgres.PostgresServer) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ readonly n: string }>`SELECT COUNT(*) AS n FROM cluster_messages WHERE tag = 'Send' AND processed = FALSE`).pipe(
      Effect.map((rows) => Number(rows[0]!.n)),
      Effect.provide(pg(server))
    )

const states = (runner: RunnerProcess, ids: ReadonlyArray<string>) =>
  Effect.map(runner.ask("states", { ids }), (a) => a.states as Record<string, State>)

const notesOf = (state: State): ReadonlyArray<string> => state.notes.filter((note) => !note.startsWith("echo:"))

/** A test's own bound, inside vitest's: timed out, its scope still closes (runners killed, server stopped). */
const bounded = <A, E, R>(test: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(test, { duration: "100 seconds", onTimeout: () => new Error("the test took over 100 s") })

const since = (start: number) => `${((Date.now() - start) / 1000).toFixed(1)} s`

describe.skipIf(skipped !== undefined)(
  `StoreEntity on three socket runners with PostgreSQL${skipped === undefined ? "" : ` (${skipped})`}`,
  () => {
    layer(Layer.scoped(Cluster, startCluster), { excludeTestServices: true, timeout: "90 seconds" })((it) => {
      it.effect("stores spread over the runners; actions for 1,000 ids sent from every runner all land", () =>
        Effect.gen(function*() {
          const start = Date.now()
          const { runners } = yield* Cluster
          const ids = Array.from({ length: 1000 }, (_, i) => `n${i}`)
          // Each id's action is sent through the client of one runner (most land on another), and read
          // back through the client of the next.
          const items = runners.map((_, r) => ids.flatMap((id, i) => i % 3 === r ? [[id, `${id}:a`] as const] : []))
          const sending = Date.now()
          const answers = yield* Effect.forEach(
            runners,
            (runner, r) => Effect.map(runner.ask("send", { items: items[r] }, 90_000), (a) => ({ ok: a.ok as number, failed: a.failed })),
            { concurrency: 3 }
          )
          console.log(`multi-runner: 1,000 sends through three runners' clients in ${since(sending)}`)
          expect(answers.flatMap((r) => r.failed)).toEqual([])
          expect(answers.reduce((n, r) => n + r.ok, 0)).toBe(1000)

          // Where the stores live: each runner activated some, together all of them, each on one runner
          // (the shards did not move meanwhile).
          const activated = yield* Effect.forEach(runners, (r) => Effect.map(r.ask("activated"), (a) => a.ids as Array<string>))
          const owned = yield* Effect.forEach(runners, (r) => Effect.map(r.ask("owns", { ids }), (a) => a.ids as Array<string>))
          console.log(`multi-runner: stores per runner ${activated.map((ids) => ids.length).join(", ")}`)
          expect(activated.filter((ids) => ids.length > 0).length).toBeGreaterThan(1)
          expect(activated.every((ids) => ids.length > 0)).toBe(true)
          expect(new Set(activated.flat()).size).toBe(ids.length)
          expect(activated.flat().length).toBe(ids.length)
          for (const [r, ids] of activated.entries()) expect([...ids].sort()).toEqual([...owned[r]!].sort())

          const reading = Date.now()
          const read = yield* Effect.forEach(
            runners,
            (runner, r) => states(runner, ids.filter((_, i) => (i + 1) % 3 === r)),
            { concurrency: 3 }
          )
          console.log(`multi-runner: 1,000 stores read back in ${since(reading)}`)
          const all = Object.assign({}, ...read) as Record<string, State>
          for (const id of ids) expect(notesOf(all[id]!)).toEqual([`${id}:a`])
          console.log(`multi-runner: test 1 in ${since(start)}`)
        }).pipe(bounded, Effect.scoped), 110_000)

      it.effect(
        "SIGKILL one runner in a stream of sends: its stores resume on the others, every acknowledged send reduced once, a subscriber carries on",
        () =>
          Effect.gen(function*() {
            const start = Date.now()
            const { runners, server } = yield* Cluster
            const [sender, watcher, victim] = runners as [RunnerProcess, RunnerProcess, RunnerProcess]
            // Six stores on each runner, picked by where their shards are.
            const candidates = Array.from({ length: 300 }, (_, i) => `f${i}`)
            const owned = yield* Effect.forEach(runners, (r) => Effect.map(r.ask("owns", { ids: candidates }), (a) => a.ids as Array<string>))
            for (const ids of owned) expect(ids.length).toBeGreaterThanOrEqual(6)
            const [onSender, onWatcher, onVictim] = owned.map((ids) => ids.slice(0, 6)) as [Array<string>, Array<string>, Array<string>]
            const ids = [...onSender, ...onWatcher, ...onVictim]
            const watched = onVictim[0]!

            // A subscriber on a surviving runner to a store of the runner to be killed.
            yield* watcher.ask("subscribe", { id: watched })
            yield* sender.ask("stream", { ids })
            const acks = () => {
              const last = new Map<string, number>()
              for (const e of sender.events) if (e.event === "ack") last.set(e.id!, Math.max(last.get(e.id!) ?? -1, e.n!))
              return last
            }
            const fails = () => sender.events.filter((e) => e.event === "fail")
            const seen = () => watcher.events.filter((e) => e.event === "sub" && e.id === watched).map((e) => Number(e.note))
            const early = () =>
              JSON.stringify({
                acks: Object.fromEntries(acks()),
                seen: seen().slice(-5),
                fails: fails(),
                watcher: watcher.events.filter((e) => e.event !== "sub")
              })
            yield* eventually(
              "sends acknowledged for every store",
              Effect.sync(() => ids.every((id) => (acks().get(id) ?? -1) >= 4)),
              45_000
            ).pipe(Effect.tapError(() => Effect.sync(() => console.log(early()))))
            yield* eventually("the subscriber seeing the watched store's actions", Effect.sync(() => seen().length > 0), 30_000).pipe(
              Effect.tapError(() => Effect.sync(() => console.log(early())))
            )

            // Its stores are still its own (no shard moved since they were picked).
            expect((yield* victim.ask("owns", { ids: onVictim })).ids).toEqual(onVictim)
            const before = acks()
            const seenBefore = seen().length
            const killedAt = Date.now()
            yield* victim.kill
            // How long until a moved store answers again, through a surviving runner: the bench key
            // `cluster_failover_ms` to be.
            const probe = yield* watcher.ask("probe", { id: onVictim[1], within: 45_000 }, 50_000)
            const failoverMs = (probe.answeredAt as number) - killedAt
            console.log(`multi-runner: cluster_failover_ms ${failoverMs} (from SIGKILL until a moved store answered again)`)

            // The stream goes on to the moved stores, and the subscriber sees their new actions.
            const report = () =>
              JSON.stringify({
                before: Object.fromEntries(before),
                now: Object.fromEntries(acks()),
                seen: seen().slice(-5),
                fails: fails(),
                watcher: watcher.events.filter((e) => e.event !== "sub")
              })
            yield* eventually(
              "sends acknowledged again by the moved stores",
              Effect.sync(() => ids.every((id) => (acks().get(id) ?? -1) >= before.get(id)! + 3)),
              45_000
            ).pipe(Effect.tapError(() => Effect.sync(() => console.log(report()))))
            yield* eventually(
              "the subscriber seeing actions sent after the failover",
              Effect.sync(() => seen().some((n) => n > before.get(watched)! + 1)),
              30_000
            ).pipe(Effect.tapError(() => Effect.sync(() => console.log(report()))))
            // When each moved store took a send again (its second after the kill: the first may have been
            // answered by the killed runner, its answer on the way).
            const resumed = onVictim.map((id) =>
              (sender.events.find((e) => e.event === "ack" && e.id === id && e.n! >= before.get(id)! + 2)!.at as number) - killedAt
            )
            console.log(`multi-runner: the moved stores took sends again ${Math.min(...resumed)}-${Math.max(...resumed)} ms after the SIGKILL`)
            yield* sender.ask("stopStream")
            const acked = acks()
            expect(fails()).toEqual([])
            expect(seen().length).toBeGreaterThan(seenBefore)

            // Every send stored is answered (the interrupted last ones too), then the stores are read.
            yield* eventually("every stored send answered", Effect.map(unanswered(server), (n) => n === 0), 30_000)
            const after = yield* states(watcher, ids)
            for (const id of ids) {
              const notes = notesOf(after[id]!).map(Number)
              // Each once, in the order sent (one sender per store, one send at a time)...
              expect(notes, id).toEqual(notes.map((_, n) => n))
              // ... every acknowledged one, and at most the one in flight when the stream stopped.
              expect(notes.length - (acked.get(id)! + 1), id).toBeGreaterThanOrEqual(0)
              expect(notes.length - (acked.get(id)! + 1), id).toBeLessThanOrEqual(1)
            }
            // The killed runner's stores were restored from their persisted state on the others.
            for (const id of onVictim) expect(after[id]!.restored, id).toBeGreaterThanOrEqual(1)
            const activated = yield* Effect.forEach([sender, watcher], (r) => Effect.map(r.ask("activated"), (a) => a.ids as Array<string>))
            for (const id of onVictim) expect(activated.flat(), id).toContain(id)
            console.log(`multi-runner: test 2 in ${since(start)} (${[...acked.values()].reduce((a, b) => a + b + 1, 0)} sends acknowledged)`)
          }).pipe(bounded, Effect.scoped),
        110_000
      )
    })
  }
)
