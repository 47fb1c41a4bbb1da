/**
 * The behaviours every `Persistence` backend has, run against each one (memory, SQLite, PostgreSQL) by
 * its own test file: `persistenceSuite("...", layer)`. The layer is built once for the suite (as an
 * application would build it once), so every test writes under hosts no other test uses.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Persistence } from "../../src/index.js"

type Entry = Persistence.JournalEntry
type Snapshot = Persistence.Snapshot

let hosts = 0
/** A host name no other test (nor an earlier run on the same database) has written under. */
export const freshHost = (name: string): string => `${name}-${++hosts}-${process.pid}-${Date.now().toString(36)}`

export const entry = (host: string, id: string, seq: number, action = `{"_tag":"Step","n":${seq}}`, version = 1): Entry => ({
  host,
  id,
  seq,
  version,
  action
})

export const snapshot = (host: string, id: string, seq: number, state = `{"at":${seq}}`, version = 1): Snapshot => ({
  host,
  id,
  seq,
  version,
  state
})

const service = Persistence.Persistence
export const load = (host: string, id: string) => Effect.flatMap(service, (p) => p.load({ host, id }))
export const commit = (journal: ReadonlyArray<Entry>, snapshots: ReadonlyArray<Snapshot> = []) =>
  Effect.flatMap(service, (p) => p.commit({ journal, snapshots }))
export const list = (host: string) => Effect.map(Effect.flatMap(service, (p) => p.list(host)), (ids) => [...ids].sort())

