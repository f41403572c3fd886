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
export declare const leaveOut: Plugin;
