import type { Plugin } from 'esbuild';

/** Node built-ins the bundle loads with require(), never with an ES import. */
export declare const REQUIRED_BUILTINS: string[];
export declare const requireBuiltins: Plugin;
