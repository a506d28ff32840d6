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
  const closed = await fs.promises.open(file)
  await closed.close()
  await rejectsWith(keys.openRange(closed, 0, 1, context), 'KES_INVALID_ARGUMENT', 400)

  await acceptedKeys(keys, prefix, key, dir)
  await dataKeyReuse(keys, key)
}

/** `accept`: the key names `open`, `openStream` and `openRange` take; others are refused. */
async function acceptedKeys(keys, prefix, key, dir) {
  const context = { bucket: 'accept/object' }
  const message = crypto.randomBytes(70_000)
  const sealed = await keys.seal(key, message, context)
  const file = path.join(dir, `${prefix}-accept.sealed`)
  fs.writeFileSync(file, sealed)
  for (const accept of [[key], [`${prefix}-*`], ['other', `${prefix}-s*`]]) {
    assert.deepEqual(await keys.open(sealed, context, { accept }), message, `${accept}`)
    assert.deepEqual(await through(keys.openStream(context, { accept }), [sealed]), message, `${accept}`)
    assert.deepEqual(await keys.openRange(file, 69_000, 1_000, context, { accept }), message.subarray(69_000))
  }
  assert.deepEqual(await keys.open(sealed, context, {}), message)
  for (const accept of [[], ['other'], [`${key}x`, 'other-*']]) {
    await rejectsWith(keys.open(sealed, context, { accept }), 'KES_NOT_ALLOWED', 403)
    await rejectsWith(through(keys.openStream(context, { accept }), [sealed]), 'KES_NOT_ALLOWED', 403)
    await rejectsWith(keys.openRange(file, 0, 10, context, { accept }), 'KES_NOT_ALLOWED', 403)
  }
  // Refused before the key is asked for: a message under a deleted key is not allowed, not missing.
  const gone = `${prefix}-gone`
  await keys.createKey(gone)
  const orphan = await keys.seal(gone, message, context)
  await keys.deleteKey(gone)
  await rejectsWith(keys.open(orphan, context), 'KES_KEY_NOT_FOUND', 404)
  await rejectsWith(keys.open(orphan, context, { accept: [key] }), 'KES_NOT_ALLOWED', 403)
  // A pattern that is not one.
  await rejectsWith(keys.open(sealed, context, { accept: ['no spaces'] }), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.openRange(file, 0, 1, context, { accept: ['no/slashes'] }), 'KES_INVALID_ARGUMENT', 400)
  assert.throws(() => keys.openStream(context, { accept: ['no spaces'] }), (err) => err.code === 'KES_INVALID_ARGUMENT')
}

/** The data key a sealed message's header names (docs/envelope.md section 2), and its SHARED flag. */
function dataKeyOf(sealed) {
  const nameLen = sealed[6]
  const ciphertextLen = sealed.readUInt16LE(7)
  return {
    shared: (sealed[5] & 0x01) === 0x01,
    ciphertext: sealed.subarray(9 + nameLen, 9 + nameLen + ciphertextLen).toString('hex'),
  }
}

/** `withDataKeyReuse`: one data key for several messages within every limit, a fresh one past them. */
async function dataKeyReuse(keys, key) {
  const context = { bucket: 'reuse/object' }
  const sealer = keys.withDataKeyReuse({ messages: 3, bytes: 1 << 20, seconds: 3600 })
  const messages = Array.from({ length: 7 }, (_, i) => Buffer.from(`message ${i}`))
  const sealed = []
  for (const message of messages) sealed.push(await sealer.seal(key, message, context))
  for (const [i, message] of sealed.entries()) assert.deepEqual(await keys.open(message, context), messages[i])
  const used = sealed.map(dataKeyOf)
  assert.ok(used.every((k) => k.shared))
  const [a, , , b, , , c] = used.map((k) => k.ciphertext)
  // Three messages per data key: 0-2, 3-5, then 6.
  assert.deepEqual(
    used.map((k) => k.ciphertext),
    [a, a, a, b, b, b, c],
  )
  assert.equal(new Set([a, b, c]).size, 3)
  // The key name and the context are part of the cache's key: another context, another data key.
  const elsewhere = dataKeyOf(await sealer.seal(key, messages[0], { bucket: 'another' }))
  assert.ok(![a, b, c].includes(elsewhere.ciphertext))

  // The byte limit: 60 + 30 bytes fit in 100, 20 more do not; a message over it is never shared.
  const bySize = keys.withDataKeyReuse({ messages: 100, bytes: 100, seconds: 3600 })
  const sizes = []
  for (const size of [60, 30, 20]) sizes.push(dataKeyOf(await bySize.seal(key, Buffer.alloc(size, 1), context)))
  assert.equal(sizes[0].ciphertext, sizes[1].ciphertext)
  assert.notEqual(sizes[1].ciphertext, sizes[2].ciphertext)
  const large = await bySize.seal(key, Buffer.alloc(101, 2), context)
  assert.deepEqual(await keys.open(large, context), Buffer.alloc(101, 2))
  assert.equal(dataKeyOf(large).shared, false)
  assert.notEqual(dataKeyOf(large).ciphertext, sizes[2].ciphertext)

  // Without reuse, every message has a data key of its own, and says so.
  const plain = [await keys.seal(key, messages[0], context), await keys.seal(key, messages[0], context)].map(dataKeyOf)
  assert.ok(plain.every((k) => !k.shared))
  assert.notEqual(plain[0].ciphertext, plain[1].ciphertext)

  // Limits are all required, whole (but seconds) and non-zero.
  for (const limits of [
    { messages: 0, bytes: 1, seconds: 1 },
    { messages: 1, bytes: 0, seconds: 1 },
    { messages: 1, bytes: 1, seconds: 0 },
    { messages: 1, bytes: 1, seconds: -1 },
    { messages: 1, bytes: 1, seconds: Number.NaN },
    { messages: 1.5, bytes: 1, seconds: 1 },
    { messages: 1, bytes: -1, seconds: 1 },
    { messages: 1, bytes: 1 },
  ]) {
    assert.throws(() => keys.withDataKeyReuse(limits), (err) => err.code === 'KES_INVALID_ARGUMENT', JSON.stringify(limits))
  }
  await rejectsWith(sealer.seal('no/slashes', messages[0]), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(sealer.seal(`${key}-missing`, messages[0]), 'KES_KEY_NOT_FOUND', 404)
}

module.exports = { envelopeContract, through, pieces }
