/**
 * Multi-agent progress, the fifth of composable-rust's five stream use cases, end to end.
 *
 * An orchestrator reducer starts several "agents" at once (`Fx.parallel` of one `Fx.stream` per agent).
 * Each agent streams `Progress` actions back into the same store, then `Finished` (or `Failed`: errors are
 * actions, never exceptions). The terminal draws live progress bars from `store.changes`.
 *
 * Run it with `npm run demo:agents`. It uses no network and exits by itself (code 0) once every agent has finished.
 */
import { Clock, Data, Duration, Effect, Fiber, Metric, Option, Schema, Stream } from "effect"
import { pathToFileURL } from "node:url"
import { Fx, Reducer, Store, StoreMetrics } from "../src/index.js"

// -----------------------------------------------------------------------------
// model
// -----------------------------------------------------------------------------

/** What one agent will do: `steps` units of work, each taking `pace`. `failAt` simulates a crash (tests). */
export interface AgentPlan {
  readonly name: string
  readonly steps: number
  readonly pace: Duration.DurationInput
  readonly failAt?: number | undefined
}

export interface AgentState {
  readonly name: string
  readonly percent: number
  readonly status: "working" | "finished" | "failed" | "cancelled"
  readonly error?: string | undefined
}

export interface State {
  readonly phase: "idle" | "running" | "done"
  readonly agents: ReadonlyArray<AgentState>
}

export type Action = Data.TaggedEnum<{
  Start: { readonly agents: ReadonlyArray<AgentPlan> }
  Progress: { readonly agent: string; readonly percent: number }
  Finished: { readonly agent: string }
  Failed: { readonly agent: string; readonly error: string }
}>
export const Action = Data.taggedEnum<Action>()

export const initialState: State = { phase: "idle", agents: [] }

// -----------------------------------------------------------------------------
// wire format (the web demo serves this store over HTTP)
// -----------------------------------------------------------------------------

/** A pace crosses the wire as milliseconds: 10 ms to 5 s per step. */
const Pace: Schema.Schema<Duration.DurationInput, number> = Schema.transform(
  Schema.Number.pipe(Schema.between(10, 5_000)),
  Schema.declare((u): u is Duration.DurationInput => Option.isSome(Duration.decodeUnknown(u))),
  { strict: true, decode: (millis) => millis, encode: (pace) => Duration.toMillis(pace) }
)

/** A plan a client may ask for: bounded, so one request cannot start unbounded work. */
const AgentPlanSchema = Schema.Struct({
  name: Schema.String.pipe(Schema.nonEmptyString(), Schema.maxLength(40)),
  steps: Schema.Int.pipe(Schema.between(1, 1_000)),
  pace: Pace,
  failAt: Schema.optional(Schema.Int.pipe(Schema.between(0, 100)))
})

const ActionUnion = Schema.Union(
  Schema.TaggedStruct("Start", {
    // Names identify agents in the state, so two with one name would overwrite each other's progress.
    agents: Schema.Array(AgentPlanSchema).pipe(
      Schema.maxItems(8),
      Schema.filter((plans) => new Set(plans.map((p) => p.name)).size === plans.length || "agent names must be unique")
    )
  }),
  Schema.TaggedStruct("Progress", { agent: Schema.String, percent: Schema.Number }),
  Schema.TaggedStruct("Finished", { agent: Schema.String }),
  Schema.TaggedStruct("Failed", { agent: Schema.String, error: Schema.String })
)

/** Every action, as the web demo's clients send and receive it (checked against `Action` by the compiler). */
export const ActionSchema: Schema.Schema<Action, typeof ActionUnion.Encoded> = ActionUnion

export const StateSchema: Schema.Schema<State> = Schema.Struct({
  phase: Schema.Literal("idle", "running", "done"),
  agents: Schema.Array(Schema.Struct({
    name: Schema.String,
    percent: Schema.Number,
    status: Schema.Literal("working", "finished", "failed", "cancelled"),
    error: Schema.optional(Schema.String)
  }))
})

