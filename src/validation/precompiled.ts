/**
 * The project's schemas compiled at build time, by the name given to lazyValidator: a function of the format checks
 * (by name) that returns the validator. Empty in the sources, where each schema is compiled on first use; the bundle's
 * build (build/schemas.js) replaces this module with every registered schema compiled.
 */
import type { ValidateFunction } from 'ajv';

export type PrecompiledValidator = (
  formats: Record<string, { validate: (value: string) => boolean }>,
) => ValidateFunction;

export const PRECOMPILED: Readonly<Record<string, PrecompiledValidator>> = {};
