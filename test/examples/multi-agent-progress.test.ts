import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, TestClock } from "effect"
import {
  Action,
  type AgentPlan,
  allFinished,
  initialState,
  makeRenderer,
  program,
  reducer,
  type State
} from "../../examples/multi-agent-progress.js"
import { Fx, Store } from "../../src/index.js"

// Three agents that each need exactly 200 ms of (virtual) work: run one after another they would need 600 ms.
const crew: ReadonlyArray<AgentPlan> = [
  { name: "a", steps: 4, pace: "50 millis" },
  { name: "b", steps: 5, pace: "40 millis" },
  { name: "c", steps: 10, pace: "20 millis" }
]

/** Moves the TestClock in small steps until `fiber` ends (no real sleeping), then returns its result. */
const driveUntilDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>, maxSteps = 1_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < maxSteps; i++) {
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      yield* TestClock.adjust("10 millis")
    }
    return yield* Effect.dieMessage(`still running after ${maxSteps} clock steps`)
  })

/** Runs the crew through a store, recording every reduced action, on the TestClock. */
const runCrew = (agents: ReadonlyArray<AgentPlan>) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ initialState, reducer, label: "multi-agent-test" })
    const actions = yield* store.subscribe({ overflow: "unbounded" })
    const task = yield* store.send(Action.Start({ agents }))
    yield* driveUntilDone(yield* Effect.fork(task.finish))
    yield* store.shutdown({ timeout: "1 second" })
    return { state: yield* store.state, actions: Chunk.toReadonlyArray(yield* Stream.runCollect(actions)) }
  })

const progressOf = (actions: ReadonlyArray<Action>, agent: string) =>
  actions.flatMap((a) => (a._tag === "Progress" && a.agent === agent ? [a.percent] : []))

