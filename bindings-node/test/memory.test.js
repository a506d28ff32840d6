'use strict'
// 1,000,000 mixed calls on an in-memory handle keep RSS flat: what the second half of the calls
// adds is measured against the first half. A leak of even a few bytes a call shows up as megabytes.

const assert = require('node:assert/strict')
const test = require('node:test')

const { Keys } = require('kesrs')

const CALLS = 1_000_000
const IN_FLIGHT = 100

test('1,000,000 mixed calls keep RSS flat', { timeout: 600_000 }, async (t) => {
  const keys = Keys.inMemory()
  await keys.createKey('rss')
  const message = Buffer.from('a message')
  const context = { bucket: 'bucket/object' }
  const sealed = await keys.encrypt('rss', message, context)

  const calls = [
    async () => (await keys.generateKey('rss', context)).plaintext,
    () => keys.encrypt('rss', message, context),
    () => keys.decrypt('rss', sealed, context),
    () => keys.hmac('rss', message),
    () => keys.describeKey('rss'),
    () => keys.describeKey('missing').catch((err) => err.code),
  ]
  const rss = []
  const started = performance.now()
  for (let done = 0; done < CALLS; done += IN_FLIGHT) {
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => calls[(done + i) % calls.length]()))
    if (done % (CALLS / 4) === 0) rss.push(process.memoryUsage().rss)
  }
  rss.push(process.memoryUsage().rss)
  const seconds = (performance.now() - started) / 1000
  const mb = (bytes) => (bytes / 2 ** 20).toFixed(1)
  t.diagnostic(`${CALLS} calls in ${seconds.toFixed(1)} s; RSS at each quarter: ${rss.map(mb).join(', ')} MiB`)

  // The first quarter warms up (V8's heap, the allocator, the runtimes' threads). After it:
  const firstHalf = rss[2] - rss[1]
  const secondHalf = rss[4] - rss[2]
  assert.ok(
    secondHalf <= Math.max(firstHalf, 0) + 16 * 2 ** 20,
    `RSS grew ${mb(secondHalf)} MiB in the second half against ${mb(firstHalf)} MiB in the first`,
  )
})
