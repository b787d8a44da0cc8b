export { parsePriority, priorityNames, type Priority } from './priority.js'
export { queueLinks, type QueueEntry, type QueueLinks } from './entry.js'
export type { ConsumerFlow } from './consumer-flow.js'
export { PoolQueue, type PoolQueueOptions } from './pool-queue.js'
