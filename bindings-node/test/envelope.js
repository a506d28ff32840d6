'use strict'
// Sealed messages the same way in every mode (memory, fs, remote): one-shot seal/open, the stream
// Transforms, openRange, and the failures application code tells apart.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { Readable, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')

const { rejectsWith } = require('./contract.js')

/** Everything `chunks` give, through `transform`, as one Buffer. */
async function through(transform, chunks) {
  const out = []
  await pipeline(Readable.from(chunks), transform, new Writable({
    write(chunk, encoding, callback) {
      out.push(chunk)
      callback()
    },
  }))
  return Buffer.concat(out)
}

/** `buf` cut into pieces of `size` bytes. */
function pieces(buf, size) {
  const out = []
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
  return out
}

async function envelopeContract(keys, prefix, dir) {
  const key = `${prefix}-seal`
  await keys.createKey(key)
  const context = { bucket: 'bucket/object' }

  // One-shot, with map, byte and no contexts, and an empty message.
  const message = Buffer.from('a sealed message')
  const sealed = await keys.seal(key, message, context)
  assert.ok(Buffer.isBuffer(sealed))
  assert.equal(sealed.subarray(0, 4).toString(), 'KESE')
  assert.deepEqual(await keys.open(sealed, context), message)
  assert.deepEqual(await keys.open(sealed, Buffer.from('{"bucket":"bucket/object"}')), message)
  assert.deepEqual(await keys.open(await keys.seal(key, new Uint8Array([1, 2, 3]))), Buffer.from([1, 2, 3]))
  assert.equal((await keys.open(await keys.seal(key, Buffer.alloc(0), context), context)).length, 0)

  // A wrong context fails as a wrong key would.
  await rejectsWith(keys.open(sealed, { bucket: 'another' }), 'KES_DECRYPT_FAILED', 400)
  await rejectsWith(keys.open(sealed), 'KES_DECRYPT_FAILED', 400)

  // Changed or cut anywhere past the magic: KES_DECRYPT_FAILED.
  const big = crypto.randomBytes(150_000) // three packages
  const bigSealed = await keys.seal(key, big, context)
  const headerLen = 73 + key.length + bigSealed.readUInt16LE(7)
  for (const at of [5, 10 + key.length, headerLen - 40, headerLen - 1, headerLen + 3, headerLen + 1000, bigSealed.length - 1]) {
    const tampered = Buffer.from(bigSealed)
    tampered[at] ^= 0x01
    await rejectsWith(keys.open(tampered, context), 'KES_DECRYPT_FAILED', 400)
    await rejectsWith(through(keys.openStream(context), [tampered]), 'KES_DECRYPT_FAILED', 400)
  }
  for (const cut of [headerLen, headerLen + 100, 65_536 + 32 + headerLen, bigSealed.length - 1]) {
    await rejectsWith(keys.open(bigSealed.subarray(0, cut), context), 'KES_DECRYPT_FAILED', 400)
    await rejectsWith(through(keys.openStream(context), [bigSealed.subarray(0, cut)]), 'KES_DECRYPT_FAILED', 400)
  }
  await rejectsWith(keys.open(Buffer.concat([bigSealed, Buffer.from('x')]), context), 'KES_DECRYPT_FAILED', 400)
  await rejectsWith(through(keys.openStream(context), [bigSealed, Buffer.from('x')]), 'KES_DECRYPT_FAILED', 400)
  // Not an envelope at all, or cut inside the header's first bytes: an invalid argument.
  await rejectsWith(keys.open(Buffer.from('not an envelope at all')), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(through(keys.openStream(), [bigSealed.subarray(0, 5)]), 'KES_INVALID_ARGUMENT', 400)

  // Streams: what one-shot seals opens as a stream, in any chunking, and the reverse.
  // Byte by byte through the header, the first package's header and its tag.
  assert.deepEqual(await through(keys.openStream(context), pieces(sealed, 1)), message)
  for (const size of [997, 65_536, 100_000]) {
    assert.ok((await through(keys.openStream(context), pieces(bigSealed, size))).equals(big), `chunks of ${size}`)
  }
  const streamed = await through(keys.sealStream(key, context), pieces(big, 7_000))
  assert.deepEqual(await keys.open(streamed, context), big)
  const emptyStream = await through(keys.sealStream(key, context), [])
  assert.equal((await keys.open(emptyStream, context)).length, 0)
  assert.equal((await through(keys.openStream(context), [emptyStream])).length, 0)
  await rejectsWith(through(keys.openStream({ bucket: 'another' }), [streamed]), 'KES_DECRYPT_FAILED', 400)

  // Errors of a stream: a bad name throws at once; a missing key fails the pipeline.
  assert.throws(() => keys.sealStream('no/slashes'), (err) => err.code === 'KES_INVALID_ARGUMENT')
  await rejectsWith(through(keys.sealStream(`${prefix}-missing`), [Buffer.from('x')]), 'KES_KEY_NOT_FOUND', 404)
  await rejectsWith(keys.seal(`${prefix}-missing`, Buffer.from('x')), 'KES_KEY_NOT_FOUND', 404)
  await rejectsWith(keys.seal(key, 'not bytes'), 'KES_INVALID_ARGUMENT', 400)

  // Ranges, from a path and from a FileHandle.
  const file = path.join(dir, `${prefix}.sealed`)
  fs.writeFileSync(file, bigSealed)
  for (const [offset, length] of [[0, 10], [65_530, 20], [131_072, 18_928], [0, 150_000], [149_999, 1], [70_000, 0]]) {
    assert.deepEqual(await keys.openRange(file, offset, length, context), big.subarray(offset, offset + length), `${offset}+${length}`)
  }
  const handle = await fs.promises.open(file)
  try {
    assert.deepEqual(await keys.openRange(handle, 100_000, 5_000, context), big.subarray(100_000, 105_000))
  } finally {
    await handle.close()
  }
  await rejectsWith(keys.openRange(file, 149_990, 11, context), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.openRange(file, -1, 1, context), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.openRange(file, 0.5, 1, context), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.openRange(file, 0, 10, { bucket: 'another' }), 'KES_DECRYPT_FAILED', 400)
  await rejectsWith(keys.openRange(path.join(dir, 'missing.sealed'), 0, 1), 'KES_IO', 500)
  const cutFile = path.join(dir, `${prefix}-cut.sealed`)
  fs.writeFileSync(cutFile, bigSealed.subarray(0, bigSealed.length - 1))
  await rejectsWith(keys.openRange(cutFile, 140_000, 10, context), 'KES_DECRYPT_FAILED', 400)
}

module.exports = { envelopeContract, through, pieces }
