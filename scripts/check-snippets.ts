/**
 * Type-checks every ```ts block of README.md and docs/*.md, so the docs cannot rot. Run by
 * `npm run typecheck` (and so by `npm test`); `tsx scripts/check-snippets.ts [file.md ...]` checks only
 * the files given.
 *
 * Each block is its own module in a temporary project where `composable-effect` and its subpaths map to
 * `src/` (tsconfig `paths`) and every other import resolves from this repo's node_modules, under the
 * repo's strictness (`strict`, `exactOptionalPropertyTypes`, NodeNext) but without the unused-name checks
 * (a snippet may define a value only to show it). Errors are reported at the Markdown line.
 *
 * - A block whose fence says ```ts no-check is not checked: keep these few, for text that is not meant
 *   to compile (a signature, a sketch with elisions).
 * - A block whose fence says ```ts continues goes on from the block before it in the same file: both are
 *   one module, so it uses the names and imports that block (and the ones it continued) defined. A block
 *   can be named (```ts id=chat) and continued further down (```ts continues=chat), past other blocks.
 * - A block may assume names it does not show: an HTML comment right above its fence (invisible when the
 *   Markdown is rendered) is a hidden prelude, put before the block:
 *
 *       <!-- prelude
 *       import { Effect } from "effect"
 *       declare const program: Effect.Effect<void>
 *       -->
 *       ```ts
 *       program.pipe(Effect.runFork)
 *       ```
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join, relative } from "node:path"
import ts from "typescript"

const root = new URL("..", import.meta.url).pathname

/**
 * Files whose snippets do not type-check yet and are being fixed by their owners: the full check reports
 * only how many errors each has, without failing. Remove a file once its snippets check; naming a file on
 * the command line (`npm run check:snippets -- docs/effects.md`) always reports its errors in full.
 */
const pending: ReadonlySet<string> = new Set<string>([])

/** One checked module: the lines of one block, or of a block and the blocks that continue it. */
interface Module {
  readonly file: string
  blocks: number
  readonly lines: Array<string>
  /** For each line of `lines`, where it is in the Markdown: a line (1-based), or a prelude above a line. */
  readonly origins: Array<{ readonly line: number; readonly prelude: boolean }>
}

const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/

const extract = (file: string, text: string): ReadonlyArray<Module> => {
  const lines = text.split("\n")
  const modules: Array<Module> = []
  const named = new Map<string, Module>()
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i]!)
    if (open === null) continue
    const [, indent, marks, lang, rest] = open
    let end = i + 1
    while (end < lines.length && !lines[end]!.trimStart().startsWith(marks!)) end++
    if ((lang === "ts" || lang === "typescript") && !/\bno-check\b/.test(rest!)) {
      const continues = /(?:^|\s)continues(?:=(\S+))?(?=\s|$)/.exec(rest!)
      const id = /(?:^|\s)id=(\S+)/.exec(rest!)?.[1]
      const continued = continues === null
        ? undefined
        : continues[1] === undefined
        ? modules[modules.length - 1]
        : named.get(continues[1])
      if (continues !== null && continued === undefined) {
        throw new Error(`${file}:${i + 1}: no block before this one to continue (${continues[0].trim()})`)
      }
      const module: Module = continued ?? { file, blocks: 0, lines: [], origins: [] }
      if (continued === undefined) modules.push(module)
      if (id !== undefined) named.set(id, module)
      module.blocks++
      for (const line of preludeAbove(lines, i)) {
        module.lines.push(line)
        module.origins.push({ line: i, prelude: true })
      }
      lines.slice(i + 1, end).forEach((line, n) => {
        module.lines.push(line.startsWith(indent!) ? line.slice(indent!.length) : line)
        module.origins.push({ line: i + 2 + n, prelude: false })
      })
    }
    i = end
  }
  return modules
}

/** The lines of a `<!-- prelude ... -->` comment that ends right above line `i`. */
const preludeAbove = (lines: ReadonlyArray<string>, i: number): ReadonlyArray<string> => {
  if (i === 0 || lines[i - 1]!.trim() !== "-->") return []
  let start = i - 2
  while (start >= 0 && !lines[start]!.trim().startsWith("<!--")) start--
  if (start < 0 || lines[start]!.trim() !== "<!-- prelude") return []
  return lines.slice(start + 1, i - 1)
}

