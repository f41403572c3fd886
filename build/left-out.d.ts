import type { Plugin } from 'esbuild';

export declare const LEFT_OUT: Record<
  string,
  {
    importers: string[];
    external?: boolean;
    serves?: string;
    subset?: string;
  }
>;
/** es-shims package → the built-in its getPolyfill() picks on Node 24. */
export declare const BUILT_IN: Record<string, string>;
export declare const leaveOut: Plugin;
