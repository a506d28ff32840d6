'use strict'
// Remote handles against a real `kesrs server`, and data keys that cross languages: made in Node,
// opened through the server's KES API, and the reverse.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const https = require('node:https')
const net = require('node:net')
const path = require('node:path')
const test = require('node:test')

const { Keys } = require('kesrs')

const { contract, rejectsWith } = require('./contract.js')
const { newApiKey, newCertificate, startServer, tempDir } = require('./helpers.js')

test('remote: against a kesrs server, as an API key and as a certificate', async (t) => {
  const admin = newApiKey()
  const certs = tempDir(t)
  const app = newCertificate(certs, 'node-app')
  const policy = `  node:\n    allow:\n      - /v1/key/*\n      - /v1/status\n    identities:\n      - ${app.identity}\n`
  const server = await startServer(t, { admin: admin.identity, policy })

  const keys = Keys.connect({ endpoints: [server.endpoint], apiKey: admin.apiKey, ca: server.ca })
  assert.equal(keys.isRemote, true)
  await contract(keys, 'remote')

  const asCert = Keys.connect({ endpoints: [server.endpoint], cert: app.cert, key: app.key, ca: server.ca })
  await contract(asCert, 'cert')

  await t.test('what one mode makes, the other opens', async () => {
    const local = Keys.fromFs(server.keysDir)
    const context = { bucket: 'bucket/object' }
    const fromLocal = await local.generateKey('remote-key', context)
    assert.deepEqual(await keys.decrypt('remote-key', fromLocal.ciphertext, context), fromLocal.plaintext)
    const fromRemote = await keys.generateKey('remote-key', context)
    assert.deepEqual(await local.decrypt('remote-key', fromRemote.ciphertext, context), fromRemote.plaintext)
  })

  await t.test('cross-language: the sidecar KES API opens Node data keys, and Node opens its', async () => {
    const local = Keys.fromFs(server.keysDir)
    const context = Buffer.from('{"bkt":"bkt/obj"}')
    const call = (api, body) => kesApi(server, app, `/v1/key/${api}/remote-key`, body)

    const dek = await local.generateKey('remote-key', { bkt: 'bkt/obj' })
    const opened = await call('decrypt', {
      ciphertext: dek.ciphertext.toString('base64'),
      context: context.toString('base64'),
    })
    assert.deepEqual(Buffer.from(opened.plaintext, 'base64'), dek.plaintext)

    const made = await call('generate', { context: context.toString('base64') })
    const plaintext = Buffer.from(made.plaintext, 'base64')
    assert.equal(plaintext.length, 32)
    assert.deepEqual(await local.decrypt('remote-key', Buffer.from(made.ciphertext, 'base64'), { bkt: 'bkt/obj' }), plaintext)
  })

  await t.test('KES_CONNECTION: a TLS failure reads as a sentence saying what to do', async () => {
    // The app's own self-signed certificate as the CA: the server's certificate has no trusted issuer.
    const wrongCa = Keys.connect({ endpoints: [server.endpoint], apiKey: admin.apiKey, ca: app.cert })
    await rejectsWith(wrongCa.status(), 'KES_CONNECTION', 502)
    const err = await wrongCa.status().then(() => assert.fail('status() succeeded'), (e) => e)
    assert.match(err.message, /the server's certificate is not trusted: no trusted CA issued it/)
    assert.match(err.message, /--ca/)
    assert.doesNotMatch(err.message, /UnknownIssuer/)
  })

  await t.test('KES_NOT_ALLOWED: an identity the server has no policy for', async () => {
    const stranger = Keys.connect({ endpoints: [server.endpoint], apiKey: newApiKey().apiKey, ca: server.ca })
    await rejectsWith(stranger.describeKey('remote-key'), 'KES_NOT_ALLOWED', 403)
    await rejectsWith(stranger.generateKey('remote-key'), 'KES_NOT_ALLOWED', 403)
  })
})

test('remote errors: KES_CONNECTION, and bad connect options', async (t) => {
  const { apiKey } = newApiKey()
  // A port nothing listens on: bound, then closed.
  const port = await new Promise((resolve) => {
    const listener = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = listener.address()
      listener.close(() => resolve(port))
    })
  })
  const nobody = Keys.connect({ endpoints: [`https://127.0.0.1:${port}`], apiKey })
  await rejectsWith(nobody.status(), 'KES_CONNECTION', 502)

  const dir = tempDir(t)
  const bad = [
    { endpoints: [], apiKey },
    { endpoints: ['https://127.0.0.1:7373'] },
    { endpoints: ['https://127.0.0.1:7373'], apiKey: 'kes:v1:not-a-key' },
    { endpoints: ['https://127.0.0.1:7373'], apiKey, cert: path.join(dir, 'c'), key: path.join(dir, 'k') },
    { endpoints: ['https://127.0.0.1:7373'], cert: path.join(dir, 'missing.cert'), key: path.join(dir, 'missing.key') },
    { endpoints: ['https://127.0.0.1:7373'], apiKey, ca: path.join(dir, 'missing-ca.pem') },
    { apiKey },
  ]
  for (const options of bad) {
    assert.throws(
      () => Keys.connect(options),
      (err) => err.code === 'KES_INVALID_ARGUMENT' && err.status === 400,
      JSON.stringify(options),
    )
  }
  // A CA file without certificates: nothing to trust, so no server is.
  fs.writeFileSync(path.join(dir, 'garbage.pem'), 'not a certificate')
  const trustsNobody = Keys.connect({ endpoints: [`https://127.0.0.1:${port}`], apiKey, ca: path.join(dir, 'garbage.pem') })
  await rejectsWith(trustsNobody.status(), 'KES_CONNECTION')
})

/** A KES API call as MinIO makes it: JSON over mutual TLS with the client's certificate. */
function kesApi(server, client, pathname, body) {
  const data = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const request = https.request(
      `${server.endpoint}${pathname}`,
      {
        method: 'POST',
        ca: fs.readFileSync(server.ca),
        cert: fs.readFileSync(client.cert),
        key: fs.readFileSync(client.key),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (response) => {
        let text = ''
        response.setEncoding('utf8').on('data', (chunk) => (text += chunk))
        response.on('end', () => {
          if (response.statusCode !== 200) reject(new Error(`${pathname}: ${response.statusCode} ${text}`))
          else resolve(JSON.parse(text))
        })
      },
    )
    request.on('error', reject)
    request.end(data)
  })
}
