'use strict'
// Every operation, and the errors application code handles, the same way in every mode: the Node
// form of sidecar/tests/keys.rs's `contract`.

const assert = require('node:assert/strict')
const { inspect } = require('node:util')

const { KesError } = require('kesrs')

/** Asserts that `promise` rejects with a KesError of `code` and `status`. */
async function rejectsWith(promise, code, status) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof KesError, `not a KesError: ${inspect(err)}`)
    assert.ok(err instanceof Error)
    assert.equal(err.name, 'KesError')
    assert.equal(err.code, code, err.message)
    if (status !== undefined) assert.equal(err.status, status, err.message)
    assert.equal(typeof err.message, 'string')
    return true
  })
}

async function contract(keys, prefix) {
  const key = `${prefix}-key`
  await keys.createKey(key)
  await rejectsWith(keys.createKey(key), 'KES_KEY_EXISTS', 400)
  const info = await keys.describeKey(key)
  assert.equal(info.name, key)
  assert.equal(info.algorithm, 'AES256')
  assert.ok(!Number.isNaN(Date.parse(info.createdAt)), info.createdAt)

  // Data keys, with a byte context and with a map context.
  const dek = await keys.generateKey(key, Buffer.from('bucket/object'))
  assert.equal(dek.plaintext.length, 32)
  assert.ok(Buffer.isBuffer(dek.plaintext) && Buffer.isBuffer(dek.ciphertext))
  assert.deepEqual(await keys.decrypt(key, dek.ciphertext, Buffer.from('bucket/object')), dek.plaintext)
  await rejectsWith(keys.decrypt(key, dek.ciphertext, Buffer.from('another object')), 'KES_DECRYPT_FAILED', 400)
  await rejectsWith(keys.decrypt(key, dek.ciphertext), 'KES_DECRYPT_FAILED', 400)

  const mapped = await keys.generateKey(key, { project: 'x', bkt: 'bkt/obj' })
  // A map context is the JSON MinIO makes of it: sorted keys, no spaces.
  const json = Buffer.from('{"bkt":"bkt/obj","project":"x"}')
  assert.deepEqual(await keys.decrypt(key, mapped.ciphertext, json), mapped.plaintext)
  assert.deepEqual(await keys.decrypt(key, mapped.ciphertext, new Uint8Array(json)), mapped.plaintext)
  assert.deepEqual(await keys.decrypt(key, mapped.ciphertext, { bkt: 'bkt/obj', project: 'x' }), mapped.plaintext)
  const empty = await keys.generateKey(key, {})
  assert.deepEqual(await keys.decrypt(key, empty.ciphertext, Buffer.from('{}')), empty.plaintext)

  // The plaintext is usable but neither printed nor serialised.
  assert.ok(!inspect(dek).includes(dek.plaintext.toString('hex').slice(0, 8)), inspect(dek))
  assert.match(inspect(dek), /plaintext: \[32 bytes, hidden\]/)
  assert.equal(JSON.parse(JSON.stringify(dek)).plaintext, undefined)
  const { plaintext, ciphertext } = dek
  assert.equal(plaintext.length, 32)
  assert.ok(ciphertext.length > 32)

  const sealed = await keys.encrypt(key, Buffer.from('a secret'), { app: 'test' })
  assert.equal((await keys.decrypt(key, sealed, { app: 'test' })).toString(), 'a secret')
  const sealedU8 = await keys.encrypt(key, new TextEncoder().encode('bytes'))
  assert.equal((await keys.decrypt(key, sealedU8)).toString(), 'bytes')

  const mac = await keys.hmac(key, Buffer.from('message'))
  assert.equal(mac.length, 32)
  assert.deepEqual(await keys.hmac(key, Buffer.from('message')), mac)
  assert.notDeepEqual(await keys.hmac(key, Buffer.from('other message')), mac)

  const imported = `${prefix}-imported`
  await keys.importKey(imported, Buffer.alloc(32, 7))
  const sealedImported = await keys.encrypt(imported, Buffer.from('x'))
  assert.equal((await keys.decrypt(imported, sealedImported)).toString(), 'x')
  await keys.importKey(`${prefix}-chacha`, new Uint8Array(32).fill(9), 'ChaCha20')
  assert.equal((await keys.describeKey(`${prefix}-chacha`)).algorithm, 'ChaCha20')
  await rejectsWith(keys.importKey(`${prefix}-short`, Buffer.alloc(31, 7)), 'KES_INVALID_ARGUMENT', 406)
  await rejectsWith(keys.importKey(`${prefix}-des`, Buffer.alloc(32, 7), 'DES'), 'KES_UNSUPPORTED_ALGORITHM', 406)

  const listed = await keys.listKeys(`${prefix}-*`)
  assert.deepEqual(listed.names, [`${prefix}-chacha`, imported, key])
  assert.ok((await keys.listKeys()).names.includes(key))
  const status = await keys.status()
  assert.ok(status.latencyMs >= 0)

  // Bad arguments, caught by core or by the conversion from JS: one code.
  await rejectsWith(keys.createKey('no/slashes'), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.listKeys('*-*'), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.createKey(42), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.encrypt(key, 'not bytes'), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.decrypt(key, dek.ciphertext, 'not a context'), 'KES_INVALID_ARGUMENT', 400)
  await rejectsWith(keys.generateKey(key, { n: 1 }), 'KES_INVALID_ARGUMENT', 400)

  await keys.deleteKey(imported)
  await rejectsWith(keys.describeKey(imported), 'KES_KEY_NOT_FOUND', 404)
  await rejectsWith(keys.generateKey(imported), 'KES_KEY_NOT_FOUND', 404)
  await rejectsWith(keys.deleteKey(imported), 'KES_KEY_NOT_FOUND', 404)
}

module.exports = { contract, rejectsWith }
