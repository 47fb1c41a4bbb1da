/**
 * The runner the crash test kills: the `Notes` entity on a single runner in the SQLite file argv[2],
 * sending `Add` actions to four stores from four fibers and printing `ack <store> <n>` for each send
 * acknowledged. With argv[3] = "after-commit", it kills itself (SIGKILL) as soon as the commit holding
 * the action `crash-here` has succeeded: after the store journaled it, before the cluster recorded the
 * answer, the window in which a request is delivered again though it was reduced.
 */
import { Effect, Layer } from "effect"
import { Persistence } from "../../src/index.js"
import { StoreEntity } from "../../src/cluster.js"
import { Notes, runner } from "./fixture.js"

const [filename, mode] = [process.argv[2]!, process.argv[3]]

/** The persistence the runner was given, killing the process once `crash-here` is committed. */
const killAfterCommit = Layer.effect(
  Persistence.Persistence,
  Effect.map(Persistence.Persistence, (inner) => ({
    ...inner,
    commit: (commit) =>
      Effect.tap(inner.commit(commit), () =>
        Effect.sync(() => {
          if (commit.journal.some((entry) => entry.action.includes(`"crash-here"`))) process.kill(process.pid, "SIGKILL")
        }))
  }))
)

const program = Effect.gen(function*() {
  const notes = yield* StoreEntity.client(Notes)
  process.stdout.write("ready\n")
  if (mode === "after-commit") {
    yield* notes("k").send({ _tag: "Add", note: "before" })
    yield* notes("k").send({ _tag: "Add", note: "crash-here" })
    return
  }
  yield* Effect.forEach([0, 1, 2, 3], (worker) =>
    Effect.forEach(Array.from({ length: 1_000_000 }, (_, i) => i), (n) =>
      Effect.flatMap(notes(`s${worker}`).send({ _tag: "Add", note: String(n) }), () =>
        Effect.sync(() => process.stdout.write(`ack s${worker} ${n}\n`))), { discard: true }), { concurrency: "unbounded", discard: true })
}).pipe(Effect.scoped)

const layer = mode === "after-commit"
  ? runner(filename, {}, killAfterCommit)
  : runner(filename)
Effect.runFork(Effect.provide(program, layer))
