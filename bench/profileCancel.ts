/**
 * Profiling aid (not a bench key): `cancel_10k_ms` / `cancel_10k_push_ms` alone, many rounds, for
 * `CANCEL_WINDOWS=1 node --cpu-prof --import tsx bench/profileCancel.ts [push|stream] [rounds]`.
 */
import { cancel10kMs, type IdleLeaf } from "./store.js"

const leaf = (process.argv[2] ?? "push") as IdleLeaf
const rounds = Number(process.argv[3] ?? 20)
process.stderr.write(`median ${(await cancel10kMs(leaf, rounds)).toFixed(1)} ms\n`)
