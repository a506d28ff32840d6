// The package loads as an ES module too, with the same classes as through require().
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import test from 'node:test'

import kesrs, { Keys, KesError } from 'kesrs'

const require = createRequire(import.meta.url)

test('import and require give the same Keys and KesError', async () => {
  const cjs = require('kesrs')
  assert.equal(Keys, cjs.Keys)
  assert.equal(KesError, cjs.KesError)
  assert.equal(kesrs.Keys, Keys)
  const keys = Keys.inMemory()
  await keys.createKey('esm')
  await assert.rejects(keys.createKey('esm'), (err) => err instanceof cjs.KesError && err.code === 'KES_KEY_EXISTS')
})
