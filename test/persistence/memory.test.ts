/**
 * The conformance suite on the in-memory backend, the reference the SQL backend is held to.
 */
import { Persistence } from "../../src/index.js"
import { persistenceSuite } from "./suite.js"

persistenceSuite("Persistence.layerMemory", Persistence.layerMemory)
