// The TypeScript view of the package, checked with `tsc --strict --noEmit` in CI. It also shows a
// remote handle through a KES server (the kesrs sidecar, or Go KES). Not run: it needs a server.
import { Keys, KesError, type DataKey, type KesErrorCode, type KeyInfo } from 'kesrs'

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
