// `npm run insights -- <command>` (and `npm run apikey -- …`): operator commands. See src/cli/main.ts.
import { runCli } from './main.js';

// Exit explicitly: a Redis client reconnecting in the background must not keep an operator's shell waiting.
process.exit(await runCli(process.argv.slice(2)));
