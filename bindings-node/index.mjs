// ES module entry: the CommonJS one, so that `import` and `require` share one `Keys` and `KesError`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const kesrs = require('./index.js')

export const { Keys, KesError, Sealer } = kesrs
export default kesrs
