// The simulator: sluice's own fake upstream LLM API (DESIGN.md §9).
export { startSimulator, SIMULATOR_HOST } from './server.js'
export { runSimulateCommand, simulateUsage, DEFAULT_SIMULATOR_PORT, type SimulateCommandOptions } from './cli.js'
export { parseSimulatorConfig, SimulatorConfigError } from './config/parse.js'
export { demoSimulatorConfig } from './config/demo.js'
export { ECHO_KEY_HEADER } from './handler.js'
export type {
  Clock,
  FaultMatch,
  FaultRatesInput,
  KeyConfigInput,
  KeyStats,
  LimitAlgorithm,
  RateLimitHeaderMode,
  RequestRecord,
  ScriptedFault,
  Simulator,
  SimulatorConfigInput,
  ServerStateInput,
  SimulatorStats,
  StartSimulatorOptions,
} from './types.js'