const range = (from: number, to: number): ReadonlyArray<number> => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** A deterministic shuffle (a linear congruential generator), so a failure reproduces. */
const shuffled = <A>(items: ReadonlyArray<A>, seed = 7): Array<A> => {
  const out = [...items]
  let state = seed
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648
    const j = state % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

export interface SuiteOptions {
  /**
   * The backend refuses a row whose text is `null` (SQL's `NOT NULL`): the suite uses such a row to make a
   * commit fail part-way and checks that nothing of it was written. The memory backend refuses nothing,
   * so no commit of it fails; it still runs the interruption test.
   */
  readonly refusesNull?: boolean
}

/** Text a backend must refuse: typed as text, as a caller with a bug (or a cast) would pass it. */
const NULL_TEXT = null as unknown as string

export const persistenceSuite = (
  name: string,
  persistence: Layer.Layer<Persistence.Persistence, unknown>,
  options: SuiteOptions = {}
): void =>
  layer(persistence, { excludeTestServices: true, timeout: "120 seconds" })(name, (it) => {
    it.effect("a store never written loads as nothing: no snapshot, no journal, not listed", () =>
      Effect.gen(function*() {
        const host = freshHost("unknown")
        expect(yield* load(host, "nobody")).toEqual({ snapshot: Option.none(), journal: [] })
        expect(yield* list(host)).toEqual([])
      }))

    it.effect("an empty commit succeeds and writes nothing", () =>
      Effect.gen(function*() {
        const host = freshHost("empty")
        yield* commit([], [])
        expect(yield* list(host)).toEqual([])
      }))

    it.effect("journal entries load in seq order (numerically, up to 2^53 - 1), whatever order they were committed in", () =>
      Effect.gen(function*() {
        const host = freshHost("order")
        // 9 before 10 and 2^31 past a 32-bit column: orders that text or INTEGER storage would get wrong.
        const seqs = [1, 2, 9, 10, 11, 100, 2 ** 31 + 5, 2 ** 40, Number.MAX_SAFE_INTEGER]
        const entries = seqs.map((seq, i) => entry(host, "s", seq, `{"i":${i}}`, i + 1))
        yield* commit([entries[4]!, entries[0]!, entries[8]!])
        yield* commit([entries[3]!])
        yield* commit(shuffled([entries[1]!, entries[2]!, entries[5]!, entries[6]!, entries[7]!]))
        const stored = yield* load(host, "s")
        expect(stored.snapshot).toEqual(Option.none())
        expect(stored.journal).toEqual(entries)
      }))

    it.effect("an entry written again under the same (host, id, seq) is ignored, not an error: the first stays", () =>
      Effect.gen(function*() {
        const host = freshHost("duplicate")
        yield* commit([entry(host, "s", 1, `"first"`), entry(host, "s", 2, `"second"`)])
        const again = yield* Effect.exit(commit([entry(host, "s", 1, `"replaced?"`, 2), entry(host, "s", 3, `"third"`)]))
        expect(Exit.isSuccess(again)).toBe(true)
        // Twice in one commit: the first of the two is kept.
        yield* commit([entry(host, "s", 4, `"fourth"`), entry(host, "s", 4, `"fourth again"`)])
        expect((yield* load(host, "s")).journal).toEqual([
          entry(host, "s", 1, `"first"`),
          entry(host, "s", 2, `"second"`),
          entry(host, "s", 3, `"third"`),
          entry(host, "s", 4, `"fourth"`)
        ])
      }))

    it.effect("a snapshot replaces the journal it covers: loads give it and only the entries after it", () =>
      Effect.gen(function*() {
        const host = freshHost("snapshot")
        yield* commit(range(1, 5).map((seq) => entry(host, "s", seq)))
        // The snapshot and the entry after it in one commit, as a host writes them.
        yield* commit([entry(host, "s", 6)], [snapshot(host, "s", 3, `{"upTo":3}`, 2)])
        expect(yield* load(host, "s")).toEqual({
          snapshot: Option.some(snapshot(host, "s", 3, `{"upTo":3}`, 2)),
          journal: [4, 5, 6].map((seq) => entry(host, "s", seq))
        })
        // A snapshot covering everything: nothing after it.
        yield* commit([], [snapshot(host, "s", 6, `{"upTo":6}`)])
        expect(yield* load(host, "s")).toEqual({ snapshot: Option.some(snapshot(host, "s", 6, `{"upTo":6}`)), journal: [] })
        // A store with only a snapshot (of seq 0: before any entry) is stored and listed.
        yield* commit([], [snapshot(host, "fresh", 0, `{}`)])
        expect(yield* load(host, "fresh")).toEqual({ snapshot: Option.some(snapshot(host, "fresh", 0, `{}`)), journal: [] })
        expect(yield* list(host)).toEqual(["fresh", "s"])
      }))

    it.effect("an older snapshot never replaces a newer one; one of the same seq does", () =>
      Effect.gen(function*() {
        const host = freshHost("older")
        yield* commit(range(1, 12).map((seq) => entry(host, "s", seq)), [snapshot(host, "s", 10, `"ten"`)])
        yield* commit([], [snapshot(host, "s", 5, `"five"`)])
        expect(yield* load(host, "s")).toEqual({
          snapshot: Option.some(snapshot(host, "s", 10, `"ten"`)),
          journal: [entry(host, "s", 11), entry(host, "s", 12)]
        })
        // Two of one store in one commit: the one covering more wins, whichever comes first.
        yield* commit([], [snapshot(host, "s", 11, `"eleven"`), snapshot(host, "s", 7, `"seven"`)])
        expect(yield* load(host, "s")).toEqual({
          snapshot: Option.some(snapshot(host, "s", 11, `"eleven"`)),
          journal: [entry(host, "s", 12)]
        })
        yield* commit([], [snapshot(host, "s", 11, `"eleven, again"`, 3)])
        expect((yield* load(host, "s")).snapshot).toEqual(Option.some(snapshot(host, "s", 11, `"eleven, again"`, 3)))
      }))

    it.effect("an entry at or below the stored snapshot, committed late (a retried commit), is never loaded", () =>
      Effect.gen(function*() {
        const host = freshHost("late")
        yield* commit([entry(host, "s", 1), entry(host, "s", 2), entry(host, "s", 3)], [snapshot(host, "s", 2)])
        // Replayed on the snapshot, it would apply its action twice.
        yield* commit([entry(host, "s", 1), entry(host, "s", 2, `"late"`), entry(host, "s", 4)])
        expect(yield* load(host, "s")).toEqual({ snapshot: Option.some(snapshot(host, "s", 2)), journal: [entry(host, "s", 3), entry(host, "s", 4)] })
      }))

    it.effect("hosts and ids are isolated: the same id under two hosts, two ids under one host", () =>
      Effect.gen(function*() {
        const a = freshHost("a")
        const b = freshHost("b")
        yield* commit([entry(a, "x", 1, `"a/x"`), entry(b, "x", 1, `"b/x"`), entry(a, "y", 1, `"a/y"`), entry(b, "x", 2, `"b/x 2"`)])
        // A snapshot of a/x touches neither b/x's journal nor a/y's.
        yield* commit([], [snapshot(a, "x", 2, `"a/x at 2"`)])
        expect(yield* load(a, "x")).toEqual({ snapshot: Option.some(snapshot(a, "x", 2, `"a/x at 2"`)), journal: [] })
        expect(yield* load(b, "x")).toEqual({ snapshot: Option.none(), journal: [entry(b, "x", 1, `"b/x"`), entry(b, "x", 2, `"b/x 2"`)] })
        expect(yield* load(a, "y")).toEqual({ snapshot: Option.none(), journal: [entry(a, "y", 1, `"a/y"`)] })
        expect(yield* list(a)).toEqual(["x", "y"])
        expect(yield* list(b)).toEqual(["x"])
      }))

    it.effect("list gives each id of the host with a journal, a snapshot or both, once, and no other host's", () =>
      Effect.gen(function*() {
        const host = freshHost("list")
        const other = freshHost("list-other")
        yield* commit([entry(host, "journal-only", 1), entry(host, "both", 1), entry(host, "both", 2), entry(other, "elsewhere", 1)])
        yield* commit([], [snapshot(host, "snapshot-only", 0), snapshot(host, "both", 1)])
        expect(yield* list(host)).toEqual(["both", "journal-only", "snapshot-only"])
        expect(yield* list(other)).toEqual(["elsewhere"])
      }))

    // More rows than SQLite binds in one statement (32,766 parameters, 6,553 rows of 5), so one INSERT of all would fail.
    it.effect("a commit of 10,000 entries and 50 snapshots across 50 stores, in one go", () =>
      Effect.gen(function*() {
        const host = freshHost("bulk")
        const ids = range(1, 50).map((n) => `store-${n}`)
        const journal = shuffled(ids.flatMap((id) => range(1, 200).map((seq) => entry(host, id, seq, `{"id":"${id}","seq":${seq}}`))))
        const snapshots = ids.map((id, n) => snapshot(host, id, n, `{"id":"${id}"}`))
        yield* commit(journal, snapshots)
        expect(yield* list(host)).toEqual([...ids].sort())
        for (const [n, id] of ids.entries()) {
          const stored = yield* load(host, id)
          expect(stored.snapshot).toEqual(Option.some(snapshot(host, id, n, `{"id":"${id}"}`)))
          expect(stored.journal).toEqual(range(n + 1, 200).map((seq) => entry(host, id, seq, `{"id":"${id}","seq":${seq}}`)))
        }
      }), 60_000)

    if (options.refusesNull === true) {
      it.effect("a commit refused part-way writes nothing: not the entries before the refused row, not its snapshots", () =>
        Effect.gen(function*() {
          const host = freshHost("atomic")
          yield* commit([entry(host, "kept", 1), entry(host, "kept", 2)])
          // More rows than one statement takes, so some are written before the refused one is reached.
          const before = range(1, 1_200).map((seq) => entry(host, `new-${seq % 3}`, seq))
          const refused = yield* Effect.flip(commit(
            [...before, entry(host, "kept", 3), entry(host, "bad", 1, NULL_TEXT)],
            [snapshot(host, "kept", 2)]
          ))
          expect(refused).toBeInstanceOf(Persistence.PersistenceError)
          expect(refused.operation).toBe("commit")
          expect(refused.message).toBe("persistence: the commit failed")
          // Refused at the snapshots, after every journal row went in.
          const late = yield* Effect.flip(commit(range(3, 800).map((seq) => entry(host, "kept", seq)), [
            snapshot(host, "kept", 2, NULL_TEXT)
          ]))
          expect(late.operation).toBe("commit")
          expect(yield* list(host)).toEqual(["kept"])
          expect(yield* load(host, "kept")).toEqual({ snapshot: Option.none(), journal: [entry(host, "kept", 1), entry(host, "kept", 2)] })
        }))
    }

    // Live time (the layer has no TestClock): the sleeps below are real, so the interrupt lands mid-commit.
    it.effect("a commit interrupted at any moment has written all of it or nothing", () =>
      Effect.gen(function*() {
        const delays = [0, 0, 1, 2, 3, 5, 8, 13, 21]
        for (const [n, delay] of delays.entries()) {
          const host = freshHost(`interrupted-${n}`)
          const journal = range(1, 2_000).map((seq) => entry(host, `s${seq % 4}`, seq))
          const fiber = yield* Effect.fork(commit(journal, [snapshot(host, "s0", 1_000)]))
          yield* Effect.sleep(delay)
          yield* Fiber.interrupt(fiber)
          const written = (yield* Effect.forEach(["s0", "s1", "s2", "s3"], (id) => load(host, id)))
            .reduce((sum, stored) => sum + stored.journal.length + Option.match(stored.snapshot, { onNone: () => 0, onSome: () => 1 }), 0)
          // All of it: 2,000 entries, less s0's 250 up to 1,000 that its snapshot replaced, plus the snapshot.
          expect([0, 2_000 - 250 + 1]).toContain(written)
        }
      }), 60_000)

    it.effect("any text round-trips exactly: unicode in hosts, ids and text, SQL in ids, and megabytes of state", () =>
      Effect.gen(function*() {
        const host = freshHost("unicode 🌍 ünïcödé")
        const ids = ["会話/1 ✓", "'; DROP TABLE composable_effect_journal; --", "e\u0301 \u202Eright-to-left\u202C", "🧑‍🚀"]
        // JSON text, as the host's Schemas write it: NUL and lone surrogates arrive escaped.
        const action = JSON.stringify({ text: "héllo 世界 🎉 \u0000 \ud800 \" \\ \n\t", emoji: "👩‍👩‍👧‍👦" })
        const state = JSON.stringify({ messages: Array.from({ length: 40_000 }, (_, i) => `message ${i} ✓ ünïcödé 🌍`) })
        expect(state.length).toBeGreaterThan(1_000_000)
        yield* commit(ids.map((id, i) => entry(host, id, i + 1, action)), [snapshot(host, ids[0]!, 0, state)])
        expect(yield* list(host)).toEqual([...ids].sort())
        expect(yield* load(host, ids[0]!)).toEqual({ snapshot: Option.some(snapshot(host, ids[0]!, 0, state)), journal: [entry(host, ids[0]!, 1, action)] })
        for (const [i, id] of ids.entries()) {
          expect((yield* load(host, id)).journal).toEqual([entry(host, id, i + 1, action)])
        }
        // Stored as given, not normalized: the same name decomposed is another host.
        expect(host.normalize("NFD")).not.toBe(host)
        expect(yield* load(host.normalize("NFD"), ids[0]!)).toEqual({ snapshot: Option.none(), journal: [] })
      }))

    it.effect("request keys round-trip: an entry's key and a snapshot's keys load as committed; rows without have none", () =>
      Effect.gen(function*() {
        const host = freshHost("keys")
        const keyed = { ...entry(host, "s", 1), key: "7301234567890123456" }
        yield* commit([keyed, entry(host, "s", 2)])
        const loaded = yield* load(host, "s")
        expect(loaded.journal).toEqual([keyed, entry(host, "s", 2)])
        expect(loaded.journal[1]!.key).toBeUndefined()
        const keys = ["7301234567890123456", "7301234567890123457"]
        yield* commit([entry(host, "s", 3)], [{ ...snapshot(host, "s", 2), keys }])
        const after = yield* load(host, "s")
        expect(Option.map(after.snapshot, (s) => s.keys)).toEqual(Option.some(keys))
        expect(after.journal).toEqual([entry(host, "s", 3)])
        // A later snapshot without keys replaces the list: none are left from the one before.
        yield* commit([], [snapshot(host, "s", 3)])
        expect(Option.map((yield* load(host, "s")).snapshot, (s) => s.keys ?? [])).toEqual(Option.some([]))
      }))
  })
