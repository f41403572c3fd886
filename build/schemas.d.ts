import type { Plugin } from 'esbuild';

/** The modules of src/ that register a schema, relative to the project root. */
export declare function schemaModules(): string[];
/** The module that replaces src/validation/precompiled.ts in the bundle. */
export declare function precompiledModule(): Promise<string>;
export declare const precompileSchemas: Plugin;
