#!/usr/bin/env node
// Runs the CLI from its TypeScript source through tsx, so `npx sightline` never runs a stale build.
import { register } from 'tsx/esm/api';

register();
await import('../app/cli/main.ts');
