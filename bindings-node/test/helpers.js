'use strict'
// Shared by the tests: temp dirs, the repo's `kesrs` and `fake-keyvault` binaries as child
// processes. The tests also run from a copy in a project that installed the packed tarball, so
// binaries are found through KESRS_BIN and FAKE_KEYVAULT_BIN, or in the repo's target/debug.
// A missing binary fails the test: nothing is skipped.

const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

function binary(variable, name) {
  const file = process.env[variable] ?? path.resolve(__dirname, '../../target/debug', name)
  if (!fs.existsSync(file)) {
    throw new Error(`${name} not found at ${file}: build it (cargo build) or set ${variable}`)
  }
  return file
}

const kesrsBin = () => binary('KESRS_BIN', 'kesrs')

/** A fresh temp dir, removed when the test ends. */
function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kesrs-node-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A new API key and its identity, from `kesrs identity new`. */
function newApiKey() {
  const out = execFileSync(kesrsBin(), ['identity', 'new'], { encoding: 'utf8' })
  const apiKey = /kes:v1:\S+/.exec(out)?.[0]
  const identity = /^\s*([0-9a-f]{64})\s*$/m.exec(out)?.[1]
  if (!apiKey || !identity) throw new Error(`unexpected 'kesrs identity new' output:\n${out}`)
  return { apiKey, identity }
}

/** A private key and self-signed certificate in `dir`, from `kesrs identity new`, and its identity. */
function newCertificate(dir, name, extra = []) {
  const key = path.join(dir, `${name}.key`)
  const cert = path.join(dir, `${name}.cert`)
  const out = execFileSync(kesrsBin(), ['identity', 'new', '--key', key, '--cert', cert, ...extra, name], {
    encoding: 'utf8',
  })
  const identity = /[0-9a-f]{64}/.exec(out)?.[0]
  if (!identity) throw new Error(`unexpected 'kesrs identity new --cert' output:\n${out}`)
  return { key, cert, identity }
}

/** Runs `command` until the test ends; resolves with the first match of `pattern` in its output. */
function startChild(t, command, args, pattern, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  t.after(() => child.kill('SIGKILL'))
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), 20_000)
    const onData = (chunk) => {
      output += chunk
      const match = pattern.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match)
      }
    }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.stderr.setEncoding('utf8').on('data', onData)
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${output}`)))
  })
}

/**
 * A `kesrs server` over an fs key store in a temp dir. `admin` is the admin identity; `policy` is
 * more YAML for the `policy:` section.
 */
async function startServer(t, { admin, policy = '' }) {
  const dir = tempDir(t)
  const server = newCertificate(dir, 'localhost', ['--ip', '127.0.0.1', '--dns', 'localhost'])
  const keys = path.join(dir, 'keys')
  fs.mkdirSync(keys)
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(
    config,
    `version: v1\naddress: 0.0.0.0:7373\nadmin:\n  identity: ${admin}\n` +
      `tls:\n  key: ${server.key}\n  cert: ${server.cert}\n` +
      `keystore:\n  fs:\n    path: ${keys}\n` +
      (policy ? `policy:\n${policy}` : ''),
  )
  const [, addr] = await startChild(
    t,
    kesrsBin(),
    ['server', '--config', config, '--addr', '127.0.0.1:0'],
    /listening on https:\/\/([0-9.]+:[0-9]+)/,
  )
  return { endpoint: `https://${addr}`, ca: server.cert, keysDir: keys, dir }
}

/** The fake Azure Key Vault (tests/fake-keyvault), with its CA written to `dir`. */
async function startFakeKeyVault(t, dir) {
  const ca = path.join(dir, 'azure-ca.pem')
  const [, vault, authority] = await startChild(
    t,
    binary('FAKE_KEYVAULT_BIN', 'fake-keyvault'),
    ['--ca-out', ca],
    /vault (\S+) authority (\S+)/,
  )
  return { vault, authority, ca }
}

module.exports = { kesrsBin, tempDir, newApiKey, newCertificate, startServer, startFakeKeyVault }
