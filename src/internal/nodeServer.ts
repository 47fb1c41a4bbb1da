import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import type * as Net from "node:net"
import type * as StoreHttp from "../StoreHttp.js"
import { requirePositiveDuration } from "./validate.js"

/** @internal */
export const serverDefaults = {
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(30)
}

/** A whole HTTP/1.1 answer written straight to a socket, in the JSON shape of every other refusal. */
const rawJson = (status: number, reason: string, error: StoreHttp.ErrorCode, message: string): string => {
  const body = JSON.stringify({ error, message })
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/** What Node refuses before a request reaches the app, by its parser's error code. */
const clientErrors: Record<string, string> = {
  HPE_HEADER_OVERFLOW: rawJson(431, "Request Header Fields Too Large", "HeadersTooLarge", "the request's headers are too large"),
  ERR_HTTP_REQUEST_TIMEOUT: rawJson(408, "Request Timeout", "RequestTimeout", "the request was not received in time")
}
const badRequest = rawJson(400, "Bad Request", "BadRequest", "the request is not valid HTTP/1.1")

/**
 * A Node HTTP server whose own refusals (malformed requests, headers too large, timeouts, a bad `Expect`)
 * are JSON like the routes' refusals, and whose request and header timeouts are short enough that a
 * half-sent request cannot hold a socket for long. Node checks the timeouts periodically (every 30 s by
 * default, which is why a stalled request used to live ~40 s): the check runs every quarter of the
 * shortest timeout, at most once a second.
 *
 * @internal
 */
export const createServer = (options: StoreHttp.ServerOptions = {}): http.Server => {
  const timeout = (name: string, input: Duration.DurationInput) =>
    Duration.toMillis(requirePositiveDuration("StoreHttp.createServer", name, input))
  const headersTimeout = timeout("headersTimeout", options.headersTimeout ?? serverDefaults.headersTimeout)
  const requestTimeout = timeout("requestTimeout", options.requestTimeout ?? serverDefaults.requestTimeout)
  const server = http.createServer({
    // Node requires headersTimeout <= requestTimeout.
    headersTimeout: Math.min(headersTimeout, requestTimeout),
    requestTimeout,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout) / 4)))
  })
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Net.Socket) => {
    // A response already under way on this connection (an SSE stream, a pending wait): an answer written
    // now would land inside it. Node's own handler leaves those alone too; the connection just ends.
    const inFlight = (socket as { readonly _httpMessage?: unknown })._httpMessage !== undefined &&
      (socket as { readonly _httpMessage?: unknown })._httpMessage !== null
    if (error.code === "ECONNRESET" || !socket.writable || inFlight) return void socket.destroy()
    socket.end(clientErrors[error.code ?? ""] ?? badRequest)
  })
  // Without a listener Node answers an `Expect` other than 100-continue with an empty 417.
  server.on("checkExpectation", (_request: http.IncomingMessage, response: http.ServerResponse) => {
    response.writeHead(417, { "content-type": "application/json", connection: "close" })
    response.end(JSON.stringify({ error: "ExpectationFailed", message: "only Expect: 100-continue is supported" }))
  })
  return server
}

/**
 * A refusal written straight to a response, in the JSON shape of the routes' own (for an SSE request the
 * direct path took, then found it had to refuse).
 *
 * @internal
 */
export const writeRefusal = (
  res: http.ServerResponse,
  refusal: { readonly status: number; readonly error: StoreHttp.ErrorCode; readonly message: string },
  headers: Record<string, string>
): void => {
  res.writeHead(refusal.status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify({ error: refusal.error, message: refusal.message }))
}

/**
 * `server`, answering first with `direct` each request it takes (it returns whether it did); the others
 * reach the `request` listeners as usual. The platform adds its listener itself, so this is the one place
 * to step in before it.
 *
 * @internal
 */
export const servingDirect = (
  server: http.Server,
  direct: (req: http.IncomingMessage, res: http.ServerResponse) => boolean
): http.Server => {
  const emit = server.emit
  server.emit = function(this: http.Server, event: string | symbol, ...args: Array<any>): boolean {
    if (event === "request" && answeredDirectly(direct, args[0], args[1])) return true
    return Reflect.apply(emit, this, [event, ...args]) as boolean
  } as typeof server.emit
  return server
}

/** A throw in the direct path is logged, never thrown into Node's event loop; the routes answer instead. */
const answeredDirectly = (
  direct: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
  req: http.IncomingMessage,
  res: http.ServerResponse
): boolean => {
  try {
    return direct(req, res)
  } catch (defect) {
    Effect.runFork(Effect.logError("StoreHttp: serving an SSE request failed", Cause.die(defect)))
    if (!res.headersSent) return false
    res.destroy()
    return true
  }
}
