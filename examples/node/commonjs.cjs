// @ts-check
// The same package through require(): small secrets sealed under a key, and an HMAC.
// Run: node examples/node/commonjs.cjs
'use strict'

const { Keys, KesError } = require('kesrs')

async function main() {
  const keys = Keys.inMemory()
  await keys.createKey('settings')

  const sealed = await keys.encrypt('settings', Buffer.from('db-password'), Buffer.from('service=db'))
  const opened = await keys.decrypt('settings', sealed, Buffer.from('service=db'))
  console.log('opened:', opened.toString())

  const mac = await keys.hmac('settings', Buffer.from('user@example.com'))
  console.log('hmac:', mac.toString('hex'))

  const missing = await keys.describeKey('nope').catch((/** @type {unknown} */ err) => err)
  if (!(missing instanceof KesError)) throw missing
  console.log('missing key:', missing.code, missing.status)
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
