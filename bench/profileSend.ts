/** Profiling aid (not a bench key): the `send_per_sec` loop alone, for `node --cpu-prof`. */
import { Effect } from "effect"
import { counterReducer, inc, openStore } from "./subjects.js"

const SENDS = 1_000_000
const { close, store } = openStore({ initialState: 0, reducer: counterReducer, label: "bench-send" })
const program = Effect.gen(function*() {
  for (let i = 0; i < SENDS; i++) yield* store.send(inc)
})
for (let round = 0; round < Number(process.env.ROUNDS ?? 10); round++) {
  const started = performance.now()
  await Effect.runPromise(program)
  process.stderr.write(`${(SENDS / (performance.now() - started) / 1000).toFixed(2)} M/s\n`)
}
await close()
