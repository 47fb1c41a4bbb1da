/**
 * A loopback port nothing listens on now, for the cluster demo's runners and the tests' servers. Someone
 * else may still take it before it is listened on: a caller that cannot afford that tries again.
 */
import { Effect } from "effect"
import { createServer } from "node:net"

/** Asks the system for a free port on 127.0.0.1 (a listen on port 0), and closes it again. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const probe = createServer()
  // Listening on 127.0.0.1:0 fails only if the system has no port left: nothing to go on with then.
  probe.once("error", (error) => resume(Effect.die(error)))
  probe.listen(0, "127.0.0.1", () => {
    const address = probe.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    probe.close(() => resume(Effect.succeed(port)))
  })
})
