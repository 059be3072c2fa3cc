import { loadConfigWith, type Config, type Environment } from './core/config.js';
import { MODULES } from './modules/index.js';

// The service's whole configuration: the core's variables and every module's section, validated together.

export function loadConfig(environment: Environment = process.env): Config {
  return loadConfigWith(
    environment,
    MODULES.flatMap((module) => (module.config ? [module.config] : [])),
  );
}

export { ConfigError, type Config, type Environment } from './core/config.js';