describe("examples/multi-agent-progress", () => {
  it.scoped("every agent reaches 100% and finishes; the run ends in the done phase", () =>
    Effect.gen(function*() {
      const { state } = yield* runCrew(crew)
      expect(state.phase).toBe("done")
      expect(state.agents).toEqual(crew.map((plan) => ({ name: plan.name, percent: 100, status: "finished" })))
      expect(allFinished(state)).toBe(true)
    }))

  it.scoped("each agent's progress is strictly increasing, ends at 100, and Finished comes last", () =>
    Effect.gen(function*() {
      const { actions } = yield* runCrew(crew)
      for (const plan of crew) {
        const percents = progressOf(actions, plan.name)
        expect(percents).toHaveLength(plan.steps)
        expect(percents.at(-1)).toBe(100)
        percents.slice(1).forEach((percent, i) => expect(percent).toBeGreaterThan(percents[i]!))
        const finishedAt = actions.findIndex((a) => a._tag === "Finished" && a.agent === plan.name)
        const lastProgressAt = actions.reduce(
          (last, a, i) => (a._tag === "Progress" && a.agent === plan.name ? i : last),
          -1
        )
        expect(finishedAt).toBeGreaterThan(lastProgressAt)
      }
      // Replaying the actions through the reducer: no state ever shows an agent going backwards.
      let state = initialState
      for (const action of actions) {
        const [next] = reducer(state, action)
        next.agents.forEach((agent, i) => expect(agent.percent).toBeGreaterThanOrEqual(state.agents[i]?.percent ?? 0))
        state = next
      }
      // Start, every Progress, one Finished per agent: nothing lost, nothing extra.
      expect(actions).toHaveLength(1 + crew.reduce((n, plan) => n + plan.steps, 0) + crew.length)
    }))

  it.scoped("agents run concurrently: their progress interleaves and the run takes the slowest agent's time", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ initialState, reducer, label: "multi-agent-test" })
      const recorded = yield* store.subscribe({ overflow: "unbounded" })
      yield* store.send(Action.Start({ agents: crew }))
      // Sequentially the crew would need 600 ms; concurrently, 200 ms.
      yield* TestClock.adjust("190 millis")
      expect((yield* store.state).phase).toBe("running")
      yield* TestClock.adjust("10 millis")
      expect((yield* store.state).phase).toBe("done")

      yield* store.shutdown({ timeout: "1 second" })
      const actions = Chunk.toReadonlyArray(yield* Stream.runCollect(recorded))
      const progress = actions.filter((a) => a._tag === "Progress")
      // Every agent has reported progress before any agent reaches 100%.
      const firstHundred = progress.findIndex((a) => a._tag === "Progress" && a.percent === 100)
      for (const plan of crew) {
        const first = progress.findIndex((a) => a._tag === "Progress" && a.agent === plan.name)
        expect(first).toBeGreaterThanOrEqual(0)
        expect(first).toBeLessThan(firstHundred)
      }
      // And the agent reporting changes many times along the way (not one agent's block after another's).
      const switches = progress.filter((a, i) => i > 0 && a.agent !== progress[i - 1]!.agent).length
      expect(switches).toBeGreaterThan(crew.length)
    }))

  it.scoped("a crashing agent becomes a Failed action (errors as actions) and cancels the rest of the crew", () =>
    Effect.gen(function*() {
      const agents = [crew[0]!, { ...crew[1]!, failAt: 60 }, crew[2]!]
      const { state, actions } = yield* runCrew(agents)
      expect(state.phase).toBe("done")
      expect(allFinished(state)).toBe(false)
      expect(state.agents.map((a) => a.status)).toEqual(["cancelled", "failed", "cancelled"])
      expect(state.agents[1]).toMatchObject({ name: "b", percent: 40, error: "b crashed at 60%" })
      // b fails at 80 ms; a (25% at 50 ms) never got further: nothing of a cancelled agent comes after.
      expect(state.agents[0]).toMatchObject({ name: "a", percent: 25 })
      expect(actions.at(-1)).toEqual(Action.Failed({ agent: "b", error: "b crashed at 60%" }))
      expect(actions.some((a) => a._tag === "Finished")).toBe(false)
    }))

  it("Start runs one stream per agent in parallel, and is ignored while a run is in progress", () => {
    const [running, fx] = reducer(initialState, Action.Start({ agents: crew }))
    expect(running.phase).toBe("running")
    expect(fx._tag).toBe("Parallel")
    expect(Fx.reduce(fx, 0, (n, node) => (node._tag === "Stream" ? n + 1 : n))).toBe(crew.length)

    const [again, none] = reducer(running, Action.Start({ agents: crew }))
    expect(again).toBe(running)
    expect(none._tag).toBe("None")
  })

  it.effect("program renders plain lines per 10% step when not a TTY, and reports the run", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const output = { isTTY: false, write: (text: string) => void lines.push(...text.split("\n").filter(Boolean)) }
      const state = yield* driveUntilDone(yield* Effect.fork(program({ agents: crew, output })))
      expect(allFinished(state)).toBe(true)

      expect(lines[0]).toBe("3 agents streaming progress through one store")
      expect(lines.at(-1)).toMatch(/^3\/3 agents finished in 0\.2s \(\d+ actions reduced\)$/)
      expect(lines.some((line) => line.includes("\x1b"))).toBe(false)
      for (const plan of crew) {
        const own = lines.filter((line) => line.startsWith(`${plan.name} `))
        expect(own.at(-1)).toMatch(/\[#{30}\] 100% done$/)
        // At most one line per whole 10% step (0..10) plus the "done" line: readable CI logs.
        expect(own.length).toBeLessThanOrEqual(12)
      }
      // c reports 10 times, once per 10% step, so every one of its steps is printed.
      expect(lines.filter((line) => line.startsWith("c ")).length).toBe(12)
    }))

  it("the TTY renderer redraws the bars in place", () => {
    const frames: Array<string> = []
    const render = makeRenderer({ isTTY: true, write: (text) => void frames.push(text) })
    const state: State = {
      phase: "running",
      agents: [{ name: "a", percent: 50, status: "working" }, { name: "bb", percent: 0, status: "working" }]
    }
    render(state)
    render({ ...state, agents: [{ name: "a", percent: 100, status: "finished" }, state.agents[1]!] })
    expect(frames[0]).toBe(`\x1b[2Ka  [${"#".repeat(15)}${"-".repeat(15)}]  50%\n\x1b[2Kbb [${"-".repeat(30)}]   0%\n`)
    expect(frames[1]!.startsWith("\x1b[2A\x1b[2Ka  [")).toBe(true)
    expect(frames[1]).toContain("100% done\n")
  })
})
