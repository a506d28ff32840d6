'use strict'
// Local handles: memory, an fs key directory, a KES config file over fs and over the fake Azure
// Key Vault. Plus the errors only a local key store can produce.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const test = require('node:test')

const { Keys, KesError } = require('kesrs')

const { contract, rejectsWith } = require('./contract.js')
const { tempDir, startFakeKeyVault } = require('./helpers.js')

test('in memory', async () => {
  const keys = Keys.inMemory()
  assert.equal(keys.isRemote, false)
  await contract(keys, 'memory')
})

test('an fs key directory, and a KES config file over it', async (t) => {
  const dir = tempDir(t)
  const keysDir = path.join(dir, 'keys')
  await contract(Keys.fromFs(keysDir), 'fs')
  assert.ok(fs.existsSync(path.join(keysDir, 'fs-key')))

  // Only keystore: and cache: are read; ${ENV} expands as the server's does.
  process.env.KESRS_NODE_TEST_DIR = keysDir
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(
    config,
    'address: 0.0.0.0:7373\nadmin:\n  identity: disabled\ntls:\n  key: /nowhere/private.key\n' +
      '  cert: /nowhere/public.crt\ncache:\n  expiry:\n    any: 1m\nkeystore:\n  fs:\n' +
      '    path: ${KESRS_NODE_TEST_DIR}\n',
  )
  const keys = Keys.fromConfig(config)
  await keys.describeKey('fs-key') // the same store
  await contract(keys, 'config')
})

test('a KES config file over Azure Key Vault (the fake)', async (t) => {
  const dir = tempDir(t)
  const fake = await startFakeKeyVault(t, dir)
  process.env.AZURE_AUTHORITY_HOST = fake.authority
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(
    config,
    `keystore:\n  azure:\n    keyvault:\n      endpoint: ${fake.vault}\n      credentials:\n` +
      `        tenant_id: fake-tenant\n        client_id: kesrs-node-tests\n` +
      `        client_secret: fake-client-secret\n      tls:\n        ca: ${fake.ca}\n      timeout: 3s\n`,
  )
  await contract(Keys.fromConfig(config), 'azure')
})

test('errors of opening: KES_CONFIG, KES_INVALID_ARGUMENT; no constructor', async (t) => {
  const dir = tempDir(t)
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(config, 'keystore:\n  fs: {}\n')
  const opening = (open, code, status) =>
    assert.throws(open, (err) => err instanceof KesError && err.code === code && (status === undefined || err.status === status))
  opening(() => Keys.fromConfig(config), 'KES_CONFIG', 500)
  opening(() => Keys.fromConfig(path.join(dir, 'missing.yml')), 'KES_CONFIG', 500)
  opening(() => Keys.fromFs(config), 'KES_KEY_STORE_UNAVAILABLE') // a file, not a directory
  opening(() => Keys.fromFs(42), 'KES_INVALID_ARGUMENT', 400)
  assert.throws(() => new Keys())
})

test('errors only a key store produces: KES_KEY_STORE_UNAVAILABLE, KES_HMAC_NOT_SUPPORTED', async (t) => {
  const dir = tempDir(t)
  const keys = Keys.fromFs(dir)
  // A key file that is not a key.
  fs.writeFileSync(path.join(dir, 'corrupt'), '{"bytes":"AAAA"}')
  await rejectsWith(keys.describeKey('corrupt'), 'KES_KEY_STORE_UNAVAILABLE', 502)
  // A legacy JSON key (KES before protobuf keys) has no HMAC key.
  const bytes = Buffer.alloc(32, 1).toString('base64')
  fs.writeFileSync(path.join(dir, 'legacy'), JSON.stringify({ bytes, algorithm: 'AES256' }))
  const sealed = await keys.encrypt('legacy', Buffer.from('old'))
  assert.equal((await keys.decrypt('legacy', sealed)).toString(), 'old')
  await rejectsWith(keys.hmac('legacy', Buffer.from('m')), 'KES_HMAC_NOT_SUPPORTED', 409)
})

test('a KesError carries the cause behind a generic message', async (t) => {
  const dir = tempDir(t)
  fs.writeFileSync(path.join(dir, 'corrupt'), 'not a key')
  const err = await Keys.fromFs(dir)
    .describeKey('corrupt')
    .catch((err) => err)
  assert.equal(err.message, 'failed to read key')
  assert.match(err.detail, /^failed to read key: /)
  assert.match(err.stack, /local\.test\.js/) // the stack shows the caller
})
