'use strict'
// Four worker threads share one fs key directory and work at once, while the main thread keeps
// its own promises and an interval timer on time: no call blocks the JS thread that made it.

const assert = require('node:assert/strict')
const test = require('node:test')
const { Worker } = require('node:worker_threads')

const { Keys } = require('kesrs')

const { tempDir } = require('./helpers.js')

const WORKERS = 4
const CALLS = 2000

// Each worker: its own handle on the shared directory, its own key, and the others' keys too.
const worker = `
const { parentPort, workerData } = require('node:worker_threads')
const { Keys } = require('kesrs')
;(async () => {
  const keys = Keys.fromFs(workerData.dir)
  const own = 'worker-' + workerData.id
  await keys.createKey(own)
  parentPort.postMessage({ ready: true })
  let done = 0
  for (let i = 0; i < workerData.calls; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async () => {
      const dek = await keys.generateKey(own, { i: String(i) })
      const back = await keys.decrypt('shared', (await keys.generateKey('shared')).ciphertext)
      if (back.length !== 32) throw new Error('bad plaintext')
      if (!(await keys.decrypt(own, dek.ciphertext, { i: String(i) })).equals(dek.plaintext)) throw new Error('mismatch')
      done++
    }))
  }
  parentPort.postMessage({ done })
})().catch((err) => { throw err })
`

test('4 workers share a key directory while the main thread stays responsive', async (t) => {
  const dir = tempDir(t)
  const keys = Keys.fromFs(dir)
  await keys.createKey('shared')

  // Lateness of a 10 ms interval timer while everything runs.
  let last = performance.now()
  let worst = 0
  let ticks = 0
  const timer = setInterval(() => {
    const now = performance.now()
    worst = Math.max(worst, now - last - 10)
    last = now
    ticks++
  }, 10)

  const started = performance.now()
  const results = await Promise.all(
    Array.from({ length: WORKERS }, (_, id) => {
      const w = new Worker(worker, { eval: true, workerData: { dir, id, calls: CALLS } })
      return new Promise((resolve, reject) => {
        w.on('message', (message) => message.done !== undefined && resolve(message.done))
        w.on('error', reject)
        w.on('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)))
      })
    }).concat(
      // The main thread works too, on the same directory.
      (async () => {
        let done = 0
        for (let i = 0; i < CALLS; i += 50) {
          await Promise.all(Array.from({ length: 50 }, () => keys.hmac('shared', Buffer.from(String(i)))))
          done += 50
        }
        return done
      })(),
    ),
  )
  const elapsed = performance.now() - started
  clearInterval(timer)

  assert.deepEqual(results, [...Array(WORKERS).fill(CALLS), CALLS])
  const listed = await keys.listKeys('worker-*')
  assert.deepEqual(listed.names, ['worker-0', 'worker-1', 'worker-2', 'worker-3'])
  t.diagnostic(`${WORKERS} workers x ${CALLS} iterations in ${elapsed.toFixed(0)} ms; ${ticks} ticks, worst lateness ${worst.toFixed(1)} ms`)
  // The timer fired throughout, never held up for long: the JS thread only settles promises.
  // The bound is loose for a shared 2-core CI machine; a blocked thread misses it by seconds.
  assert.ok(ticks >= (elapsed / 10) * 0.5, `${ticks} ticks in ${elapsed} ms`)
  assert.ok(worst < 250, `timer late by ${worst} ms`)
})
