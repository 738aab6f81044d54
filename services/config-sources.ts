import { readFileSync } from 'node:fs';
import {
  type ConfigSources,
  readStackSettings,
  type StackSettings,
  stackSettingsPath,
} from './runtime/index.ts';

/**
 * The sources of an entry point's configuration, lowest precedence first: defaults, the settings
 * file of a running `npm run stack` (`$HARBOUR_DATA_DIR/stack.env`, default `.harbour/stack.env`),
 * the `--config` JSON file, the environment. A stale stack file (its stack is gone) is ignored and
 * returned as `staleStack` so the caller can say so.
 */
export function configSources(
  env: NodeJS.ProcessEnv,
  configFile?: string,
): ConfigSources & { stackFile?: StackSettings; staleStack?: StackSettings } {
  const base: unknown = configFile ? JSON.parse(readFileSync(configFile, 'utf8')) : undefined;
  const stack = readStackSettings(stackSettingsPath(env.HARBOUR_DATA_DIR || '.harbour'));
  return {
    env,
    ...(base === undefined ? {} : { base }),
    ...(stack && !stack.stale ? { stack: stack.vars, stackFile: stack } : {}),
    ...(stack?.stale ? { staleStack: stack } : {}),
  };
}
