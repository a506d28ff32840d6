'use strict'
// Local generateKey calls per second, for docs/performance.md ("Node"). Not a test: it prints.
//
//   node bench/generate-key.js [seconds=5] [in-flight=64] [memory|fs]
//
// Build with `npm run build:release` first; a debug build measures the debug build.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Keys } = require('kesrs')

async function main() {
  const seconds = Number(process.argv[2] ?? 5)
  const inFlight = Number(process.argv[3] ?? 64)
  const mode = process.argv[4] ?? 'fs'
  const dir = mode === 'fs' ? fs.mkdtempSync(path.join(os.tmpdir(), 'kesrs-bench-')) : undefined
  try {
    const keys = dir ? Keys.fromFs(dir) : Keys.inMemory()
    await keys.createKey('bench')
    const context = { bucket: 'bucket/object' }
    // Warm-up: the key into the cache, the runtimes' threads started.
    await Promise.all(Array.from({ length: 1000 }, () => keys.generateKey('bench', context)))

    let calls = 0
    const deadline = performance.now() + seconds * 1000
    const started = performance.now()
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          await keys.generateKey('bench', context)
          calls++
        }
      }),
    )
    const elapsed = (performance.now() - started) / 1000
    console.log(
      `generateKey (${mode}, ${inFlight} in flight): ${Math.round(calls / elapsed)} calls/s ` +
        `(${calls} in ${elapsed.toFixed(1)} s, node ${process.version}, ${os.cpus().length} CPUs)`,
    )
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
