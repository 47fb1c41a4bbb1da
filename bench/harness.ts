import { Bench } from "tinybench"

/** One measured rate: `ops` operations per run of `fn`, median over the samples. */
export interface Rate {
  readonly name: string
  readonly opsPerSec: number
  readonly medianMs: number
  readonly samples: number
}

/**
 * Times `fn` (which performs `ops` operations) with tinybench: warm-up runs first, then `samples` timed runs;
 * the rate uses the median run time, so one GC pause or JIT hiccup does not move it.
 */
export const rate = async (
  name: string,
  ops: number,
  fn: () => unknown | Promise<unknown>,
  options: { readonly samples?: number; readonly warmup?: number } = {}
): Promise<Rate> => {
  const bench = new Bench({
    name,
    iterations: options.samples ?? 7,
    time: 0,
    warmup: true,
    warmupIterations: options.warmup ?? 2,
    warmupTime: 0
  })
  bench.add(name, async () => {
    await fn()
  })
  await bench.run()
  const result = bench.tasks[0]!.result as { state?: string; latency?: { p50: number }; error?: unknown }
  if (result.latency === undefined) throw new Error(`benchmark ${name} failed: ${String(result.error ?? result.state)}`)
  const medianMs = result.latency.p50
  return { name, opsPerSec: ops / (medianMs / 1000), medianMs, samples: options.samples ?? 7 }
}

/** Heap in use after a full collection (needs `node --expose-gc`). */
export const heapAfterGc = (): number => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run with node --expose-gc")
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** The median of `xs` (the mean of the middle two for an even count; `NaN` for none). */
export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Microseconds on the monotonic clock V8's profiler uses, to cut a `--cpu-prof` to measured windows. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n)
