// Files dist/ needs at run time that tsc does not emit: the Redis Lua scripts, and the SQLite
// writer thread (plain JavaScript, so the tests can start it from src/ too).
import { cpSync } from 'node:fs'

cpSync('src/state/redis/lua', 'dist/state/redis/lua', { recursive: true })
cpSync('src/store/sqlite/insert-worker.js', 'dist/store/sqlite/insert-worker.js')
