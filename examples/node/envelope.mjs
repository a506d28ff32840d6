// @ts-check
// Sealed messages: a small one in memory, a file sealed and opened through stream.pipeline, and a
// range read from the sealed file. Run: node examples/node/envelope.mjs
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

import { Keys, KesError } from 'kesrs'

const dir = mkdtempSync(join(tmpdir(), 'kesrs-envelope-'))
try {
  const keys = Keys.fromFs(join(dir, 'keys'))
  await keys.createKey('my-app')
  const context = { bucket: 'photos/2024/cat.jpg' }

  // One call each way: the sealed message names the key and carries its own data key.
  const sealed = await keys.seal('my-app', Buffer.from('a small secret'), context)
  console.log('opened:', (await keys.open(sealed, context)).toString())

  // Files of any size, with bounded memory: only authenticated plaintext reaches the output.
  const plain = join(dir, 'cat.jpg')
  writeFileSync(plain, Buffer.alloc(3 * 1024 * 1024, 'meow'))
  await pipeline(createReadStream(plain), keys.sealStream('my-app', context), createWriteStream(`${plain}.sealed`))
  await pipeline(createReadStream(`${plain}.sealed`), keys.openStream(context), createWriteStream(`${plain}.back`))
  console.log('round trip:', readFileSync(`${plain}.back`).equals(readFileSync(plain)))

  // 16 bytes from the middle: only the 64 KiB package that holds them is read and opened.
  const file = await open(`${plain}.sealed`)
  try {
    const part = await keys.openRange(file, 2_000_000, 16, context)
    console.log('range:', part.toString())
  } finally {
    await file.close()
  }

  try {
    await keys.open(sealed, { bucket: 'another/object' })
  } catch (err) {
    if (!(err instanceof KesError) || err.code !== 'KES_DECRYPT_FAILED') throw err
    console.log('wrong context refused:', err.code)
  }

  // Only messages under the keys this service expects: any other key is refused before it is used.
  try {
    await keys.open(sealed, context, { accept: ['backup-*'] })
  } catch (err) {
    if (!(err instanceof KesError) || err.code !== 'KES_NOT_ALLOWED') throw err
    console.log('key not accepted:', err.code)
  }

  // Many small messages, one data key per 100 of them (per key name and context).
  const sealer = keys.withDataKeyReuse({ messages: 100, bytes: 1 << 20, seconds: 60 })
  const notes = await Promise.all(['a', 'b', 'c'].map((note) => sealer.seal('my-app', Buffer.from(note), context)))
  console.log('reused:', (await Promise.all(notes.map((note) => keys.open(note, context)))).join(''))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
