import { defineConfig } from 'tsup';
import { libraryOptions } from '../../tsup.preset';

export default defineConfig(libraryOptions());
