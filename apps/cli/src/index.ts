export { createProgram, run } from './cli';
