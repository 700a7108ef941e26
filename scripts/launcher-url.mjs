// Injected into the launcher's CommonJS build (scripts/bundle.mjs): what `import.meta.url` was.
export const __launcher_url = require('node:url').pathToFileURL(__filename).href;