/** The demo's crew: different paces, so their progress interleaves; the slowest takes 1.8 s. */
export const defaultAgents: ReadonlyArray<AgentPlan> = [
  { name: "planner", steps: 16, pace: "90 millis" },
  { name: "researcher", steps: 20, pace: "90 millis" },
  { name: "coder", steps: 25, pace: "70 millis" },
  { name: "reviewer", steps: 12, pace: "140 millis" }
]

export class AgentCrashed extends Data.TaggedError("AgentCrashed")<{ readonly agent: string; readonly percent: number }> {
  override get message() {
    return `${this.agent} crashed at ${this.percent}%`
  }
}

// -----------------------------------------------------------------------------
// effects
// -----------------------------------------------------------------------------

/**
 * One agent's work as a Stream of percentages. `Stream.tap(Effect.sleep)` stands in for real work; since
 * the store pulls item N+1 only after item N was reduced, an agent never runs ahead of the store.
 */
export const agentWork = (plan: AgentPlan): Stream.Stream<number, AgentCrashed> =>
  Stream.range(1, plan.steps).pipe(
    Stream.map((step) => Math.round((step * 100) / plan.steps)),
    Stream.tap((percent) =>
      plan.failAt !== undefined && percent >= plan.failAt
        ? Effect.fail(new AgentCrashed({ agent: plan.name, percent }))
        : Effect.sleep(plan.pace)
    )
  )

/** Every agent of a run is registered under this id, so one failure can cancel the rest. */
const CREW = "crew"

/** At most this many progress updates per second per agent reach the store ("shape": delayed, not lost). */
export const MAX_UPDATES_PER_SECOND = 100

/**
 * The agent's stream as an `Fx`: items become `Progress`, the end `Finished`, a failure `Failed`; updates
 * are rate-limited, and the whole agent is cancellable with the crew.
 */
const runAgent = (plan: AgentPlan): Fx.Fx<Action> =>
  Fx.attemptStream(agentWork(plan), {
    onItem: (percent): Action => Action.Progress({ agent: plan.name, percent }),
    onEnd: () => Action.Finished({ agent: plan.name }),
    onFailure: (error) => Action.Failed({ agent: plan.name, error: error.message })
  }).pipe(
    Fx.rateLimit({ units: MAX_UPDATES_PER_SECOND, per: "1 second" }),
    Fx.cancellable(CREW)
  )

// -----------------------------------------------------------------------------
// reducer
// -----------------------------------------------------------------------------

const updateAgent = (state: State, name: string, f: (agent: AgentState) => AgentState): State => {
  const agents = state.agents.map((agent) => (agent.name === name ? f(agent) : agent))
  // The run is over when no agent is still working (finished or failed): the "all done" state.
  const phase = agents.every((agent) => agent.status !== "working") ? "done" : "running"
  return { phase, agents }
}

/** The orchestrator: pure, synchronous, one action at a time. All the waiting happens in the `Fx`. */
export const reducer = Reducer.make((state: State, action: Action): readonly [State, Fx.Fx<Action>] => {
  switch (action._tag) {
    case "Start": {
      // A second Start while running is ignored rather than starting a duplicate crew.
      if (state.phase === "running") return [state, Fx.none]
      const agents = action.agents.map((plan): AgentState => ({ name: plan.name, percent: 0, status: "working" }))
      // One stream per agent, all running concurrently (`Fx.merge` is `Fx.parallel` over an array).
      return [{ phase: agents.length === 0 ? "done" : "running", agents }, Fx.merge(action.agents.map(runAgent))]
    }
    case "Progress":
      return [updateAgent(state, action.agent, (a) => ({ ...a, percent: action.percent })), Fx.none]
    case "Finished":
      return [updateAgent(state, action.agent, (a) => ({ ...a, status: "finished" })), Fx.none]
    case "Failed": {
      // One agent failed: the others are cancelled (no action of theirs is reduced after this one).
      const failed = updateAgent(state, action.agent, (a) => ({ ...a, status: "failed", error: action.error }))
      const agents = failed.agents.map((a): AgentState => a.status === "working" ? { ...a, status: "cancelled" } : a)
      return [{ phase: "done", agents }, Fx.cancel(CREW)]
    }
  }
})

