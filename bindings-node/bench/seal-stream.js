'use strict'
// sealStream throughput against node:crypto's aes-256-gcm, for docs/performance.md ("Node"). Not a
// test: it prints.
//
//   node bench/seal-stream.js [MiB=256] [rounds=3] [chunk KiB=64]
//
// Both sides get the same chunk (64 KiB unless told) from a generator through stream.pipeline until
// MiB are through, and discard the output. sealStream: one in-memory data key, DARE packages sealed
// off the JS thread in batches of the chunks buffered meanwhile. node:crypto: one Cipheriv over the
// whole stream (one GCM message, one tag), on the JS thread. Rounds alternate between the two, in
// the same process; the best round of each is kept, and the ratio is of those two. Build with
// `npm run build:release` first.

const crypto = require('node:crypto')
const os = require('node:os')
const { Transform, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')

const { Keys } = require('kesrs')

function source(chunks, size) {
  const chunk = crypto.randomBytes(size)
  return async function* () {
    for (let i = 0; i < chunks; i++) yield chunk
  }
}

function sink() {
  return new Writable({
    write(chunk, encoding, callback) {
      callback()
    },
  })
}

function gcm() {
  const cipher = crypto.createCipheriv('aes-256-gcm', crypto.randomBytes(32), crypto.randomBytes(12))
  return new Transform({
    transform(chunk, encoding, callback) {
      callback(null, cipher.update(chunk))
    },
    flush(callback) {
      cipher.final()
      callback(null, cipher.getAuthTag())
    },
  })
}

async function seconds(work) {
  const started = performance.now()
  await work()
  return (performance.now() - started) / 1000
}

async function main() {
  const mib = Number(process.argv[2] ?? 256)
  const rounds = Number(process.argv[3] ?? 3)
  const kib = Number(process.argv[4] ?? 64)
  const chunks = (mib * 1024) / kib
  const keys = Keys.inMemory()
  await keys.createKey('bench')
  let kesrs = Infinity
  let node = Infinity
  for (let round = 0; round < rounds; round++) {
    kesrs = Math.min(kesrs, await seconds(() => pipeline(source(chunks, kib * 1024), keys.sealStream('bench'), sink())))
    node = Math.min(node, await seconds(() => pipeline(source(chunks, kib * 1024), gcm(), sink())))
  }
  const rate = (s) => (mib / s).toFixed(0)
  console.log(`${mib} MiB in ${kib} KiB chunks, best of ${rounds}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`sealStream            ${rate(kesrs)} MiB/s`)
  console.log(`node:crypto aes-256-gcm ${rate(node)} MiB/s`)
  console.log(`ratio (sealStream / node:crypto): ${(node / kesrs).toFixed(2)}`)
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
