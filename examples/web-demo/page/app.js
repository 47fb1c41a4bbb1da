// The demo page's whole script: it sends actions with POST and draws each store's state, which arrives
// over Server-Sent Events (`GET .../changes`). No reducer logic lives here: the server is the truth.
// The chat is one store per conversation, under `/chat/<id>/`; the agents are one store, under `/agents/`.

const $ = (selector) => document.querySelector(selector)

/** Sends one action; a refusal (bad input, store shut down) or a network error is shown, never thrown. */
async function send(store, path, action) {
  const error = $(`#${store}-error`)
  try {
    const response = await fetch(path, {
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

/** The EventSource each store is drawn from now: the chat's is replaced when another conversation is shown. */
const sources = new Map()

/** Draws every state a store publishes; EventSource reconnects by itself after a drop. */
function watch(store, path, render) {
  sources.get(store)?.close()
  setConnected(store, false)
  const source = new EventSource(path)
  sources.set(store, source)
  // Events of a source already replaced (a conversation no longer shown) are dropped.
  const current = (handle) => (event) => sources.get(store) === source && handle(event)
  source.addEventListener("state", current((event) => render(JSON.parse(event.data))))
  source.addEventListener("open", current(() => setConnected(store, true)))
  source.addEventListener("error", current(() => setConnected(store, false)))
}

/** The server: its model, and with the cluster demo (`cluster.ts`) the worker that answered, and no agents. */
const info = await fetch("/api/info").then((r) => r.json()).catch(() => ({ provider: "?", model: "?" }))
const hasAgents = info.agents !== false

const connected = new Map()
function setConnected(store, isConnected) {
  connected.set(store, isConnected)
  const all = connected.size === (hasAgents ? 2 : 1) && [...connected.values()].every(Boolean)
  const label = $("#connection")
  label.dataset.connected = String(all)
  label.textContent = all ? "live" : "reconnecting"
}

// -----------------------------------------------------------------------------
// chat
// -----------------------------------------------------------------------------

const STATUS_LABEL = {
  streaming: "",
  done: "",
  stopped: "stopped",
  timedOut: "timed out",
  failed: "failed",
  interrupted: "interrupted by a restart of the server"
}

const EMPTY_CHAT = { messages: [], replying: false, outputTokens: 0 }

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

/** The id of the conversation shown; it is also the page's URL fragment, so a reload keeps it. */
let conversation
/** Every conversation id known: the server's list, and the ones started here since. */
const conversations = new Set()

const chatPath = (route) => `/chat/${encodeURIComponent(conversation)}/${route}`

/**
 * The ids the server's routes take: 1 to 128 of A-Z a-z 0-9 . _ ~ - (never "." or ".."). A new one is
 * the time in base 36 (nine digits, so they sort by age until the year 5188), then 48 random bits, so
 * two tabs never pick the same.
 */
const isId = (id) => /^[A-Za-z0-9._~-]{1,128}$/.test(id) && id !== "." && id !== ".."
function newId() {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("")
  return `c-${Date.now().toString(36).padStart(9, "0")}-${random}`
}

/** A conversation's button label: when it was started, for the ids this page makes; the id otherwise. */
function labelOf(id) {
  const made = /^c-([0-9a-z]{9})-[0-9a-f]{12}$/.exec(id)
  if (made === null) return id
  return new Date(parseInt(made[1], 36)).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" })
}

function renderConversations() {
  const newestFirst = [...conversations].sort().reverse()
  $("#conversations").replaceChildren(...newestFirst.map((id) => {
    const item = document.createElement("li")
    const button = document.createElement("button")
    button.type = "button"
    button.dataset.id = id
    button.textContent = labelOf(id)
    button.setAttribute("aria-current", String(id === conversation))
    button.addEventListener("click", () => show(id))
    item.append(button)
    return item
  }))
}

/** Asks the server for every conversation it keeps; on failure, shows why and keeps what the page knows. */
async function loadConversations() {
  try {
    const response = await fetch("/api/conversations")
    const body = await response.json()
    if (!response.ok) throw new Error(`${body.error}: ${body.message}`)
    for (const id of body) conversations.add(id)
  } catch (cause) {
    $("#chat-error").textContent = `could not list the conversations: ${cause.message}`
  }
  renderConversations()
}

/** Shows conversation `id`: its state streams from its own store, which the server makes on first use. */
function show(id) {
  conversation = id
  conversations.add(id)
  history.replaceState(null, "", `#${encodeURIComponent(id)}`)
  $("#chat-error").textContent = ""
  renderConversations()
  renderChat(EMPTY_CHAT) // until the conversation's own state arrives
  watch("chat", chatPath("changes"), renderChat)
}

$("#ask").addEventListener("submit", (event) => {
  event.preventDefault()
  const prompt = $("#prompt").value
  $("#prompt").value = ""
  send("chat", chatPath("actions"), { _tag: "Ask", prompt })
})
$("#stop").addEventListener("click", () => send("chat", chatPath("actions"), { _tag: "Stop" }))
$("#new-chat").addEventListener("click", () => {
  show(newId())
  $("#prompt").focus()
})

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

$("#run").addEventListener("click", () => send("agents", "/agents/actions", { _tag: "Start", agents: crew }))
$("#crash").addEventListener("click", () =>
  send("agents", "/agents/actions", { _tag: "Start", agents: crew.map((a) => (a.name === "coder" ? { ...a, failAt: 40 } : a)) })
)

// -----------------------------------------------------------------------------

$("#model").textContent = `${info.provider} / ${info.model}`
if (info.worker !== undefined) $("#model").textContent += ` · page from worker ${info.worker} of ${info.workers} (pid ${info.pid})`
if (hasAgents) watch("agents", "/agents/changes", renderAgents)
else {
  $("section.agents").remove()
  $("#intro").textContent = "Every chat conversation is a store of its own and a cluster entity: whichever worker a request " +
    "reaches, it reaches the conversation on the runner that holds it. Every token is an action reduced there; the page " +
    "shows the state as it streams in over Server-Sent Events."
}
// The conversation in the URL, else the newest the server keeps, else a new one.
loadConversations().then(() => {
  let wanted = ""
  try {
    wanted = decodeURIComponent(location.hash.slice(1))
  } catch {
    // A malformed fragment names no conversation.
  }
  show(isId(wanted) ? wanted : [...conversations].sort().at(-1) ?? newId())
})
