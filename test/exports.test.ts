/**
 * The package's entry points: each subpath in `package.json` `exports` is built from one module of `src/`,
 * which exports the names the docs import from it (`import { StoreHttp } from "composable-effect/http"`).
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  readonly exports: Record<string, { readonly types: string; readonly import: string }>
}

type Entry = readonly [subpath: string, module: string, load: () => Promise<object>, names: ReadonlyArray<string>]
const entries: ReadonlyArray<Entry> = [
  [".", "index", () => import("../src/index.js"), ["Fx", "Persistence", "Reducer", "Store", "StoreError", "StoreHost", "StoreMetrics", "TestStore", "ReducerTest"]],
  ["./testing", "testing", () => import("../src/testing.js"), ["TestStore", "ReducerTest"]],
  ["./http", "http", () => import("../src/http.js"), ["StoreHttp"]],
  ["./otel", "otel", () => import("../src/otel.js"), ["Telemetry"]],
  ["./sql", "sql", () => import("../src/sql.js"), ["PersistenceSql"]],
  ["./cluster", "cluster", () => import("../src/cluster.js"), ["StoreEntity"]]
]

describe("package entry points", () => {
  it("exports exactly the public entry points: no pattern that would reach dist/internal", () => {
    expect(Object.keys(pkg.exports)).toEqual(entries.map(([subpath]) => subpath))
  })

  for (const [subpath, module, load, names] of entries) {
    it(`"${subpath}" is built from src/${module}.ts, which exports ${names.join(", ")}`, async () => {
      expect(pkg.exports[subpath]).toEqual({ types: `./dist/${module}.d.ts`, import: `./dist/${module}.js` })
      const loaded = await load() as Record<string, unknown>
      expect(Object.keys(loaded).sort()).toEqual([...names].sort())
      for (const name of names) expect(typeof loaded[name]).toBe("object")
    })
  }
})