const markdownFiles = (): ReadonlyArray<string> => [
  "README.md",
  ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)
]

const main = () => {
  const files = process.argv.length > 2 ? process.argv.slice(2) : markdownFiles()
  const modules = files.flatMap((file) => extract(file, readFileSync(join(root, file), "utf8")))
  const temp = mkdtempSync(join(tmpdir(), "composable-effect-snippets-"))
  try {
    symlinkSync(join(root, "node_modules"), join(temp, "node_modules"), "dir")
    writeFileSync(join(temp, "package.json"), JSON.stringify({ type: "module" }))
    const entry = (module: string) => [join(root, "src", `${module}.ts`)]
    writeFileSync(
      join(temp, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022", "DOM"],
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          noImplicitReturns: true,
          noFallthroughCasesInSwitch: true,
          skipLibCheck: true,
          noEmit: true,
          paths: {
            "composable-effect": entry("index"),
            "composable-effect/testing": entry("testing"),
            "composable-effect/http": entry("http"),
            "composable-effect/otel": entry("otel"),
            "composable-effect/sql": entry("sql"),
            "composable-effect/cluster": entry("cluster")
          }
        },
        include: ["snippets"]
      })
    )
    mkdirSync(join(temp, "snippets"))
    const where = new Map<string, Module>()
    modules.forEach((module, n) => {
      const name = `${module.file.replace(/\W+/g, "_")}_${String(n).padStart(3, "0")}_L${module.origins[0]?.line ?? 0}.ts`
      where.set(name, module)
      // `export {}` makes each block a module, so blocks never see each other's names.
      writeFileSync(join(temp, "snippets", name), [...module.lines, "export {}", ""].join("\n"))
    })
    // Every file's syntactic and semantic errors (tsc itself skips the semantic ones of the whole program
    // when any file has a syntax error), each reported at its Markdown line.
    const config = ts.getParsedCommandLineOfConfigFile(join(temp, "tsconfig.json"), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
      }
    })!
    const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...program.getSourceFiles().flatMap((file) => [
        ...program.getSyntacticDiagnostics(file),
        ...program.getSemanticDiagnostics(file)
      ])
    ]
    const report = diagnostics.map((diagnostic) => {
      const message = `error TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n  ")}`
      if (diagnostic.file === undefined || diagnostic.start === undefined) return message
      const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
      const module = where.get(basename(diagnostic.file.fileName))
      if (module === undefined) return `${relative(root, diagnostic.file.fileName)}:${line + 1}:${character + 1}: ${message}`
      const origin = module.origins[line] ?? module.origins[module.origins.length - 1]!
      const place = origin.prelude
        ? `${module.file}:${origin.line} (the prelude above this fence)`
        : `${module.file}:${origin.line}:${character + 1}`
      return `${place}: ${message}`
    })
    const blocks = modules.reduce((n, module) => n + module.blocks, 0)
    const named = process.argv.length > 2
    const fileOf = (line: string) => /^([^:]+\.md):\d+/.exec(line)?.[1]
    const waived = new Map<string, number>()
    const errors = report.filter((line) => {
      const file = fileOf(line)
      if (named || file === undefined || !pending.has(file)) return true
      waived.set(file, (waived.get(file) ?? 0) + 1)
      return false
    })
    for (const [file, count] of waived) {
      console.warn(`${file}: ${count} snippet errors, not failing the check while it is pending (npm run check:snippets -- ${file})`)
    }
    const failing = new Set(errors.flatMap((line) => fileOf(line) ?? []))
    if (errors.length > 0) {
      console.error(errors.join("\n"))
      console.error(`\n${blocks} snippets checked from ${files.length} files; errors in ${[...failing].join(", ") || "the project"}.`)
      process.exitCode = 1
    } else {
      const except = waived.size === 0 ? "" : `, except in ${[...waived.keys()].join(" and ")} (pending)`
      console.log(`${blocks} snippets checked from ${files.join(", ")}: they type-check${except}.`)
    }
  } finally {
    rmSync(temp, { recursive: true, force: true })
  }
}

main()
