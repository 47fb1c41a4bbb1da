// The demo page's whole script: it sends actions with POST and draws each store's state, which arrives
// over Server-Sent Events (`GET /<store>/changes`). No reducer logic lives here: the server is the truth.

const $ = (selector) => document.querySelector(selector)

/** Sends one action to a store; a refusal (bad input, store shut down) or a network error is shown, never thrown. */
async function send(store, action) {
  const error = $(`#${store}-error`)
  try {
    const response = await fetch(`/${store}/actions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(action)
    })
    const body = await response.json()
    error.textContent = response.ok ? "" : `${body.error}: ${body.message}`
  } catch (cause) {
    error.textContent = `could not reach the server: ${cause.message}`
  }
}

/** Draws every state a store publishes; EventSource reconnects by itself after a drop. */
function watch(store, render) {
  const source = new EventSource(`/${store}/changes`)
  source.addEventListener("state", (event) => render(JSON.parse(event.data)))
  source.addEventListener("open", () => setConnected(store, true))
  source.addEventListener("error", () => setConnected(store, false))
}

const connected = new Map()
function setConnected(store, isConnected) {
  connected.set(store, isConnected)
  const all = connected.size === 2 && [...connected.values()].every(Boolean)
  const label = $("#connection")
  label.dataset.connected = String(all)
  label.textContent = all ? "live" : "reconnecting"
}

// -----------------------------------------------------------------------------
// chat
// -----------------------------------------------------------------------------

const STATUS_LABEL = { streaming: "", done: "", stopped: "stopped", timedOut: "timed out", failed: "failed" }

function renderChat(state) {
  const log = $("#chat-log")
  // Messages only grow at the end, and only the last one changes: update in place, append the rest.
  state.messages.forEach((message, i) => {
    let item = log.children[i]
    if (item === undefined) {
      item = document.createElement("li")
      item.append(document.createElement("p"), document.createElement("span"))
      log.append(item)
    }
    item.className = `message ${message.role}`
    item.dataset.status = message.status
    item.querySelector("p").textContent = message.text
    const note = message.error ? `${STATUS_LABEL[message.status]}: ${message.error}` : STATUS_LABEL[message.status]
    item.querySelector("span").textContent = note
  })
  while (log.children.length > state.messages.length) log.lastElementChild.remove()
  $("#chat-empty").hidden = state.messages.length > 0
  $("#stop").disabled = !state.replying
  $("#tokens").textContent = String(state.outputTokens)
  log.lastElementChild?.scrollIntoView({ block: "end" })
}

$("#ask").addEventListener("submit", (event) => {
  event.preventDefault()
  const prompt = $("#prompt").value
  $("#prompt").value = ""
  send("chat", { _tag: "Ask", prompt })
})
$("#stop").addEventListener("click", () => send("chat", { _tag: "Stop" }))

// -----------------------------------------------------------------------------
// agents
// -----------------------------------------------------------------------------

/** The crew the buttons start: paces in milliseconds per step. */
const crew = [
  { name: "planner", steps: 16, pace: 180 },
  { name: "researcher", steps: 20, pace: 180 },
  { name: "coder", steps: 25, pace: 140 },
  { name: "reviewer", steps: 12, pace: 280 }
]

function renderAgents(state) {
  const list = $("#agents")
  list.replaceChildren(...state.agents.map((agent) => {
    const item = document.createElement("li")
    item.className = "agent"
    item.dataset.status = agent.status
    const name = document.createElement("span")
    name.className = "name"
    name.textContent = agent.name
    const bar = document.createElement("progress")
    bar.max = 100
    bar.value = agent.percent
    const status = document.createElement("span")
    status.className = "status"
    status.textContent = agent.status === "working" ? `${agent.percent}%` : agent.error ? `${agent.status}: ${agent.error}` : agent.status
    item.append(name, bar, status)
    return item
  }))
  $("#phase").textContent = state.phase
  $("#run").disabled = $("#crash").disabled = state.phase === "running"
}

$("#run").addEventListener("click", () => send("agents", { _tag: "Start", agents: crew }))
$("#crash").addEventListener("click", () =>
  send("agents", { _tag: "Start", agents: crew.map((a) => (a.name === "coder" ? { ...a, failAt: 40 } : a)) })
)

// -----------------------------------------------------------------------------

fetch("/api/info").then((r) => r.json()).then((info) => ($("#model").textContent = `${info.provider} / ${info.model}`))
watch("chat", renderChat)
watch("agents", renderAgents)
