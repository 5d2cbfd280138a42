import packageJson from '../package.json' with { type: 'json' };

/** This package's version, as `threadline --version` prints it. */
export const VERSION: string = packageJson.version;
