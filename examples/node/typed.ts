// The TypeScript view of the package, checked with `tsc --strict --noEmit` in CI. It also shows a
// remote handle through a KES server (the kesrs sidecar, or Go KES). Not run: it needs a server.
import { Keys, KesError, Sealer, type DataKey, type DataKeyReuse, type KesErrorCode, type KeyInfo, type OpenOptions } from 'kesrs'

export async function sidecar(endpoint: string, apiKey: string, ca: string): Promise<KeyInfo> {
  const keys: Keys = Keys.connect({ endpoints: [endpoint], apiKey, ca })
  const key: DataKey = await keys.generateKey('my-app', { bucket: 'bucket/object' })
  const ciphertext: Buffer = key.ciphertext
  const plaintext: Buffer = await keys.decrypt('my-app', ciphertext, { bucket: 'bucket/object' })
  void plaintext
  return keys.describeKey('my-app')
}

export async function withCertificate(endpoints: string[]): Promise<string[]> {
  const keys = Keys.connect({ endpoints, cert: 'client.crt', key: 'client.key', ca: 'ca.crt' })
  const { names } = await keys.listKeys('my-*')
  return names
}

export function codeOf(err: unknown): KesErrorCode | undefined {
  return err instanceof KesError ? err.code : undefined
}

export async function latency(keys: Keys): Promise<number> {
  return (await keys.status()).latencyMs
}

export async function sealFile(keys: Keys, from: string, to: string): Promise<Buffer> {
  const { createReadStream, createWriteStream } = await import('node:fs')
  const { pipeline } = await import('node:stream/promises')
  const sealStream: import('node:stream').Transform = keys.sealStream('my-app', { file: from })
  await pipeline(createReadStream(from), sealStream, createWriteStream(to))
  const sealed: Buffer = await keys.seal('my-app', new Uint8Array([1, 2, 3]))
  const opened: Buffer = await keys.open(sealed)
  void opened
  return keys.openRange(to, 0, 16, { file: from })
}

export function isIo(code: KesErrorCode): boolean {
  return code === 'KES_IO'
}

export async function accepting(keys: Keys, sealed: Buffer): Promise<Buffer> {
  const options: OpenOptions = { accept: ['my-app', 'backup-*'] }
  const file = await (await import('node:fs/promises')).open('message.sealed')
  try {
    await keys.openRange(file, 0, 16, undefined, options)
  } finally {
    await file.close()
  }
  return keys.open(sealed, { bucket: 'bucket/object' }, options)
}

export async function reusing(keys: Keys, messages: Buffer[]): Promise<Buffer[]> {
  const limits: DataKeyReuse = { messages: 100, bytes: 2 ** 30, seconds: 300 }
  const sealer: Sealer = keys.withDataKeyReuse(limits)
  return Promise.all(messages.map((message) => sealer.seal('my-app', message, { bucket: 'bucket/object' })))
}
