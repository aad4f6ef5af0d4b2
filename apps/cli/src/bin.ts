#!/usr/bin/env node
import { run } from './cli';

// `pyramid eval ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

run(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
