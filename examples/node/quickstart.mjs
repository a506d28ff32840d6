// @ts-check
// Quick start, as an ES module: keys in a directory of this process, a data key for an object,
// and the error a caller handles. Run: node examples/node/quickstart.mjs
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Keys, KesError } from 'kesrs'

const dir = mkdtempSync(join(tmpdir(), 'kesrs-example-'))
try {
  const keys = Keys.fromFs(dir)
  await keys.createKey('my-app')

  // A context binds the data key to what it protects; a map is canonicalised as MinIO does.
  const context = { bucket: 'photos/2024/cat.jpg' }
  const { plaintext, ciphertext } = await keys.generateKey('my-app', context)
  // ... encrypt the object with `plaintext` (32 bytes), store `ciphertext` beside it ...

  const again = await keys.decrypt('my-app', ciphertext, context)
  console.log('data key recovered:', again.equals(plaintext))

  try {
    await keys.decrypt('my-app', ciphertext, { bucket: 'another/object' })
  } catch (err) {
    if (!(err instanceof KesError) || err.code !== 'KES_DECRYPT_FAILED') throw err
    console.log(`wrong context refused: ${err.code} (${err.status}) ${err.message}`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