// -----------------------------------------------------------------------------
// rendering (driven by store.changes)
// -----------------------------------------------------------------------------

export interface Output {
  readonly isTTY: boolean
  readonly write: (text: string) => void
}

const BAR_WIDTH = 30

export const renderLine = (agent: AgentState, nameWidth: number): string => {
  const filled = Math.round((agent.percent / 100) * BAR_WIDTH)
  const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled)
  const status = agent.status === "finished"
    ? "done"
    : agent.status === "failed"
    ? `FAILED: ${agent.error}`
    : agent.status === "cancelled"
    ? "cancelled"
    : ""
  return `${agent.name.padEnd(nameWidth)} [${bar}] ${String(agent.percent).padStart(3)}% ${status}`.trimEnd()
}

/**
 * A TTY gets the bars redrawn in place (cursor up, clear line). Anything else (CI logs, pipes) gets one
 * plain line per agent each time it crosses a whole 10% step or changes status, so logs stay short.
 */
export const makeRenderer = (out: Output) => {
  let drawn = 0
  const printed = new Map<string, string>()
  return (state: State): void => {
    const nameWidth = Math.max(0, ...state.agents.map((a) => a.name.length))
    if (out.isTTY) {
      const up = drawn > 0 ? `\x1b[${drawn}A` : ""
      out.write(up + state.agents.map((a) => `\x1b[2K${renderLine(a, nameWidth)}\n`).join(""))
      drawn = state.agents.length
      return
    }
    for (const agent of state.agents) {
      const key = `${Math.floor(agent.percent / 10)}:${agent.status}`
      if (printed.get(agent.name) === key) continue
      printed.set(agent.name, key)
      out.write(renderLine(agent, nameWidth) + "\n")
    }
  }
}

// -----------------------------------------------------------------------------
// program
// -----------------------------------------------------------------------------

export interface Options {
  readonly agents?: ReadonlyArray<AgentPlan> | undefined
  readonly output: Output
}

/** Runs the crew through one store and returns the final state. Uses Effect's Clock, so tests can drive it. */
export const program = (options: Options) =>
  Effect.gen(function*() {
    const agents = options.agents ?? defaultAgents
    const label = "multi-agent-progress"
    // Metrics are process-global counters: read before and after to report this run's share.
    const actions = StoreMetrics.forStore(StoreMetrics.actionsTotal, label)
    const actionsBefore = (yield* Metric.value(actions)).count
    const started = yield* Clock.currentTimeMillis

    const store = yield* Store.make({ initialState, reducer, label })
    options.output.write(`${agents.length} agents streaming progress through one store\n`)
    const render = makeRenderer(options.output)
    // `changes` emits the current state first, then every new one; it ends when the store shuts down.
    const renderer = yield* Effect.fork(Stream.runForEach(store.changes, (state) => Effect.sync(() => render(state))))

    const task = yield* store.send(Action.Start({ agents }))
    // Waits for every agent stream, and for the effects of the actions they fed back.
    yield* task.finish
    // Nothing is running, so this completes at once and ends `changes` once the renderer has drained it.
    yield* store.shutdown({ timeout: "1 second" })
    yield* Fiber.join(renderer)

    const state = yield* store.state
    const elapsed = ((yield* Clock.currentTimeMillis) - started) / 1000
    const reduced = (yield* Metric.value(actions)).count - actionsBefore
    const finished = state.agents.filter((a) => a.status === "finished").length
    options.output.write(
      `${finished}/${state.agents.length} agents finished in ${elapsed.toFixed(1)}s (${reduced} actions reduced)\n`
    )
    return state
  }).pipe(Effect.scoped)

export const allFinished = (state: State): boolean =>
  state.phase === "done" && state.agents.every((agent) => agent.status === "finished")

// Run only when executed directly (`npm run demo:agents`), not when imported by the tests.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const output: Output = { isTTY: process.stdout.isTTY === true, write: (text) => void process.stdout.write(text) }
  Effect.runPromise(program({ output })).then(
    (state) => {
      process.exitCode = allFinished(state) ? 0 : 1
    },
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
