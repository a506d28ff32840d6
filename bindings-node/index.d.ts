// The package's types: the native API as napi-rs generates it (native.d.ts, from the Rust doc
// comments), and the error class index.js adds.

export {
  Keys,
  Sealer,
  ConnectOptions,
  DataKey,
  DataKeyReuse,
  KeyInfo,
  KeyList,
  OpenOptions,
  StoreStatus,
} from './native'

/** The stable codes of `KesError`, one per kind of kesrs error (core's `ErrorCode`). */
export type KesErrorCode =
  | 'KES_INVALID_ARGUMENT'
  | 'KES_KEY_NOT_FOUND'
  | 'KES_KEY_EXISTS'
  | 'KES_NOT_ALLOWED'
  | 'KES_DECRYPT_FAILED'
  | 'KES_KEY_STORE_UNAVAILABLE'
  | 'KES_HMAC_NOT_SUPPORTED'
  | 'KES_UNSUPPORTED_ALGORITHM'
  | 'KES_NOT_FOUND'
  | 'KES_CONNECTION'
  | 'KES_PROTOCOL'
  | 'KES_CONFIG'
  | 'KES_FORKED'
  | 'KES_IO'
  | 'KES_INTERNAL'

/** Every failure of this package: a `Keys` factory throws one, an operation rejects with one. */
export declare class KesError extends Error {
  private constructor()
  readonly name: 'KesError'
  /** What went wrong, stable across versions: branch on this. */
  readonly code: KesErrorCode
  /** The HTTP status a KES server answers this error with (404 for a missing key, ...). */
  readonly status: number
  /** KES's message, byte for byte (internal failures get KES's generic one). */
  readonly message: string
  /** The cause behind a generic message (a path, an OS error), for logs; absent when none. */
  readonly detail?: string
}
